/*
 * Solution of exercise "usedlen" (docs/exercises/README.md). The used entry
 * says the device wrote in_len + 1 bytes into a chain whose writable part
 * is in_len (2048). Trusted, the driver would hand lwIP a frame that runs
 * past its buffer; vring_get_used() compares the length with what it
 * recorded when the chain was added (state[id].in_len, never re-read from
 * shared memory) and breaks the queue instead (virtio 1.2 2.7.8.3).
 */
#include "tests/exercises/exercise.h"

void ex_device_lies(struct vdev_model *m)
{
    struct vdev_elem e;

    if (vdev_pop(m, &e) == 1)
        vdev_push(m, &e, e.in_len + 1);
}
