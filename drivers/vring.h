/*
 * The driver side of a virtqueue, split (virtio 1.2 spec 2.7) or packed (2.8,
 * when the features given to vring_create() carry VIRTIO_RING_F_PACKED:
 * drivers/vring_packed.c, to which drivers/vring.c forwards every call),
 * independent of the transport: a transport (virtio PCI, modern or legacy) creates one vring
 * per queue, programs the addresses vring_get_addrs() gives it into the device,
 * passes a notify callback that writes the queue's doorbell, and calls
 * vring_interrupt() from its interrupt handler. A device driver (virtio-net)
 * adds buffer chains, kicks, and collects completed chains.
 *
 * The device is not trusted: anything it writes (used entries, used index,
 * flags, avail_event) is checked before use; a device that breaks the protocol
 * marks its queue broken (logged once), after which the queue refuses work
 * until vring_reset().
 *
 * Context: all calls on one queue come from one thread of control (the main
 * loop), except vring_interrupt(), which may run in an interrupt handler at any
 * time: it only reads the rings and updates its own counters.
 */
#ifndef DRIVERS_VRING_H
#define DRIVERS_VRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vring;

/* One physically contiguous piece of a buffer, by its kernel virtual address. */
struct vring_seg {
    const void *addr;
    uint32_t len;
};

/* Called by vring_notify() to ring the device's doorbell for queue @index. */
typedef void (*vring_notify_fn)(void *ctx, unsigned index);

struct vring_config {
    unsigned index;    /* queue index within the device (logs, notify) */
    unsigned num;      /* queue size: a power of two, 1..VRING_MAX_NUM */
    bool legacy;       /* legacy 0.9.5 layout: used ring at a 4096-aligned offset (never packed) */
    uint64_t features; /* negotiated features; vring looks at INDIRECT_DESC, EVENT_IDX, RING_PACKED */
    vring_notify_fn notify;
    void *notify_ctx;
    const char *name; /* for trace=virtq, e.g. "virtio0.rx0"; must outlive the queue (NULL: "vq<index>") */
};

/* Longest chain that goes into one indirect table; longer chains use direct descriptors. */
#define VRING_INDIRECT_MAX 16
/* At most this many indirect tables are preallocated per queue: enough for
 * a full ring of 256 (a transmit ring of lwIP frames, each header + 1-3
 * pbufs, would otherwise fall back to direct chains of 3-4 descriptors once
 * the tables ran out, and fill up at a third of its size). */
#define VRING_INDIRECT_TABLES 256

/* Where the device finds the queue: program these into the transport. */
struct vring_addrs {
    uint64_t desc;   /* descriptor area (queue_desc; legacy: desc >> 12 is the PFN); packed: the ring */
    uint64_t driver; /* driver area: the available ring (queue_driver); packed: driver event suppression */
    uint64_t device; /* device area: the used ring (queue_device); packed: device event suppression */
};

/* Counters since creation (vring_reset() keeps them). */
struct vring_stats {
    uint64_t added;                 /* chains added */
    uint64_t used;                  /* chains the device completed and we reclaimed */
    uint64_t kicks;                 /* notifications sent to the device */
    uint64_t kicks_suppressed;      /* vring_kick() found the device did not want one */
    uint64_t interrupts;            /* vring_interrupt() calls */
    uint64_t interrupts_suppressed; /* ...that came while callbacks were disabled, or with nothing new */
    uint64_t ring_full;             /* vring_add() returned -ENOSPC */
    uint64_t broken;                /* times the queue was marked broken */
};

/* The live state of a queue, for a status page or a stall investigation.
 * Packed: avail_idx and last_used_idx are ring positions (0..num-1) with
 * their wrap counters beside them, used_idx the position the device's used
 * descriptors reach as far as we can follow them, avail_event and used_flags
 * the device's event suppression off_wrap and flags. */
