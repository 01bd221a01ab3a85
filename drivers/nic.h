/*
 * The NIC interface: what a network driver offers the stack above it, and
 * all that the stack (net/) sees of a NIC. The models are Unikraft's
 * uknetdev (the API a stack sees kept apart from the driver's), lwIP's
 * ethernetif split and Linux's sk_buff checksum fields (csum_start,
 * csum_offset, CHECKSUM_PARTIAL / CHECKSUM_UNNECESSARY).
 *
 * Neither side knows the other's types: the driver knows no lwIP, the stack
 * no virtio. Frames cross as plain descriptions:
 *
 *   receive   the driver hands up a struct nic_rx_frame: the frame's bytes
 *             as fragments lying in the driver's receive buffers, and what
 *             the device said about its checksum and, for a large receive
 *             (a TCP segment of up to 64 KiB the host coalesced), its GSO
 *             type and segment size. With @lend set, the stack
 *             may keep the buffers (zero copy) and gives each back, once, by
 *             ->rx_release(id) when it is done; without, it copies what it
 *             wants before ->rx returns and the driver takes them back.
 *   transmit  the stack hands down a struct nic_tx_frame: up to
 *             nic->max_tx_segs segments of memory the device may read until
 *             the driver calls ->tx_done(cookie), a checksum request, and
 *             with TSO a frame of up to 64 KiB the device cuts into segments.
 *
 * A driver fills in a struct nic at probe time (ops, MAC, MTU, offloads)
 * and registers it; net/ finds the NICs by index (nic_count(), nic_get()),
 * gives each its own interface and calls ->attach with its callbacks; from
 * then on everything runs from the main loop only:
 *
 *   attach      from now on, call @up for frames, completions and link changes
 *   xmit        queue one frame (no notification yet: ->flush sends the batch)
 *   rx_release  the stack is done with receive buffer @id
 *   poll        received frames up to @budget through up->rx, refill, reclaim
 *               sent frames (up->tx_done), link changes; true if the budget ran out
 *   flush       notify the device of frames queued since the last flush
 *   has_work    an interrupt asked for poll (called with interrupts off)
 *   watchdog    once a second: re-kick a transmit queue the device sat on
 *   tx_progress frames ever submitted, and the oldest still in flight
 *               (net/txhold.c: when app memory is no longer read)
 *   counters    the device-independent counters below
 *   write_stats the driver's own /stats section (one JSON value)
 *   dump        the driver's counters and rings on the console
 */
#ifndef DRIVERS_NIC_H
#define DRIVERS_NIC_H

#include <stdbool.h>
#include <stdint.h>

struct json_out;
struct nic;

/* What every NIC counts, whatever the device. */
struct nic_counters {
    uint64_t rx_packets, rx_bytes;
    uint64_t tx_packets, tx_bytes;
    uint64_t rx_drops, tx_drops;
    uint64_t link_changes;
    uint32_t rx_lent, rx_lend_max; /* receive buffers the stack holds, and how many it may */
};

/* What the device did about a received frame's checksum (virtio 5.1.6.4). */
enum nic_rx_csum {
    NIC_RX_CSUM_NONE,    /* nothing: the stack checks */
    NIC_RX_CSUM_VALID,   /* the device checked the L4 checksum (DATA_VALID) */
    NIC_RX_CSUM_PARTIAL, /* never crossed a wire: the field at csum_start + csum_offset
                          * holds only the pseudo-header sum (NEEDS_CSUM) */
};

/* What the device said of a received frame's size (virtio 5.1.6.4, Linux's
 * skb_shinfo gso_type): one TCP segment longer than the MTU, which the
 * device (the host's coalescing) made of several of @gso_size bytes. */
enum nic_rx_gso {
    NIC_RX_GSO_NONE,  /* an ordinary frame: no longer than the MTU */
    NIC_RX_GSO_TCPV4, /* a TCP/IPv4 segment of up to 64 KiB (NIC_OFFLOAD_RX_TSO4) */
    NIC_RX_GSO_TCPV6, /* a TCP/IPv6 segment of up to 64 KiB (NIC_OFFLOAD_RX_TSO6) */
};

#define NIC_RX_MAX_FRAGS 64     /* fragments (receive buffers) of one frame */
#define NIC_RX_MAX_GSO   0xFFFF /* the longest frame (Ethernet header on) with a GSO type: lwIP's 16 bits */

/* One piece of a received frame, in receive buffer @id of the driver. */
struct nic_rx_frag {
    uint8_t *data;
    uint32_t len;
    uint32_t room; /* bytes from @data to the end of the buffer (>= @len) */
    unsigned id;   /* for ->rx_release(); below nic->rx_buffers */
};

struct nic_rx_frame {
    struct nic_rx_frag frag[NIC_RX_MAX_FRAGS];
    unsigned nfrags;
    uint32_t len; /* the sum of the fragments' lengths */
    enum nic_rx_csum csum;
    uint16_t csum_start, csum_offset; /* NIC_RX_CSUM_PARTIAL: from the frame's first byte */
    bool lend;                        /* the stack may keep the buffers (else: copy before returning) */
    enum nic_rx_gso gso;              /* not NONE: up to NIC_RX_MAX_GSO bytes, csum PARTIAL or VALID */
    uint16_t gso_size;                /* with @gso: the segment size the sender used (not 0) */
};

/* What ->rx returns besides 0 (delivered). The buffers of a lent frame are
 * the stack's in every case: it releases each one, whatever it returns. */
