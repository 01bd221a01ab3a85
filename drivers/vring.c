/*
 * The driver side of a split virtqueue (virtio 1.2 spec 2.7 "Split Virtqueues").
 *
 * How a buffer travels:
 *
 *   1. vring_add() writes the buffer's segments into free descriptors
 *      (2.7.13.1), chained by .next or gathered in an indirect table
 *      (2.7.5.3), puts the chain's head index into the next available ring
 *      slot (2.7.13.2), and moves avail->idx past it (2.7.13.3).
 *   2. vring_kick() tells the device, unless the device said it does not want
 *      to hear about this batch (2.7.13.4, 2.7.10).
 *   3. The device reads the chain, uses the buffer, writes {head, bytes
 *      written} into the used ring, moves used->idx, and interrupts us unless
 *      we said we did not want that (2.7.7, 2.7.8).
 *   4. vring_get_used() reads the used entry, gives the chain's descriptors
 *      back to the free list and returns the caller's cookie (2.7.14).
 *
 * Three rules shape this file:
 *
 *  - Each side writes only its own areas, and we never read back what we
 *    wrote to shared memory: the available index, the free list and the
 *    chain links all have private shadows here (the device could have changed
 *    the shared copies, and reading them back would also cost cache misses).
 *  - The device is not trusted. Everything it writes - used entries, used->idx,
 *    used->flags, avail_event - is read once, checked, and only then used. A
 *    device that breaks the protocol marks the queue broken: one log line,
 *    then the queue refuses work, and nothing is ever indexed by an unchecked
 *    value.
 *  - Ordering between our writes and the device's reads is explicit: every
 *    barrier says what must be seen before what. On x86 virt_wmb()/virt_rmb()
 *    only stop the compiler; virt_mb() is a real fence, needed where we write
 *    one location and then read another that the device writes (the
 *    notification suppression checks).
 *
 * Words the device may write while we read them (and vice versa) go through
 * shared_read*() / shared_write*(), which the compiler must perform exactly
 * once and in full (relaxed atomics compile to plain moves on x86).
 */
#include "drivers/vring.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86_64/barrier.h"
#include "arch/x86_64/dma.h"
#include "arch/x86_64/paging.h"
#include "drivers/virtio_ring.h"
#include "drivers/vring_packed.h"
#include "lib/klog.h"
#include "lib/trace.h"

/* "No descriptor" in a link, "no table" in a chain: above any index (num <= 32768). */
#define VRING_NONE 0xffffu

#define VRING_FEATURE(f) (1ull << (f))

/*
 * What we know about descriptor i, kept where the device cannot write it.
 * For every descriptor, .next is the link of the chain or free list it is on
 * (our shadow of desc[i].next). The other fields describe a chain and are
 * only meaningful at a chain's head.
 */
struct vring_desc_state {
    void *cookie;    /* non-NULL exactly while i heads an in-flight chain */
    uint32_t in_len; /* total device-writable bytes: the largest valid used len */
    uint16_t next;
    uint16_t ndesc; /* descriptors the chain takes in the table */
    uint16_t table; /* its indirect table, or VRING_NONE */
};

struct vring {
    /* A packed queue (2.8): everything is forwarded there, the rest of this
     * struct is unused. NULL for a split queue. */
    struct vring_packed *pk;

    /* Memory shared with the device: one dma_alloc() block. */
    struct vring_desc *desc;
    struct vring_avail *avail;
    struct vring_used *used;
    struct vring_desc *tables; /* indirect pool: ntables * VRING_INDIRECT_MAX */
    void *mem;
    uint64_t mem_phys;
    size_t mem_size;
    size_t used_offset;

    unsigned index;
    const char *name;
    char default_name[12];
    unsigned num; /* power of two: ring positions are idx & (num - 1) */
    bool event_idx;
    bool indirect;
    vring_notify_fn notify;
    void *notify_ctx;

    /* Driver state (2.7.13, 2.7.14). */
    unsigned num_free;  /* descriptors on the free list */
    uint16_t free_head; /* first free descriptor (valid while num_free > 0) */
    unsigned in_flight; /* chains added and not yet reclaimed */
    uint16_t avail_idx; /* shadow of avail->idx */
    uint16_t num_added; /* chains published since the last kick decision */
    uint16_t last_used; /* the next used ring entry to read */
    bool cb_enabled;    /* do we want used buffer notifications? */
    bool broken;
    unsigned detach_scan; /* where vring_detach_unused() looks next */

