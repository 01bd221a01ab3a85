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

/*
 * The device side is written from the spec alone: nothing of the driver's
 * drivers/virtio_ring.h (layouts, sizes, event offsets, need_event) may be
 * used here, or a bug there would be mirrored by the oracle. vdev_model.h
 * does not include it; should anything pull it in, these names still fail
 * to compile below.
 */
#pragma GCC poison vring_desc vring_avail vring_used vring_used_elem
#pragma GCC poison vring_need_event vring_used_event vring_avail_event
#pragma GCC poison vring_desc_size vring_avail_size vring_used_size vring_used_offset vring_size

_Static_assert(sizeof(struct vdev_desc) == 16, "2.7.5");
_Static_assert(offsetof(struct vdev_desc, len) == 8 && offsetof(struct vdev_desc, flags) == 12 &&
                   offsetof(struct vdev_desc, next) == 14,
               "2.7.5");
_Static_assert(offsetof(struct vdev_avail, idx) == 2 && offsetof(struct vdev_avail, ring) == 4, "2.7.6");
_Static_assert(sizeof(struct vdev_used_elem) == 8 && offsetof(struct vdev_used_elem, len) == 4, "2.7.8");
_Static_assert(offsetof(struct vdev_used, idx) == 2 && offsetof(struct vdev_used, ring) == 4, "2.7.8");

/* 2.7 "Virtqueue Part" table: sizes and alignments of the three areas. */
#define DESC_AREA_SIZE(n)  (16u * (size_t)(n))
#define AVAIL_AREA_SIZE(n) (6u + 2u * (size_t)(n))
#define USED_AREA_SIZE(n)  (6u + 8u * (size_t)(n))
#define DESC_AREA_ALIGN    16u
#define AVAIL_AREA_ALIGN   2u
#define USED_AREA_ALIGN    4u

/* used_event: the le16 after flags, idx and ring[num] of the driver area. */
static uint16_t *used_event_word(const struct vdev_model *m)
{
    return (uint16_t *)(void *)((unsigned char *)m->avail + 4 + 2 * (size_t)m->num);
}

/* avail_event: the le16 after flags, idx and ring[num] of the device area. */
static uint16_t *avail_event_word(const struct vdev_model *m)
{
    return (uint16_t *)(void *)((unsigned char *)m->used + 4 + 8 * (size_t)m->num);
}

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

