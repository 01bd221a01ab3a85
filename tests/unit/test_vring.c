/*
 * Host tests of drivers/vring.c against the device model in vdev_model.c
 * (virtio 1.2 spec 2.7). Each test drives the real ring code, lets the model
 * play the device through shared memory only, and asserts on what both sides
 * saw: cookies, lengths, addresses, indices, notifications and counters.
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
#include "vdev_model.h"

#define F_INDIRECT (1ull << VIRTIO_RING_F_INDIRECT_DESC)
#define F_EVENT    (1ull << VIRTIO_RING_F_EVENT_IDX)

struct fx {
    struct vring *vr;
    long dma_before; /* vdev_dma_outstanding before (a failed test may leak) */
    struct vdev_model m;
    unsigned num;
    unsigned long irq_work; /* interrupts for which vring_interrupt() said "work" */
};

static void fx_irq(void *ctx)
{
    struct fx *f = ctx;

    if (vring_interrupt(f->vr))
        f->irq_work++;
}

static void fx_init(struct fx *f, unsigned num, uint64_t features, bool legacy)
{
    struct vring_config cfg = {
        .index = 3,
        .num = num,
        .legacy = legacy,
        .features = features,
        .notify = vdev_kick,
        .notify_ctx = &f->m,
    };
    struct vring_addrs a;

    memset(f, 0, sizeof(*f));
    f->num = num;
    f->dma_before = vdev_dma_outstanding;
    vdev_klog_clear();
    f->vr = vring_create(&cfg);
    assert_non_null(f->vr);
    vring_get_addrs(f->vr, &a);
    vdev_init(&f->m, &a, num, features, fx_irq, f);
    assert_int_equal(f->m.errors, 0);
}

static void fx_fini(struct fx *f)
{
    while (vring_detach_unused(f->vr))
        ;
    assert_int_equal(vring_num_free(f->vr), f->num);
    vring_destroy(f->vr);
    assert_int_equal(vdev_dma_outstanding, f->dma_before);
    /* The model never saw a malformed chain from the driver. */
    if (f->m.errors)
        fail_msg("device model: %s", f->m.last_error);
}

#define COOKIE(n) ((void *)(uintptr_t)(0x1000 + (n)))

static uint8_t bufmem[1 << 16];

/* Add a chain of @n_out readable then @n_in writable 64-byte segments. */
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

/* ---- layout ---- */

static void test_layout_modern(void **unused)
{
    static const unsigned sizes[] = {1, 2, 8, 256, 1024, 32768};
    unsigned k;

    (void)unused;
    for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        unsigned num = sizes[k];
        struct fx f;
        struct vring_addrs a;

        fx_init(&f, num, 0, false);
        vring_get_addrs(f.vr, &a);
        assert_int_equal(a.desc % 4096, VDEV_PHYS_OFFSET % 4096);
        assert_int_equal(a.desc % VRING_DESC_ALIGN, 0);
        assert_int_equal(a.driver - a.desc, 16 * num);
        assert_int_equal(a.driver % VRING_AVAIL_ALIGN, 0);
        assert_int_equal(a.device % VRING_USED_ALIGN, 0);
        /* The used ring starts at the first 4-aligned byte after used_event. */
        assert_true(a.device >= a.driver + 6 + 2 * num);
        assert_true(a.device < a.driver + 6 + 2 * num + 4);
        assert_true(vring_mem_size(num, false, 0) >= a.device - a.desc + 6 + 8 * num);
        fx_fini(&f);
    }
    assert_int_equal(vring_size(256), 4096 + 520 + 2054);
}

/* The spec's own formula (2.7.2), with its odd ALIGN taking "qalign" as a mask. */
static size_t spec_legacy_used_offset(unsigned qsz)
{
    const size_t qalign = 4096 - 1;
#define SPEC_ALIGN(x) (((x) + qalign) & ~qalign)
    return SPEC_ALIGN(16 * qsz + 2 * (3 + qsz));
}

static size_t spec_legacy_size(unsigned qsz)
{
    const size_t qalign = 4096 - 1;
    return SPEC_ALIGN(16 * qsz + 2 * (3 + qsz)) + SPEC_ALIGN(2 * 3 + 8 * qsz);
#undef SPEC_ALIGN
}

static void test_layout_legacy_matches_spec(void **unused)
{
    unsigned num;

    (void)unused;
    for (num = 1; num <= VRING_MAX_NUM; num *= 2) {
        assert_int_equal(vring_legacy_used_offset(num), spec_legacy_used_offset(num));
        assert_int_equal(vring_legacy_size(num), spec_legacy_size(num));
        assert_true(vring_mem_size(num, true, 0) >= vring_legacy_size(num));
    }
    /* Values a legacy device (QEMU, Linux's vring_size with align 4096) uses. */
    assert_int_equal(vring_legacy_used_offset(256), 8192);
    assert_int_equal(vring_legacy_size(256), 12288);
    assert_int_equal(vring_legacy_used_offset(1024), 20480);

    for (num = 1; num <= 1024; num *= 4) {
        struct fx f;
        struct vring_addrs a;

        fx_init(&f, num, F_EVENT, true);
        vring_get_addrs(f.vr, &a);
        assert_int_equal(a.desc % 4096, VDEV_PHYS_OFFSET % 4096);
        assert_int_equal(a.driver - a.desc, 16 * num);
        assert_int_equal(a.device - a.desc, spec_legacy_used_offset(num));
        /* And the queue works in that layout. */
        assert_int_equal(add_chain(&f, 1, num > 1, COOKIE(1)), 0);
        vring_kick(f.vr);
        assert_int_equal(vdev_process(&f.m, 10), 1);
        assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(1));
        fx_fini(&f);
    }
}