#define NIC_RX_DROP_NOMEM (-1) /* no memory: dropped (or the copy could not be made) */
/* NIC_RX_DROP_BAD: the frame contradicts itself (checksum offsets outside it,
 * a GSO frame that is not TCP of its family, or whose IP length disagrees). */
#define NIC_RX_DROP_BAD (-2)

#define NIC_TX_MAX_SEGS 32

struct nic_tx_seg {
    const void *data;
    uint32_t len;
};

enum nic_gso {
    NIC_GSO_NONE,  /* one frame on the wire */
    NIC_GSO_TCPV4, /* TCP over IPv4, cut into segments by the device */
    NIC_GSO_TCPV6, /* TCP over IPv6 */
};

/* The largest frame with gso_type set (headers included). */
#define NIC_GSO_MAX_LEN 65535u

struct nic_tx_frame {
    const struct nic_tx_seg *seg;
    unsigned nsegs;                   /* 1 .. nic->max_tx_segs, none empty */
    uint32_t len;                     /* the sum of the segments' lengths */
    bool csum_partial;                /* the device completes the checksum: */
    uint16_t csum_start, csum_offset; /* sum from csum_start to the end, store at start + offset */
    /* Segmentation offload (NIC_OFFLOAD_TSO4/6; needs csum_partial): the
     * device cuts the frame into TCP segments of gso_size payload bytes, each
     * with a copy of the first hdr_len bytes, adjusted (virtio 5.1.6.2). */
    enum nic_gso gso_type;
    uint16_t gso_size, hdr_len;
    void *cookie; /* handed back by up->tx_done once the device is done */
};

/* Offloads a NIC offers (nic->offloads). */
#define NIC_OFFLOAD_TX_CSUM (1u << 0) /* nic_tx_frame.csum_partial is honoured */
#define NIC_OFFLOAD_RX_CSUM (1u << 1) /* received frames may say NIC_RX_CSUM_VALID/PARTIAL */
#define NIC_OFFLOAD_TSO4    (1u << 2) /* nic_tx_frame.gso_type NIC_GSO_TCPV4 is honoured */
#define NIC_OFFLOAD_TSO6    (1u << 3) /* ... and NIC_GSO_TCPV6 */
#define NIC_OFFLOAD_RX_TSO4 (1u << 4) /* received frames may be NIC_RX_GSO_TCPV4 */
#define NIC_OFFLOAD_RX_TSO6 (1u << 5) /* received frames may be NIC_RX_GSO_TCPV6 */

/* The stack's side, given to ->attach; every call comes from the main loop
 * (from inside ->poll, ->xmit or ->watchdog). */
struct nic_upper {
    void *ctx;
    /* A received frame. Return: 0, NIC_RX_DROP_NOMEM or NIC_RX_DROP_BAD. */
    int (*rx)(void *ctx, const struct nic_rx_frame *f);
    /* The device has read the frame sent with @cookie for good. */
    void (*tx_done)(void *ctx, void *cookie);
    /* The link went up or down. */
    void (*link)(void *ctx, bool up);
    /* The device asks us to announce ourselves (after a migration). */
    void (*announce)(void *ctx);
};

struct nic_ops {
    int (*attach)(struct nic *nic, const struct nic_upper *up);
    /* Return: 0, -ENOSPC (the ring stayed full: dropped), -EMSGSIZE (too many
     * segments for this NIC), -EIO (the device is broken). Only on 0 will
     * tx_done be called for the frame. */
    int (*xmit)(struct nic *nic, const struct nic_tx_frame *f);
    void (*rx_release)(struct nic *nic, unsigned id);
    bool (*poll)(struct nic *nic, unsigned budget);
    void (*flush)(struct nic *nic);
    bool (*has_work)(const struct nic *nic);
    void (*watchdog)(struct nic *nic);
    void (*tx_progress)(struct nic *nic, uint64_t *submitted, uint64_t *oldest);
    void (*counters)(const struct nic *nic, struct nic_counters *c);
    void (*write_stats)(const struct nic *nic, struct json_out *o);
    void (*dump)(const struct nic *nic);
};

/**
 * struct nic - one network device.
 * @ops: the driver's operations (all required).
 * @priv: the driver's state.
 * @driver: the driver's name, also its /stats section ("virtio_net").
 * @index: the registration order, set by nic_register() (en0, en1, ...).
 * @mac: the Ethernet address; @mtu: the largest IP packet (without the Ethernet header).
 * @offloads: NIC_OFFLOAD_* bits.
 * @max_tx_segs: the most segments of one frame ->xmit takes (<= NIC_TX_MAX_SEGS).
 * @rx_buffers: receive buffer ids are below this.
 * @link_up: the link state at probe (later changes come through up->link).
 */
struct nic {
    const struct nic_ops *ops;
    void *priv;
    const char *driver;
    unsigned index;
    uint8_t mac[6];
    unsigned mtu;
    unsigned offloads;
    unsigned max_tx_segs;
    unsigned rx_buffers;
    bool link_up;
};

#define NIC_MAX 4

/**
 * nic_register() - make @nic known to the stack. Context: probe, before nif_init().
 * Return: its index, or -ENOSPC past NIC_MAX, -EINVAL without ops.
 */
int nic_register(struct nic *nic);

/** nic_count() - NICs registered. */
unsigned nic_count(void);

/** nic_get() - the NIC of index @i, or NULL. */
struct nic *nic_get(unsigned i);

#endif