/* Poisoned: a driver that reads a byte the device did not write sees 0xa5. */
void *dma_alloc_uninit(size_t size, uint64_t *phys)
{
    void *v = dma_alloc(size, phys);

    if (v)
        memset(v, 0xa5, (size + 4095) & ~(size_t)4095);
    return v;
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
static uint16_t rd16(const uint16_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void wr16(uint16_t *p, uint16_t v)
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
    /* 2.7: a split queue's size is a power of 2, at most 32768. */
    if (num == 0 || (num & (num - 1)) || num > 32768)
        vdev_error(m, "queue size %u", num);
    m->event_idx = (features >> VDEV_F_EVENT_IDX) & 1;
    m->indirect = (features >> VDEV_F_INDIRECT_DESC) & 1;
    m->desc = vdev_map(m, addrs->desc, DESC_AREA_SIZE(num));
    m->avail = vdev_map(m, addrs->driver, AVAIL_AREA_SIZE(num));
    m->used = vdev_map(m, addrs->device, USED_AREA_SIZE(num));
    if (((uintptr_t)m->desc % DESC_AREA_ALIGN) || ((uintptr_t)m->avail % AVAIL_AREA_ALIGN) ||
        ((uintptr_t)m->used % USED_AREA_ALIGN))
        vdev_error(m, "misaligned ring areas");
    /* The three areas must not overlap: the device writes one of them. */
    if (m->desc && m->avail && m->used) {
        uintptr_t d = (uintptr_t)m->desc, a = (uintptr_t)m->avail, u = (uintptr_t)m->used;

        if ((d < a + AVAIL_AREA_SIZE(num) && a < d + DESC_AREA_SIZE(num)) ||
            (d < u + USED_AREA_SIZE(num) && u < d + DESC_AREA_SIZE(num)) ||
            (a < u + USED_AREA_SIZE(num) && u < a + AVAIL_AREA_SIZE(num)))
            vdev_error(m, "ring areas overlap");
    }
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
    const struct vdev_desc *table = m->desc;
    unsigned max = m->num, count = 0;
    uint16_t avail_idx, i;
    struct vdev_desc d;

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
        wr16(avail_event_word(m), m->last_avail);

    memset(e, 0, sizeof(*e));
    e->head = i;
    if (i >= m->num)
        return vdev_error(m, "avail head %u out of range", i);
    d = table[i];
    if (d.flags & VDEV_DESC_INDIRECT) {
        if (!m->indirect)
            return vdev_error(m, "INDIRECT without VIRTIO_RING_F_INDIRECT_DESC");
        if (d.flags & VDEV_DESC_NEXT)
            return vdev_error(m, "INDIRECT together with NEXT");
        if (d.len == 0 || d.len % sizeof(struct vdev_desc))
            return vdev_error(m, "indirect table length %u", d.len);
        table = vdev_map(m, d.addr, d.len);
        if (!table)
            return -EPROTO;
        if ((uintptr_t)table % DESC_AREA_ALIGN)
            return vdev_error(m, "misaligned indirect table");
        max = d.len / sizeof(struct vdev_desc);
        e->indirect = true;
        i = 0;
        d = table[0];
    }
    for (;;) {
        struct vdev_seg *seg;
        void *p;

        if (++count > max)
            return vdev_error(m, "chain at head %u loops or exceeds %u descriptors", e->head, max);
        if (d.flags & VDEV_DESC_INDIRECT)
            return vdev_error(m, "nested or chained INDIRECT descriptor");
        p = vdev_map(m, d.addr, d.len);
        if (!p)
            return -EPROTO;
        if (d.flags & VDEV_DESC_WRITE) {
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
        if (!(d.flags & VDEV_DESC_NEXT))
            break;
        i = d.next;
        if (i >= max)
            return vdev_error(m, "next %u out of range (%u)", i, max);
        d = table[i];
    }
    if (m->num <= VDEV_TRACK_MAX) {
        struct vdev_track *t = &m->track[e->head];
        void *buf = e->n_in ? e->in[0].addr : NULL;
        uint32_t len = e->n_in ? e->in[0].len : 0;
        unsigned k;

        if (t->held)
            return vdev_error(m, "head %u made available again while the device holds it", e->head);
        /* Two chains the device may write at once must not share memory. */
        for (k = 0; buf && !m->allow_overlap && k < m->num; k++) {
            const struct vdev_track *o = &m->track[k];

            if (o->held && o->buf && (uintptr_t)buf < (uintptr_t)o->buf + o->len &&
                (uintptr_t)o->buf < (uintptr_t)buf + len)
                return vdev_error(m, "buffer %p (head %u) overlaps %p (head %u) the device still holds", buf,
                                  e->head, o->buf, k);
        }
        t->buf = buf;
        t->len = len;
        t->held = true;
    }
    m->inuse++;
    return 1;
}

unsigned vdev_held(const struct vdev_model *m)
{
    unsigned k, n = 0;

    for (k = 0; k < m->num && k < VDEV_TRACK_MAX; k++)
        n += m->track[k].held;
    return n;
}

unsigned vdev_pending_bufs(struct vdev_model *m, void **bufs, unsigned max)
{
    uint16_t idx = rd16(&m->avail->idx), at;
    unsigned n = 0;

    for (at = m->last_avail; at != idx && n < m->num; at++, n++) {
        uint16_t head = m->avail->ring[at & (m->num - 1)];
        struct vdev_desc d;
        unsigned hops = 0;

        if (head >= m->num) {
            vdev_error(m, "avail head %u out of range", head);
            break;
        }
        d = m->desc[head];
        /* Direct chains only (what a receive queue posts): the first writable one. */
        while (!(d.flags & VDEV_DESC_WRITE) && (d.flags & VDEV_DESC_NEXT) && d.next < m->num &&
               ++hops < m->num)
            d = m->desc[d.next];
        if (n < max)
            bufs[n] = (d.flags & VDEV_DESC_WRITE) && !(d.flags & VDEV_DESC_INDIRECT)
                          ? vdev_map(m, d.addr, d.len)
                          : NULL;
    }
    return n;
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
    struct vdev_used_elem *u = &m->used->ring[(uint16_t)(m->used_idx + idx) & (m->num - 1)];

    u->id = id;
    u->len = len;
    if (m->num <= VDEV_TRACK_MAX && id < m->num && m->track[id].held) {
        m->track[id].held = false;
        if (m->on_return)
            m->on_return(m->return_ctx, m->track[id].buf, m->track[id].len);
    }
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
        raise = !valid || vdev_event_crossed(rd16(used_event_word(m)), new_idx, old);
    } else {
        raise = !(rd16(&m->avail->flags) & VDEV_AVAIL_NO_INTERRUPT);
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
        wr16(avail_event_word(m), rd16(&m->avail->idx));
    else
        wr16(&m->used->flags, enable ? 0 : VDEV_USED_NO_NOTIFY);
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
    wr16(avail_event_word(m), event);
}

uint16_t vdev_used_event(const struct vdev_model *m)
{
    return rd16(used_event_word(m));
}

uint16_t vdev_avail_flags(const struct vdev_model *m)
{
    return rd16(&m->avail->flags);
}

const void *vdev_avail_event_addr(const struct vdev_model *m)
{
    return avail_event_word(m);
}