static void test_create_rejects_bad_config(void **unused)
{
    struct vring_config cfg = {.num = 3, .notify = vdev_kick};
    struct vdev_model m;
    long before = vdev_dma_outstanding;

    (void)unused;
    cfg.notify_ctx = &m;
    assert_null(vring_create(&cfg));
    cfg.num = 0;
    assert_null(vring_create(&cfg));
    cfg.num = 65536;
    assert_null(vring_create(&cfg));
    assert_int_equal(vring_mem_size(65536, false, 0), 0);
    cfg.num = 8;
    cfg.notify = NULL;
    assert_null(vring_create(&cfg));
    cfg.notify = vdev_kick;
    /* Out of DMA memory at the first and at the second allocation: no leak. */
    vdev_dma_fail_countdown = 0;
    assert_null(vring_create(&cfg));
    vdev_dma_fail_countdown = 1;
    assert_null(vring_create(&cfg));
    vdev_dma_fail_countdown = -1;
    assert_int_equal(vdev_dma_outstanding, before);
    assert_true(vdev_klog_count_level(LOG_ERR) >= 1);
}

/* ---- adding and completing ---- */

static void test_add_get_roundtrip(void **unused)
{
    struct fx f;
    static uint8_t hdr[12], pkt[1514], rx[2048];
    struct vring_seg segs[3] = {{hdr, sizeof(hdr)}, {pkt, sizeof(pkt)}, {rx, sizeof(rx)}};
    struct vdev_elem e;
    unsigned long calls;
    uint32_t len = 0;

    (void)unused;
    fx_init(&f, 16, 0, false);
    memset(pkt, 0x42, sizeof(pkt));
    calls = vdev_virt_to_phys_calls;
    assert_int_equal(vring_add(f.vr, segs, 2, 1, COOKIE(7)), 0);
    /* virt_to_phys() at every descriptor write. */
    assert_int_equal(vdev_virt_to_phys_calls - calls, 3);
    assert_int_equal(vring_num_free(f.vr), 13);
    assert_int_equal(state_of(&f).in_flight, 1);
    assert_false(vring_has_used(f.vr));
    assert_null(vring_get_used(f.vr, &len));

    assert_true(vring_kick(f.vr));
    assert_int_equal(f.m.kicks, 1);

    /* The device finds exactly our buffers, translated back from physical. */
    assert_int_equal(vdev_pop(&f.m, &e), 1);
    assert_false(e.indirect);
    assert_int_equal(e.n_out, 2);
    assert_int_equal(e.n_in, 1);
    assert_ptr_equal(e.out[0].addr, hdr);
    assert_int_equal(e.out[0].len, 12);
    assert_ptr_equal(e.out[1].addr, pkt);
    assert_int_equal(((uint8_t *)e.out[1].addr)[100], 0x42);
    assert_ptr_equal(e.in[0].addr, rx);
    assert_int_equal(vdev_pop(&f.m, &e), 0);

    assert_int_equal(vdev_write(&e, "hello", 5), 5);
    vdev_push(&f.m, &e, 5);
    assert_true(vdev_notify(&f.m));
    assert_int_equal(f.irq_work, 1);

    assert_true(vring_has_used(f.vr));
    assert_ptr_equal(vring_get_used(f.vr, &len), COOKIE(7));
    assert_int_equal(len, 5);
    assert_memory_equal(rx, "hello", 5);
    assert_null(vring_get_used(f.vr, &len));
    assert_int_equal(vring_num_free(f.vr), 16);
    assert_int_equal(stats_of(&f).added, 1);
    assert_int_equal(stats_of(&f).used, 1);
    assert_int_equal(stats_of(&f).kicks, 1);
    fx_fini(&f);
}

static void test_add_errors(void **unused)
{
    struct fx f;
    struct vring_seg big[2] = {{bufmem, 0xffffffffu}, {bufmem, 1}};

    (void)unused;
    fx_init(&f, 8, 0, false);
    assert_int_equal(vring_add(f.vr, big, 0, 0, COOKIE(1)), -EINVAL); /* empty */
    assert_int_equal(add_chain(&f, 1, 0, NULL), -EINVAL);             /* no cookie */
    assert_int_equal(add_chain(&f, 5, 4, COOKIE(1)), -EINVAL);        /* longer than the ring */
    assert_int_equal(vring_add(f.vr, big, 1, 1, COOKIE(1)), -EINVAL); /* over 4 GiB */
    assert_int_equal(vring_num_free(f.vr), 8);
    assert_int_equal(stats_of(&f).added, 0);
    assert_int_equal(stats_of(&f).ring_full, 0);
    /* Exactly the ring's length is fine. */
    assert_int_equal(add_chain(&f, 4, 4, COOKIE(2)), 0);
    assert_int_equal(vring_num_free(f.vr), 0);
    fx_fini(&f);
}

static void test_full_ring_then_recovery(void **unused)
{
    struct fx f;
    struct vdev_elem e;
    unsigned i;

    (void)unused;
    fx_init(&f, 8, 0, false);
    for (i = 0; i < 8; i++)
        assert_int_equal(add_chain(&f, 1, 0, COOKIE(i)), 0);
    assert_int_equal(vring_num_free(f.vr), 0);
    assert_int_equal(add_chain(&f, 1, 0, COOKIE(99)), -ENOSPC);
    assert_int_equal(stats_of(&f).ring_full, 1);
    vring_kick(f.vr);

    /* The device completes two; one 2-segment chain fits again, a third chain does not. */
    assert_int_equal(vdev_process(&f.m, 2), 2);
    assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(0));
    assert_int_equal(add_chain(&f, 1, 0, COOKIE(100)), 0);
    assert_int_equal(add_chain(&f, 1, 1, COOKIE(101)), -ENOSPC);
    assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(1));
    assert_int_equal(add_chain(&f, 1, 1, COOKIE(101)), -ENOSPC);
    assert_int_equal(add_chain(&f, 1, 0, COOKIE(101)), 0);
    assert_int_equal(stats_of(&f).ring_full, 3);
    vring_kick(f.vr);

    /* Drain in order: 2..7, then the two recycled slots. */
    assert_int_equal(vdev_process(&f.m, 100), 8);
    for (i = 2; i < 8; i++)
        assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(i));
    assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(100));
    assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(101));
    assert_null(vring_get_used(f.vr, NULL));
    assert_int_equal(vdev_pop(&f.m, &e), 0);
    assert_int_equal(vring_num_free(f.vr), 8);
    fx_fini(&f);
}