struct vring_state {
    unsigned index;
    unsigned num;
    unsigned num_free;      /* free descriptors in the table */
    unsigned in_flight;     /* chains added and not yet reclaimed */
    uint16_t avail_idx;     /* our shadow of avail->idx (what the device was shown) */
    uint16_t last_used_idx; /* the next used entry we will read */
    uint16_t used_idx;      /* used->idx as the device wrote it, read now */
    uint16_t avail_event;   /* the device's avail_event, read now (EVENT_IDX only) */
    uint16_t used_flags;    /* the device's used->flags, read now */
    uint16_t pending_kick;  /* chains published since the last kick decision */
    bool cb_enabled;        /* used buffer notifications wanted */
    bool event_idx;
    bool indirect;
    bool broken;
    bool packed;     /* the packed layout (2.8) */
    bool avail_wrap; /* packed: the driver's wrap counters */
    bool used_wrap;
};

/**
 * vring_mem_size() - bytes of DMA memory a queue with this config uses: the
 * three areas (2.7 or the legacy 2.7.2 layout; with VIRTIO_RING_F_PACKED in
 * @features the packed ring and its two event areas, 2.8) plus the indirect
 * table pool.
 * Return: the size, or 0 if @num is not a power of two in 1..VRING_MAX_NUM
 * (packed: not in 1..32768; any size, 2.8.10.1).
 */
size_t vring_mem_size(unsigned num, bool legacy, uint64_t features);

/** vring_is_packed() - was the queue created with the packed layout? */
bool vring_is_packed(const struct vring *vr);

/**
 * vring_create() - allocate (with dma_alloc) and initialise a queue.
 * The rings are zeroed, every descriptor is free, callbacks are enabled.
 * Return: the queue, or NULL for a bad @cfg (num not a power of two, no
 * notify callback) or when memory runs out.
 */
struct vring *vring_create(const struct vring_config *cfg);

/** vring_destroy() - free a queue. The device must be reset first (it may still DMA). */
void vring_destroy(struct vring *vr);

/**
 * vring_reset() - bring a queue back to its state after vring_create(), e.g.
 * after a device reset cleared a broken queue. Keeps the memory and the stats.
 * Context: the device must have been reset, and every chain reclaimed with
 * vring_detach_unused().
 * Return: 0, or -EBUSY while chains are still in flight.
 */
int vring_reset(struct vring *vr);

/** vring_get_addrs() - the physical addresses of the three areas, for the transport. */
void vring_get_addrs(const struct vring *vr, struct vring_addrs *addrs);

/** vring_num() - the queue size. vring_num_free() - free descriptors now. */
unsigned vring_num(const struct vring *vr);
unsigned vring_num_free(const struct vring *vr);
/**
 * vring_add_cost() - ring descriptors a vring_add() of @nsegs segments would
 * take now: 1 while an indirect table is free for it, else @nsegs. A caller
 * that must wait for room (a full transmit ring) waits for this many.
 */
unsigned vring_add_cost(const struct vring *vr, unsigned nsegs);

/**
 * vring_add() - publish one buffer chain to the device (2.7.13.1-3).
 * @segs: the first @n_out segments are read by the device, the next @n_in
 *        written by it (2.7.4.2: readable ones first).
 * @cookie: non-NULL; returned by vring_get_used() when the device is done.
 * Uses one descriptor and an indirect table when VIRTIO_RING_F_INDIRECT_DESC
 * was negotiated, the chain has 2..VRING_INDIRECT_MAX segments and a table is
 * free; otherwise one descriptor per segment.
 * Does not notify the device: call vring_kick() once after a batch (only a
 * batch of 65535 unkicked chains kicks by itself: the 16-bit kick check
 * cannot measure a longer one).
 * Return: 0; -EINVAL for an empty chain, a NULL cookie, a chain longer than
 * the queue or over 4 GiB in total; -ENOSPC when too few descriptors are free
 * (ring full: reclaim used chains and retry); -EIO when the queue is broken.
 */
int vring_add(struct vring *vr, const struct vring_seg *segs, unsigned n_out, unsigned n_in, void *cookie);

/**
 * vring_kick_prepare() - does the device want a notification for the chains
 * published since the last call (2.7.13.4, 2.7.10)? Counts the decision.
 * Split from vring_notify() so a caller could decide under a lock and ring the
 * doorbell outside it.
 */
