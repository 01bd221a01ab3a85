/*
 * Solution of exercise "refill" (docs/exercises/README.md). With EVENT_IDX
 * the device asks to be kicked when avail->idx passes avail_event, and
 * writes avail_event = last_avail each time it takes a chain (QEMU's
 * virtqueue_split_pop()). A device that takes each buffer at once has always
 * caught up, so each single-buffer kick crosses avail_event: one doorbell
 * per buffer, 32. An idle device wrote avail_event once (0): the first add
 * crosses it, the next 31 do not, since it has not read them yet: 1. A batch
 * is one kick decision: 1 either way. Refilling one buffer at a time costs
 * a doorbell per buffer exactly when the device is busiest, which is why
 * vnet_poll() refills only once half the ring is empty.
 */
#include "tests/exercises/exercise.h"

void ex_refill_one_at_a_time(struct ex_queue *q, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        ex_post_rx(q, (void *)(uintptr_t)(i + 1));
        vring_kick(q->vr);
    }
}

void ex_refill_batch(struct ex_queue *q, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        ex_post_rx(q, (void *)(uintptr_t)(i + 1));
    vring_kick(q->vr);
}

const unsigned ex_predict_hungry_one = 32;
const unsigned ex_predict_hungry_batch = 1;
const unsigned ex_predict_idle_one = 1;
const unsigned ex_predict_idle_batch = 1;
