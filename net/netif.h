/*
 * The netif glue: brings up every NIC (drivers/nic.h) as its own lwIP netif,
 * en0, en1, ... in probe order, each addressed by DHCP (else a static
 * fallback) or statically from the command line, and gives the main loop
 * (net/loop.c) its per-turn work on them. en0 is lwIP's default netif.
 *
 * Command line, per interface (enN.KEY=; for en0 the bare KEY= too):
 * ip=ADDR/PREFIX gw=GW (static IPv4), dhcp_timeout=SECONDS (default 10, a
 * bare dhcp_timeout= for all), ip_fallback=ADDR/PREFIX gw_fallback=GW (used
 * when DHCP times out; en0's default is 10.0.2.15/24 via 10.0.2.2, QEMU's
 * user network; the others have none).
 *
 * Context: main loop only.
 */
#ifndef NET_NETIF_H
#define NET_NETIF_H

#include <stdbool.h>
#include <stdint.h>

struct netif;

/** nif_init() - lwIP, a netif per NIC and their addressing. Return: 0, or -ENODEV without a NIC. */
int nif_init(void);

/**
 * nif_poll() - every NIC's received frames into lwIP (up to @budget each),
 * refill, reclaim sent buffers; the NIC polled first rotates every turn.
 * Return: true if a budget ran out (poll again before sleeping).
 */
bool nif_poll(unsigned budget);

/** nif_flush() - kick what lwIP queued this turn (once per batch), then the address configuration steps. */
void nif_flush(uint64_t now);

/** nif_second() - once a second: the drivers' transmit watchdogs. */
void nif_second(void);

/** nif_has_work() - an interrupt asked for nif_poll(). Call with interrupts off. */
bool nif_has_work(void);

/** nif_count() - how many NICs have a netif. */
unsigned nif_count(void);

/** nif_dump() - NIC counters, ring states and lwIP pool use on the console. */
void nif_dump(void);

/** nif_default() - en0's netif (NULL before nif_init() or without a NIC). */
struct netif *nif_default(void);

/** nif_get() - the netif of en@i, or NULL. */
struct netif *nif_get(unsigned i);

#endif
