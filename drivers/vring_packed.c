/*
 * The driver side of a packed virtqueue (virtio 1.2 spec 2.8 "Packed
 * Virtqueues"), behind the vring interface (drivers/vring.c forwards here).
 *
 * How a buffer travels:
 *
 *   1. vring_packed_add() takes a free buffer id, writes the chain's
 *      descriptors at the ring's next positions (2.8.21), the id in each,
 *      NEXT on all but the last, or one INDIRECT descriptor pointing at a
 *      table (2.8.19). Every descriptor carries AVAIL = our avail wrap counter
 *      and USED = its inverse (2.8.1); the head's flags are written last, after
 *      a barrier, because they are what hands the chain to the device.
 *   2. vring_packed_kick_prepare() reads the device's event suppression
 *      structure (device area): DISABLE, ENABLE, or with EVENT_IDX a position
 *      and wrap counter to be told about (2.8.10).
 *   3. The device writes one used descriptor per chain at its own next used
 *      position: the buffer id, the bytes written, AVAIL = USED = its used wrap
 *      counter; it then skips as many positions as the chain had descriptors.
 *      Completions may come out of order: the id, not the position, says
 *      which chain.
 *   4. vring_packed_get_used() reads the descriptor at our last used position,
 *      checks it, frees the id and its descriptors, and moves on by the
 *      chain's length, flipping our used wrap counter at the end of the ring.
 *
 * What we check (the device is not trusted, as in drivers/vring.c): while a
 * chain is in flight the descriptor at our used position was written by us
 * with (AVAIL, USED) = (W, !W), W our used wrap counter; the device may only
 * turn it into (W, W). Any other pair is wrap flags that make no sense.
 * Then the id must be below num and name a chain in flight (else out of
 * range, or completed twice), and the length must fit the chain's writable
 * part. A violation marks the queue broken, logged once.
 *
 * As in the split ring, everything we must rely on (ids, chain lengths,
 * cookies, positions, wrap counters) lives in private memory the device is
 * never given, and shared words go through shared_read*()/shared_write*().
 */
#include "drivers/vring_packed.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86_64/barrier.h"
#include "arch/x86_64/dma.h"
#include "arch/x86_64/paging.h"
#include "drivers/virtio_ring.h"
#include "lib/klog.h"
#include "lib/trace.h"

#define PQ_NONE       0xffffu
#define PQ_FEATURE(f) (1ull << (f))
#define AVAIL_BIT     (1u << VRING_PACKED_DESC_F_AVAIL)
#define USED_BIT      (1u << VRING_PACKED_DESC_F_USED)
#define WRAP_BIT      (1u << VRING_PACKED_EVENT_F_WRAP_CTR)

/* One buffer id: a chain in flight, or a link of the free id list. */
struct pq_id {
    void *cookie;    /* non-NULL exactly while the id is in flight */
    uint32_t in_len; /* device-writable bytes: the largest valid used len */
    uint16_t ndesc;  /* ring descriptors the chain takes (1 with a table) */
    uint16_t table;  /* its indirect table, or PQ_NONE */
    uint16_t next;   /* free id list */
};

struct vring_packed {
    struct vring_packed_desc *desc;
    struct vring_packed_event *driver; /* we write: used buffer notifications */
    struct vring_packed_event *device; /* the device writes: available buffer notifications */
    struct vring_packed_desc *tables;
    void *mem;
    uint64_t mem_phys;
    size_t mem_size;

    unsigned index;
    const char *name;
    char default_name[12];
    unsigned num;
    bool event_idx;
    bool indirect;
    vring_notify_fn notify;
    void *notify_ctx;

    unsigned num_free;   /* free ring descriptors */
    uint16_t next_avail; /* where the next chain goes */
    bool avail_wrap;
    uint16_t last_used; /* where the next used descriptor will be */
    bool used_wrap;
    uint16_t free_id;
    unsigned in_flight;
    unsigned num_added;   /* descriptors made available since the last kick decision */
    uint16_t event_flags; /* our shadow of driver->flags */
    bool cb_enabled;
    bool broken;
    unsigned detach_scan;
    /* vring_packed_check(): stats.used when a skipped position was last seen
     * (valid while skip_seen), to tell a lasting skip from a batch being written. */
    bool skip_seen;
    uint64_t skip_used;

