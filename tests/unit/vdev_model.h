/*
 * A virtio device model for the host tests of drivers/vring.c: the device
 * side of one split virtqueue (virtio 1.2 spec 2.7), played the way QEMU's
 * hw/virtio/virtio.c plays it (virtqueue_pop, virtqueue_fill/flush,
 * virtio_notify, virtio_queue_set_notification), working only on what the
 * driver wrote into shared memory and on the addresses a transport would
 * have been given.
 *
 * The model checks the driver: every chain it pops must be well formed
 * (indices in range, no loops, readable before writable, INDIRECT only when
 * negotiated and never with NEXT or nested, addresses that went through
 * virt_to_phys()). Violations are counted in .errors, which tests assert is 0.
 *
 * It can also misbehave on demand (vdev_push_raw, vdev_set_used_idx,
 * duplicate vdev_push) to test that the driver survives a hostile device.
 *
 * The model is an oracle, so it shares no ring code with the driver: its
 * ring layouts, sizes, event offsets and need-event test below are written
 * from the spec (2.7.5-2.7.8, 2.7.7.2, 2.7.10), not taken from
 * drivers/virtio_ring.h (vdev_model.c poisons that header's names), so a
 * wrong offset or off-by-one there cannot be mirrored here.
 *
 * This file also holds the platform doubles the ring code links against on
 * the host: virt_to_phys/phys_to_virt (a recognisable, non-identity mapping),
 * dma_alloc/dma_free, and a klog that records lines for tests to assert on.
 */
#ifndef TESTS_UNIT_VDEV_MODEL_H
#define TESTS_UNIT_VDEV_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/vring.h" /* struct vring_addrs: what a transport is given */

/* ---- platform doubles ---- */

/*
 * "Guest physical" addresses in the tests are host addresses plus this
 * offset, so an address that skipped virt_to_phys() (or a bad translation
 * back) is caught by the model instead of silently working.
 */
#define VDEV_PHYS_OFFSET 0x5a00000000000000ull

extern unsigned long vdev_virt_to_phys_calls;
/* dma_alloc() fails when this reaches 0 (counts down per call; -1: never). */
extern int vdev_dma_fail_countdown;
/* dma_alloc() fails for sizes above this (0: no limit). */
extern size_t vdev_dma_fail_above;
/* dma_alloc() blocks not yet freed. */
extern long vdev_dma_outstanding;
/* What dma_free_bytes() reports (256 MiB unless a test changes it). */
extern size_t vdev_dma_free_bytes;

/* klog lines recorded since vdev_klog_clear(): how many, and the last one. */
unsigned vdev_klog_count(void);
unsigned vdev_klog_count_level(int level);
const char *vdev_klog_last(void);
void vdev_klog_clear(void);

/* ---- the device ---- */

/*
 * The split virtqueue as the device reads it, from the virtio 1.2 spec (all
 * fields little-endian, which is the host's order: the tests run on x86).
 */
/* 2.7.5: a descriptor is addr (le64), len (le32), flags (le16), next (le16). */
struct vdev_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
#define VDEV_DESC_NEXT     1 /* 2.7.5 */
#define VDEV_DESC_WRITE    2
#define VDEV_DESC_INDIRECT 4 /* 2.7.5.3 */

/* 2.7.6: flags, idx, ring[queue size], then used_event (all le16). */
struct vdev_avail {
    uint16_t flags;
    uint16_t idx;
    uint16_t ring[];
};
#define VDEV_AVAIL_NO_INTERRUPT 1 /* 2.7.7 */

/* 2.7.8: flags, idx (le16), ring[queue size] of {id, len} (le32), then avail_event (le16). */
struct vdev_used_elem {
    uint32_t id;
    uint32_t len;
};
struct vdev_used {
    uint16_t flags;
    uint16_t idx;
    struct vdev_used_elem ring[];
};
#define VDEV_USED_NO_NOTIFY 1 /* 2.7.10 */

/* 6 "Reserved Feature Bits". */
#define VDEV_F_INDIRECT_DESC 28
#define VDEV_F_EVENT_IDX     29

/*
 * vdev_event_crossed() - 2.7.7.2 / 2.7.10 with EVENT_IDX: the other side
 * asked to be told once the ring entry numbered @event is written. An index
 * that moved from @old to @new wrote entries old, old + 1, ..., new - 1
 * (mod 2^16); we must tell it if @event is one of them.
 */
static inline bool vdev_event_crossed(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
    uint16_t written = (uint16_t)(new_idx - old_idx);
    uint16_t event_at = (uint16_t)(event - old_idx); /* event's place among them */

    return event_at < written;
}

#define VDEV_MAX_SEGS 64

struct vdev_seg {
    void *addr; /* host pointer, translated back from the descriptor's address */
    uint32_t len;
};

/* One popped chain (QEMU's VirtQueueElement). */
struct vdev_elem {
    uint16_t head;
    bool indirect;
    unsigned n_out, n_in;
    struct vdev_seg out[VDEV_MAX_SEGS];
    struct vdev_seg in[VDEV_MAX_SEGS];
    uint32_t in_len; /* total device-writable bytes */
};

typedef void (*vdev_irq_fn)(void *ctx);
/* Called when the device gives a chain back (fill), with its first writable
 * segment (NULL if it had none). */