/* More than 65536 chains: the 16-bit indices on both sides wrap. */
static void run_wraparound(uint64_t features, unsigned num)
{
    struct fx f;
    unsigned long batches = 0, next_cookie = 0, next_expect = 0;
    bool wrapped_avail = false, wrapped_used = false;
    uint16_t prev_avail = 0, prev_used = 0;
    unsigned cycle;

    fx_init(&f, num, features, false);
    for (cycle = 0; cycle < 70001; cycle++) {
        unsigned batch = 1 + cycle % num, k, got = 0;
        struct vring_state s;
        void *c;
        uint32_t len;

        for (k = 0; k < batch; k++) {
            unsigned segs = 1 + (cycle + k) % 3;

            if (vring_num_free(f.vr) < segs)
                segs = 1;
            if (add_chain(&f, segs / 2 + (segs & 1), segs / 2, COOKIE(next_cookie % 100000)) != 0)
                break;
            next_cookie++;
        }
        assert_true(vring_kick(f.vr));
        batches++;
        vdev_process(&f.m, num);
        while ((c = vring_get_used(f.vr, &len)) != NULL) {
            assert_ptr_equal(c, COOKIE(next_expect % 100000));
            next_expect++;
            got++;
        }
        assert_true(got > 0);
        s = state_of(&f);
        if (s.avail_idx < prev_avail)
            wrapped_avail = true;
        if (s.last_used_idx < prev_used)
            wrapped_used = true;
        prev_avail = s.avail_idx;
        prev_used = s.last_used_idx;
        assert_int_equal(s.in_flight, 0);
        assert_int_equal(s.num_free, num);
        assert_false(s.broken);
    }
    assert_true(next_cookie > 70000);
    assert_int_equal(next_expect, next_cookie);
    assert_true(wrapped_avail);
    assert_true(wrapped_used);
    assert_int_equal(stats_of(&f).added, next_cookie);
    assert_int_equal(stats_of(&f).used, next_cookie);
    /* One kick and one interrupt per batch, none lost, none extra. */
    assert_int_equal(f.m.kicks, batches);
    assert_int_equal(f.m.irqs, batches);
    assert_int_equal(f.irq_work, batches);
    assert_int_equal(f.m.errors, 0);
    fx_fini(&f);
}

static void test_wraparound_plain(void **unused)
{
    (void)unused;
    run_wraparound(0, 16);
}

static void test_wraparound_event_idx_indirect(void **unused)
{
    (void)unused;
    run_wraparound(F_EVENT | F_INDIRECT, 8);
}

static void test_out_of_order_completion(void **unused)
{
    struct fx f;
    struct vdev_elem e[4];
    static const unsigned order[4] = {3, 1, 0, 2};
    uint32_t len;
    unsigned i;

    (void)unused;
    fx_init(&f, 8, 0, false);
    for (i = 0; i < 4; i++)
        assert_int_equal(add_chain(&f, 1, 1, COOKIE(i)), 0);
    assert_int_equal(vring_num_free(f.vr), 0);
    vring_kick(f.vr);
    for (i = 0; i < 4; i++)
        assert_int_equal(vdev_pop(&f.m, &e[i]), 1);
    for (i = 0; i < 4; i++) {
        vdev_push(&f.m, &e[order[i]], order[i] * 10);
        assert_ptr_equal(vring_get_used(f.vr, &len), COOKIE(order[i]));
        assert_int_equal(len, order[i] * 10);
        assert_int_equal(vring_num_free(f.vr), 2 * (i + 1));
    }
    /* The recycled descriptors (freed out of order) chain correctly again. */
    for (i = 0; i < 2; i++)
        assert_int_equal(add_chain(&f, 2, 2, COOKIE(10 + i)), 0);
    vring_kick(f.vr);
    assert_int_equal(vdev_pop(&f.m, &e[0]), 1);
    assert_int_equal(vdev_pop(&f.m, &e[1]), 1);
    assert_int_equal(e[0].n_out + e[0].n_in, 4);
    vdev_push(&f.m, &e[1], 0);
    vdev_push(&f.m, &e[0], 0);
    assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(11));
    assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(10));
    assert_int_equal(vring_num_free(f.vr), 8);
    fx_fini(&f);
}

static void test_indirect_tables(void **unused)
{
    struct fx f;
    struct vdev_elem e;
    unsigned long calls;
    unsigned i;
    const unsigned N = 2 * VRING_INDIRECT_TABLES; /* more ring than tables */

    (void)unused;
    fx_init(&f, N, F_INDIRECT, false);
    assert_true(state_of(&f).indirect);

    /* Three segments: one ring descriptor, a table of three. */
    assert_int_equal(vring_add_cost(f.vr, 3), 1);
    assert_int_equal(vring_add_cost(f.vr, VRING_INDIRECT_MAX + 1), VRING_INDIRECT_MAX + 1);
    calls = vdev_virt_to_phys_calls;
    assert_int_equal(add_chain(&f, 1, 2, COOKIE(1)), 0);
    assert_int_equal(vdev_virt_to_phys_calls - calls, 4); /* 3 segments + the table */
    assert_int_equal(vring_num_free(f.vr), N - 1);
    /* One segment: direct. */
    assert_int_equal(add_chain(&f, 1, 0, COOKIE(2)), 0);
    assert_int_equal(vring_num_free(f.vr), N - 2);
    /* Longer than a table holds: direct, one descriptor per segment. */
    assert_int_equal(add_chain(&f, 10, VRING_INDIRECT_MAX, COOKIE(3)), 0);
    assert_int_equal(vring_num_free(f.vr), N - 2 - 10 - VRING_INDIRECT_MAX);
    vring_kick(f.vr);

    assert_int_equal(vdev_pop(&f.m, &e), 1);
    assert_true(e.indirect);
    assert_int_equal(e.n_out, 1);
    assert_int_equal(e.n_in, 2);
    assert_int_equal(e.in_len, 128);
    assert_ptr_equal(e.in[1].addr, &bufmem[(2 * 64 + 1 * 2048) % (sizeof(bufmem) - 64)]);
    vdev_push(&f.m, &e, 128);
    assert_int_equal(vdev_pop(&f.m, &e), 1);
    assert_false(e.indirect);
    vdev_push(&f.m, &e, 0);
    assert_int_equal(vdev_pop(&f.m, &e), 1);
    assert_false(e.indirect);
    assert_int_equal(e.n_out + e.n_in, 10 + VRING_INDIRECT_MAX);
    vdev_push(&f.m, &e, 64);
    for (i = 1; i <= 3; i++)
        assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(i));
    assert_int_equal(vring_num_free(f.vr), N);

    /* Empty the table pool: the next multi-segment chains fall back to direct. */
    for (i = 0; i < VRING_INDIRECT_TABLES; i++)
        assert_int_equal(add_chain(&f, 1, 1, COOKIE(100 + i)), 0);
    assert_int_equal(vring_num_free(f.vr), N - VRING_INDIRECT_TABLES);
    assert_int_equal(vring_add_cost(f.vr, 2), 2); /* what the next add will take */
    assert_int_equal(vring_add_cost(f.vr, 1), 1);
    assert_int_equal(add_chain(&f, 1, 1, COOKIE(999)), 0);
    assert_int_equal(vring_num_free(f.vr), N - VRING_INDIRECT_TABLES - 2);
    vring_kick(f.vr);
    assert_int_equal(vdev_process(&f.m, 1000), VRING_INDIRECT_TABLES + 1);
    for (i = 0; i < VRING_INDIRECT_TABLES; i++)
        assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(100 + i));
    assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(999));
    assert_int_equal(vring_num_free(f.vr), N);

    /* Every table came back: a full pool's worth goes indirect again. */
    for (i = 0; i < VRING_INDIRECT_TABLES; i++)
        assert_int_equal(add_chain(&f, 2, 0, COOKIE(i)), 0);
    assert_int_equal(vring_num_free(f.vr), N - VRING_INDIRECT_TABLES);
    fx_fini(&f);
}

