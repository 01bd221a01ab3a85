/*
 * The netif glue: brings up the NIC as an lwIP netif (address by DHCP, else
 * a static fallback, or static from the command line) and gives the main
 * loop (net/loop.c) its per-turn work on it.
 *
 * Command line: ip=ADDR/PREFIX gw=GW (static IPv4), dhcp_timeout=SECONDS
 * (default 10), ip_fallback=ADDR/PREFIX gw_fallback=GW (used when DHCP
 * times out; default 10.0.2.15/24 via 10.0.2.2, QEMU's user network).
 *
 * Context: main loop only.
 */
#ifndef NET_NETIF_H
#define NET_NETIF_H

#include <stdbool.h>
#include <stdint.h>

struct netif;

/** nif_init() - lwIP, the NIC's netif and its addressing. Return: 0, or -ENODEV without a NIC. */
int nif_init(void);

/**
 * nif_poll() - received frames into lwIP (up to @budget), refill, reclaim
 * sent buffers. Return: true if the budget ran out (poll again before sleeping).
 */
bool nif_poll(unsigned budget);

/** nif_flush() - kick what lwIP queued this turn (once per batch), then the address configuration steps. */
void nif_flush(uint64_t now);

/** nif_second() - once a second: the driver's transmit watchdog. */
void nif_second(void);

/** nif_has_work() - an interrupt asked for nif_poll(). Call with interrupts off. */
bool nif_has_work(void);

/** nif_count() - how many NICs have a netif. */
unsigned nif_count(void);

/** nif_dump() - NIC counters, ring states and lwIP pool use on the console. */
void nif_dump(void);

/** nif_default() - the NIC's netif (NULL before nif_init() or without a NIC). */
struct netif *nif_default(void);

#endif