    unsigned ntables;
    unsigned tables_free;
    uint16_t *table_stack; /* free indirect tables: table_stack[0..tables_free) */

    struct vring_stats stats;
    size_t priv_size;
    struct vring_desc_state state[]; /* num entries, then the table stack */
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

static bool vring_valid_num(unsigned num)
{
    return num >= 1 && num <= VRING_MAX_NUM && (num & (num - 1)) == 0;
}

/* One indirect table per descriptor would cover a full ring of indirect
 * chains; we cap the pool (a ring of 1024 would otherwise take 256 KiB of
 * tables) and fall back to direct descriptors when it runs dry. */
static unsigned vring_table_count(unsigned num, uint64_t features)
{
    if (!(features & VRING_FEATURE(VIRTIO_RING_F_INDIRECT_DESC)))
        return 0;
    return num < VRING_INDIRECT_TABLES ? num : VRING_INDIRECT_TABLES;
}

static size_t vring_rings_size(unsigned num, bool legacy)
{
    return legacy ? vring_legacy_size(num) : vring_size(num);
}

/* The pool follows the rings; indirect tables need the 16-byte alignment of
 * a descriptor table (2.7.5.3 reuses struct vring_desc). */
static size_t vring_tables_offset(unsigned num, bool legacy)
{
    return vring_align_up(vring_rings_size(num, legacy), VRING_DESC_ALIGN);
}

size_t vring_mem_size(unsigned num, bool legacy, uint64_t features)
{
    if (features & VRING_FEATURE(VIRTIO_RING_F_PACKED))
        return vring_packed_mem_size(num, features);
    if (!vring_valid_num(num))
        return 0;
    return vring_tables_offset(num, legacy) +
           (size_t)vring_table_count(num, features) * VRING_INDIRECT_MAX * sizeof(struct vring_desc);
}

/*
 * The state right after creation or a reset: zeroed rings (2.7.10.1: the
 * driver initialises used->flags to 0; a zero used_event asks for an interrupt
 * at the first completion), every descriptor on the free list in table order,
 * every indirect table free.
 */
static void vring_init_state(struct vring *vr)
{
    unsigned i;

    memset(vr->mem, 0, vr->mem_size);
    for (i = 0; i < vr->num; i++) {
        vr->state[i].cookie = NULL;
        vr->state[i].in_len = 0;
        vr->state[i].next = i + 1 < vr->num ? (uint16_t)(i + 1) : VRING_NONE;
        vr->state[i].ndesc = 0;
        vr->state[i].table = VRING_NONE;
    }
    vr->free_head = 0;
    vr->num_free = vr->num;
    vr->in_flight = 0;
    vr->avail_idx = 0;
    vr->num_added = 0;
    vr->last_used = 0;
    vr->cb_enabled = true;
    vr->broken = false;
    vr->detach_scan = 0;
    for (i = 0; i < vr->ntables; i++)
        vr->table_stack[i] = (uint16_t)i;
    vr->tables_free = vr->ntables;
}

/* A packed queue: a struct vring that only holds the packed one. */
static struct vring *vring_create_packed(const struct vring_config *cfg)
{
    uint64_t phys;
    struct vring *vr = dma_alloc(sizeof(*vr), &phys);

    if (!vr) {
        klog(LOG_ERR, "virtio: queue %u: out of DMA memory", cfg->index);
        return NULL;
    }
    memset(vr, 0, sizeof(*vr));
    vr->priv_size = sizeof(*vr);
    vr->pk = vring_packed_create(cfg);
    if (!vr->pk) {
        dma_free(vr, sizeof(*vr));
        return NULL;
    }
    return vr;
}

bool vring_is_packed(const struct vring *vr)
{
    return vr->pk != NULL;
}

struct vring *vring_create(const struct vring_config *cfg)
{
    struct vring *vr;
    size_t mem_size, priv_size;
    uint64_t priv_phys;
    unsigned ntables;

