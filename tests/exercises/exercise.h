/*
 * What an exercise (docs/exercises/README.md) may use besides the real ring
 * code (drivers/vring.h) and the device model (tests/unit/vdev_model.h): a
 * queue wired to the model, and for the barrier exercise a simulated x86
 * store buffer. `make exercise N=name` builds the file you wrote
 * (docs/exercises/name.c) against tests/exercises/check_name.c, which says
 * PASS or FAIL.
 */
#ifndef TESTS_EXERCISES_EXERCISE_H
#define TESTS_EXERCISES_EXERCISE_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/virtio_ring.h"
#include "drivers/vring.h"
#include "vdev_model.h"

/* A queue of @num entries on the device model, EVENT_IDX negotiated or not. */
struct ex_queue {
    struct vring *vr;
    struct vdev_model m;
    unsigned num;
    /* When true, each doorbell makes the device take every chain it sees
     * (vdev_process()), as QEMU's receive side does while frames wait. */
    bool hungry;
    unsigned long doorbells; /* the driver's kicks that reached the device */
};

struct ex_queue *ex_queue_new(unsigned num, bool event_idx);
/* Takes back what is still posted and frees the queue; fails the check on a leak. */
void ex_queue_free(struct ex_queue *q);
/* Post one device-writable 2048-byte buffer (a receive buffer) with @cookie. */
int ex_post_rx(struct ex_queue *q, void *cookie);

/*
 * The store buffer (barrier exercise only): while enabled, the driver's
 * stores to shared ring memory (avail->idx, used_event) wait in a FIFO and
 * reach memory only at virt_mb() or tso_drain(), as on x86, where a store may
 * become visible after a later load. The device model's accesses are not
 * buffered (QEMU fences its side). After each driver load from shared
 * memory, the hook (if set) runs with the address loaded: the moment to let
 * the device act "between" the driver's load and its store.
 */
typedef void (*tso_hook_fn)(const void *addr, void *ctx);
void tso_enable(bool on);
void tso_drain(void);
void tso_set_load_hook(tso_hook_fn fn, void *ctx);

#endif
