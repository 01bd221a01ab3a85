/*
 * Exercise "usedlen" (docs/exercises/README.md, chapter 4): make the device
 * lie about a used length and see the queue marked broken.
 * Check with: make exercise N=usedlen
 */
#include "tests/exercises/exercise.h"

/* Take one posted buffer (vdev_pop()) and give it back claiming more bytes than it holds. */
void ex_device_lies(struct vdev_model *m)
{
    (void)m; /* TODO */
}
