/*
 * virtio-net (virtio 1.2 spec 5.1) as a NIC (drivers/nic.h).
 *
 * Unlike Linux's virtio_net.c, which builds the stack's sk_buffs itself, the
 * driver knows no stack: received frames go up as fragments of its receive
 * buffers (lent, no copy, until the stack releases them), and frames to send
 * come down as segments the device reads in place until the driver says
 * they are done. The NIC ops below are what drivers/nic.h's ops call; host
 * tests call them directly.
 *
 * Context: everything runs from the main loop (net/loop.c), except the
 * interrupt callbacks, which only note that there is work and suppress
 * further interrupts (the NAPI pattern).
 */
#ifndef DRIVERS_VIRTIO_NET_H
#define DRIVERS_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

struct nic;
struct nic_tx_frame;
struct nic_upper;
struct vnet;

/* Counters, per queue where it applies (shown in /stats and on the console). */
struct vnet_stats {
    uint64_t rx_packets, rx_bytes;
    uint64_t rx_drop_short;      /* shorter than a header + Ethernet header */
    uint64_t rx_drop_oversize;   /* longer than the MTU allows */
    uint64_t rx_drop_bad_merge;  /* num_buffers 0, too many, or buffers missing */
    uint64_t rx_drop_bad_gso;    /* a GSO type not negotiated, or no segment size or checksum offload */
    uint64_t rx_drop_nomem;      /* the stack refused the frame (or none attached yet) */
    uint64_t rx_copied;          /* copied out of the pool: the stack held rx_lend_max buffers already */
    uint64_t rx_drop_copy_nomem; /* ... and the stack had no memory for the copy */
    uint64_t rx_csum_partial;    /* frames with NEEDS_CSUM (offsets inside the frame) */
    uint64_t rx_csum_valid;      /* frames with DATA_VALID */
    uint64_t rx_merged;          /* frames that spanned several buffers */
    uint64_t rx_gso_packets;     /* large receive: GSO frames handed up (GUEST_TSO4/6) */
    uint64_t rx_gso_bytes;       /* ... and their bytes */
    uint64_t rx_refills, rx_refill_empty;
    uint64_t rx_polls, rx_budget_exhausted;
    uint64_t tx_packets, tx_bytes;
    uint64_t tx_segments;     /* descriptors for frame data (the stack's segments) */
    uint64_t tx_csum_offload; /* frames sent with NEEDS_CSUM */
    uint64_t tx_gso_frames;   /* frames the device cuts into TCP segments (HOST_TSO4/6) */
    uint64_t tx_gso_bytes;    /* ... their bytes, headers once */
    uint64_t tx_drop_bad_gso; /* GSO requests the device did not agree to take (a stack bug) */
    uint64_t tx_ring_full_waits, tx_drop_ring_full, tx_drop_too_many_segs;
    uint64_t tx_completed;
    uint64_t tx_watchdog_kicks; /* re-kicks after the device sat on buffers */
    uint64_t resets;            /* device resets after a broken queue (vnet_recover) */
    uint64_t tx_reset_dropped;  /* frames in flight at a reset, handed back unsent */
    uint64_t reset_gave_up;     /* 1: too many resets a minute, or a reset failed: device down */
    uint64_t link_changes;
    uint64_t announces;
    uint64_t ctrl_ok, ctrl_err;
    uint64_t ctrl_timeouts;      /* commands unanswered in 1 s (the control queue is then broken) */
    uint64_t announces_deferred; /* ANNOUNCE requests within a second of the last one, left for later */
    uint64_t irq_storms;         /* the transport masked a storming interrupt line and polled */
    /* The receive pool now (vnet_get_stats() fills these in):
     * rx_pool_free + rx_posted + rx_lent == rx_pool_total. */
    uint32_t rx_pool_total, rx_pool_free, rx_posted, rx_lent, rx_lend_max;
};

/** vnet_nic() - the NIC @vn registered (its MAC, MTU, offloads and ops). */
struct nic *vnet_nic(struct vnet *vn);

/**
 * vnet_attach() - from now on, hand received frames, transmit completions,
 * link changes and announce requests to @up (copied). Frames that arrive
 * before are dropped. Return: 0, -EINVAL if a callback is missing.
 */
int vnet_attach(struct vnet *vn, const struct nic_upper *up);

/**
 * vnet_xmit() - queue one frame (nic_ops.xmit): the header and one
 * descriptor per segment, the checksum request passed to the device. Waits
 * up to 500 ms for room in a full ring. Does not notify: vnet_flush().
 * Return: 0 (up->tx_done(cookie) follows), -EMSGSIZE (no segments or more
 * than NIC_TX_MAX_SEGS), -EINVAL (a checksum request the device cannot take
 * or with offsets outside the frame), -ENOSPC (ring full), -EIO (broken queue).
 */
int vnet_xmit(struct vnet *vn, const struct nic_tx_frame *f);

/**
 * vnet_rx_release() - the stack is done with receive buffer @id of a lent
 * frame: back to the pool. Panics on a buffer that is not lent (a double
 * release would post one buffer twice).
 */
void vnet_rx_release(struct vnet *vn, unsigned id);

/**
 * vnet_poll() - the main loop's work: receive up to @budget frames up to the
 * stack, refill the receive ring, reclaim sent buffers, react to link changes,
 * kick the transmit queue once for everything queued since the last poll,
 * and re-enable interrupts when the work is done (with the race check).
 * A broken queue (the device broke the protocol) is healed first: the
 * device is reset and set up again, at most 3 times a minute, then left down.
 * Return: true if there is more work (the budget ran out): poll again before sleeping.
 */
bool vnet_poll(struct vnet *vn, unsigned budget);

/**
 * vnet_tx_progress() - transmit completion, for memory the frames point at
 * (net/txhold.c): *@submitted is how many frames were ever added to the
 * transmit ring, *@oldest the number of the oldest one the device has not
 * given back yet (== *@submitted when none is in flight). Every frame
 * numbered below *@oldest has been read by the device for good.
 * Reclaims what the device has finished first.
 */
void vnet_tx_progress(struct vnet *vn, uint64_t *submitted, uint64_t *oldest);

/** vnet_flush() - notify the device of frames lwIP queued since the last kick (one kick per batch). */
void vnet_flush(struct vnet *vn);

/** vnet_has_work() - an interrupt asked for vnet_poll(). Call with interrupts off. */
bool vnet_has_work(const struct vnet *vn);

/** vnet_watchdog() - once a second: re-kick a transmit queue the device has sat on. */
void vnet_watchdog(struct vnet *vn);

void vnet_get_stats(const struct vnet *vn, struct vnet_stats *st);

/* The queues, for /stats and the status page: 0 rx, 1 tx, 2 control (if any). */
unsigned vnet_num_queues(const struct vnet *vn);
struct vring *vnet_queue(const struct vnet *vn, unsigned i);
const char *vnet_queue_name(unsigned i);

/** vnet_dump() - print the counters and ring states on the console. */
void vnet_dump(const struct vnet *vn);

#endif
