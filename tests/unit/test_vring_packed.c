/*
 * Host tests of the packed virtqueue (drivers/vring_packed.c, reached through
 * drivers/vring.c's interface as every caller reaches it) against the device
 * model in pdev_model.c (virtio 1.2 spec 2.8). Each test drives the real ring
 * code, lets the model play the device through shared memory only, and
 * asserts on what both sides saw: cookies, lengths, positions, wrap counters,
 * notifications, counters and log lines.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/virtio_ring.h"
#include "drivers/vring.h"
#include "lib/klog.h"
#include "pdev_model.h"

#define F_PACKED   (1ull << VIRTIO_RING_F_PACKED)
#define F_INDIRECT (1ull << VIRTIO_RING_F_INDIRECT_DESC)
#define F_EVENT    (1ull << VIRTIO_RING_F_EVENT_IDX)

struct fx {
    struct vring *vr;
    long dma_before;
    struct pdev_model m;
    unsigned num;
    unsigned long irq_work;
};

static void fx_irq(void *ctx)
{
    struct fx *f = ctx;

    if (vring_interrupt(f->vr))
        f->irq_work++;
}

static void fx_init(struct fx *f, unsigned num, uint64_t features)
{
    struct vring_config cfg = {
        .index = 5,
        .num = num,
        .features = features | F_PACKED,
        .notify = pdev_kick,
        .notify_ctx = &f->m,
    };
    struct vring_addrs a;

    memset(f, 0, sizeof(*f));
    f->num = num;
    f->dma_before = vdev_dma_outstanding;
    vdev_klog_clear();
    f->vr = vring_create(&cfg);
    assert_non_null(f->vr);
    assert_true(vring_is_packed(f->vr));
    vring_get_addrs(f->vr, &a);
    pdev_init(&f->m, &a, num, features, fx_irq, f);
    assert_int_equal(f->m.errors, 0);
}

static void fx_fini(struct fx *f)
{
    while (vring_detach_unused(f->vr))
        ;
    assert_int_equal(vring_num_free(f->vr), f->num);
    vring_destroy(f->vr);
    assert_int_equal(vdev_dma_outstanding, f->dma_before);
    if (f->m.errors)
        fail_msg("device model: %s", f->m.last_error);
}

#define COOKIE(n) ((void *)(uintptr_t)(0x1000 + (n)))

static uint8_t bufmem[1 << 16];

static int add_chain(struct fx *f, unsigned n_out, unsigned n_in, void *cookie)
{
    struct vring_seg segs[40];
    unsigned i;

    assert_true(n_out + n_in <= 40);
    for (i = 0; i < n_out + n_in; i++) {
        segs[i].addr = &bufmem[(i * 64 + ((uintptr_t)cookie & 0xff) * 2048) % (sizeof(bufmem) - 64)];
        segs[i].len = 64;
    }
    return vring_add(f->vr, segs, n_out, n_in, cookie);
}

static struct vring_state state_of(struct fx *f)
{
    struct vring_state s;

    vring_get_state(f->vr, &s);
    return s;
}

static struct vring_stats stats_of(struct fx *f)
{
    struct vring_stats s;

    vring_get_stats(f->vr, &s);
    return s;
}

/* ---- layout and creation ---- */

static void test_layout(void **unused)
{
    struct fx f;
    struct vring_addrs a;

    (void)unused;
    fx_init(&f, 256, F_EVENT);
    vring_get_addrs(f.vr, &a);
    /* 2.8.10.1 and the area table: ring 16 * num, 16-aligned; two 4-byte areas. */
    assert_int_equal(a.desc % 16, 0);
    assert_int_equal(a.driver, a.desc + 16 * 256);
    assert_int_equal(a.device, a.driver + 4);
    assert_true(vring_mem_size(256, false, F_PACKED) >= 16 * 256 + 8);
    /* Indirect tables add to it; any size 1..32768 is a valid packed queue. */
    assert_true(vring_mem_size(256, false, F_PACKED | F_INDIRECT) > vring_mem_size(256, false, F_PACKED));
    assert_int_not_equal(vring_mem_size(100, false, F_PACKED), 0);
    assert_int_equal(vring_mem_size(0, false, F_PACKED), 0);
    assert_int_equal(vring_mem_size(32769, false, F_PACKED), 0);
    assert_true(state_of(&f).packed);
    assert_true(state_of(&f).avail_wrap && state_of(&f).used_wrap); /* 2.8.1: both start at 1 */
    fx_fini(&f);
}

static void test_create_rejects_legacy(void **unused)
{
    struct pdev_model m;
    struct vring_config cfg = {
        .num = 64, .legacy = true, .features = F_PACKED, .notify = pdev_kick, .notify_ctx = &m};

    (void)unused;
    vdev_klog_clear();
    assert_null(vring_create(&cfg));
    cfg.legacy = false;
    cfg.notify = NULL;
    assert_null(vring_create(&cfg));
}

