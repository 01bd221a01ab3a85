/*
 * The memory budget, lwIP side (docs/budget.md): lib/budget.c's arithmetic
 * fed with lwIP's pool levels, the kernel heap and the NIC's receive pool.
 *
 * The apps ask it before they queue (net_budget_tcp_room() instead of
 * tcp_sndbuf(), net_budget_admit() in accept, net_budget_app_grow() before
 * a receive buffer grows); lwIP asks it how much out-of-order data one
 * connection may hold (TCP_OOSEQ_PBUFS_LIMIT in net/port/lwipopts.h); and
 * net_budget_tick() resets the most expensive stalled connections when a
 * pool is short, logging (rate-limited) what it shed and why.
 *
 * Context: the main loop only (lwIP NO_SYS=1).
 */
#ifndef NET_NET_BUDGET_H
#define NET_NET_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tcp_pcb;

/**
 * net_budget_init() - size the app heap budget from the RAM left at boot,
 * register /stats "budget" (every NIC's receive pool counts, drivers/nic.h).
 * Options: budget_stall_ms= (default 2000): how long a connection must make
 * no progress before it may be shed.
 */
void net_budget_init(void);

/**
 * net_budget_tcp_room() - how many bytes the caller may tcp_write() on @pcb
 * now: tcp_sndbuf() cut to the connection's share of every pool it would
 * draw from. @copy: TCP_WRITE_FLAG_COPY (the bytes go into lwIP's heap)
 * rather than references to the app's memory. 0: wait for tcp_sent/tcp_poll.
 */
size_t net_budget_tcp_room(const struct tcp_pcb *pcb, bool copy);

/**
 * net_budget_admit() - may one more connection be accepted? False (counted
 * in /stats "budget" refused) when a pcb slot or what one connection needs
 * is missing: the caller answers 503 or resets.
 */
bool net_budget_admit(void);

/**
 * net_budget_app_grow() - may an app's per-connection buffer grow from
 * @old_cap to @new_cap bytes of kernel heap? False: the app drops the
 * connection (counted).
 */
bool net_budget_app_grow(size_t old_cap, size_t new_cap);

/**
 * net_budget_ooseq_pbufs() - out-of-order pbufs @pcb may hold now: lwIP's
 * TCP_OOSEQ_PBUFS_LIMIT, asked right after a segment joined the queue;
 * lwIP then drops the newest segments beyond the limit, which this counts
 * (/stats budget ooseq_dropped).
 */
unsigned net_budget_ooseq_pbufs(const struct tcp_pcb *pcb);

/** net_budget_tick() - from the main loop, every turn: 4 times a second, shed what must be shed. */
void net_budget_tick(uint64_t now_ns);

#endif
