/*
 * lwIP's counters as the /stats member "lwip" (lib/stats.h): the heap and
 * every pool (avail, used, max, err), the TCP pcb lists, and the per-protocol
 * counters (xmit, recv, drop, ...).
 */
#ifndef NET_STACK_STATS_H
#define NET_STACK_STATS_H

/** stack_stats_register() - add "lwip" to /stats. Call once, first (nif_init()). */
void stack_stats_register(void);

#endif