/* ---- data path ---- */

static void test_add_get_roundtrip(void **unused)
{
    struct fx f;
    struct pdev_elem e;
    uint32_t len = 0;
    const char msg[] = "hello, packed ring";

    (void)unused;
    fx_init(&f, 8, 0);
    assert_int_equal(add_chain(&f, 1, 1, COOKIE(1)), 0);
    assert_int_equal(vring_num_free(f.vr), 6);
    assert_true(vring_kick(f.vr));
    assert_int_equal(f.m.kicks, 1);
    assert_int_equal(pdev_pop(&f.m, &e), 1);
    assert_int_equal(e.n_out, 1);
    assert_int_equal(e.n_in, 1);
    assert_int_equal(e.ndesc, 2);
    assert_false(vring_has_used(f.vr));
    assert_null(vring_get_used(f.vr, &len));
    pdev_write(&e, msg, sizeof(msg));
    pdev_push(&f.m, &e, sizeof(msg));
    assert_true(vring_has_used(f.vr));
    assert_ptr_equal(vring_get_used(f.vr, &len), COOKIE(1));
    assert_int_equal(len, sizeof(msg));
    assert_memory_equal(e.in[0].addr, msg, sizeof(msg));
    assert_int_equal(vring_num_free(f.vr), 8);
    assert_null(vring_get_used(f.vr, &len));
    assert_false(vring_is_broken(f.vr));
    fx_fini(&f);
}

static void test_add_errors(void **unused)
{
    struct fx f;
    struct vring_seg big[2] = {{bufmem, 0x80000000u}, {bufmem, 0x80000000u}};

    (void)unused;
    fx_init(&f, 4, 0);
    assert_int_equal(add_chain(&f, 0, 0, COOKIE(1)), -EINVAL);
    assert_int_equal(add_chain(&f, 1, 0, NULL), -EINVAL);
    assert_int_equal(add_chain(&f, 3, 2, COOKIE(1)), -EINVAL); /* longer than the queue */
    assert_int_equal(vring_add(f.vr, big, 1, 1, COOKIE(2)), -EINVAL);
    assert_int_equal(add_chain(&f, 2, 1, COOKIE(3)), 0);
    assert_int_equal(add_chain(&f, 1, 1, COOKIE(4)), -ENOSPC);
    assert_int_equal(stats_of(&f).ring_full, 1);
    assert_int_equal(add_chain(&f, 0, 1, COOKIE(5)), 0);
    assert_int_equal(vring_num_free(f.vr), 0);
    fx_fini(&f);
}

/* A chain of direct descriptors across the end of the ring: NEXT links
 * positions num-1 and 0, whose AVAIL/USED carry different wrap counters. */
static void test_chain_across_wrap(void **unused)
{
    struct fx f;
    struct pdev_elem e;
    uint32_t len;

    (void)unused;
    fx_init(&f, 4, 0);
    assert_int_equal(add_chain(&f, 1, 1, COOKIE(1)), 0); /* positions 0, 1 */
    assert_int_equal(pdev_process(&f.m, 8), 1);
    assert_ptr_equal(vring_get_used(f.vr, &len), COOKIE(1));
    assert_int_equal(add_chain(&f, 1, 0, COOKIE(2)), 0); /* position 2 */
    assert_int_equal(add_chain(&f, 1, 2, COOKIE(3)), 0); /* positions 3, 0, 1: across the wrap */
    assert_false(state_of(&f).avail_wrap);
    assert_int_equal(pdev_pop(&f.m, &e), 1);
    assert_int_equal(e.ndesc, 1);
    assert_int_equal(pdev_pop(&f.m, &e), 1);
    assert_int_equal(e.ndesc, 3);
    assert_int_equal(e.n_out, 1);
    assert_int_equal(e.n_in, 2);
    pdev_push(&f.m, &e, 128); /* the long one first: out of order */
    assert_ptr_equal(vring_get_used(f.vr, &len), COOKIE(3));
    assert_int_equal(len, 128);
    assert_null(vring_get_used(f.vr, &len));
    fx_fini(&f); /* COOKIE(2) is detached */
}

