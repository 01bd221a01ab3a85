/*
 * Solution of exercise "barrier" (docs/exercises/README.md). The lost kick
 * is the store-buffering race of virtio 1.2 2.7.13.4:
 *
 *   driver                               device
 *   avail->idx = 2   (sits in the         pops chain A: avail_event = 1,
 *                     store buffer)       looks at avail->idx: still 1,
 *   reads avail_event: 0 (stale)          goes to sleep
 *   0 says "the device knows": no kick
 *   ... the store drains: B waits for a kick that never comes
 *
 * With virt_mb() between the store and the load, the device's second look
 * sees avail->idx = 2 and takes B itself.
 */
#include "tests/exercises/exercise.h"

static struct ex_queue *q;

/* The device finishes its pass right after the driver read avail_event. */
static void device_runs(const void *addr, void *ctx)
{
    (void)ctx;
    if (addr != vdev_avail_event_addr(&q->m))
        return;
    tso_set_load_hook(NULL, NULL);
    vdev_process(&q->m, q->num); /* pops what it sees: avail_event moves on each pop */
}

unsigned ex_barrier_lost_kicks(void)
{
    unsigned lost;
    unsigned long doorbells;

    q = ex_queue_new(8, true);
    /* Chain A: published and kicked (avail_event is 0, the device has not run yet). */
    ex_post_rx(q, (void *)1);
    vring_kick(q->vr);
    /* Chain B, while the device is still busy with A. */
    tso_enable(true);
    ex_post_rx(q, (void *)2);
    doorbells = q->doorbells;
    tso_set_load_hook(device_runs, NULL);
    vring_kick(q->vr);
    tso_set_load_hook(NULL, NULL);
    tso_drain();
    tso_enable(false);
    /* Whatever the device can now see but never took, with no new doorbell, is lost. */
    lost = q->doorbells == doorbells ? vdev_avail_pending(&q->m) : 0;
    ex_queue_free(q);
    return lost;
}
