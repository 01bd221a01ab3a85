/*
 * Cycle counters for the data path (/stats "cycles", docs/tracing.md): how
 * many times each section ran and how many TSC cycles it took in total.
 *
 * The caller reads the cycle counter (cycles_now() in arch/x86_64/timer.h,
 * or prof_now() above arch/: the same counter, set by prof_set_counter() at
 * boot) at both ends and hands the difference to prof_add(); this module
 * only adds up, so it stays free of arch code. Sections nest, and each count is
 * inclusive: rx_poll contains lwip_input, which contains app and tx.
 *
 * Context: the main loop only (lwIP's NO_SYS=1 world): no locking.
 */
#ifndef LIB_PROF_H
#define LIB_PROF_H

#include <stdint.h>

enum prof_section {
    PROF_RX_POLL,    /* vnet_poll(): used rings, refill, reclaim, kick (net/netif.c) */
    PROF_LWIP_INPUT, /* netif->input up to its return: the whole stack for one frame */
    PROF_APP,        /* the apps' lwIP callbacks (apps/app.h app_cycles_begin()/_end()) */
    PROF_TX,         /* netif->linkoutput: one frame to a descriptor chain */
    PROF_TX_KICK,    /* the transmit kick decision and doorbell (drivers/virtio_net.c) */
    PROF_SECTIONS
};

struct prof_counter {
    uint64_t calls;
    uint64_t cycles;
};

extern struct prof_counter prof_counters[PROF_SECTIONS];

/** prof_add() - count one run of @s that took @cycles. */
static inline void prof_add(enum prof_section s, uint64_t cycles)
{
    prof_counters[s].calls++;
    prof_counters[s].cycles += cycles;
}

/** prof_set_counter() - the cycle counter prof_now() reads (boot/main.c: the TSC). */
void prof_set_counter(uint64_t (*read)(void));

/** prof_now() - the cycle counter, for layers that may not include arch/ (0 before prof_set_counter()). */
uint64_t prof_now(void);

/** prof_name() - the section's name in /stats ("rx_poll", ...), or NULL past the last. */
const char *prof_name(unsigned s);

/** prof_get() - the counters of section @s (zero past the last). */
struct prof_counter prof_get(unsigned s);

/**
 * prof_cycles_to_ns() - @cycles at @hz cycles a second, in ns, without
 * overflowing for any uptime (0 when @hz is 0).
 */
uint64_t prof_cycles_to_ns(uint64_t cycles, uint64_t hz);

#endif