static void test_indirect(void **unused)
{
    struct fx f;
    struct pdev_elem e;
    uint32_t len;

    (void)unused;
    fx_init(&f, 8, F_INDIRECT);
    assert_int_equal(vring_add_cost(f.vr, 5), 1);
    assert_int_equal(add_chain(&f, 2, 3, COOKIE(1)), 0);
    assert_int_equal(vring_num_free(f.vr), 7);           /* one ring descriptor for five segments */
    assert_int_equal(add_chain(&f, 1, 0, COOKIE(2)), 0); /* one segment: direct */
    assert_int_equal(vring_num_free(f.vr), 6);
    assert_int_equal(pdev_pop(&f.m, &e), 1);
    assert_true(e.indirect);
    assert_int_equal(e.n_out, 2);
    assert_int_equal(e.n_in, 3);
    assert_int_equal(e.ndesc, 1);
    pdev_push(&f.m, &e, 3 * 64);
    assert_int_equal(pdev_pop(&f.m, &e), 1);
    assert_false(e.indirect);
    pdev_push(&f.m, &e, 0);
    assert_ptr_equal(vring_get_used(f.vr, &len), COOKIE(1));
    assert_int_equal(len, 192);
    assert_ptr_equal(vring_get_used(f.vr, &len), COOKIE(2));
    assert_int_equal(len, 0);
    assert_int_equal(vring_num_free(f.vr), 8);
    fx_fini(&f);
}

/* Out-of-order completion: ids, not positions, say which chain is done. */
static void test_out_of_order(void **unused)
{
    struct fx f;
    struct pdev_elem e[4];
    uint32_t len;
    unsigned i;

    (void)unused;
    fx_init(&f, 16, 0);
    for (i = 0; i < 4; i++)
        assert_int_equal(add_chain(&f, 1, i + 1, COOKIE(i)), 0);
    for (i = 0; i < 4; i++)
        assert_int_equal(pdev_pop(&f.m, &e[i]), 1);
    pdev_push(&f.m, &e[2], 10);
    pdev_push(&f.m, &e[0], 20);
    pdev_push(&f.m, &e[3], 30);
    assert_ptr_equal(vring_get_used(f.vr, &len), COOKIE(2));
    assert_int_equal(len, 10);
    assert_ptr_equal(vring_get_used(f.vr, &len), COOKIE(0));
    assert_int_equal(len, 20);
    assert_ptr_equal(vring_get_used(f.vr, &len), COOKIE(3));
    assert_int_equal(len, 30);
    assert_null(vring_get_used(f.vr, &len));
    assert_int_equal(state_of(&f).in_flight, 1);
    pdev_push(&f.m, &e[1], 40);
    assert_ptr_equal(vring_get_used(f.vr, &len), COOKIE(1));
    assert_int_equal(state_of(&f).last_used_idx, state_of(&f).avail_idx);
    fx_fini(&f);
}

/*
 * Many laps of a small ring (sizes that are and are not powers of two), past
 * 2^16 chains: mixed chain lengths, completion in a shuffled order, ids
 * reused, every cookie back once with its length.
 */
static void wraparound(unsigned num, uint64_t features)
{
    struct fx f;
    struct pdev_elem held[8];
    unsigned nheld = 0, added = 0, got = 0, laps_seen = 0, seed = 12345;
    bool last_wrap = true;
    uint32_t len;
    void *c;

    fx_init(&f, num, features);
    while (got < 70000) {
        /* Add while there is room. */
        for (;;) {
            unsigned segs = 1 + (seed >> 16) % 3;

            seed = seed * 1103515245u + 12345u;
            if (segs > num)
                segs = num;
            if (add_chain(&f, segs > 1 ? 1 : 0, segs > 1 ? segs - 1 : 1, COOKIE(added & 0xffff)) != 0)
                break;
            added++;
            vring_kick(f.vr);
        }
        /* The device pops everything, completes in a scrambled order. */
        while (nheld < 8 && pdev_pop(&f.m, &held[nheld]) == 1)
            nheld++;
        assert_true(nheld > 0);
        while (nheld) {
            unsigned k = (seed >> 8) % nheld;

            seed = seed * 1103515245u + 12345u;
            pdev_push(&f.m, &held[k], held[k].in_len);
            held[k] = held[--nheld];
        }
        pdev_notify(&f.m);
        while ((c = vring_get_used(f.vr, &len)) != NULL) {
            assert_true(c >= COOKIE(0) && c <= COOKIE(0xffff));
            got++;
        }
        if (state_of(&f).used_wrap != last_wrap) {
            last_wrap = !last_wrap;
            laps_seen++;
        }
        assert_false(vring_is_broken(f.vr));
    }
    assert_true(laps_seen > 1000);
    assert_int_equal(got, stats_of(&f).used);
    assert_int_equal(added - got, state_of(&f).in_flight);
    fx_fini(&f);
}

static void test_wraparound_pow2(void **unused)
{
    (void)unused;
    wraparound(4, 0);
}

static void test_wraparound_odd_indirect_event(void **unused)
{
    (void)unused;
    wraparound(3, F_INDIRECT | F_EVENT);
    wraparound(5, F_EVENT);
}

/* ---- event suppression ---- */