/* ---- notification suppression ---- */

/*
 * The driver's vring_need_event() against the device model's own reading of
 * 2.7.7.2/2.7.10 (vdev_event_crossed: is @event among the entries old..new-1),
 * for every event around several starting points, across the 16-bit wrap,
 * for moves of 0..70 entries and a few large ones.
 */
static void test_need_event_matches_spec(void **unused)
{
    static const uint16_t olds[] = {0, 1, 5, 0x7fff, 0x8000, 0xfff0, 0xffff};
    static const unsigned big[] = {0x7fff, 0x8000, 0x8001, 0xfffe, 0xffff};
    unsigned k, d, ev, crossed;

    (void)unused;
    for (k = 0; k < sizeof(olds) / sizeof(olds[0]); k++) {
        for (d = 0; d < 70 + sizeof(big) / sizeof(big[0]); d++) {
            uint16_t old_idx = olds[k], moved = (uint16_t)(d < 70 ? d : big[d - 70]);
            uint16_t new_idx = (uint16_t)(old_idx + moved);

            crossed = 0;
            for (ev = 0; ev < 0x10000; ev++) {
                bool want = vdev_event_crossed((uint16_t)ev, new_idx, old_idx);

                if (!!vring_need_event((uint16_t)ev, new_idx, old_idx) != want)
                    fail_msg("vring_need_event(%u, %u, %u) != %d", ev, new_idx, old_idx, want);
                crossed += want;
            }
            /* Exactly the entries written: one per step. */
            assert_int_equal(crossed, moved);
        }
    }
}

static void test_kick_suppression_flags(void **unused)
{
    struct fx f;

    (void)unused;
    fx_init(&f, 16, 0, false);
    assert_false(vring_kick(f.vr)); /* nothing added: nothing to say */
    assert_int_equal(add_chain(&f, 1, 0, COOKIE(1)), 0);
    assert_true(vring_kick(f.vr));
    assert_int_equal(f.m.kicks, 1);

    vdev_set_notification(&f.m, false); /* VRING_USED_F_NO_NOTIFY */
    assert_int_equal(add_chain(&f, 1, 0, COOKIE(2)), 0);
    assert_false(vring_kick(f.vr));
    assert_int_equal(f.m.kicks, 1);
    assert_int_equal(state_of(&f).used_flags, VRING_USED_F_NO_NOTIFY);

    vdev_set_notification(&f.m, true);
    assert_int_equal(add_chain(&f, 1, 0, COOKIE(3)), 0);
    assert_true(vring_kick_prepare(f.vr));
    vring_notify(f.vr);
    assert_int_equal(f.m.kicks, 2);
    assert_int_equal(stats_of(&f).kicks, 2);
    assert_int_equal(stats_of(&f).kicks_suppressed, 1);
    fx_fini(&f);
}

static void test_kick_suppression_event_idx(void **unused)
{
    struct fx f;
    struct vdev_elem e;
    unsigned i;

    (void)unused;
    fx_init(&f, 16, F_EVENT, false);
    /* avail_event is 0: the batch that writes entry 0 kicks. */
    for (i = 0; i < 3; i++)
        assert_int_equal(add_chain(&f, 1, 0, COOKIE(i)), 0);
    assert_int_equal(state_of(&f).pending_kick, 3);
    assert_true(vring_kick(f.vr));
    assert_int_equal(state_of(&f).pending_kick, 0);

    /* The device is busy (popped one, so avail_event = 1, already passed):
     * adding entry 3 needs no kick. The flags are ignored with EVENT_IDX. */
    assert_int_equal(vdev_pop(&f.m, &e), 1);
    assert_int_equal(state_of(&f).avail_event, 1);
    assert_int_equal(add_chain(&f, 1, 0, COOKIE(3)), 0);
    assert_false(vring_kick(f.vr));

    /* The device caught up (avail_event = 4): the next entry, 4, kicks. */
    while (vdev_pop(&f.m, &e) == 1)
        ;
    assert_int_equal(state_of(&f).avail_event, 4);
    assert_int_equal(add_chain(&f, 1, 0, COOKIE(4)), 0);
    assert_int_equal(add_chain(&f, 1, 0, COOKIE(5)), 0);
    assert_true(vring_kick(f.vr));

    /* The event in the middle of a batch: entries 6..9 added, event 8 -> kick. */
    vdev_set_avail_event(&f.m, 8);
    for (i = 6; i < 10; i++)
        assert_int_equal(add_chain(&f, 1, 0, COOKIE(i)), 0);
    assert_true(vring_kick(f.vr));
    /* Event behind the batch (8 < 10..11): no kick. Event ahead (13): none yet. */
    for (i = 10; i < 12; i++)
        assert_int_equal(add_chain(&f, 1, 0, COOKIE(i)), 0);
    assert_false(vring_kick(f.vr));
    vdev_set_avail_event(&f.m, 13);
    assert_int_equal(add_chain(&f, 1, 0, COOKIE(12)), 0);
    assert_false(vring_kick(f.vr));
    assert_int_equal(add_chain(&f, 1, 0, COOKIE(13)), 0);
    assert_true(vring_kick(f.vr));

    assert_int_equal(f.m.kicks, 4);
    assert_int_equal(stats_of(&f).kicks, 4);
    assert_int_equal(stats_of(&f).kicks_suppressed, 3);
    fx_fini(&f);
}