    mem_size = vring_mem_size(cfg->num, cfg->legacy, cfg->features);
    if (!mem_size || !cfg->notify) {
        klog(LOG_ERR, "virtio: queue %u: bad config (size %u)", cfg->index, cfg->num);
        return NULL;
    }
    ntables = vring_table_count(cfg->num, cfg->features);
    if (cfg->features & VRING_FEATURE(VIRTIO_RING_F_PACKED))
        return vring_create_packed(cfg);

    /*
     * Our private state comes from the page allocator too, but in a block of
     * its own whose address the device is never given: nothing we rely on to
     * check the device lives in memory the device is meant to write.
     */
    priv_size = sizeof(*vr) + cfg->num * sizeof(vr->state[0]) + ntables * sizeof(uint16_t);
    vr = dma_alloc(priv_size, &priv_phys);
    if (!vr)
        goto fail;
    memset(vr, 0, sizeof(*vr));
    vr->priv_size = priv_size;
    vr->mem_size = mem_size;
    vr->mem = dma_alloc(mem_size, &vr->mem_phys);
    if (!vr->mem)
        goto fail_priv;

    vr->index = cfg->index;
    if (cfg->name) {
        vr->name = cfg->name;
    } else {
        snprintf(vr->default_name, sizeof(vr->default_name), "vq%u", cfg->index % 100000u);
        vr->name = vr->default_name;
    }
    vr->num = cfg->num;
    vr->event_idx = (cfg->features & VRING_FEATURE(VIRTIO_RING_F_EVENT_IDX)) != 0;
    vr->indirect = ntables > 0;
    vr->notify = cfg->notify;
    vr->notify_ctx = cfg->notify_ctx;

    /* 2.7: descriptor table at the (page-aligned) start, available ring right
     * behind it, used ring at a 4-byte (or, legacy, 4096-byte) boundary. */
    vr->used_offset = cfg->legacy ? vring_legacy_used_offset(cfg->num) : vring_used_offset(cfg->num);
    vr->desc = vr->mem;
    vr->avail = (struct vring_avail *)((char *)vr->mem + vring_desc_size(cfg->num));
    vr->used = (struct vring_used *)((char *)vr->mem + vr->used_offset);
    vr->tables = (struct vring_desc *)((char *)vr->mem + vring_tables_offset(cfg->num, cfg->legacy));
    vr->ntables = ntables;
    vr->table_stack = (uint16_t *)(void *)&vr->state[cfg->num];

