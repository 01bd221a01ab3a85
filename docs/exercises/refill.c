/*
 * Exercise "refill" (docs/exercises/README.md, chapter 6): refill a receive
 * ring one buffer at a time, then in one batch, and count the kicks.
 * Check with: make exercise N=refill
 */
#include "tests/exercises/exercise.h"

/* Post @n buffers (ex_post_rx()), each followed by vring_kick(). */
void ex_refill_one_at_a_time(struct ex_queue *q, unsigned n)
{
    (void)q;
    (void)n; /* TODO */
}

/* Post @n buffers, then one vring_kick() for all of them. */
void ex_refill_batch(struct ex_queue *q, unsigned n)
{
    (void)q;
    (void)n; /* TODO */
}

/*
 * Before you run it: how many doorbells reach the device for 32 buffers
 * (EVENT_IDX, a fresh 64-entry queue)? "Waiting": the device takes every
 * buffer it is told about at once (QEMU with frames queued for the guest);
 * "idle": it takes nothing.
 */
const unsigned ex_predict_hungry_one = 0;   /* TODO */
const unsigned ex_predict_hungry_batch = 0; /* TODO */
const unsigned ex_predict_idle_one = 0;     /* TODO */
const unsigned ex_predict_idle_batch = 0;   /* TODO */