static void test_interrupt_suppression_flags(void **unused)
{
    struct fx f;
    unsigned i;

    (void)unused;
    fx_init(&f, 16, 0, false);
    for (i = 0; i < 6; i++)
        assert_int_equal(add_chain(&f, 0, 1, COOKIE(i)), 0);
    vring_kick(f.vr);

    assert_int_equal(vdev_process(&f.m, 1), 1);
    assert_int_equal(f.m.irqs, 1);
    assert_int_equal(f.irq_work, 1);

    vring_disable_cb(f.vr);
    assert_int_equal(vdev_avail_flags(&f.m), VRING_AVAIL_F_NO_INTERRUPT);
    assert_false(state_of(&f).cb_enabled);
    assert_int_equal(vdev_process(&f.m, 1), 1);
    assert_int_equal(vdev_process(&f.m, 1), 1);
    assert_int_equal(f.m.irqs, 1);
    assert_int_equal(f.m.irqs_suppressed, 2);

    /* A device may interrupt anyway (it is only a hint): counted as suppressed, still work. */
    assert_true(vring_interrupt(f.vr));
    assert_int_equal(stats_of(&f).interrupts_suppressed, 1);
    for (i = 0; i < 3; i++)
        assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(i));
    /* Nothing new: a spurious interrupt. */
    assert_false(vring_interrupt(f.vr));
    assert_int_equal(stats_of(&f).interrupts_suppressed, 2);

    assert_true(vring_enable_cb(f.vr));
    assert_int_equal(vdev_avail_flags(&f.m), 0);
    assert_int_equal(vdev_process(&f.m, 1), 1);
    assert_int_equal(f.m.irqs, 2);
    assert_int_equal(stats_of(&f).interrupts, 4);
    fx_fini(&f);
}

static void test_interrupt_suppression_event_idx(void **unused)
{
    struct fx f;
    struct vdev_elem e[20];
    unsigned i;

    (void)unused;
    fx_init(&f, 32, F_EVENT, false);
    for (i = 0; i < 20; i++)
        assert_int_equal(add_chain(&f, 0, 1, COOKIE(i)), 0);
    vring_kick(f.vr);
    for (i = 0; i < 20; i++)
        assert_int_equal(vdev_pop(&f.m, &e[i]), 1);

    /* used_event = 0: the first completion interrupts, the second does not
     * (the driver has not caught up, so it will see both). */
    assert_int_equal(vdev_used_event(&f.m), 0);
    vdev_push(&f.m, &e[0], 0);
    assert_true(vdev_notify(&f.m));
    vdev_push(&f.m, &e[1], 0);
    assert_false(vdev_notify(&f.m));
    assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(0));
    assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(1));
    /* Collecting moved used_event to the next entry: the next completion interrupts. */
    assert_int_equal(vdev_used_event(&f.m), 2);
    assert_int_equal(vdev_avail_flags(&f.m), 0); /* 2.7.7.1: flags stay 0 */
    vdev_push(&f.m, &e[2], 0);
    assert_true(vdev_notify(&f.m));

    /* Disabled: many completions, no interrupt, even while the driver polls. */
    vring_disable_cb(f.vr);
    assert_int_equal(vdev_avail_flags(&f.m), 0);
    for (i = 3; i < 15; i++) {
        vdev_push(&f.m, &e[i], 0);
        assert_false(vdev_notify(&f.m));
        assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(i - 1));
    }
    assert_int_equal(f.m.irqs, 2);
    assert_int_equal(f.irq_work, 2);
    assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(14));

    /* Enabled again with nothing pending: the next completion interrupts. */
    assert_true(vring_enable_cb(f.vr));
    assert_int_equal(vdev_used_event(&f.m), 15);
    vdev_push(&f.m, &e[15], 0);
    assert_true(vdev_notify(&f.m));
    assert_int_equal(f.irq_work, 3);
    fx_fini(&f);
}

/*
 * The race vring_enable_cb_prepare()/vring_poll() closes: the driver has
 * drained the ring with callbacks disabled and re-enables them; a completion
 * that lands just before the device sees the re-enable raises no interrupt,
 * so the driver must find it by re-checking after the barrier.
 */
static void run_enable_race(uint64_t features)
{
    struct fx f;
    struct vdev_elem e[4];
    unsigned last, i;
    unsigned long irqs;

    fx_init(&f, 8, features, false);
    for (i = 0; i < 4; i++)
        assert_int_equal(add_chain(&f, 0, 1, COOKIE(i)), 0);
    vring_kick(f.vr);
    for (i = 0; i < 4; i++)
        assert_int_equal(vdev_pop(&f.m, &e[i]), 1);

    /* Polling mode, ring drained. */
    vring_disable_cb(f.vr);
    vdev_push(&f.m, &e[0], 0);
    assert_false(vdev_notify(&f.m));
    assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(0));
    assert_null(vring_get_used(f.vr, NULL));

    /* A completion after our last look but before the re-enable: no interrupt... */
    vdev_push(&f.m, &e[1], 0);
    assert_false(vdev_notify(&f.m));
    /* ...so vring_enable_cb() must report it. */
    assert_false(vring_enable_cb(f.vr));
    assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(1));

    /* A completion between enable_cb_prepare and poll: poll sees it. */
    vring_disable_cb(f.vr);
    last = vring_enable_cb_prepare(f.vr);
    vdev_push(&f.m, &e[2], 0);
    vdev_notify(&f.m);
    assert_true(vring_poll(f.vr, last));
    assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(2));

    /* Nothing in between: poll says "wait", and the next completion does interrupt. */
    last = vring_enable_cb_prepare(f.vr);
    assert_false(vring_poll(f.vr, last));
    irqs = f.m.irqs;
    vdev_push(&f.m, &e[3], 0);
    assert_true(vdev_notify(&f.m));
    assert_int_equal(f.m.irqs, irqs + 1);
    assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(3));
    fx_fini(&f);
}

