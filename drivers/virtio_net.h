/*
 * virtio-net (virtio 1.2 spec 5.1) as an lwIP netif.
 *
 * Like Linux's virtio_net.c, the driver speaks the network stack's buffer
 * type directly: received frames become pbufs that point into the receive
 * buffers (pbuf_custom, no copy), and pbuf chains to send become descriptor
 * chains (pbuf_ref until the device is done, no copy).
 *
 * Context: everything runs from the main loop (net/loop.c), except the
 * interrupt callbacks, which only note that there is work and suppress
 * further interrupts (the NAPI pattern).
 */
#ifndef DRIVERS_VIRTIO_NET_H
#define DRIVERS_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

struct netif;
struct vnet;

/* Counters, per queue where it applies (shown in /stats and on the console). */
struct vnet_stats {
    uint64_t rx_packets, rx_bytes;
    uint64_t rx_drop_short;      /* shorter than a header + Ethernet header */
    uint64_t rx_drop_oversize;   /* longer than the MTU allows */
    uint64_t rx_drop_bad_merge;  /* num_buffers 0, too many, or buffers missing */
    uint64_t rx_drop_nomem;      /* lwIP refused the frame */
    uint64_t rx_copied;          /* copied out of the pool: lwIP held rx_lend_max buffers already */
    uint64_t rx_drop_copy_nomem; /* ... and lwIP had no memory for the copy */
    uint64_t rx_csum_partial;    /* NEEDS_CSUM TCP frames trusted as they are */
    uint64_t rx_csum_completed;  /* NEEDS_CSUM frames (not TCP) we finished */
    uint64_t rx_csum_valid;      /* DATA_VALID frames lwIP did not re-check */
    uint64_t rx_merged;          /* frames that spanned several buffers */
    uint64_t rx_refills, rx_refill_empty;
    uint64_t rx_polls, rx_budget_exhausted;
    uint64_t tx_packets, tx_bytes;
    uint64_t tx_segments;     /* descriptors for frame data (pbufs) */
    uint64_t tx_csum_offload; /* frames sent with NEEDS_CSUM */
    uint64_t tx_ring_full_waits, tx_drop_ring_full, tx_drop_too_many_segs;
    uint64_t tx_completed;
    uint64_t tx_watchdog_kicks; /* re-kicks after the device sat on buffers */
    uint64_t link_changes;
    uint64_t announces;
    uint64_t ctrl_ok, ctrl_err;
    uint64_t ctrl_timeouts;      /* commands unanswered in 1 s (the control queue is then broken) */
    uint64_t announces_deferred; /* ANNOUNCE requests within a second of the last one, left for later */
    uint64_t rx_csum_fragment;   /* checksum flags ignored on IP fragments: lwIP checks the datagram */
    uint64_t irq_storms;         /* the transport masked a storming interrupt line and polled */
    /* The receive pool now (vnet_get_stats() fills these in):
     * rx_pool_free + rx_posted + rx_lent == rx_pool_total. */
    uint32_t rx_pool_total, rx_pool_free, rx_posted, rx_lent, rx_lend_max;
};

/**
 * vnet_netif_add() - register @vn with lwIP as @netif (name "en"), with the
 * device's MAC and MTU, checksum offload set up from the negotiated features.
 * Return: 0 or a negative errno.
 */
int vnet_netif_add(struct vnet *vn, struct netif *netif);

/**
 * vnet_poll() - the main loop's work: receive up to @budget frames into
 * lwIP, refill the receive ring, reclaim sent buffers, react to link changes,
 * kick the transmit queue once for everything queued since the last poll,
 * and re-enable interrupts when the work is done (with the race check).
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
