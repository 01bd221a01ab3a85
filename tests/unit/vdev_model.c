/*
 * Device model and platform doubles for the vring host tests; see vdev_model.h.
 */
#include "vdev_model.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/barrier.h"
#include "arch/x86_64/dma.h"
#include "arch/x86_64/paging.h"
#include "lib/klog.h"

/* ---- platform doubles ---- */

unsigned long vdev_virt_to_phys_calls;
int vdev_dma_fail_countdown = -1;
size_t vdev_dma_fail_above;
long vdev_dma_outstanding;

uint64_t virt_to_phys(const void *v)
{
    vdev_virt_to_phys_calls++;
    return (uint64_t)(uintptr_t)v + VDEV_PHYS_OFFSET;
}

void *phys_to_virt(uint64_t phys)
{
    return (void *)(uintptr_t)(phys - VDEV_PHYS_OFFSET);
}

void *dma_alloc(size_t size, uint64_t *phys)
{
    size_t rounded = (size + 4095) & ~(size_t)4095;
    void *v;

    if (vdev_dma_fail_countdown >= 0 && vdev_dma_fail_countdown-- == 0)
        return NULL;
    if (vdev_dma_fail_above && size > vdev_dma_fail_above)
        return NULL;
    v = aligned_alloc(4096, rounded);
    if (!v)
        return NULL;
    memset(v, 0, rounded);
    /* Not through virt_to_phys(): tests count the driver's own calls. */
    *phys = (uint64_t)(uintptr_t)v + VDEV_PHYS_OFFSET;
    vdev_dma_outstanding++;
    return v;
}

size_t vdev_dma_free_bytes = 256u << 20;

size_t dma_free_bytes(void)
{
    return vdev_dma_free_bytes;
}

void dma_free(void *virt, size_t size)
{
    (void)size;
    if (!virt)
        return;
    vdev_dma_outstanding--;
    free(virt);
}

#define KLOG_KEEP 8
static char klog_lines[KLOG_KEEP][256];
static unsigned klog_total;
static unsigned klog_per_level[4];

void vklog(int level, const char *fmt, va_list ap)
{
    vsnprintf(klog_lines[klog_total % KLOG_KEEP], sizeof(klog_lines[0]), fmt, ap);
    klog_total++;
    if (level >= 0 && level < 4)
        klog_per_level[level]++;
    if (getenv("VDEV_KLOG"))
        fprintf(stderr, "klog[%d]: %s\n", level, klog_lines[(klog_total - 1) % KLOG_KEEP]);
}

void klog(int level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vklog(level, fmt, ap);
    va_end(ap);
}

void klog_set_level(int level)
{
    (void)level;
}

unsigned vdev_klog_count(void)
{
    return klog_total;
}

unsigned vdev_klog_count_level(int level)
{
    return level >= 0 && level < 4 ? klog_per_level[level] : 0;
}

const char *vdev_klog_last(void)
{
    return klog_total ? klog_lines[(klog_total - 1) % KLOG_KEEP] : "";
}

void vdev_klog_clear(void)
{
    klog_total = 0;
    memset(klog_per_level, 0, sizeof(klog_per_level));
    memset(klog_lines, 0, sizeof(klog_lines));
}

/* ---- the device ---- */