static void test_enable_poll_race_flags(void **unused)
{
    (void)unused;
    run_enable_race(0);
}

static void test_enable_poll_race_event_idx(void **unused)
{
    (void)unused;
    run_enable_race(F_EVENT);
}

static void test_enable_cb_delayed(void **unused)
{
    struct fx f;
    struct vdev_elem e[8];
    unsigned i;

    (void)unused;
    fx_init(&f, 16, F_EVENT, false);
    for (i = 0; i < 8; i++)
        assert_int_equal(add_chain(&f, 1, 0, COOKIE(i)), 0);
    vring_kick(f.vr);
    for (i = 0; i < 8; i++)
        assert_int_equal(vdev_pop(&f.m, &e[i]), 1);

    /* 8 outstanding, bufs = 3/4 of them = 6: used_event = 6, so the device
     * interrupts when it writes entry 6, the 7th completion. */
    vring_disable_cb(f.vr);
    assert_true(vring_enable_cb_delayed(f.vr));
    assert_int_equal(vdev_used_event(&f.m), 6);
    for (i = 0; i < 6; i++) {
        vdev_push(&f.m, &e[i], 0);
        assert_false(vdev_notify(&f.m));
    }
    vdev_push(&f.m, &e[6], 0);
    assert_true(vdev_notify(&f.m));
    assert_int_equal(f.irq_work, 1);
    for (i = 0; i < 7; i++)
        assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(i));

    /* If more than that already completed, it says so. */
    for (i = 0; i < 7; i++) {
        assert_int_equal(add_chain(&f, 1, 0, COOKIE(10 + i)), 0);
    }
    vring_kick(f.vr);
    vring_disable_cb(f.vr);
    assert_int_equal(vdev_process(&f.m, 7), 7); /* 8 outstanding, 7 done > 6 */
    assert_false(vring_enable_cb_delayed(f.vr));
    fx_fini(&f);

    /* Without EVENT_IDX it is vring_enable_cb(). */
    fx_init(&f, 16, 0, false);
    assert_int_equal(add_chain(&f, 1, 0, COOKIE(1)), 0);
    vring_kick(f.vr);
    vring_disable_cb(f.vr);
    assert_true(vring_enable_cb_delayed(f.vr));
    assert_int_equal(vdev_avail_flags(&f.m), 0);
    vring_disable_cb(f.vr);
    assert_int_equal(vdev_process(&f.m, 1), 1);
    assert_false(vring_enable_cb_delayed(f.vr));
    fx_fini(&f);
}

/* ---- a hostile device ---- */

/* The queue is broken: logged once, counted, refuses work, touched nothing out of bounds. */
static void assert_broken_once(struct fx *f, const char *why)
{
    uint32_t len = 12345;

    assert_true(vring_is_broken(f->vr));
    assert_true(state_of(f).broken);
    assert_int_equal(stats_of(f).broken, 1);
    assert_int_equal(vdev_klog_count_level(LOG_ERR), 1);
    assert_non_null(strstr(vdev_klog_last(), "virtio: queue 3 broken: "));
    assert_non_null(strstr(vdev_klog_last(), why));
    /* Sticky, and quiet from now on. */
    assert_null(vring_get_used(f->vr, &len));
    assert_int_equal(len, 12345);
    assert_false(vring_has_used(f->vr));
    assert_int_equal(add_chain(f, 1, 0, COOKIE(500)), -EIO);
    vdev_push_raw(&f->m, 0xffffffffu, 0xffffffffu);
    assert_null(vring_get_used(f->vr, NULL));
    assert_false(vring_interrupt(f->vr));
    assert_false(vring_kick(f->vr));
    assert_int_equal(vdev_klog_count_level(LOG_ERR), 1);
    assert_int_equal(stats_of(f).broken, 1);
}

/* Start a queue with chains 0 (1 desc), 1 (3 descs, 1 writable), 2 in flight. */
static void hostile_setup(struct fx *f, struct vdev_elem *e)
{
    unsigned i;

    fx_init(f, 16, 0, false);
    assert_int_equal(add_chain(f, 1, 0, COOKIE(0)), 0);
    assert_int_equal(add_chain(f, 2, 1, COOKIE(1)), 0);
    assert_int_equal(add_chain(f, 1, 0, COOKIE(2)), 0);
    vring_kick(f->vr);
    for (i = 0; i < 3; i++)
        assert_int_equal(vdev_pop(&f->m, &e[i]), 1);
    assert_int_equal(e[1].head, 1);
}

static void test_hostile_id_out_of_range(void **unused)
{
    struct fx f;
    struct vdev_elem e[3];

    (void)unused;
    hostile_setup(&f, e);
    vdev_push_raw(&f.m, 16, 0);
    assert_true(vring_has_used(f.vr));
    assert_null(vring_get_used(f.vr, NULL));
    assert_broken_once(&f, "out of range");
    fx_fini(&f);

    hostile_setup(&f, e);
    vdev_push_raw(&f.m, 0x80000001u, 0);
    assert_null(vring_get_used(f.vr, NULL));
    assert_broken_once(&f, "out of range");
    fx_fini(&f);
}

