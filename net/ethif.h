/*
 * One lwIP netif over one NIC (drivers/nic.h): what lwIP's ethernetif.c
 * example is to its low_level_input/output, here for any driver that speaks
 * the NIC interface. Received frames become pbuf chains over the NIC's
 * receive buffers (pbuf_custom, no copy) or, when the NIC asks, copies;
 * pbuf chains to send become segment lists the device reads in place
 * (pbuf_ref until the NIC says it is done). What a checksum flag means for
 * a protocol is decided here, where the protocols are known.
 *
 * Context: lwIP NO_SYS=1: everything from the main loop (net/loop.c).
 */
#ifndef NET_ETHIF_H
#define NET_ETHIF_H

#include <stdint.h>

struct netif;
struct nic;

/* What the glue itself counts (shown per interface in /stats). */
struct ethif_stats {
    uint64_t rx_csum_trusted;   /* frames whose TCP/UDP checksum lwIP did not re-check */
    uint64_t rx_csum_completed; /* partial checksums (not TCP) finished in software */
    uint64_t rx_csum_fragment;  /* checksum flags ignored on IP fragments: lwIP checks the datagram */
    uint64_t rx_drop_bad;       /* partial-checksum offsets outside the frame */
    uint64_t rx_gso;            /* large receives (TCP segments of up to 64 KiB) passed to lwIP */
    uint64_t rx_gso_bytes;      /* ... and their bytes */
    uint64_t rx_gso_bad;        /* GSO frames dropped: not TCP of their family, a length that disagrees,
                                 * or a checksum the device did not vouch for (rx_gso_ok) */
    uint64_t tx_csum_offload;   /* frames sent with the TCP checksum left to the NIC */
    uint64_t tx_copied;         /* pbuf chains longer than the NIC takes, sent as one copy */
    uint64_t tx_drop_nomem;     /* ... and no memory for the copy */
    uint64_t tx_gso_frames;     /* frames the NIC cuts into TCP segments (net/tso.h) */
    uint64_t tx_gso_segments;   /* ... the segments lwIP built that went into them */
    uint64_t tx_gso_dropped;    /* ... refused by the NIC (ring full, broken): lost, TCP resends */
};

/**
 * ethif_add() - make @nic the lwIP netif @netif ("en"): its MAC and MTU,
 * Ethernet with ARP, IGMP and MLD, checksum generation left to the NIC where
 * it offers it, input through ethernet_input, link state from the NIC.
 * Return: 0, -ENOMEM, or -EIO if lwIP or the NIC refused.
 */
int ethif_add(struct netif *netif, struct nic *nic);

/**
 * ethif_remove() - netif_remove() @netif and free what ethif_add() took. The
 * NIC must not call back any more (no driver detaches yet: the kernel never
 * removes a NIC; host tests do, with a fresh device each time).
 */
void ethif_remove(struct netif *netif);

/**
 * ethif_push() - send what lwIP queued on @netif since the last push: with
 * TSO (the NIC offers NIC_OFFLOAD_TSO4/6 and TX_CSUM), linkoutput queues
 * frames instead of sending them, and each run of consecutive segments of one
 * TCP connection leaves as one frame the NIC cuts (net/tso.h); the rest, in
 * order, one by one. Without TSO nothing is ever queued. Context: main loop,
 * after lwIP's work of a round and before the NIC's flush (net/netif.c).
 */
void ethif_push(struct netif *netif);

/**
 * ethif_push_all() - ethif_push() on every interface with frames queued.
 * Called before anything that counts the frames handed to a NIC
 * (net/txhold.c): a queued frame has not been handed yet.
 */
void ethif_push_all(void);

/** ethif_get_stats() - the counters of @netif, added by ethif_add(). */
void ethif_get_stats(const struct netif *netif, struct ethif_stats *st);

#endif
