/*
 * The packed-virtqueue device model for the host tests; see pdev_model.h.
 */
#include "pdev_model.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/barrier.h"
#include "arch/x86_64/paging.h"

/* Written from the spec alone: the driver's packed layout must not leak in. */
#pragma GCC poison vring_packed_desc vring_packed_event vring_packed_size
#pragma GCC poison vring_packed_driver_offset vring_packed_device_offset

_Static_assert(sizeof(struct pdev_desc) == 16, "2.8.13");
_Static_assert(offsetof(struct pdev_desc, len) == 8 && offsetof(struct pdev_desc, id) == 12 &&
                   offsetof(struct pdev_desc, flags) == 14,
               "2.8.13");
_Static_assert(sizeof(struct pdev_event) == 4 && offsetof(struct pdev_event, flags) == 2, "2.8.14");

static uint16_t rd16(const uint16_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void wr16(uint16_t *p, uint16_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static int perr(struct pdev_model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int perr(struct pdev_model *m, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(m->last_error, sizeof(m->last_error), fmt, ap);
    va_end(ap);
    m->errors++;
    if (getenv("VDEV_KLOG"))
        fprintf(stderr, "pdev: driver error: %s\n", m->last_error);
    return -EPROTO;
}

static void *pmap(struct pdev_model *m, uint64_t phys, uint64_t len)
{
    if (phys < VDEV_PHYS_OFFSET || phys - VDEV_PHYS_OFFSET + len > 0x0000800000000000ull) {
        perr(m, "address %#llx (len %llu) is not a translated guest address", (unsigned long long)phys,
             (unsigned long long)len);
        return NULL;
    }
    return phys_to_virt(phys);
}

void pdev_init(struct pdev_model *m, const struct vring_addrs *addrs, unsigned num, uint64_t features,
               pdev_irq_fn irq, void *irq_ctx)
{
    memset(m, 0, sizeof(*m));
    m->num = num;
    m->event_idx = (features >> 29) & 1;
    m->indirect = (features >> 28) & 1;
    /* 2.8.10.1 / 2.8 table: ring 16-aligned, the two event structures 4-aligned. */
    if (addrs->desc % 16 || addrs->driver % 4 || addrs->device % 4)
        perr(m, "misaligned areas %#llx %#llx %#llx", (unsigned long long)addrs->desc,
             (unsigned long long)addrs->driver, (unsigned long long)addrs->device);
    m->ring = pmap(m, addrs->desc, 16ull * num);
    m->driver = pmap(m, addrs->driver, 4);
    m->device = pmap(m, addrs->device, 4);
    /* 2.8.1: both wrap counters start at 1. */
    m->avail_wrap = true;
    m->used_wrap = true;
    m->irq = irq;
    m->irq_ctx = irq_ctx;
}

void pdev_kick(void *ctx, unsigned index)
{
    struct pdev_model *m = ctx;

    (void)index;
    m->kicks++;
}

/* 2.8.1: available in lap W means AVAIL == W and USED != W. */
static bool avail_at(const struct pdev_model *m, unsigned pos, bool wrap)
{
    uint16_t f = rd16(&m->ring[pos].flags);

    return ((f & PDEV_DESC_AVAIL) != 0) == wrap && ((f & PDEV_DESC_USED) != 0) != wrap;
}

bool pdev_avail(const struct pdev_model *m)
{
    return avail_at(m, m->next_avail, m->avail_wrap);
}

static int add_seg(struct pdev_model *m, struct pdev_elem *e, uint64_t addr, uint32_t len, bool write)
{
    void *p = pmap(m, addr, len);

    if (!p)
        return -EPROTO;
    if (write) {
        if (e->n_in >= PDEV_MAX_SEGS)
            return perr(m, "chain too long");
        e->in[e->n_in].addr = p;
        e->in[e->n_in++].len = len;
        e->in_len += len;
    } else {
        if (e->n_in)
            return perr(m, "readable descriptor after a writable one (2.8.4? 2.7.4.2)");
        if (e->n_out >= PDEV_MAX_SEGS)
            return perr(m, "chain too long");
        e->out[e->n_out].addr = p;
        e->out[e->n_out++].len = len;
    }
    return 0;
}

int pdev_pop(struct pdev_model *m, struct pdev_elem *e)
{
    unsigned pos = m->next_avail, n = 0;
    bool wrap = m->avail_wrap;
    uint16_t id = 0, flags;

    if (!avail_at(m, pos, wrap))
        return 0;
    /* The flags before the rest of the descriptor (2.8.21: the driver wrote them last). */
    virt_rmb();
    memset(e, 0, sizeof(*e));
    for (;;) {
        struct pdev_desc d = m->ring[pos];

        if (n > 0 && !avail_at(m, pos, wrap))
            return perr(m, "chain continues at %u, which is not available (flags %#x, wrap %u)", pos, d.flags,
                        wrap);
        flags = d.flags;
        id = d.id;
        n++;
        if (n > m->num)
            return perr(m, "chain longer than the ring");
        if (flags & PDEV_DESC_INDIRECT) {
            struct pdev_desc *tbl;
            unsigned i, cnt;

            if (!m->indirect)
                return perr(m, "INDIRECT without the feature");
            if (flags & PDEV_DESC_NEXT)
                return perr(m, "INDIRECT with NEXT (2.8.19)");
            if (n > 1 || e->n_out || e->n_in)
                return perr(m, "INDIRECT inside a chain");
            if (d.len == 0 || d.len % 16)
                return perr(m, "indirect table of %u bytes", d.len);
            tbl = pmap(m, d.addr, d.len);
            if (!tbl)
                return -EPROTO;
            cnt = d.len / 16;
            for (i = 0; i < cnt; i++) {
                if (tbl[i].flags & PDEV_DESC_INDIRECT)
                    return perr(m, "nested INDIRECT");
                if (add_seg(m, e, tbl[i].addr, tbl[i].len, tbl[i].flags & PDEV_DESC_WRITE) < 0)
                    return -EPROTO;
            }
            e->indirect = true;
        } else if (add_seg(m, e, d.addr, d.len, flags & PDEV_DESC_WRITE) < 0) {
            return -EPROTO;
        }
        if (++pos == m->num) {
            pos = 0;
            wrap = !wrap;
        }
        if (!(flags & PDEV_DESC_NEXT))
            break;
    }
    /* 2.8.6: the buffer id is the last descriptor's. */
    if (id >= PDEV_MAX_IDS || id >= m->num)
        return perr(m, "buffer id %u out of range", id);
    if (m->held[id])
        return perr(m, "buffer id %u made available while the device holds it", id);
    m->held[id] = true;
    m->inuse++;
    e->id = id;
    e->ndesc = (uint16_t)n;
    m->next_avail = pos;
    m->avail_wrap = wrap;
    return 1;
}

uint32_t pdev_write(const struct pdev_elem *e, const void *data, uint32_t len)
{
    uint32_t done = 0;
    unsigned i;

    for (i = 0; i < e->n_in && done < len; i++) {
        uint32_t k = e->in[i].len < len - done ? e->in[i].len : len - done;

        memcpy(e->in[i].addr, (const char *)data + done, k);
        done += k;
    }
    return done;
}

uint16_t pdev_used_flags(const struct pdev_model *m)
{
    return m->used_wrap ? (uint16_t)(PDEV_DESC_AVAIL | PDEV_DESC_USED) : 0;
}

static void write_used(struct pdev_model *m, uint16_t id, uint32_t len, uint16_t flags, unsigned skip)
{
    struct pdev_desc *d = &m->ring[m->next_used];

    d->id = id;
    d->len = len;
    /* 2.8.1: id and len visible before the flags that say "used". */
    virt_wmb();
    wr16(&d->flags, flags);
    m->next_used += skip;
    while (m->next_used >= m->num) {
        m->next_used -= m->num;
        m->used_wrap = !m->used_wrap;
    }
    m->used_total += skip;
}

void pdev_push(struct pdev_model *m, const struct pdev_elem *e, uint32_t len)
{
    if (e->id < PDEV_MAX_IDS && m->held[e->id]) {
        m->held[e->id] = false;
        m->inuse--;
    }
    write_used(m, e->id, len, pdev_used_flags(m), e->ndesc);
}

void pdev_push_raw(struct pdev_model *m, uint16_t id, uint32_t len, uint16_t flags, unsigned skip)
{
    write_used(m, id, len, flags, skip);
}

bool pdev_notify(struct pdev_model *m)
{
    uint16_t flags, off_wrap;
    bool raise;

    /* Our used descriptors before the driver's request (QEMU: smp_mb). */
    virt_mb();
    flags = rd16(&m->driver->flags);
    off_wrap = rd16(&m->driver->off_wrap);
    if (flags == PDEV_EVENT_DISABLE) {
        raise = false;
    } else if (flags == PDEV_EVENT_DESC && m->event_idx) {
        /*
         * The driver wants an interrupt once the descriptor at offset off in
         * lap "wrap" is used. Place it on our free-running count: in the lap
         * we are writing now if its wrap is ours, else in the one before.
         */
        uint64_t lap_start = m->used_total - m->next_used;
        uint64_t event = lap_start + (off_wrap & 0x7fff);
        bool ewrap = (off_wrap & 0x8000) != 0;

        if (ewrap != m->used_wrap)
            event -= m->num;
        raise = event >= m->signalled_total && event < m->used_total;
    } else {
        raise = true;
    }
    m->signalled_total = m->used_total;
    if (!raise) {
        m->irqs_suppressed++;
        return false;
    }
    m->irqs++;
    if (m->irq)
        m->irq(m->irq_ctx);
    return true;
}

void pdev_set_device_event(struct pdev_model *m, uint16_t off_wrap, uint16_t flags)
{
    wr16(&m->device->off_wrap, off_wrap);
    wr16(&m->device->flags, flags);
}

void pdev_set_notification(struct pdev_model *m, uint16_t flags)
{
    pdev_set_device_event(m, (uint16_t)(m->next_avail | (m->avail_wrap ? 0x8000 : 0)), flags);
}

unsigned pdev_process(struct pdev_model *m, unsigned max)
{
    struct pdev_elem e;
    unsigned done = 0;
    uint8_t pattern[4096];

    memset(pattern, 0xa5, sizeof(pattern));
    while (done < max && pdev_pop(m, &e) == 1) {
        uint32_t n = e.in_len < sizeof(pattern) ? e.in_len : sizeof(pattern);

        pdev_write(&e, pattern, n);
        pdev_push(m, &e, e.in_len);
        done++;
    }
    if (done)
        pdev_notify(m);
    return done;
}