static void test_hostile_id_not_in_flight(void **unused)
{
    struct fx f;
    struct vdev_elem e[3];

    (void)unused;
    /* A free descriptor. */
    hostile_setup(&f, e);
    vdev_push_raw(&f.m, 9, 0);
    assert_null(vring_get_used(f.vr, NULL));
    assert_broken_once(&f, "not the head");
    fx_fini(&f);

    /* The middle of a chain (descriptors 1, 2, 3 belong to the chain headed by 1). */
    hostile_setup(&f, e);
    vdev_push_raw(&f.m, 2, 0);
    assert_null(vring_get_used(f.vr, NULL));
    assert_broken_once(&f, "not the head");
    fx_fini(&f);
}

static void test_hostile_duplicate_completion(void **unused)
{
    struct fx f;
    struct vdev_elem e[3];

    (void)unused;
    hostile_setup(&f, e);
    vdev_push(&f.m, &e[1], 10);
    vdev_push(&f.m, &e[1], 10);
    assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(1));
    assert_false(vring_is_broken(f.vr));
    assert_null(vring_get_used(f.vr, NULL));
    assert_broken_once(&f, "not the head");
    fx_fini(&f);

    /* Also when the duplicate comes after the head was reused by a new chain?
     * Then it is a valid completion of the new chain: nothing can tell them
     * apart, and the length is still checked. A duplicate of a freed head is not. */
    hostile_setup(&f, e);
    vdev_push(&f.m, &e[0], 0);
    assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(0));
    vdev_push(&f.m, &e[0], 0);
    assert_null(vring_get_used(f.vr, NULL));
    assert_broken_once(&f, "not the head");
    fx_fini(&f);
}

static void test_hostile_length(void **unused)
{
    struct fx f;
    struct vdev_elem e[3];

    (void)unused;
    /* Chain 1 has 64 writable bytes. */
    hostile_setup(&f, e);
    vdev_push(&f.m, &e[1], 64);
    assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(1));
    fx_fini(&f);

    hostile_setup(&f, e);
    vdev_push(&f.m, &e[1], 65);
    assert_null(vring_get_used(f.vr, NULL));
    assert_broken_once(&f, "exceeds writable 64");
    fx_fini(&f);

    /* A read-only chain: any length is a lie. */
    hostile_setup(&f, e);
    vdev_push(&f.m, &e[0], 1);
    assert_null(vring_get_used(f.vr, NULL));
    assert_broken_once(&f, "exceeds writable 0");
    fx_fini(&f);
}

static void test_hostile_used_idx_jump(void **unused)
{
    struct fx f;
    struct vdev_elem e[3];

    (void)unused;
    /* More than the queue size ahead. */
    hostile_setup(&f, e);
    vdev_set_used_idx(&f.m, 17);
    assert_null(vring_get_used(f.vr, NULL));
    assert_broken_once(&f, "ahead");
    fx_fini(&f);

    /* Backwards (65535 ahead, modulo 2^16). */
    hostile_setup(&f, e);
    vdev_set_used_idx(&f.m, 0xffff);
    assert_null(vring_get_used(f.vr, NULL));
    assert_broken_once(&f, "ahead");
    fx_fini(&f);

    /* Within the queue size but more than the 3 chains in flight. */
    hostile_setup(&f, e);
    vdev_fill(&f.m, 0, 0, 0);
    vdev_fill(&f.m, 1, 0, 1);
    vdev_fill(&f.m, 4, 0, 2);
    vdev_fill(&f.m, 4, 0, 3);
    vdev_flush(&f.m, 4);
    assert_null(vring_get_used(f.vr, NULL));
    assert_broken_once(&f, "4 ahead of 0 with 3 in flight");
    fx_fini(&f);
}

/* A broken queue can be drained, reset with the device, and used again. */
static void test_broken_then_reset(void **unused)
{
    struct fx f;
    struct vdev_elem e[3];
    struct vring_addrs a;
    void *c;
    unsigned n = 0;

    (void)unused;
    hostile_setup(&f, e);
    vdev_push_raw(&f.m, 99, 0);
    assert_null(vring_get_used(f.vr, NULL));
    assert_true(vring_is_broken(f.vr));
    assert_int_equal(vring_reset(f.vr), -EBUSY);
    while ((c = vring_detach_unused(f.vr)) != NULL)
        n++;
    assert_int_equal(n, 3);
    assert_int_equal(vring_reset(f.vr), 0);
    assert_false(vring_is_broken(f.vr));
    assert_int_equal(vring_num_free(f.vr), 16);

    /* The device is reset too (a fresh model on the same addresses). */
    vring_get_addrs(f.vr, &a);
    vdev_init(&f.m, &a, 16, 0, fx_irq, &f);
    assert_int_equal(add_chain(&f, 1, 1, COOKIE(42)), 0);
    assert_true(vring_kick(f.vr));
    assert_int_equal(vdev_process(&f.m, 4), 1);
    assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(42));
    assert_int_equal(stats_of(&f).broken, 1);

    /* A second breakage is logged again (once per breakage). */
    vdev_push_raw(&f.m, 77, 0);
    assert_null(vring_get_used(f.vr, NULL));
    assert_int_equal(vdev_klog_count_level(LOG_ERR), 2);
    assert_int_equal(stats_of(&f).broken, 2);
    fx_fini(&f);
}

/* The device scribbles over the descriptor table: we never read it back. */
static void test_hostile_desc_scribble(void **unused)
{
    struct fx f;
    struct vdev_elem e[3];
    unsigned i;

    (void)unused;
    hostile_setup(&f, e);
    for (i = 0; i < 16; i++) {
        f.m.desc[i].next = 0xffff;
        f.m.desc[i].flags = 0xffff;
        f.m.desc[i].addr = ~0ull;
    }
    f.m.avail->idx = 0x1234;
    vdev_push(&f.m, &e[1], 0);
    vdev_push(&f.m, &e[0], 0);
    vdev_push(&f.m, &e[2], 0);
    for (i = 0; i < 3; i++)
        assert_non_null(vring_get_used(f.vr, NULL));
    assert_int_equal(vring_num_free(f.vr), 16);
    assert_false(vring_is_broken(f.vr));
    assert_int_equal(state_of(&f).avail_idx, 3);
    /* The free list is intact: a full-ring chain still works. */
    assert_int_equal(add_chain(&f, 8, 8, COOKIE(1)), 0);
    assert_int_equal(vring_num_free(f.vr), 0);
    fx_fini(&f);
}

