/* The queue fixture of tests/exercises/exercise.h (not the store buffer: check_barrier.c has it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exercise.h"

static void fixture_irq(void *ctx)
{
    (void)ctx;
}

static void fixture_notify(void *ctx, unsigned index)
{
    struct ex_queue *q = ctx;

    vdev_kick(&q->m, index);
    q->doorbells++;
    if (q->hungry)
        vdev_process(&q->m, q->num);
}

struct ex_queue *ex_queue_new(unsigned num, bool event_idx)
{
    struct ex_queue *q = calloc(1, sizeof(*q));
    struct vring_addrs a;
    uint64_t features = event_idx ? 1ull << VIRTIO_RING_F_EVENT_IDX : 0;
    struct vring_config cfg = {
        .index = 0, .num = num, .features = features, .notify = fixture_notify, .notify_ctx = q};

    if (!q)
        abort();
    q->num = num;
    q->vr = vring_create(&cfg);
    if (!q->vr) {
        fprintf(stderr, "exercise: vring_create(%u) failed\n", num);
        exit(2);
    }
    vring_get_addrs(q->vr, &a);
    vdev_init(&q->m, &a, num, features, fixture_irq, q);
    return q;
}

void ex_queue_free(struct ex_queue *q)
{
    if (q->m.errors) {
        printf("FAIL: the device model saw a malformed chain: %s\n", q->m.last_error);
        exit(1);
    }
    while (vring_get_used(q->vr, NULL))
        ;
    while (vring_detach_unused(q->vr))
        ;
    vring_destroy(q->vr);
    free(q);
}

static uint8_t rxmem[1024][2048];

int ex_post_rx(struct ex_queue *q, void *cookie)
{
    struct vring_seg seg = {rxmem[(uintptr_t)cookie % 1024], sizeof(rxmem[0])};

    return vring_add(q->vr, &seg, 0, 1, cookie);
}
