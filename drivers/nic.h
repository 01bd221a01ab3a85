/*
 * The NIC interface: what a network driver offers the stack above it, and
 * all that the stack (net/) sees of a NIC. The models are Unikraft's
 * uknetdev (the API a stack sees kept apart from the driver's) and lwIP's
 * ethernetif split.
 *
 * A driver fills in a struct nic at probe time and registers it; net/netif.c
 * finds the NICs by index (nic_count(), nic_get()), gives each its own lwIP
 * netif through ->attach, and from then on drives it through the ops, from
 * the main loop only:
 *
 *   attach      become @netif: MAC, MTU and checksum offload from the device
 *   poll        received frames up to @budget into the netif, refill, reclaim
 *               sent buffers, link changes; true if the budget ran out
 *   flush       notify the device of frames queued since the last flush
 *   has_work    an interrupt asked for poll (called with interrupts off)
 *   watchdog    once a second: re-kick a transmit queue the device sat on
 *   tx_progress frames ever submitted, and the oldest still in flight
 *               (net/txhold.c: when app memory is no longer read)
 *   counters    the device-independent counters below
 *   write_stats the driver's own /stats section (one JSON value)
 *   dump        the driver's counters and rings on the console
 *
 * Received frames and frames to send still cross as lwIP pbufs (->attach
 * hands the driver the netif): the one place where this interface names the
 * stack, listed as a known exception by scripts/check-includes.py.
 */
#ifndef DRIVERS_NIC_H
#define DRIVERS_NIC_H

#include <stdbool.h>
#include <stdint.h>

struct netif;
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

struct nic_ops {
    int (*attach)(struct nic *nic, struct netif *netif);
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
 */
struct nic {
    const struct nic_ops *ops;
    void *priv;
    const char *driver;
    unsigned index;
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