/* ---- teardown and state ---- */

static void test_detach_unused(void **unused)
{
    struct fx f;
    struct vdev_elem e;
    bool seen[12] = {0};
    void *c;
    unsigned i, n = 0;

    (void)unused;
    fx_init(&f, 64, F_INDIRECT | F_EVENT, false);
    for (i = 0; i < 12; i++)
        assert_int_equal(add_chain(&f, 1 + i % 3, i % 2, COOKIE(i)), 0);
    vring_kick(f.vr);
    /* The device took some, completed one, and is then reset. */
    for (i = 0; i < 5; i++)
        assert_int_equal(vdev_pop(&f.m, &e), 1);
    vdev_push(&f.m, &e, 0);
    assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(4));
    seen[4] = true;

    while ((c = vring_detach_unused(f.vr)) != NULL) {
        uintptr_t k = (uintptr_t)c - 0x1000;

        assert_true(k < 12);
        assert_false(seen[k]);
        seen[k] = true;
        n++;
    }
    assert_int_equal(n, 11);
    for (i = 0; i < 12; i++)
        assert_true(seen[i]);
    assert_int_equal(vring_num_free(f.vr), 64);
    assert_int_equal(state_of(&f).in_flight, 0);
    assert_null(vring_detach_unused(f.vr));
    assert_int_equal(vring_reset(f.vr), 0);
    assert_int_equal(state_of(&f).avail_idx, 0);
    fx_fini(&f);
}

static void test_state_and_stats(void **unused)
{
    struct fx f;
    struct vring_state s;
    unsigned i;

    (void)unused;
    fx_init(&f, 32, F_EVENT | F_INDIRECT, false);
    for (i = 0; i < 5; i++)
        assert_int_equal(add_chain(&f, 1, 1, COOKIE(i)), 0);
    s = state_of(&f);
    assert_int_equal(s.index, 3);
    assert_int_equal(s.num, 32);
    assert_int_equal(s.num_free, 27);
    assert_int_equal(s.in_flight, 5);
    assert_int_equal(s.avail_idx, 5);
    assert_int_equal(s.pending_kick, 5);
    assert_true(s.event_idx);
    assert_true(s.cb_enabled);
    vring_kick(f.vr);
    assert_int_equal(vdev_process(&f.m, 2), 2);
    s = state_of(&f);
    assert_int_equal(s.used_idx, 2);
    assert_int_equal(s.last_used_idx, 0);
    assert_int_equal(s.avail_event, 2);
    assert_non_null(vring_get_used(f.vr, NULL));
    s = state_of(&f);
    assert_int_equal(s.last_used_idx, 1);
    assert_int_equal(s.in_flight, 4);
    assert_int_equal(s.num_free, 28);
    assert_int_equal(stats_of(&f).added, 5);
    assert_int_equal(stats_of(&f).used, 1);
    assert_int_equal(stats_of(&f).interrupts, 1);
    fx_fini(&f);
}

static void test_largest_queue(void **unused)
{
    struct fx f;
    unsigned i;

    (void)unused;
    fx_init(&f, VRING_MAX_NUM, F_EVENT, false);
    for (i = 0; i < VRING_MAX_NUM; i++)
        assert_int_equal(add_chain(&f, 1, 0, COOKIE(i % 1000)), 0);
    assert_int_equal(add_chain(&f, 1, 0, COOKIE(1)), -ENOSPC);
    vring_kick(f.vr);
    /* A full ring with callbacks parked: no interrupt even with every chain
     * done. (In two flushes: one flush of exactly 32768 entries trips the
     * model's QEMU-style "signalled_used is stale" check, a spurious interrupt.) */
    vring_disable_cb(f.vr);
    assert_int_equal(vdev_process(&f.m, VRING_MAX_NUM / 2), VRING_MAX_NUM / 2);
    assert_int_equal(vdev_process(&f.m, VRING_MAX_NUM), VRING_MAX_NUM / 2);
    assert_int_equal(f.m.irqs, 0);
    assert_int_equal(state_of(&f).used_idx, 0x8000);
    for (i = 0; i < VRING_MAX_NUM; i++)
        assert_ptr_equal(vring_get_used(f.vr, NULL), COOKIE(i % 1000));
    assert_false(vring_is_broken(f.vr));
    fx_fini(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_modern),
        cmocka_unit_test(test_layout_legacy_matches_spec),
        cmocka_unit_test(test_create_rejects_bad_config),
        cmocka_unit_test(test_add_get_roundtrip),
        cmocka_unit_test(test_add_errors),
        cmocka_unit_test(test_full_ring_then_recovery),
        cmocka_unit_test(test_wraparound_plain),
        cmocka_unit_test(test_wraparound_event_idx_indirect),
        cmocka_unit_test(test_out_of_order_completion),
        cmocka_unit_test(test_indirect_tables),
        cmocka_unit_test(test_kick_suppression_flags),
        cmocka_unit_test(test_need_event_matches_spec),
        cmocka_unit_test(test_kick_suppression_event_idx),
        cmocka_unit_test(test_interrupt_suppression_flags),
        cmocka_unit_test(test_interrupt_suppression_event_idx),
        cmocka_unit_test(test_enable_poll_race_flags),
        cmocka_unit_test(test_enable_poll_race_event_idx),
        cmocka_unit_test(test_enable_cb_delayed),
        cmocka_unit_test(test_hostile_id_out_of_range),
        cmocka_unit_test(test_hostile_id_not_in_flight),
        cmocka_unit_test(test_hostile_duplicate_completion),
        cmocka_unit_test(test_hostile_length),
        cmocka_unit_test(test_hostile_used_idx_jump),
        cmocka_unit_test(test_broken_then_reset),
        cmocka_unit_test(test_hostile_desc_scribble),
        cmocka_unit_test(test_detach_unused),
        cmocka_unit_test(test_state_and_stats),
        cmocka_unit_test(test_largest_queue),
    };

    return cmocka_run_group_tests_name("vring", tests, NULL, NULL);
}