static void test_kick_flags(void **unused)
{
    struct fx f;

    (void)unused;
    fx_init(&f, 8, 0);
    assert_false(vring_kick(f.vr)); /* nothing added */
    assert_int_equal(add_chain(&f, 1, 0, COOKIE(1)), 0);
    pdev_set_notification(&f.m, PDEV_EVENT_DISABLE);
    assert_false(vring_kick(f.vr));
    assert_int_equal(stats_of(&f).kicks_suppressed, 1);
    assert_int_equal(add_chain(&f, 1, 0, COOKIE(2)), 0);
    pdev_set_notification(&f.m, PDEV_EVENT_ENABLE);
    assert_true(vring_kick(f.vr));
    assert_int_equal(f.m.kicks, 1);
    /* DESC without EVENT_IDX, or a reserved value: kick (never hang the queue). */
    assert_int_equal(add_chain(&f, 1, 0, COOKIE(3)), 0);
    pdev_set_device_event(&f.m, 0x8000 | 7, PDEV_EVENT_DESC);
    assert_true(vring_kick(f.vr));
    assert_int_equal(add_chain(&f, 1, 0, COOKIE(4)), 0);
    pdev_set_device_event(&f.m, 0, 3);
    assert_true(vring_kick(f.vr));
    fx_fini(&f);
}

static void test_kick_event_desc(void **unused)
{
    struct fx f;
    struct pdev_elem e;
    unsigned i;

    (void)unused;
    fx_init(&f, 8, F_EVENT);
    /* The device wants to hear when position 2 of lap 1 becomes available. */
    pdev_set_device_event(&f.m, 0x8000 | 2, PDEV_EVENT_DESC);
    assert_int_equal(add_chain(&f, 1, 0, COOKIE(0)), 0); /* position 0 */
    assert_int_equal(add_chain(&f, 1, 0, COOKIE(1)), 0); /* position 1 */
    assert_false(vring_kick(f.vr));
    assert_int_equal(add_chain(&f, 1, 0, COOKIE(2)), 0); /* position 2: crossed */
    assert_true(vring_kick(f.vr));
    assert_int_equal(add_chain(&f, 1, 0, COOKIE(3)), 0);
    assert_false(vring_kick(f.vr)); /* already past it */
    /* Across the wrap: drain, then ask for position 1 of lap 0 (the next lap). */
    while (pdev_pop(&f.m, &e) == 1)
        pdev_push(&f.m, &e, 0);
    while (vring_get_used(f.vr, NULL))
        ;
    for (i = 4; i < 8; i++) /* positions 4..7 */
        assert_int_equal(add_chain(&f, 1, 0, COOKIE(i)), 0);
    pdev_set_device_event(&f.m, 0x0000 | 1, PDEV_EVENT_DESC);
    assert_false(vring_kick(f.vr)); /* 4..7 of lap 1 do not reach 1 of lap 0 */
    while (pdev_pop(&f.m, &e) == 1)
        pdev_push(&f.m, &e, 0);
    while (vring_get_used(f.vr, NULL))
        ;
    assert_int_equal(add_chain(&f, 1, 0, COOKIE(8)), 0); /* position 0, lap 0 */
    assert_false(vring_kick(f.vr));
    assert_int_equal(add_chain(&f, 1, 0, COOKIE(9)), 0); /* position 1, lap 0 */
    assert_true(vring_kick(f.vr));
    /* An event of the previous lap, behind us: no kick. */
    assert_int_equal(add_chain(&f, 1, 0, COOKIE(10)), 0);
    pdev_set_device_event(&f.m, 0x8000 | 6, PDEV_EVENT_DESC);
    assert_false(vring_kick(f.vr));
    /* An offset past the ring makes no sense: kick. */
    assert_int_equal(add_chain(&f, 1, 0, COOKIE(11)), 0);
    pdev_set_device_event(&f.m, 0x8000 | 100, PDEV_EVENT_DESC);
    assert_true(vring_kick(f.vr));
    assert_int_equal(f.m.kicks, 3);
    fx_fini(&f);
}

/* A batch across the end of the ring, the device's event in the lap before:
 * positions of that lap must count as -num..-1, not 0..num-1. */
static void test_kick_event_across_wrap(void **unused)
{
    struct fx f;
    unsigned i;

    (void)unused;
    fx_init(&f, 8, F_EVENT);
    for (i = 0; i < 7; i++) {
        assert_int_equal(add_chain(&f, 1, 0, COOKIE(i)), 0);
        assert_int_equal(pdev_process(&f.m, 1), 1);
        assert_non_null(vring_get_used(f.vr, NULL));
    }
    (void)vring_kick_prepare(f.vr);                           /* a fresh batch from here */
    pdev_set_device_event(&f.m, 0x8000 | 7, PDEV_EVENT_DESC); /* position 7 of lap 1 */
    assert_int_equal(add_chain(&f, 1, 0, COOKIE(7)), 0);      /* position 7, lap 1 */
    assert_int_equal(add_chain(&f, 1, 0, COOKIE(8)), 0);      /* position 0, lap 0 */
    assert_false(state_of(&f).avail_wrap);
    assert_true(vring_kick(f.vr));
    fx_fini(&f);
}

