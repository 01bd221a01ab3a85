/*
 * Exercise "barrier" (docs/exercises/README.md, chapter 4): write the test
 * that loses a kick when the full barrier before reading avail_event in
 * vring_kick_prepare() is missing. Check with: make exercise N=barrier
 */
#include "tests/exercises/exercise.h"

/*
 * Play one scenario on a queue from ex_queue_new() with the store buffer on
 * (tso_enable(true)), and return how many kicks it lost: chains the device
 * can see once every store has drained (tso_drain()), for which no doorbell
 * came and that the device will therefore never take. With drivers/vring.c
 * as it is this must be 0; with the barrier removed, at least 1.
 */
unsigned ex_barrier_lost_kicks(void)
{
    /* TODO: your scenario. */
    return 0;
}