bool vring_kick_prepare(struct vring *vr);

/** vring_notify() - call the transport's notify callback (ring the doorbell). */
void vring_notify(struct vring *vr);

/** vring_kick() - vring_kick_prepare() and, if wanted, vring_notify(). Return: notified. */
bool vring_kick(struct vring *vr);

/**
 * vring_get_used() - take the next chain the device has completed (2.7.14),
 * and put its descriptors (and indirect table) back on the free lists.
 * @len: receives the number of bytes the device wrote (0 for a read-only chain).
 * With EVENT_IDX and callbacks enabled, also asks for an interrupt at the
 * next completion (used_event = the next entry), as Linux does.
 * Return: the chain's cookie, or NULL when there is none or the queue is
 * broken (the used entry was invalid: see the file comment).
 */
void *vring_get_used(struct vring *vr, uint32_t *len);

/** vring_has_used() - has the device completed chains we have not collected? */
bool vring_has_used(const struct vring *vr);

/**
 * vring_disable_cb() - ask the device not to send used buffer notifications
 * (2.7.7). Only a hint: interrupts may still come and must be handled.
 */
void vring_disable_cb(struct vring *vr);

/**
 * vring_enable_cb_prepare() - ask for used buffer notifications again, from
 * the next completion on. Follow with vring_poll(): a chain completed just
 * before the request was seen would otherwise raise no interrupt.
 * Return: an opaque position for vring_poll().
 */
unsigned vring_enable_cb_prepare(struct vring *vr);

/**
 * vring_poll() - after vring_enable_cb_prepare() returned @last, did chains
 * complete meanwhile? Issues the full barrier between the request and the check.
 * Return: true if there is work (the caller should process it; an interrupt
 * may or may not come), false if an interrupt is guaranteed for the next one.
 */
bool vring_poll(struct vring *vr, unsigned last);

/** vring_enable_cb() - prepare + poll. Return: false if chains completed meanwhile. */
bool vring_enable_cb(struct vring *vr);

/**
 * vring_enable_cb_delayed() - like vring_enable_cb(), but with EVENT_IDX only
 * ask for an interrupt once about 3/4 of the outstanding chains are complete
 * (for transmit completions, which nobody waits for). Call it after
 * collecting: a later vring_get_used() moves the event back to the next entry.
 * Return: false if that many completed meanwhile.
 */
bool vring_enable_cb_delayed(struct vring *vr);

/**
 * vring_interrupt() - the transport's interrupt handler calls this for the queue.
 * Context: interrupt handler; never modifies the rings.
 * Return: true if the queue has completed chains to collect.
 */
bool vring_interrupt(struct vring *vr);

/** vring_name() - the name given at creation, for logs and traces. */
const char *vring_name(const struct vring *vr);

/** vring_is_broken() - did the device break the protocol on this queue? */
bool vring_is_broken(const struct vring *vr);

/**
 * vring_mark_broken() - the driver gives up on the queue (e.g. the device
 * never answered a command and still owns its buffers): from now on it is
 * in the same state as after a protocol violation, until vring_reset().
 * Return: true the first time (the caller logs why), false if already broken.
 */
bool vring_mark_broken(struct vring *vr);

/**
 * vring_check() - look for a device that lost its place in the ring: on a
 * packed ring, a used descriptor past the one we wait at, still there at
 * the next call with no chain completed in between (the device skipped a
 * position; we would otherwise wait for ever). Call it about once a second
 * (the driver's watchdog), never from the data path.
 * Return: true if it marked the queue broken now (it logged why).
 */
bool vring_check(struct vring *vr);

/**
 * vring_detach_unused() - reclaim one chain still in flight, at reset or
 * teardown after the device was reset. Call until it returns NULL.
 * Works on a broken queue.
 * Return: its cookie, or NULL when no chain is in flight.
 */
void *vring_detach_unused(struct vring *vr);

void vring_get_stats(const struct vring *vr, struct vring_stats *stats);
void vring_get_state(const struct vring *vr, struct vring_state *state);

#endif
