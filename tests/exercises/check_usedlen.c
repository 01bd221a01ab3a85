/*
 * Exercise "usedlen" (docs/exercises/README.md, chapter 4): your device
 * (docs/exercises/usedlen.c) returns a receive buffer with a used length
 * larger than the buffer. drivers/vring.c must refuse it: no buffer back,
 * the queue marked broken, one log line, and nothing taken after that.
 */
#include <stdio.h>
#include <string.h>

#include "exercise.h"
#include "lib/klog.h"

void ex_device_lies(struct vdev_model *m);

int main(void)
{
    struct ex_queue *q = ex_queue_new(8, true);
    uint32_t len = 0;
    void *got;

    for (unsigned i = 0; i < 4; i++)
        ex_post_rx(q, (void *)(uintptr_t)(i + 1));
    vring_kick(q->vr);
    vdev_klog_clear();
    ex_device_lies(&q->m);
    if (!vring_has_used(q->vr) && !vring_is_broken(q->vr)) {
        printf("FAIL: your device returned nothing (used->idx did not move)\n");
        return 1;
    }
    got = vring_get_used(q->vr, &len);
    if (got) {
        printf("FAIL: the driver took buffer %p with len %u: not a lie (a buffer holds 2048 bytes)\n", got,
               len);
        return 1;
    }
    if (!vring_is_broken(q->vr)) {
        printf("FAIL: vring_get_used() returned nothing but the queue is not broken\n");
        return 1;
    }
    if (vdev_klog_count() != 1 || !strstr(vdev_klog_last(), "exceeds writable")) {
        printf("FAIL: expected one log line about the length, got %u: %s\n", vdev_klog_count(),
               vdev_klog_count() ? vdev_klog_last() : "");
        return 1;
    }
    printf("the driver said: %s\n", vdev_klog_last());
    /* Broken stays broken: even an honest entry now is not taken. */
    vdev_process(&q->m, 8);
    if (vring_get_used(q->vr, NULL) || ex_post_rx(q, (void *)9) >= 0) {
        printf("FAIL: a broken queue gave or took a buffer\n");
        return 1;
    }
    ex_queue_free(q);
    printf("queue broken, nothing taken\n");
    return 0;
}