typedef void (*vdev_return_fn)(void *ctx, void *buf, uint32_t len);

/*
 * Chains in the device's hands, by head, for queues of up to this size: the
 * model's own record of which buffers it holds (the driver's counters are
 * not consulted) and of the writable memory they cover, so a buffer posted
 * twice while the device still holds it is caught at vdev_pop().
 */
#define VDEV_TRACK_MAX 2048
struct vdev_track {
    void *buf; /* first writable segment */
    uint32_t len;
    bool held; /* popped and not yet filled */
};

struct vdev_model {
    unsigned num;
    bool event_idx;
    bool indirect;
    struct vdev_desc *desc;   /* descriptor area */
    struct vdev_avail *avail; /* driver area */
    struct vdev_used *used;   /* device area */

    uint16_t last_avail;     /* next available entry to pop */
    uint16_t used_idx;       /* shadow of used->idx */
    uint16_t signalled_used; /* used->idx at the last interrupt decision (EVENT_IDX) */
    bool signalled_used_valid;
    unsigned inuse; /* popped and not yet pushed */

    vdev_irq_fn irq;
    void *irq_ctx;
    unsigned long irqs;            /* interrupts raised */
    unsigned long irqs_suppressed; /* vdev_notify() calls the driver asked us to skip */
    unsigned long kicks;           /* notifications received from the driver */

    unsigned errors; /* driver protocol violations seen */
    char last_error[200];

    /* Set after vdev_init() where chains point anywhere on purpose (fuzz_vring:
     * the ring code must not care what it carries); otherwise two chains the
     * device holds at once sharing writable memory is a driver error. */
    bool allow_overlap;
    vdev_return_fn on_return; /* optional, set after vdev_init() */
    void *return_ctx;
    struct vdev_track track[VDEV_TRACK_MAX];
};

/**
 * vdev_init() - attach the model to a queue as a transport would: by the
 * physical addresses the driver programmed, the queue size, and the
 * negotiated features.
 */
void vdev_init(struct vdev_model *m, const struct vring_addrs *addrs, unsigned num, uint64_t features,
               vdev_irq_fn irq, void *irq_ctx);

/* A vring_notify_fn: the driver's doorbell. @ctx is the model. */
void vdev_kick(void *ctx, unsigned index);

/* Chains the driver made available that the model has not popped yet. */
unsigned vdev_avail_pending(const struct vdev_model *m);

/**
 * vdev_pop() - take the next available chain (QEMU virtqueue_pop).
 * Return: 1 with @e filled, 0 when none is available, -EPROTO for a malformed
 * chain (counted in .errors).
 */
int vdev_pop(struct vdev_model *m, struct vdev_elem *e);

/* Copy @len bytes of @data into @e's writable segments; returns bytes copied. */
uint32_t vdev_write(const struct vdev_elem *e, const void *data, uint32_t len);

/* QEMU virtqueue_fill: write used entry @idx past the current used index. */
void vdev_fill(struct vdev_model *m, uint32_t id, uint32_t len, unsigned idx);
/* QEMU virtqueue_flush: publish @count filled entries by moving used->idx. */
void vdev_flush(struct vdev_model *m, unsigned count);
/* fill + flush one entry for @e. */
void vdev_push(struct vdev_model *m, const struct vdev_elem *e, uint32_t len);

/**
 * vdev_notify() - after pushing, interrupt the driver unless it asked not to
 * be (2.7.7: NO_INTERRUPT, or used_event with EVENT_IDX).
 * Return: whether the interrupt was raised.
 */
bool vdev_notify(struct vdev_model *m);

/* QEMU virtio_queue_set_notification: ask for (or not) kicks (2.7.10). */
void vdev_set_notification(struct vdev_model *m, bool enable);

/**
 * vdev_process() - pop up to @max chains, fill each writable part with a
 * pattern, push them all with len = writable bytes, flush once, notify.
 * Return: chains completed.
 */
unsigned vdev_process(struct vdev_model *m, unsigned max);

/*
 * vdev_pending_bufs() - the first writable segment of each chain the driver
 * has made available and the device has not popped yet, read from the rings
 * without popping. Return: how many (at most @max stored).
 */
unsigned vdev_pending_bufs(struct vdev_model *m, void **bufs, unsigned max);
/* Chains popped and not yet given back, from the model's own record. */
unsigned vdev_held(const struct vdev_model *m);

/* ---- misbehaviour ---- */

/* Write an arbitrary used entry and move used->idx past it. */
void vdev_push_raw(struct vdev_model *m, uint32_t id, uint32_t len);
/* Set used->idx to anything. */
void vdev_set_used_idx(struct vdev_model *m, uint16_t idx);
/* Set avail_event (2.7.10) directly. */
void vdev_set_avail_event(struct vdev_model *m, uint16_t event);

/* The driver's used_event / avail->flags as the device reads them. */
uint16_t vdev_used_event(const struct vdev_model *m);
uint16_t vdev_avail_flags(const struct vdev_model *m);
/* Where the device writes avail_event (2.7.8: right after the used ring's entries). */
const void *vdev_avail_event_addr(const struct vdev_model *m);

#endif
