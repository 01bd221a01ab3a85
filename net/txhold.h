/*
 * Memory the NIC may still read: app memory handed to lwIP without a copy
 * (tcp_write() without TCP_WRITE_FLAG_COPY makes PBUF_ROM payload pbufs
 * pointing at it) stays alive until the transmit ring has given back every
 * frame that could have been built from it. docs/tx.md explains why
 * tcp_sent(), tcp_err() and tcp_abort() are not that moment.
 *
 * Epochs: txhold_defer() stamps the object with the number of frames each
 * NIC's driver has submitted so far; it is released once, on every NIC, the
 * oldest frame still in flight is at or past that number. Correct because when lwIP has told
 * the app that it is done with the memory (the peer's ACK in tcp_sent, the
 * err callback, tcp_abort() returning), it builds no further frame from it:
 * only frames already submitted can still point there.
 */
#ifndef NET_TXHOLD_H
#define NET_TXHOLD_H

#include <stdint.h>

#include "drivers/nic.h"

struct txhold {
    struct txhold *next;
    uint64_t after[NIC_MAX]; /* frames each NIC had submitted when it was deferred */
    void (*release)(struct txhold *h);
};

/**
 * txhold_defer() - call @release(@h) once no frame submitted so far is in
 * the transmit ring (at once when none is). @h must not be inside the
 * memory lwIP referenced (it is written now). Context: main loop.
 */
void txhold_defer(struct txhold *h, void (*release)(struct txhold *h));

/**
 * txhold_set_push() - @push hands every frame the stack has queued but not
 * yet given to a NIC (net/ethif.c, TSO) to its NIC; txhold_defer() calls it
 * first, so its stamp counts every frame that could read the memory.
 * Context: start-up (net/netif.c).
 */
void txhold_set_push(void (*push)(void));

/** txhold_run() - release what the ring no longer needs; the main loop, after the NIC's poll. */
void txhold_run(void);

/** txhold_pending() - objects waiting for the ring (for /stats). */
unsigned txhold_pending(void);

#endif