    unsigned ntables;
    unsigned tables_free;
    uint16_t *table_stack;

    struct vring_stats stats;
    size_t priv_size;
    struct pq_id ids[]; /* num entries, then the table stack */
};

static inline uint16_t shared_read16(const le16 *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline uint32_t shared_read32(const le32 *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void shared_write16(le16 *p, uint16_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}

/* The device's event suppression structure in one read: off_wrap and flags
 * must come from the same moment (Linux reads it as one 32-bit word too). */
static inline void read_device_event(const struct vring_packed *pq, uint16_t *off_wrap, uint16_t *flags)
{
    uint32_t w = __atomic_load_n((const uint32_t *)(const void *)pq->device, __ATOMIC_RELAXED);

    *off_wrap = (uint16_t)w;
    *flags = (uint16_t)(w >> 16);
}

/* Packed queues need no power of two (2.8.10.1): positions wrap at num. */
static bool pq_valid_num(unsigned num)
{
    return num >= 1 && num <= VRING_PACKED_MAX_NUM;
}

static unsigned pq_table_count(unsigned num, uint64_t features)
{
    if (!(features & PQ_FEATURE(VIRTIO_RING_F_INDIRECT_DESC)))
        return 0;
    return num < VRING_INDIRECT_TABLES ? num : VRING_INDIRECT_TABLES;
}

static size_t pq_tables_offset(unsigned num)
{
    return vring_align_up(vring_packed_size(num), VRING_PACKED_DESC_ALIGN);
}

size_t vring_packed_mem_size(unsigned num, uint64_t features)
{
    if (!pq_valid_num(num))
        return 0;
    return pq_tables_offset(num) +
           (size_t)pq_table_count(num, features) * VRING_INDIRECT_MAX * sizeof(struct vring_packed_desc);
}

/*
 * After create or reset: zeroed ring (no descriptor looks available or used
 * to a side whose wrap counter is 1), both wrap counters 1 (2.8.1), every id
 * and table free. With EVENT_IDX the driver area asks, in DESC mode, for an
 * interrupt at the first used descriptor (position 0, wrap 1).
 */
static void pq_init_state(struct vring_packed *pq)
{
    unsigned i;

    memset(pq->mem, 0, pq->mem_size);
    for (i = 0; i < pq->num; i++) {
        pq->ids[i].cookie = NULL;
        pq->ids[i].in_len = 0;
        pq->ids[i].ndesc = 0;
        pq->ids[i].table = PQ_NONE;
        pq->ids[i].next = i + 1 < pq->num ? (uint16_t)(i + 1) : PQ_NONE;
    }
    pq->free_id = 0;
    pq->num_free = pq->num;
    pq->next_avail = 0;
    pq->avail_wrap = true;
    pq->last_used = 0;
    pq->used_wrap = true;
    pq->in_flight = 0;
    pq->num_added = 0;
    pq->cb_enabled = true;
    pq->broken = false;
    pq->detach_scan = 0;
    pq->skip_seen = false;
    if (pq->event_idx) {
        shared_write16(&pq->driver->off_wrap, (uint16_t)WRAP_BIT);
        pq->event_flags = VRING_PACKED_EVENT_FLAG_DESC;
    } else {
        pq->event_flags = VRING_PACKED_EVENT_FLAG_ENABLE;
    }
    shared_write16(&pq->driver->flags, pq->event_flags);
    for (i = 0; i < pq->ntables; i++)
        pq->table_stack[i] = (uint16_t)i;
    pq->tables_free = pq->ntables;
}

struct vring_packed *vring_packed_create(const struct vring_config *cfg)
{
    struct vring_packed *pq;
    size_t mem_size, priv_size;
    uint64_t priv_phys;
    unsigned ntables;

    mem_size = vring_packed_mem_size(cfg->num, cfg->features);
    if (!mem_size || !cfg->notify || cfg->legacy) {
        klog(LOG_ERR, "virtio: queue %u: bad packed config (size %u%s)", cfg->index, cfg->num,
             cfg->legacy ? ", legacy" : "");
        return NULL;
    }
    ntables = pq_table_count(cfg->num, cfg->features);
    /* Private state in a block of its own the device is never told about. */
    priv_size = sizeof(*pq) + cfg->num * sizeof(pq->ids[0]) + ntables * sizeof(uint16_t);
    pq = dma_alloc(priv_size, &priv_phys);
    if (!pq)
        goto fail;
    memset(pq, 0, sizeof(*pq));
    pq->priv_size = priv_size;
    pq->mem_size = mem_size;
    pq->mem = dma_alloc(mem_size, &pq->mem_phys);
    if (!pq->mem)
        goto fail_priv;

    pq->index = cfg->index;
    if (cfg->name) {
        pq->name = cfg->name;
    } else {
        snprintf(pq->default_name, sizeof(pq->default_name), "vq%u", cfg->index % 100000u);
        pq->name = pq->default_name;
    }
    pq->num = cfg->num;
    pq->event_idx = (cfg->features & PQ_FEATURE(VIRTIO_RING_F_EVENT_IDX)) != 0;
    pq->indirect = ntables > 0;
    pq->notify = cfg->notify;
    pq->notify_ctx = cfg->notify_ctx;
    pq->desc = pq->mem;
    pq->driver = (struct vring_packed_event *)((char *)pq->mem + vring_packed_driver_offset(cfg->num));
    pq->device = (struct vring_packed_event *)((char *)pq->mem + vring_packed_device_offset(cfg->num));
    pq->tables = (struct vring_packed_desc *)((char *)pq->mem + pq_tables_offset(cfg->num));
    pq->ntables = ntables;
    pq->table_stack = (uint16_t *)(void *)&pq->ids[cfg->num];
    pq_init_state(pq);
    return pq;

fail_priv:
    dma_free(pq, priv_size);
fail:
    klog(LOG_ERR, "virtio: queue %u: out of DMA memory", cfg->index);
    return NULL;
}

void vring_packed_destroy(struct vring_packed *pq)
{
    if (!pq)
        return;
    dma_free(pq->mem, pq->mem_size);
    dma_free(pq, pq->priv_size);
}

int vring_packed_reset(struct vring_packed *pq)
{
    if (pq->in_flight)
        return -EBUSY;
    pq_init_state(pq);
    return 0;
}

void vring_packed_get_addrs(const struct vring_packed *pq, struct vring_addrs *addrs)
{
    addrs->desc = pq->mem_phys;
    addrs->driver = pq->mem_phys + vring_packed_driver_offset(pq->num);
    addrs->device = pq->mem_phys + vring_packed_device_offset(pq->num);
}

unsigned vring_packed_num(const struct vring_packed *pq)
{
    return pq->num;
}

unsigned vring_packed_num_free(const struct vring_packed *pq)
{
    return pq->num_free;
}

static bool use_table(const struct vring_packed *pq, unsigned total)
{
    return pq->indirect && total > 1 && total <= VRING_INDIRECT_MAX && pq->tables_free > 0;
}

unsigned vring_packed_add_cost(const struct vring_packed *pq, unsigned nsegs)
{
    return use_table(pq, nsegs) ? 1 : nsegs;
}

const char *vring_packed_name(const struct vring_packed *pq)
{
    return pq->name;
}

bool vring_packed_is_broken(const struct vring_packed *pq)
{
    return pq->broken;
}

static bool pq_break(struct vring_packed *pq)
{
    if (pq->broken)
        return false;
    pq->broken = true;
    pq->stats.broken++;
    return true;
}

bool vring_packed_mark_broken(struct vring_packed *pq)
{
    return pq_break(pq);
}

/* The AVAIL/USED pair that makes a descriptor available in lap @wrap (2.8.1). */
static inline uint16_t avail_flags(bool wrap)
{
    return wrap ? (uint16_t)AVAIL_BIT : (uint16_t)USED_BIT;
}

static void __attribute__((noinline, cold))
trace_add(const struct vring_packed *pq, uint16_t head, uint16_t id, unsigned segs, bool indirect,
          uint64_t bytes)
{
    trace_line("virtq %s: add head=%u id=%u descs=%u%s bytes=%llu next_avail=%u wrap=%u (packed)", pq->name,
               head, id, segs, indirect ? " (indirect)" : "", (unsigned long long)bytes, pq->next_avail,
               pq->avail_wrap);
}

int vring_packed_add(struct vring_packed *pq, const struct vring_seg *segs, unsigned n_out, unsigned n_in,
                     void *cookie)
{
    unsigned total = n_out + n_in, i, ndesc;
    uint64_t bytes = 0, in_bytes = 0;
    uint16_t head, id, head_flags = 0, table = PQ_NONE;
    struct pq_id *st;

    if (pq->broken)
        return -EIO;
    if (total == 0 || total > pq->num || !cookie)
        return -EINVAL;
    for (i = 0; i < total; i++) {
        bytes += segs[i].len;
        if (i >= n_out)
            in_bytes += segs[i].len;
    }
    if (bytes > UINT32_MAX)
        return -EINVAL;
    if (use_table(pq, total))
        table = pq->table_stack[pq->tables_free - 1];
    ndesc = table != PQ_NONE ? 1 : total;
    /* Every chain takes at least one descriptor, so a free descriptor means a free id. */
    if (pq->num_free < ndesc) {
        pq->stats.ring_full++;
        return -ENOSPC;
    }

    id = pq->free_id;
    pq->free_id = pq->ids[id].next;
    head = pq->next_avail;
    if (table != PQ_NONE) {
        struct vring_packed_desc *tbl = &pq->tables[(size_t)table * VRING_INDIRECT_MAX];
        struct vring_packed_desc *d = &pq->desc[head];

        pq->tables_free--;
        /* 2.8.19: table entries are consecutive; only WRITE means anything there. */
        for (i = 0; i < total; i++) {
            tbl[i].addr = virt_to_phys(segs[i].addr);
            tbl[i].len = segs[i].len;
            tbl[i].id = 0;
            tbl[i].flags = i >= n_out ? VRING_DESC_F_WRITE : 0;
        }
        d->addr = virt_to_phys(tbl);
        d->len = (uint32_t)(total * sizeof(*tbl));
        d->id = id;
        head_flags = VRING_DESC_F_INDIRECT | avail_flags(pq->avail_wrap);
        if (++pq->next_avail == pq->num) {
            pq->next_avail = 0;
            pq->avail_wrap = !pq->avail_wrap;
        }
    } else {
        for (i = 0; i < total; i++) {
            struct vring_packed_desc *d = &pq->desc[pq->next_avail];
            uint16_t flags = (i >= n_out ? VRING_DESC_F_WRITE : 0) | (i + 1 < total ? VRING_DESC_F_NEXT : 0) |
                             avail_flags(pq->avail_wrap);

            d->addr = virt_to_phys(segs[i].addr);
            d->len = segs[i].len;
            d->id = id;
            /* The device looks at a chain only once the head is available,
             * so the others' flags may go out now; the head's waits. */
            if (i == 0)
                head_flags = flags;
            else
                shared_write16(&d->flags, flags);
            if (++pq->next_avail == pq->num) {
                pq->next_avail = 0;
                pq->avail_wrap = !pq->avail_wrap;
            }
        }
    }
    pq->num_free -= ndesc;
    st = &pq->ids[id];
    st->cookie = cookie;
    st->in_len = (uint32_t)in_bytes;
    st->ndesc = (uint16_t)ndesc;
    st->table = table;
    pq->in_flight++;

    /* 2.8.21: every descriptor of the chain (and its table) must be visible
     * before the head's flags that make the chain available. */
    virt_wmb();
    shared_write16(&pq->desc[head].flags, head_flags);

    pq->num_added += ndesc;
    pq->stats.added++;
    if (trace_on(TRACE_VIRTQ))
        trace_add(pq, head, id, total, table != PQ_NONE, bytes);
    return 0;
}

bool vring_packed_kick_prepare(struct vring_packed *pq)
{
    uint16_t off_wrap, flags, new_idx, old_idx, event;
    bool need;

    if (pq->num_added == 0 || pq->broken)
        return false;
    /* 2.8.21.3: the head flags must be visible before we read the device's
     * request, or it may have gone to sleep on the old ring unseen. */
    virt_mb();
    read_device_event(pq, &off_wrap, &flags);
    if (flags == VRING_PACKED_EVENT_FLAG_DISABLE) {
        need = false;
    } else if (flags == VRING_PACKED_EVENT_FLAG_DESC && pq->event_idx && pq->num_added < pq->num &&
               (off_wrap & ~WRAP_BIT) < pq->num) {
        /*
         * 2.8.10: kick if this batch made the descriptor at the device's
         * offset available. Positions of this lap count 0..num-1, those of
         * the previous lap -num..-1 (mod 2^16), so one 16-bit "crossed"
         * test works across the wrap (as Linux and QEMU do).
         */
        new_idx = pq->next_avail;
        old_idx = (uint16_t)(new_idx - pq->num_added);
        event = off_wrap & ~WRAP_BIT;
        if (((off_wrap & WRAP_BIT) != 0) != pq->avail_wrap)
            event = (uint16_t)(event - pq->num);
        need = vring_need_event(event, new_idx, old_idx);
    } else {
        /* ENABLE, or something we cannot interpret (DESC without EVENT_IDX,
         * a reserved value, an offset past the ring, a batch longer than the
         * ring): kicking is always safe, staying silent may hang the queue. */
        need = true;
    }
    pq->num_added = 0;
    if (!need)
        pq->stats.kicks_suppressed++;
    if (trace_on(TRACE_VIRTQ))
        trace_line("virtq %s: %s next_avail=%u wrap=%u device_event=%#x/%u (packed)", pq->name,
                   need ? "kick" : "kick suppressed", pq->next_avail, pq->avail_wrap, off_wrap, flags);
    return need;
}

void vring_packed_notify(struct vring_packed *pq)
{
    pq->stats.kicks++;
    pq->notify(pq->notify_ctx, pq->index);
}

/* Is the descriptor at @pos marked used in lap @wrap (2.8.1)? */
static bool is_used(const struct vring_packed *pq, uint16_t pos, bool wrap)
{
    uint16_t flags = shared_read16(&pq->desc[pos].flags);
    bool avail = (flags & AVAIL_BIT) != 0, used = (flags & USED_BIT) != 0;

    return avail == used && used == wrap;
}

bool vring_packed_has_used(const struct vring_packed *pq)
{
    return !pq->broken && pq->in_flight && is_used(pq, pq->last_used, pq->used_wrap);
}

static void *pq_detach(struct vring_packed *pq, uint16_t id)
{
    struct pq_id *st = &pq->ids[id];
    void *cookie = st->cookie;

    pq->num_free += st->ndesc;
    if (st->table != PQ_NONE)
        pq->table_stack[pq->tables_free++] = st->table;
    st->cookie = NULL;
    st->in_len = 0;
    st->ndesc = 0;
    st->table = PQ_NONE;
    st->next = pq->free_id;
    pq->free_id = id;
    pq->in_flight--;
    return cookie;
}

void *vring_packed_get_used(struct vring_packed *pq, uint32_t *len)
{
    struct vring_packed_desc *d;
    uint16_t flags, id, pos;
    uint32_t written;
    bool avail, used;
    void *cookie;

    if (pq->broken || pq->in_flight == 0)
        return NULL;
    d = &pq->desc[pq->last_used];
    flags = shared_read16(&d->flags);
    avail = (flags & AVAIL_BIT) != 0;
    used = (flags & USED_BIT) != 0;
    if (avail == pq->used_wrap && used != pq->used_wrap)
        return NULL; /* still as we wrote it: not used yet */
    if (avail != used) {
        if (pq_break(pq))
            klog(LOG_ERR,
                 "virtio: queue %u broken: descriptor %u has wrap flags avail %u used %u (used wrap counter "
                 "%u)",
                 pq->index, pq->last_used, avail, used, pq->used_wrap);
        return NULL;
    }
    if (used != pq->used_wrap) {
        if (pq_break(pq))
            klog(LOG_ERR,
                 "virtio: queue %u broken: descriptor %u marked used in the wrong lap (wrap %u, ours %u)",
                 pq->index, pq->last_used, used, pq->used_wrap);
        return NULL;
    }

    /* 2.8.1: the device writes id and len before the flags; read in that order too. */
    virt_rmb();
    id = shared_read16(&d->id);
    written = shared_read32(&d->len);
    if (id >= pq->num) {
        if (pq_break(pq))
            klog(LOG_ERR, "virtio: queue %u broken: used id %u out of range (size %u)", pq->index, id,
                 pq->num);
        return NULL;
    }
    if (!pq->ids[id].cookie) {
        if (pq_break(pq))
            klog(LOG_ERR, "virtio: queue %u broken: used id %u is not a buffer in flight", pq->index, id);
        return NULL;
    }
    if (written > pq->ids[id].in_len) {
        if (pq_break(pq))
            klog(LOG_ERR, "virtio: queue %u broken: used len %u for id %u exceeds writable %u", pq->index,
                 written, id, pq->ids[id].in_len);
        return NULL;
    }

    /* The device skipped the chain's other descriptors (2.8.7): so do we. */
    pos = (uint16_t)(pq->last_used + pq->ids[id].ndesc);
    if (pos >= pq->num) {
        pos = (uint16_t)(pos - pq->num);
        pq->used_wrap = !pq->used_wrap;
    }
    pq->last_used = pos;
    cookie = pq_detach(pq, id);
    pq->stats.used++;
    if (trace_on(TRACE_VIRTQ))
        trace_line("virtq %s: used id=%u len=%u last_used=%u wrap=%u (packed)", pq->name, id, written,
                   pq->last_used, pq->used_wrap);
    if (len)
        *len = written;

    if (pq->event_flags == VRING_PACKED_EVENT_FLAG_DESC && pq->cb_enabled) {
        /* Still wanting interrupts: at the next used descriptor. Visible
         * before we next look at the ring (as in the split ring). */
        shared_write16(&pq->driver->off_wrap, (uint16_t)(pq->last_used | (pq->used_wrap ? WRAP_BIT : 0)));
        virt_mb();
    }
    return cookie;
}

/*
 * A used descriptor after our used position while the one at it is not: the
 * device must write used descriptors in ring order (2.8.7), so either it is
 * writing a batch right now (QEMU writes the batch's first flags last, for
 * exactly this reason) or it skipped a position, and then we would wait at
 * last_used for ever while it goes on past. Looks only inside the window of
 * descriptors in flight, each position in the lap it would be used in.
 * Return: the first such position, or -1.
 */
static int pq_skipped_used(const struct vring_packed *pq)
{
    unsigned window = pq->num - pq->num_free, n;
    uint16_t pos = pq->last_used;
    bool wrap = pq->used_wrap;

    if (pq->in_flight == 0 || is_used(pq, pos, wrap))
        return -1;
    for (n = 1; n < window; n++) {
        if (++pos == pq->num) {
            pos = 0;
            wrap = !wrap;
        }
        if (is_used(pq, pos, wrap))
            return pos;
    }
    return -1;
}

bool vring_packed_check(struct vring_packed *pq)
{
    int pos;

    if (pq->broken)
        return false;
    pos = pq_skipped_used(pq);
    if (pos < 0) {
        pq->skip_seen = false;
        return false;
    }
    if (!pq->skip_seen || pq->skip_used != pq->stats.used) {
        pq->skip_seen = true; /* first sight, or progress since: look again next time */
        pq->skip_used = pq->stats.used;
        return false;
    }
    if (pq_break(pq))
        klog(LOG_ERR,
             "virtio: queue %u broken: descriptor %d stays marked used while %u, the next in ring order, "
             "is not: the device skipped a position (%u chains in flight)",
             pq->index, pos, pq->last_used, pq->in_flight);
    return true;
}

void vring_packed_disable_cb(struct vring_packed *pq)
{
    pq->cb_enabled = false;
    if (pq->event_flags != VRING_PACKED_EVENT_FLAG_DISABLE) {
        pq->event_flags = VRING_PACKED_EVENT_FLAG_DISABLE;
        shared_write16(&pq->driver->flags, pq->event_flags);
    }
}

/* Ask for an interrupt at position @pos of lap @wrap (EVENT_IDX), or at every completion. */
static void pq_request(struct vring_packed *pq, uint16_t pos, bool wrap)
{
    pq->cb_enabled = true;
    if (pq->event_idx) {
        shared_write16(&pq->driver->off_wrap, (uint16_t)(pos | (wrap ? WRAP_BIT : 0)));
        /* The offset must be in place before DESC makes the device read it. */
        virt_wmb();
        if (pq->event_flags != VRING_PACKED_EVENT_FLAG_DESC) {
            pq->event_flags = VRING_PACKED_EVENT_FLAG_DESC;
            shared_write16(&pq->driver->flags, pq->event_flags);
        }
    } else if (pq->event_flags != VRING_PACKED_EVENT_FLAG_ENABLE) {
        pq->event_flags = VRING_PACKED_EVENT_FLAG_ENABLE;
        shared_write16(&pq->driver->flags, pq->event_flags);
    }
}

unsigned vring_packed_enable_cb_prepare(struct vring_packed *pq)
{
    pq_request(pq, pq->last_used, pq->used_wrap);
    return pq->last_used | (pq->used_wrap ? WRAP_BIT : 0);
}

bool vring_packed_poll(struct vring_packed *pq, unsigned last)
{
    /* Our request must be visible to the device before we look again, or a
     * completion in between is seen by neither side (2.8.21.3 turned round). */
    virt_mb();
    if (pq->broken || pq->in_flight == 0)
        return false;
    return is_used(pq, (uint16_t)((last & ~WRAP_BIT) % pq->num), (last & WRAP_BIT) != 0);
}

bool vring_packed_enable_cb_delayed(struct vring_packed *pq)
{
    unsigned bufs = 0;
    uint16_t pos;
    bool wrap = pq->used_wrap;

    if (pq->event_idx)
        /* About 3/4 of the descriptors outstanding, as Linux does. */
        bufs = (pq->num - pq->num_free) * 3 / 4;
    pos = (uint16_t)(pq->last_used + bufs);
    if (pos >= pq->num) {
        pos = (uint16_t)(pos - pq->num);
        wrap = !wrap;
    }
    pq_request(pq, pos, wrap);
    virt_mb();
    if (pq->broken)
        return true;
    /*
     * Whether the device already passed @pos cannot be read from one
     * descriptor (it writes used descriptors only at chain starts), so
     * report any completion since the caller collected: the caller collects
     * again, which is never wrong, and an interrupt is certain otherwise.
     */
    return !vring_packed_has_used(pq);
}

bool vring_packed_interrupt(struct vring_packed *pq)
{
    pq->stats.interrupts++;
    if (!vring_packed_has_used(pq)) {
        pq->stats.interrupts_suppressed++;
        return false;
    }
    if (!pq->cb_enabled)
        pq->stats.interrupts_suppressed++;
    return true;
}

void *vring_packed_detach_unused(struct vring_packed *pq)
{
    unsigned n;

    if (pq->in_flight == 0) {
        pq->detach_scan = 0;
        return NULL;
    }
    for (n = 0; n < pq->num; n++) {
        unsigned i = pq->detach_scan;

        pq->detach_scan = i + 1 < pq->num ? i + 1 : 0;
        if (pq->ids[i].cookie)
            return pq_detach(pq, (uint16_t)i);
    }
    return NULL; /* not reached: in_flight > 0 means some id has a cookie */
}

void vring_packed_get_stats(const struct vring_packed *pq, struct vring_stats *stats)
{
    *stats = pq->stats;
}

/*
 * How far the device has got, as far as we can see: from our used position,
 * follow used descriptors naming chains in flight (never trusting one that
 * does not). For the state only, not the data path.
 */
static uint16_t pq_device_pos(const struct vring_packed *pq)
{
    uint16_t pos = pq->last_used;
    bool wrap = pq->used_wrap;
    unsigned n;

    for (n = 0; n < pq->in_flight && is_used(pq, pos, wrap); n++) {
        uint16_t id = shared_read16(&pq->desc[pos].id);

        if (id >= pq->num || !pq->ids[id].cookie)
            break;
        pos = (uint16_t)(pos + pq->ids[id].ndesc);
        if (pos >= pq->num) {
            pos = (uint16_t)(pos - pq->num);
            wrap = !wrap;
        }
    }
    return pos;
}

void vring_packed_get_state(const struct vring_packed *pq, struct vring_state *state)
{
    uint16_t off_wrap, flags;

    memset(state, 0, sizeof(*state));
    read_device_event(pq, &off_wrap, &flags);
    state->index = pq->index;
    state->num = pq->num;
    state->num_free = pq->num_free;
    state->in_flight = pq->in_flight;
    state->avail_idx = pq->next_avail;
    state->last_used_idx = pq->last_used;
    state->used_idx = pq_device_pos(pq);
    state->avail_event = off_wrap;
    state->used_flags = flags;
    state->pending_kick = (uint16_t)pq->num_added;
    state->cb_enabled = pq->cb_enabled;
    state->event_idx = pq->event_idx;
    state->indirect = pq->indirect;
    state->broken = pq->broken;
    state->packed = true;
    state->avail_wrap = pq->avail_wrap;
    state->used_wrap = pq->used_wrap;
}
