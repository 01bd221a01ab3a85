/*
 * TCP's front door, between lwIP 2.1.3 and the network (docs/lwip.md, "TCP's
 * front door"): RFC 6528 initial sequence numbers, and SYN cookies once a
 * listener (or the stack) holds as many half-open connections as its bound,
 * so that a flood of spoofed SYNs never takes the pcbs established
 * connections need. lwIP calls in through LWIP_HOOK_TCP_ISN and
 * LWIP_HOOK_TCP_INPACKET_PCB (net/port/lwip_hooks.h); the arithmetic is
 * net/tcp_cookie.c's.
 *
 * Budget (MEMP_NUM_TCP_PCB = 600 in net/port/lwipopts.h): half-open (SYN_RCVD)
 * pcbs are at most TCP_GUARD_HALF_OPEN_LISTENER per listener and
 * TCP_GUARD_HALF_OPEN_GLOBAL in all; beyond that, SYNs get a cookie and no
 * state, as long as more than TCP_GUARD_PCB_FREE_MIN pcbs are free beyond
 * the cookies already promised to the same source this second (else the
 * SYN is dropped and the client sends it again, as with a full pool). A half-open pcb lives at most TCP_GUARD_SYN_RCVD_MAX_MS. Under
 * pressure, SYNs whose IPv4 next hop has no ARP entry are not answered
 * (an ARP request instead), so spoofed sources cannot churn the ARP table.
 *
 * Context: lwIP's (the main loop, NO_SYS=1).
 */
#ifndef NET_TCP_GUARD_H
#define NET_TCP_GUARD_H

#include "lwip/opt.h"
#include <stdint.h>

#define TCP_GUARD_HALF_OPEN_GLOBAL   (MEMP_NUM_TCP_PCB / 8)
#define TCP_GUARD_HALF_OPEN_LISTENER 32
#define TCP_GUARD_PCB_FREE_MIN       8
#define TCP_GUARD_SYN_RCVD_MAX_MS    5000
/* Past half the bounds, or this many half-open in all (half the ARP table),
 * a SYN from a next hop without an ARP entry gets an ARP request, not a
 * SYN-ACK; at most this many such requests a second. */
#define TCP_GUARD_HALF_OPEN_ARP (ARP_TABLE_SIZE / 2)
#define TCP_GUARD_ARP_ASK_PER_S 256

/**
 * tcp_guard_init() - draw the ISN and cookie secrets (RDRAND; the TSC, with
 * a warning that ISNs are weak, on a CPU without it), start the half-open
 * scan and register the "tcp_guard" /stats section. Call after lwip_init(),
 * before any TCP pcb exists.
 */
void tcp_guard_init(void);

/* The hooks themselves are declared in net/port/lwip_hooks.h (lwIP's types). */

#endif
