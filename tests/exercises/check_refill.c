/*
 * Exercise "refill" (docs/exercises/README.md, chapter 6): your two refill
 * loops (docs/exercises/refill.c) against drivers/vring.c with EVENT_IDX,
 * on a device that is waiting with frames to deliver (it takes each buffer
 * as soon as it is told) and on one that is idle. The doorbells must be the
 * ones the reference loops below ring, and your predictions must say so.
 */
#include <stdio.h>

#include "exercise.h"

#define N 32

void ex_refill_one_at_a_time(struct ex_queue *q, unsigned n);
void ex_refill_batch(struct ex_queue *q, unsigned n);
extern const unsigned ex_predict_hungry_one, ex_predict_hungry_batch, ex_predict_idle_one,
    ex_predict_idle_batch;

static void ref_one(struct ex_queue *q, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        ex_post_rx(q, (void *)(uintptr_t)(i + 1));
        vring_kick(q->vr);
    }
}

static void ref_batch(struct ex_queue *q, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        ex_post_rx(q, (void *)(uintptr_t)(i + 1));
    vring_kick(q->vr);
}

/* Doorbells and buffers the device got from @fill on a fresh queue. */
static unsigned long run(void (*fill)(struct ex_queue *, unsigned), bool hungry, unsigned *posted)
{
    struct ex_queue *q = ex_queue_new(64, true);
    unsigned long d;

    q->hungry = hungry;
    fill(q, N);
    /* What the device can see now, taken or not. */
    *posted = (unsigned)(uint16_t)(q->m.last_avail + vdev_avail_pending(&q->m));
    d = q->doorbells;
    ex_queue_free(q);
    return d;
}

int main(void)
{
    static const struct {
        const char *what;
        void (*yours)(struct ex_queue *, unsigned), (*ref)(struct ex_queue *, unsigned);
        bool hungry;
        const unsigned *predicted;
    } cases[] = {
        {"one at a time, device waiting for buffers", ex_refill_one_at_a_time, ref_one, true,
         &ex_predict_hungry_one},
        {"in one batch, device waiting for buffers", ex_refill_batch, ref_batch, true,
         &ex_predict_hungry_batch},
        {"one at a time, device idle", ex_refill_one_at_a_time, ref_one, false, &ex_predict_idle_one},
        {"in one batch, device idle", ex_refill_batch, ref_batch, false, &ex_predict_idle_batch},
    };
    int bad = 0;

    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned posted, ref_posted;
        unsigned long got = run(cases[i].yours, cases[i].hungry, &posted);
        unsigned long want = run(cases[i].ref, cases[i].hungry, &ref_posted);

        printf("%d buffers %s: %lu doorbells (reference %lu, you predicted %u)\n", N, cases[i].what, got,
               want, *cases[i].predicted);
        if (posted != N) {
            printf("FAIL: the device saw %u buffers, not %d\n", posted, N);
            bad = 1;
        } else if (got != want) {
            printf("FAIL: your loop rang %lu doorbells where the reference rings %lu\n", got, want);
            bad = 1;
        } else if (*cases[i].predicted != want) {
            printf("FAIL: the prediction is %u\n", *cases[i].predicted);
            bad = 1;
        }
    }
    return bad;
}