static void test_interrupt_suppression_flags(void **unused)
{
    struct fx f;

    (void)unused;
    fx_init(&f, 8, 0);
    assert_int_equal(f.m.driver->flags, PDEV_EVENT_ENABLE);
    vring_disable_cb(f.vr);
    assert_int_equal(f.m.driver->flags, PDEV_EVENT_DISABLE);
    assert_int_equal(add_chain(&f, 0, 1, COOKIE(1)), 0);
    assert_int_equal(pdev_process(&f.m, 8), 1);
    assert_int_equal(f.m.irqs, 0);
    assert_int_equal(f.m.irqs_suppressed, 1);
    assert_false(vring_enable_cb(f.vr)); /* a chain completed meanwhile */
    assert_int_equal(f.m.driver->flags, PDEV_EVENT_ENABLE);
    assert_non_null(vring_get_used(f.vr, NULL));
    assert_true(vring_enable_cb(f.vr));
    assert_int_equal(add_chain(&f, 0, 1, COOKIE(2)), 0);
    assert_int_equal(pdev_process(&f.m, 8), 1);
    assert_int_equal(f.m.irqs, 1);
    assert_int_equal(f.irq_work, 1);
    fx_fini(&f);
}

static void test_interrupt_suppression_event_desc(void **unused)
{
    struct fx f;
    struct pdev_elem e;
    unsigned i, last;

    (void)unused;
    fx_init(&f, 4, F_EVENT);
    /* With EVENT_IDX the driver area is in DESC mode from the start, at position 0 of lap 1. */
    assert_int_equal(f.m.driver->flags, PDEV_EVENT_DESC);
    assert_int_equal(f.m.driver->off_wrap, 0x8000);
    for (i = 0; i < 3; i++)
        assert_int_equal(add_chain(&f, 0, 1, COOKIE(i)), 0);
    assert_int_equal(pdev_process(&f.m, 1), 1); /* position 0: the event */
    assert_int_equal(f.m.irqs, 1);
    assert_int_equal(pdev_process(&f.m, 1), 1); /* not collected yet: the event stays at 0 */
    assert_int_equal(f.m.irqs, 1);
    while (vring_get_used(f.vr, NULL))
        ;
    /* Collected: the event moved to the next used position (2, lap 1). */
    assert_int_equal(f.m.driver->off_wrap, 0x8000 | 2);
    assert_int_equal(pdev_process(&f.m, 1), 1);
    assert_int_equal(f.m.irqs, 2);
    /* Disabled: nothing; re-enabled in the next lap, at (last_used, wrap 0). */
    vring_disable_cb(f.vr);
    assert_int_equal(f.m.driver->flags, PDEV_EVENT_DISABLE);
    assert_non_null(vring_get_used(f.vr, NULL));
    assert_int_equal(add_chain(&f, 0, 1, COOKIE(3)), 0); /* position 3 */
    assert_int_equal(add_chain(&f, 0, 1, COOKIE(4)), 0); /* position 0, lap 0 */
    assert_int_equal(pdev_pop(&f.m, &e), 1);
    pdev_push(&f.m, &e, 1);
    assert_false(pdev_notify(&f.m));
    assert_non_null(vring_get_used(f.vr, NULL));
    last = vring_enable_cb_prepare(f.vr);
    assert_int_equal(last, 0x0000); /* position 0, wrap counter 0 */
    assert_int_equal(f.m.driver->flags, PDEV_EVENT_DESC);
    assert_false(vring_poll(f.vr, last));
    assert_int_equal(pdev_process(&f.m, 1), 1);
    assert_int_equal(f.m.irqs, 3);
    assert_true(vring_poll(f.vr, last));
    fx_fini(&f);
}

/* The race vring_poll() closes: a chain completed after enable_cb_prepare(). */
static void test_enable_poll_race(void **unused)
{
    struct fx f;
    unsigned last;

    (void)unused;
    fx_init(&f, 8, F_EVENT);
    assert_int_equal(add_chain(&f, 0, 1, COOKIE(1)), 0);
    vring_disable_cb(f.vr);
    last = vring_enable_cb_prepare(f.vr);
    assert_int_equal(pdev_process(&f.m, 8), 1);
    assert_true(vring_poll(f.vr, last));
    assert_non_null(vring_get_used(f.vr, NULL));
    last = vring_enable_cb_prepare(f.vr);
    assert_false(vring_poll(f.vr, last));
    fx_fini(&f);
}

