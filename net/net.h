/*
 * The network side of the kernel: brings up the NIC as an lwIP netif
 * (address by DHCP, else a static fallback, or static from the command line),
 * then runs the main loop that everything network-related happens in.
 *
 * Command line: ip=ADDR/PREFIX gw=GW (static IPv4), dhcp_timeout=SECONDS
 * (default 10), ip_fallback=ADDR/PREFIX gw_fallback=GW (used when DHCP
 * times out; default 10.0.2.15/24 via 10.0.2.2, QEMU's user network),
 * stats_interval=SECONDS (print net_dump() that often).
 */
#ifndef NET_NET_H
#define NET_NET_H

#include <stdbool.h>

struct netif;

/** net_init() - lwIP and the first virtio-net NIC. Return: 0, or -ENODEV without a NIC. */
int net_init(void);

/** net_run() - the main loop: poll the NIC, run lwIP's timers, apps; sleep in hlt when idle. */
void net_run(void) __attribute__((noreturn));

/** net_dump() - NIC counters, ring states and lwIP pool use on the console (stats_interval=SECONDS). */
void net_dump(void);

/** net_netif() - the NIC's netif (NULL before net_init()). */
struct netif *net_netif(void);

#endif