/* Shared words the other side writes concurrently: read and write them whole. */
static uint16_t rd16(const le16 *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void wr16(le16 *p, uint16_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static int vdev_error(struct vdev_model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int vdev_error(struct vdev_model *m, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(m->last_error, sizeof(m->last_error), fmt, ap);
    va_end(ap);
    m->errors++;
    if (getenv("VDEV_KLOG"))
        fprintf(stderr, "vdev: driver error: %s\n", m->last_error);
    return -EPROTO;
}

/* A guest-physical range back to a host pointer; NULL if it was never translated. */
static void *vdev_map(struct vdev_model *m, uint64_t phys, uint64_t len)
{
    if (phys < VDEV_PHYS_OFFSET || phys - VDEV_PHYS_OFFSET + len > 0x0000800000000000ull) {
        vdev_error(m, "address %#llx (len %llu) is not a translated guest address", (unsigned long long)phys,
                   (unsigned long long)len);
        return NULL;
    }
    return phys_to_virt(phys);
}

void vdev_init(struct vdev_model *m, const struct vring_addrs *addrs, unsigned num, uint64_t features,
               vdev_irq_fn irq, void *irq_ctx)
{
    memset(m, 0, sizeof(*m));
    m->num = num;
    m->event_idx = (features >> VIRTIO_RING_F_EVENT_IDX) & 1;
    m->indirect = (features >> VIRTIO_RING_F_INDIRECT_DESC) & 1;
    m->desc = vdev_map(m, addrs->desc, vring_desc_size(num));
    m->avail = vdev_map(m, addrs->driver, vring_avail_size(num));
    m->used = vdev_map(m, addrs->device, vring_used_size(num));
    if (((uintptr_t)m->desc & (VRING_DESC_ALIGN - 1)) || ((uintptr_t)m->avail & (VRING_AVAIL_ALIGN - 1)) ||
        ((uintptr_t)m->used & (VRING_USED_ALIGN - 1)))
        vdev_error(m, "misaligned ring areas");
    /* Strictly 2.7.7.2 from the start: QEMU instead interrupts unconditionally
     * the first time (signalled_used not yet valid), which would hide whether
     * the driver's used_event is right. */
    m->signalled_used = 0;
    m->signalled_used_valid = true;
    m->irq = irq;
    m->irq_ctx = irq_ctx;
}

void vdev_kick(void *ctx, unsigned index)
{
    struct vdev_model *m = ctx;

    (void)index;
    m->kicks++;
}

unsigned vdev_avail_pending(const struct vdev_model *m)
{
    return (uint16_t)(rd16(&m->avail->idx) - m->last_avail);
}

int vdev_pop(struct vdev_model *m, struct vdev_elem *e)
{
    const struct vring_desc *table = m->desc;
    unsigned max = m->num, count = 0;
    uint16_t avail_idx, i;
    struct vring_desc d;

    avail_idx = rd16(&m->avail->idx);
    if (avail_idx == m->last_avail)
        return 0;
    if ((uint16_t)(avail_idx - m->last_avail) > m->num)
        return vdev_error(m, "avail idx %u moved %u past %u (size %u)", avail_idx,
                          (uint16_t)(avail_idx - m->last_avail), m->last_avail, m->num);
    if (m->inuse >= m->num)
        return vdev_error(m, "more chains in use than the queue size");
    /* Read the index before the ring entry it covers (2.7.13.3, device side). */
    virt_rmb();
    i = m->avail->ring[m->last_avail & (m->num - 1)];
    m->last_avail++;
    /* QEMU: with EVENT_IDX, ask for a kick when the next chain is added. */
    if (m->event_idx)
        wr16(vring_avail_event(m->used, m->num), m->last_avail);

    memset(e, 0, sizeof(*e));
    e->head = i;
    if (i >= m->num)
        return vdev_error(m, "avail head %u out of range", i);
    d = table[i];
    if (d.flags & VRING_DESC_F_INDIRECT) {
        if (!m->indirect)
            return vdev_error(m, "INDIRECT without VIRTIO_RING_F_INDIRECT_DESC");
        if (d.flags & VRING_DESC_F_NEXT)
            return vdev_error(m, "INDIRECT together with NEXT");
        if (d.len == 0 || d.len % sizeof(struct vring_desc))
            return vdev_error(m, "indirect table length %u", d.len);
        table = vdev_map(m, d.addr, d.len);
        if (!table)
            return -EPROTO;
        if ((uintptr_t)table & (VRING_DESC_ALIGN - 1))
            return vdev_error(m, "misaligned indirect table");
        max = d.len / sizeof(struct vring_desc);
        e->indirect = true;
        i = 0;
        d = table[0];
    }
    for (;;) {
        struct vdev_seg *seg;
        void *p;

        if (++count > max)
            return vdev_error(m, "chain at head %u loops or exceeds %u descriptors", e->head, max);
        if (d.flags & VRING_DESC_F_INDIRECT)
            return vdev_error(m, "nested or chained INDIRECT descriptor");
        p = vdev_map(m, d.addr, d.len);
        if (!p)
            return -EPROTO;
        if (d.flags & VRING_DESC_F_WRITE) {
            if (e->n_in == VDEV_MAX_SEGS)
                return vdev_error(m, "too many writable segments");
            seg = &e->in[e->n_in++];
            e->in_len += d.len;
        } else {
            if (e->n_in)
                return vdev_error(m, "readable descriptor after a writable one (2.7.4.2)");
            if (e->n_out == VDEV_MAX_SEGS)
                return vdev_error(m, "too many readable segments");
            seg = &e->out[e->n_out++];
        }
        seg->addr = p;
        seg->len = d.len;
        if (!(d.flags & VRING_DESC_F_NEXT))
            break;
        i = d.next;
        if (i >= max)
            return vdev_error(m, "next %u out of range (%u)", i, max);
        d = table[i];
    }
    m->inuse++;
    return 1;
}

uint32_t vdev_write(const struct vdev_elem *e, const void *data, uint32_t len)
{
    const unsigned char *src = data;
    uint32_t done = 0;
    unsigned k;

    for (k = 0; k < e->n_in && done < len; k++) {
        uint32_t n = e->in[k].len < len - done ? e->in[k].len : len - done;

        memcpy(e->in[k].addr, src + done, n);
        done += n;
    }
    return done;
}

void vdev_fill(struct vdev_model *m, uint32_t id, uint32_t len, unsigned idx)
{
    struct vring_used_elem *u = &m->used->ring[(uint16_t)(m->used_idx + idx) & (m->num - 1)];

    u->id = id;
    u->len = len;
}

void vdev_flush(struct vdev_model *m, unsigned count)
{
    uint16_t old = m->used_idx, new_idx = (uint16_t)(old + count);

    /* 2.7.8.2: entries before the index that publishes them. */
    virt_wmb();
    m->used_idx = new_idx;
    wr16(&m->used->idx, new_idx);
    m->inuse = m->inuse >= count ? m->inuse - count : 0;
    /* QEMU: if this flush moved past the last signalled point, it is stale. */
    if ((int16_t)(new_idx - m->signalled_used) < (uint16_t)(new_idx - old))
        m->signalled_used_valid = false;
}

void vdev_push(struct vdev_model *m, const struct vdev_elem *e, uint32_t len)
{
    vdev_fill(m, e->head, len, 0);
    vdev_flush(m, 1);
}

bool vdev_notify(struct vdev_model *m)
{
    bool raise;

    /* The new used->idx must be visible before we read the driver's request. */
    virt_mb();
    if (m->event_idx) {
        uint16_t old = m->signalled_used, new_idx = m->used_idx;
        bool valid = m->signalled_used_valid;

        m->signalled_used_valid = true;
        m->signalled_used = new_idx;
        raise = !valid || vring_need_event(rd16(vring_used_event(m->avail, m->num)), new_idx, old);
    } else {
        raise = !(rd16(&m->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
    }
    if (!raise) {
        m->irqs_suppressed++;
        return false;
    }
    m->irqs++;
    if (m->irq)
        m->irq(m->irq_ctx);
    return true;
}

void vdev_set_notification(struct vdev_model *m, bool enable)
{
    if (m->event_idx)
        wr16(vring_avail_event(m->used, m->num), rd16(&m->avail->idx));
    else
        wr16(&m->used->flags, enable ? 0 : VRING_USED_F_NO_NOTIFY);
    if (enable)
        virt_mb();
}

unsigned vdev_process(struct vdev_model *m, unsigned max)
{
    struct vdev_elem e;
    unsigned n = 0, k;

    while (n < max && vdev_pop(m, &e) == 1) {
        for (k = 0; k < e.n_in; k++)
            memset(e.in[k].addr, 0xa5, e.in[k].len);
        vdev_fill(m, e.head, e.in_len, n);
        n++;
    }
    if (n) {
        vdev_flush(m, n);
        vdev_notify(m);
    }
    return n;
}

void vdev_push_raw(struct vdev_model *m, uint32_t id, uint32_t len)
{
    vdev_fill(m, id, len, 0);
    virt_wmb();
    m->used_idx++;
    wr16(&m->used->idx, m->used_idx);
}

void vdev_set_used_idx(struct vdev_model *m, uint16_t idx)
{
    m->used_idx = idx;
    wr16(&m->used->idx, idx);
}

void vdev_set_avail_event(struct vdev_model *m, uint16_t event)
{
    wr16(vring_avail_event(m->used, m->num), event);
}

uint16_t vdev_used_event(const struct vdev_model *m)
{
    return rd16(vring_used_event(m->avail, m->num));
}

uint16_t vdev_avail_flags(const struct vdev_model *m)
{
    return rd16(&m->avail->flags);
}