static void test_enable_cb_delayed(void **unused)
{
    struct fx f;
    struct pdev_elem e;
    unsigned i;

    (void)unused;
    fx_init(&f, 16, F_EVENT);
    for (i = 0; i < 8; i++)
        assert_int_equal(add_chain(&f, 0, 1, COOKIE(i)), 0);
    vring_disable_cb(f.vr);
    assert_true(vring_enable_cb_delayed(f.vr));
    /* 3/4 of 8 outstanding: the event is at position 6 of lap 1. */
    assert_int_equal(f.m.driver->off_wrap, 0x8000 | 6);
    assert_int_equal(f.m.driver->flags, PDEV_EVENT_DESC);
    for (i = 0; i < 6; i++) {
        assert_int_equal(pdev_pop(&f.m, &e), 1);
        pdev_push(&f.m, &e, 1);
        assert_false(pdev_notify(&f.m));
    }
    assert_int_equal(pdev_pop(&f.m, &e), 1);
    pdev_push(&f.m, &e, 1);
    assert_true(pdev_notify(&f.m));
    /* Completions since the caller collected: report work. */
    assert_false(vring_enable_cb_delayed(f.vr));
    fx_fini(&f);
}

/* ---- a hostile device ---- */

/* One chain in flight, popped; the device then lies with @flags/@id/@len. */
static void lie(uint16_t id_delta, bool id_abs, uint32_t len, int flags_kind, const char *want)
{
    struct fx f;
    struct pdev_elem e;
    uint16_t flags, id;

    fx_init(&f, 8, 0);
    assert_int_equal(add_chain(&f, 1, 1, COOKIE(1)), 0);
    assert_int_equal(add_chain(&f, 1, 1, COOKIE(2)), 0);
    assert_int_equal(pdev_pop(&f.m, &e), 1);
    flags = pdev_used_flags(&f.m);
    /* (AVAIL, USED) = (1, 0) is how we wrote it (available, lap 1): not a lie. */
    if (flags_kind == 2)
        flags = 0x8000; /* AVAIL 0, USED 1 */
    else if (flags_kind == 3)
        flags = 0; /* used, but in the other lap */
    id = id_abs ? id_delta : (uint16_t)(e.id + id_delta);
    pdev_push_raw(&f.m, id, len, flags, 2);
    vdev_klog_clear();
    assert_null(vring_get_used(f.vr, NULL));
    assert_true(vring_is_broken(f.vr));
    assert_int_equal(vdev_klog_count_level(LOG_ERR), 1);
    assert_non_null(strstr(vdev_klog_last(), want));
    /* Logged once, never trusted again. */
    assert_null(vring_get_used(f.vr, NULL));
    assert_false(vring_has_used(f.vr));
    assert_int_equal(add_chain(&f, 1, 0, COOKIE(3)), -EIO);
    assert_int_equal(vdev_klog_count(), 1);
    assert_int_equal(stats_of(&f).broken, 1);
    /* Recovery (vnet_recover's steps): reset refused while chains are in flight,
     * then every chain detached, reset, and the queue works again. */
    assert_int_equal(vring_reset(f.vr), -EBUSY);
    assert_non_null(vring_detach_unused(f.vr));
    assert_non_null(vring_detach_unused(f.vr));
    assert_null(vring_detach_unused(f.vr));
    assert_int_equal(vring_reset(f.vr), 0);
    assert_false(vring_is_broken(f.vr));
    {
        struct vring_addrs a;

        vring_get_addrs(f.vr, &a);
        pdev_init(&f.m, &a, 8, 0, fx_irq, &f); /* the device was reset too */
    }
    assert_int_equal(add_chain(&f, 1, 1, COOKIE(4)), 0);
    assert_int_equal(pdev_process(&f.m, 8), 1);
    assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(4));
    assert_int_equal(stats_of(&f).broken, 1);
    fx_fini(&f);
}

static void test_hostile_id_out_of_range(void **unused)
{
    (void)unused;
    lie(8, true, 0, 0, "used id 8 out of range");
    lie(0xffff, true, 0, 0, "out of range");
}

static void test_hostile_id_not_in_flight(void **unused)
{
    (void)unused;
    lie(5, true, 0, 0, "used id 5 is not a buffer in flight");
}

static void test_hostile_length(void **unused)
{
    (void)unused;
    lie(0, false, 65, 0, "used len 65 for id 0 exceeds writable 64");
}

static void test_hostile_wrap_flags(void **unused)
{
    (void)unused;
    lie(0, false, 0, 2, "wrap flags avail 0 used 1");
    lie(0, false, 0, 3, "wrong lap");
}