    vring_init_state(vr);
    return vr;

fail_priv:
    dma_free(vr, priv_size);
fail:
    klog(LOG_ERR, "virtio: queue %u: out of DMA memory", cfg->index);
    return NULL;
}

void vring_destroy(struct vring *vr)
{
    if (!vr)
        return;
    if (vr->pk) {
        vring_packed_destroy(vr->pk);
        dma_free(vr, vr->priv_size);
        return;
    }
    dma_free(vr->mem, vr->mem_size);
    dma_free(vr, vr->priv_size);
}

int vring_reset(struct vring *vr)
{
    if (vr->pk)
        return vring_packed_reset(vr->pk);
    if (vr->in_flight)
        return -EBUSY;
    vring_init_state(vr);
    return 0;
}

void vring_get_addrs(const struct vring *vr, struct vring_addrs *addrs)
{
    if (vr->pk) {
        vring_packed_get_addrs(vr->pk, addrs);
        return;
    }
    addrs->desc = vr->mem_phys;
    addrs->driver = vr->mem_phys + vring_desc_size(vr->num);
    addrs->device = vr->mem_phys + vr->used_offset;
}

unsigned vring_num(const struct vring *vr)
{
    if (vr->pk)
        return vring_packed_num(vr->pk);
    return vr->num;
}

unsigned vring_num_free(const struct vring *vr)
{
    if (vr->pk)
        return vring_packed_num_free(vr->pk);
    return vr->num_free;
}

/* The same choice vring_add() makes. */
static bool use_table(const struct vring *vr, unsigned total)
{
    return vr->indirect && total > 1 && total <= VRING_INDIRECT_MAX && vr->tables_free > 0;
}

unsigned vring_add_cost(const struct vring *vr, unsigned nsegs)
{
    if (vr->pk)
        return vring_packed_add_cost(vr->pk, nsegs);
    return use_table(vr, nsegs) ? 1 : nsegs;
}

const char *vring_name(const struct vring *vr)
{
    if (vr->pk)
        return vring_packed_name(vr->pk);
    return vr->name;
}

bool vring_is_broken(const struct vring *vr)
{
    if (vr->pk)
        return vring_packed_is_broken(vr->pk);
    return vr->broken;
}

/*
 * Mark the queue broken. Return: true the first time, so the caller logs
 * exactly one line saying why (the device could otherwise flood the log).
 */
static bool vring_break(struct vring *vr)
{
    if (vr->broken)
        return false;
    vr->broken = true;
    vr->stats.broken++;
    return true;
}

bool vring_mark_broken(struct vring *vr)
{
    if (vr->pk)
        return vring_packed_mark_broken(vr->pk);
    return vring_break(vr);
}

bool vring_check(struct vring *vr)
{
    /* The split ring has nothing to check here: the device publishes its
     * progress in used->idx, and vring_get_used() checks every entry it covers. */
    if (vr->pk)
        return vring_packed_check(vr->pk);
    return false;
}

/* Fill descriptor @d for segment @seg; the device sees the physical address. */
static void vring_fill_desc(struct vring_desc *d, const struct vring_seg *seg, uint16_t flags, uint16_t next)
{
    d->addr = virt_to_phys(seg->addr);
    d->len = seg->len;
    d->flags = flags;
    d->next = next;
}

/* trace=virtq lines; out of line and cold, so that the data path only pays the trace_on() test. */
static void __attribute__((noinline, cold))
trace_add(const struct vring *vr, uint16_t head, unsigned segs, bool indirect, uint64_t bytes)
{
    trace_line("virtq %s: add head=%u descs=%u%s bytes=%llu avail_idx=%u", vr->name, head, segs,
               indirect ? " (indirect)" : "", (unsigned long long)bytes, vr->avail_idx);
}

static void __attribute__((noinline, cold))
trace_kick(const struct vring *vr, bool need, uint16_t old_idx, uint16_t event, uint16_t flags)
{
    if (vr->event_idx)
        trace_line("virtq %s: %s avail_idx=%u old_idx=%u avail_event=%u", vr->name,
                   need ? "kick" : "kick suppressed", vr->avail_idx, old_idx, event);
    else
        trace_line("virtq %s: %s avail_idx=%u used_flags=%#x", vr->name, need ? "kick" : "kick suppressed",
                   vr->avail_idx, flags);
}

static void __attribute__((noinline, cold))
trace_used(const struct vring *vr, uint32_t id, uint32_t len, uint16_t used_idx)
{
    trace_line("virtq %s: used id=%u len=%u last_used=%u used_idx=%u", vr->name, id, len, vr->last_used,
               used_idx);
}

int vring_add(struct vring *vr, const struct vring_seg *segs, unsigned n_out, unsigned n_in, void *cookie)
{
    unsigned total = n_out + n_in, i, ndesc;
    uint64_t bytes = 0, in_bytes = 0;
    uint16_t head, table = VRING_NONE;
    struct vring_desc_state *st;

    if (vr->pk)
        return vring_packed_add(vr->pk, segs, n_out, n_in, cookie);

    if (vr->broken)
        return -EIO;
    /* 2.7.5.3.1: no chain longer than the queue, even through a table;
     * 2.7.5.2: no chain over 4 GiB (the used len could not describe it). */
    if (total == 0 || total > vr->num || !cookie)
        return -EINVAL;
    for (i = 0; i < total; i++) {
        bytes += segs[i].len;
        if (i >= n_out)
            in_bytes += segs[i].len;
    }
    if (bytes > UINT32_MAX)
        return -EINVAL;

    /* An indirect table costs one ring descriptor whatever the chain length. */
    if (use_table(vr, total))
        table = vr->table_stack[vr->tables_free - 1];
    ndesc = table != VRING_NONE ? 1 : total;
    if (vr->num_free < ndesc) {
        vr->stats.ring_full++;
        return -ENOSPC;
    }

    /* 2.7.13.1: place the buffer into free descriptors, readable ones first
     * (2.7.4.2), NEXT on all but the last. */
    head = vr->free_head;
    if (table != VRING_NONE) {
        struct vring_desc *tbl = &vr->tables[(size_t)table * VRING_INDIRECT_MAX];
        struct vring_seg whole = {tbl, (uint32_t)(total * sizeof(*tbl))};

        vr->tables_free--;
        for (i = 0; i < total; i++) {
            uint16_t flags = i >= n_out ? VRING_DESC_F_WRITE : 0;
            bool more = i + 1 < total;

            /* 2.7.5.3: table entries chain by index within the table. */
            vring_fill_desc(&tbl[i], &segs[i], flags | (more ? VRING_DESC_F_NEXT : 0),
                            more ? (uint16_t)(i + 1) : 0);
        }
        /* 2.7.5.3.1: INDIRECT alone, never with NEXT; WRITE is ignored here. */
        vring_fill_desc(&vr->desc[head], &whole, VRING_DESC_F_INDIRECT, 0);
        vr->free_head = vr->state[head].next;
    } else {
        uint16_t d = head;

        for (i = 0; i < total; i++) {
            uint16_t flags = i >= n_out ? VRING_DESC_F_WRITE : 0;
            bool more = i + 1 < total;

            /* The free list already links these descriptors in order; the
             * chain reuses those links, and the last one's link is where the
             * free list now starts. */
            vring_fill_desc(&vr->desc[d], &segs[i], flags | (more ? VRING_DESC_F_NEXT : 0),
                            more ? vr->state[d].next : 0);
            d = vr->state[d].next;
        }
        vr->free_head = d;
    }
    vr->num_free -= ndesc;

    st = &vr->state[head];
    st->cookie = cookie;
    st->in_len = (uint32_t)in_bytes;
    st->ndesc = (uint16_t)ndesc;
    st->table = table;
    vr->in_flight++;

    /* 2.7.13.2: the head goes into the next free slot of the available ring. */
    vr->avail->ring[vr->avail_idx & (vr->num - 1)] = head;

    /* 2.7.13.3: the descriptors and the ring slot must be visible before the
     * index that hands them to the device. */
    virt_wmb();
    vr->avail_idx++;
    shared_write16(&vr->avail->idx, vr->avail_idx);

    vr->num_added++;
    vr->stats.added++;
    if (trace_on(TRACE_VIRTQ))
        trace_add(vr, head, total, table != VRING_NONE, bytes);
    /* The kick decision compares 16-bit indices across the batch; a batch of
     * 65535 unkicked chains is the longest it can still measure. */
    if (vr->num_added == 0xffff)
        vring_kick(vr);
    return 0;
}

bool vring_kick_prepare(struct vring *vr)
{
    uint16_t new_idx = vr->avail_idx;
    uint16_t old_idx = (uint16_t)(new_idx - vr->num_added);
    uint16_t event = 0, flags = 0;
    bool need;

    if (vr->pk)
        return vring_packed_kick_prepare(vr->pk);

    if (vr->num_added == 0 || vr->broken)
        return false;
    vr->num_added = 0;

    /* 2.7.13.4: the new avail->idx must be visible to the device before we
     * read its suppression request: otherwise the device may have just read
     * the old idx, decided to sleep, and we read its stale "no kick needed". */
    virt_mb();

    if (vr->event_idx) {
        /* 2.7.10: kick if this batch moved the index past avail_event. */
        event = shared_read16(vring_avail_event(vr->used, vr->num));
        need = vring_need_event(event, new_idx, old_idx);
    } else {
        flags = shared_read16(&vr->used->flags);
        need = !(flags & VRING_USED_F_NO_NOTIFY);
    }
    if (!need)
        vr->stats.kicks_suppressed++;
    if (trace_on(TRACE_VIRTQ))
        trace_kick(vr, need, old_idx, event, flags);
    return need;
}

static void notify(struct vring *vr)
{
    if (vr->pk) {
        vring_packed_notify(vr->pk);
        return;
    }
    vr->stats.kicks++;
    vr->notify(vr->notify_ctx, vr->index);
}

void vring_notify(struct vring *vr)
{
    /* Outside vring_kick() (a watchdog's re-kick): no decision line tells of it. */
    if (trace_on(TRACE_VIRTQ) && !vr->pk)
        trace_line("virtq %s: notify avail_idx=%u (unconditional)", vr->name, vr->avail_idx);
    notify(vr);
}

bool vring_kick(struct vring *vr)
{
    if (!vring_kick_prepare(vr))
        return false;
    notify(vr);
    return true;
}

/* Give chain @head back: its descriptors to the free list, its table to the pool. */
static void *vring_detach(struct vring *vr, uint16_t head)
{
    struct vring_desc_state *st = &vr->state[head];
    void *cookie = st->cookie;
    uint16_t last = head;
    unsigned i;

    /* Follow our own links, never desc[].next: the device may have changed those. */
    for (i = 1; i < st->ndesc; i++)
        last = vr->state[last].next;
    vr->state[last].next = vr->free_head;
    vr->free_head = head;
    vr->num_free += st->ndesc;

    if (st->table != VRING_NONE)
        vr->table_stack[vr->tables_free++] = st->table;

    st->cookie = NULL;
    st->in_len = 0;
    st->ndesc = 0;
    st->table = VRING_NONE;
    vr->in_flight--;
    return cookie;
}

bool vring_has_used(const struct vring *vr)
{
    if (vr->pk)
        return vring_packed_has_used(vr->pk);
    return !vr->broken && shared_read16(&vr->used->idx) != vr->last_used;
}

void *vring_get_used(struct vring *vr, uint32_t *len)
{
    const struct vring_used_elem *elem;
    uint16_t used_idx, ahead;
    uint32_t id, written;
    void *cookie;

    if (vr->pk)
        return vring_packed_get_used(vr->pk, len);

    if (vr->broken)
        return NULL;
    used_idx = shared_read16(&vr->used->idx);
    if (used_idx == vr->last_used)
        return NULL;

    /* The device can only complete chains we gave it, each once. */
    ahead = (uint16_t)(used_idx - vr->last_used);
    if (ahead > vr->in_flight) {
        if (vring_break(vr))
            klog(LOG_ERR, "virtio: queue %u broken: used idx %u is %u ahead of %u with %u in flight",
                 vr->index, used_idx, ahead, vr->last_used, vr->in_flight);
        return NULL;
    }

    /* 2.7.8.2: the device writes the entry before moving the index; we must
     * read them in the same order, or we could read an entry not yet written. */
    virt_rmb();

    /* Read the entry once: the device could change it between check and use. */
    elem = &vr->used->ring[vr->last_used & (vr->num - 1)];
    id = shared_read32(&elem->id);
    written = shared_read32(&elem->len);

    if (id >= vr->num) {
        if (vring_break(vr))
            klog(LOG_ERR, "virtio: queue %u broken: used id %u out of range (size %u)", vr->index, id,
                 vr->num);
        return NULL;
    }
    if (!vr->state[id].cookie) {
        if (vring_break(vr))
            klog(LOG_ERR, "virtio: queue %u broken: used id %u is not the head of a chain in flight",
                 vr->index, id);
        return NULL;
    }
    /* 2.7.8.3: len counts bytes written; more than the writable part is a lie
     * that would make the caller read past its buffer. */
    if (written > vr->state[id].in_len) {
        if (vring_break(vr))
            klog(LOG_ERR, "virtio: queue %u broken: used len %u for id %u exceeds writable %u", vr->index,
                 written, id, vr->state[id].in_len);
        return NULL;
    }

    vr->last_used++;
    cookie = vring_detach(vr, (uint16_t)id);
    vr->stats.used++;
    if (trace_on(TRACE_VIRTQ))
        trace_used(vr, id, written, used_idx);
    if (len)
        *len = written;

    if (vr->event_idx && vr->cb_enabled) {
        /* 2.7.7: still wanting interrupts, ask for one at the next completion.
         * The write must be visible before we next read used->idx, or a
         * completion in between would pass the old event unseen by both sides. */
        shared_write16(vring_used_event(vr->avail, vr->num), vr->last_used);
        virt_mb();
    }
    return cookie;
}

void vring_disable_cb(struct vring *vr)
{
    if (vr->pk) {
        vring_packed_disable_cb(vr->pk);
        return;
    }
    if (!vr->cb_enabled)
        return;
    vr->cb_enabled = false;
    if (vr->event_idx) {
        /* 2.7.7.1: with EVENT_IDX the flags must stay 0. Park used_event half
         * the index space ahead: with at most 32768 chains in flight the
         * device cannot reach it before we consume more and move it. */
        shared_write16(vring_used_event(vr->avail, vr->num), (uint16_t)(vr->last_used + 0x8000));
    } else {
        shared_write16(&vr->avail->flags, VRING_AVAIL_F_NO_INTERRUPT);
    }
}

unsigned vring_enable_cb_prepare(struct vring *vr)
{
    if (vr->pk)
        return vring_packed_enable_cb_prepare(vr->pk);
    vr->cb_enabled = true;
    if (vr->event_idx)
        /* 2.7.7: interrupt when the device writes the entry we will read next. */
        shared_write16(vring_used_event(vr->avail, vr->num), vr->last_used);
    else
        shared_write16(&vr->avail->flags, 0);
    return vr->last_used;
}

bool vring_poll(struct vring *vr, unsigned last)
{
    if (vr->pk)
        return vring_packed_poll(vr->pk, last);
    /* 2.7.14 (note) and 2.7.7: our re-enable must be visible to the device
     * before we re-read used->idx. Otherwise the device may complete a chain
     * after our read but before seeing the request, and neither side acts. */
    virt_mb();
    if (vr->broken)
        return false;
    return shared_read16(&vr->used->idx) != (uint16_t)last;
}

bool vring_enable_cb(struct vring *vr)
{
    return !vring_poll(vr, vring_enable_cb_prepare(vr));
}

bool vring_enable_cb_delayed(struct vring *vr)
{
    uint16_t bufs = 0;

    if (vr->pk)
        return vring_packed_enable_cb_delayed(vr->pk);

    vr->cb_enabled = true;
    if (vr->event_idx) {
        /* Interrupt once about 3/4 of what is outstanding has completed:
         * enough batching to be cheap, early enough that the ring refills. */
        bufs = (uint16_t)(vr->in_flight * 3 / 4);
        shared_write16(vring_used_event(vr->avail, vr->num), (uint16_t)(vr->last_used + bufs));
    } else {
        shared_write16(&vr->avail->flags, 0);
    }
    /* As in vring_poll(): the request must be visible before the re-check. */
    virt_mb();
    if (vr->broken)
        return true;
    return (uint16_t)(shared_read16(&vr->used->idx) - vr->last_used) <= bufs;
}

bool vring_interrupt(struct vring *vr)
{
    if (vr->pk)
        return vring_packed_interrupt(vr->pk);
    vr->stats.interrupts++;
    if (!vring_has_used(vr)) {
        /* Shared line, a late interrupt for chains already collected by
         * polling, or a broken queue: nothing to do (2.7.7.1 asks us to
         * tolerate spurious notifications). */
        vr->stats.interrupts_suppressed++;
        return false;
    }
    if (!vr->cb_enabled)
        vr->stats.interrupts_suppressed++; /* suppression is only a hint */
    return true;
}

void *vring_detach_unused(struct vring *vr)
{
    unsigned n;

    if (vr->pk)
        return vring_packed_detach_unused(vr->pk);

    if (vr->in_flight == 0) {
        vr->detach_scan = 0;
        return NULL;
    }
    /* Scan on from where the last call stopped, so draining a ring is one pass. */
    for (n = 0; n < vr->num; n++) {
        unsigned i = vr->detach_scan;

        vr->detach_scan = (i + 1) & (vr->num - 1);
        if (vr->state[i].cookie)
            return vring_detach(vr, (uint16_t)i);
    }
    return NULL; /* not reached: in_flight > 0 means some head has a cookie */
}

void vring_get_stats(const struct vring *vr, struct vring_stats *stats)
{
    if (vr->pk) {
        vring_packed_get_stats(vr->pk, stats);
        return;
    }
    *stats = vr->stats;
}

void vring_get_state(const struct vring *vr, struct vring_state *state)
{
    if (vr->pk) {
        vring_packed_get_state(vr->pk, state);
        return;
    }
    memset(state, 0, sizeof(*state));
    state->index = vr->index;
    state->num = vr->num;
    state->num_free = vr->num_free;
    state->in_flight = vr->in_flight;
    state->avail_idx = vr->avail_idx;
    state->last_used_idx = vr->last_used;
    state->used_idx = shared_read16(&vr->used->idx);
    state->avail_event = shared_read16(vring_avail_event(vr->used, vr->num));
    state->used_flags = shared_read16(&vr->used->flags);
    state->pending_kick = vr->num_added;
    state->cb_enabled = vr->cb_enabled;
    state->event_idx = vr->event_idx;
    state->indirect = vr->indirect;
    state->broken = vr->broken;
}