/* A chain completed twice: the second used descriptor names an id no longer in flight. */
static void test_hostile_duplicate_completion(void **unused)
{
    struct fx f;
    struct pdev_elem e;

    (void)unused;
    fx_init(&f, 8, 0);
    assert_int_equal(add_chain(&f, 1, 1, COOKIE(1)), 0);
    assert_int_equal(add_chain(&f, 1, 1, COOKIE(2)), 0);
    assert_int_equal(pdev_pop(&f.m, &e), 1);
    pdev_push(&f.m, &e, 64);
    pdev_push(&f.m, &e, 64); /* again, at the next position */
    vdev_klog_clear();
    assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(1));
    assert_null(vring_get_used(f.vr, NULL));
    assert_true(vring_is_broken(f.vr));
    assert_int_equal(vdev_klog_count(), 1);
    assert_non_null(strstr(vdev_klog_last(), "is not a buffer in flight"));
    fx_fini(&f);
}

/* The device scribbles over a descriptor we made available: nothing we rely on lives there. */
static void test_hostile_scribble_on_available(void **unused)
{
    struct fx f;
    uint32_t len;

    (void)unused;
    fx_init(&f, 8, 0);
    assert_int_equal(add_chain(&f, 1, 1, COOKIE(1)), 0);
    f.m.ring[0].id = 7; /* id and len of a descriptor still available: ignored */
    f.m.ring[0].len = 0xffffffffu;
    f.m.ring[1].flags = 0xffff;
    assert_null(vring_get_used(f.vr, &len));
    assert_false(vring_is_broken(f.vr));
    fx_fini(&f);
}

/* The device lost its place: it moves its used position on without writing
 * (as if it had used @n descriptors), the way a device that skipped a
 * position would. */
static void device_skips(struct fx *f, unsigned n)
{
    f->m.next_used += n;
    while (f->m.next_used >= f->m.num) {
        f->m.next_used -= f->m.num;
        f->m.used_wrap = !f->m.used_wrap;
    }
}

/*
 * A device that skips a position writes its used descriptors where we never
 * look: without a check we would wait at last_used for ever (a silent
 * stall). vring_check() (the watchdog's, once a second) breaks the queue the
 * second time it sees the same skip with nothing completed in between, and
 * says where; a lap in, so the wrap counters are exercised too.
 */
static void test_hostile_skipped_position(void **unused)
{
    struct fx f;
    struct pdev_elem e;
    unsigned i;

    (void)unused;
    fx_init(&f, 8, 0);
    for (i = 0; i < 3; i++) { /* positions 0-5 of lap 1 used properly */
        assert_int_equal(add_chain(&f, 1, 1, COOKIE(i)), 0);
        assert_int_equal(pdev_process(&f.m, 8), 1);
        assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(i));
    }
    assert_int_equal(add_chain(&f, 1, 1, COOKIE(10)), 0); /* 6-7 */
    assert_int_equal(add_chain(&f, 1, 1, COOKIE(11)), 0); /* 0-1 of lap 2 */
    assert_int_equal(pdev_pop(&f.m, &e), 1);
    device_skips(&f, 2);
    pdev_push(&f.m, &e, 64); /* at position 0, lap 2 */
    vdev_klog_clear();
    assert_null(vring_get_used(f.vr, NULL));
    assert_false(vring_check(f.vr)); /* first sight: maybe a batch being written */
    assert_false(vring_is_broken(f.vr));
    assert_null(vring_get_used(f.vr, NULL));
    assert_true(vring_check(f.vr)); /* still so, nothing completed: the device skipped */
    assert_true(vring_is_broken(f.vr));
    assert_int_equal(vdev_klog_count_level(LOG_ERR), 1);
    assert_non_null(strstr(vdev_klog_last(), "descriptor 0 stays marked used while 6"));
    assert_false(vring_check(f.vr)); /* said once */
    assert_int_equal(vdev_klog_count(), 1);
    assert_int_equal(stats_of(&f).broken, 1);
    fx_fini(&f);
}

/* A used descriptor past ours that the device is still writing the batch
 * of (QEMU writes a batch's first flags last) is not a skip: seen once, it
 * is looked at again, and a chain completed in between starts the count
 * afresh. */
static void test_batch_being_written_is_not_a_skip(void **unused)
{
    struct fx f;
    struct pdev_elem e1, e2, e3;
    uint16_t f0, f2;

    (void)unused;
    fx_init(&f, 8, 0);
    assert_int_equal(add_chain(&f, 1, 1, COOKIE(1)), 0); /* 0-1 */
    assert_int_equal(add_chain(&f, 1, 1, COOKIE(2)), 0); /* 2-3 */
    assert_int_equal(add_chain(&f, 1, 1, COOKIE(3)), 0); /* 4-5 */
    assert_int_equal(pdev_pop(&f.m, &e1), 1);
    assert_int_equal(pdev_pop(&f.m, &e2), 1);
    assert_int_equal(pdev_pop(&f.m, &e3), 1);
    pdev_push(&f.m, &e1, 64);
    pdev_push(&f.m, &e2, 64);
    pdev_push(&f.m, &e3, 64);
    f0 = f.m.ring[0].flags;
    f2 = f.m.ring[2].flags;
    f.m.ring[0].flags = (uint16_t)(f0 ^ 0x8000); /* flags not written yet: still available */
    f.m.ring[2].flags = (uint16_t)(f2 ^ 0x8000);
    assert_false(vring_check(f.vr)); /* 4 used, 0 not: first sight */
    f.m.ring[0].flags = f0;
    assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(1));
    assert_false(vring_check(f.vr)); /* 4 used, 2 not: but a chain completed since */
    f.m.ring[2].flags = f2;
    assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(2));
    assert_false(vring_check(f.vr));
    assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(3));
    assert_false(vring_check(f.vr));
    assert_false(vring_is_broken(f.vr));
    assert_int_equal(vdev_klog_count_level(LOG_ERR), 0);
    fx_fini(&f);
}

/* ---- state, detach, reset ---- */

static void test_detach_and_reset(void **unused)
{
    struct fx f;
    unsigned i, n = 0;

    (void)unused;
    fx_init(&f, 8, F_INDIRECT | F_EVENT);
    for (i = 0; i < 5; i++)
        assert_int_equal(add_chain(&f, 1, 2, COOKIE(i)), 0);
    assert_int_equal(vring_reset(f.vr), -EBUSY);
    while (vring_detach_unused(f.vr))
        n++;
    assert_int_equal(n, 5);
    assert_int_equal(vring_num_free(f.vr), 8);
    assert_int_equal(vring_reset(f.vr), 0);
    assert_int_equal(state_of(&f).avail_idx, 0);
    assert_true(state_of(&f).avail_wrap);
    assert_int_equal(stats_of(&f).added, 5); /* stats survive a reset */
    fx_fini(&f);
}

static void test_state_and_stats(void **unused)
{
    struct fx f;
    struct pdev_elem e;
    struct vring_state s;

    (void)unused;
    fx_init(&f, 8, F_EVENT | F_INDIRECT);
    assert_int_equal(add_chain(&f, 1, 1, COOKIE(1)), 0);
    assert_int_equal(add_chain(&f, 1, 1, COOKIE(2)), 0);
    assert_int_equal(pdev_pop(&f.m, &e), 1);
    pdev_push(&f.m, &e, 3);
    s = state_of(&f);
    assert_true(s.packed && s.event_idx && s.indirect && !s.broken);
    assert_int_equal(s.num, 8);
    assert_int_equal(s.in_flight, 2);
    assert_int_equal(s.avail_idx, 2);     /* two indirect chains: two positions */
    assert_int_equal(s.last_used_idx, 0); /* nothing collected */
    assert_int_equal(s.used_idx, 1);      /* the device's used descriptors reach position 1 */
    assert_int_equal(s.pending_kick, 2);
    assert_string_equal(vring_name(f.vr), "vq5");
    assert_int_equal(vring_num(f.vr), 8);
    fx_fini(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_create_rejects_legacy),
        cmocka_unit_test(test_add_get_roundtrip),
        cmocka_unit_test(test_add_errors),
        cmocka_unit_test(test_chain_across_wrap),
        cmocka_unit_test(test_indirect),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_wraparound_pow2),
        cmocka_unit_test(test_wraparound_odd_indirect_event),
        cmocka_unit_test(test_kick_flags),
        cmocka_unit_test(test_kick_event_desc),
        cmocka_unit_test(test_kick_event_across_wrap),
        cmocka_unit_test(test_interrupt_suppression_flags),
        cmocka_unit_test(test_interrupt_suppression_event_desc),
        cmocka_unit_test(test_enable_poll_race),
        cmocka_unit_test(test_enable_cb_delayed),
        cmocka_unit_test(test_hostile_id_out_of_range),
        cmocka_unit_test(test_hostile_id_not_in_flight),
        cmocka_unit_test(test_hostile_length),
        cmocka_unit_test(test_hostile_wrap_flags),
        cmocka_unit_test(test_hostile_duplicate_completion),
        cmocka_unit_test(test_hostile_scribble_on_available),
        cmocka_unit_test(test_hostile_skipped_position),
        cmocka_unit_test(test_batch_being_written_is_not_a_skip),
        cmocka_unit_test(test_detach_and_reset),
        cmocka_unit_test(test_state_and_stats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
