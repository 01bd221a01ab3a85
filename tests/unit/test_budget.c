/*
 * lib/budget.c on the host: the memory budget's arithmetic and the shedding
 * policy (docs/budget.md). The pools are the kernel's real sizes
 * (net/port/lwipopts.h) so that the property tests speak of this kernel:
 * however many connections queue as much as the budget lets them, the next
 * connection can still be accepted and answered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/budget.h"

#define MSS 1460

/* The kernel's pools, with net/net_budget.c's per-connection reserves. */
static struct budget kernel_budget(void)
{
    struct budget b = {0};

    b.pool[BUDGET_SEG] = (struct budget_pool){4096, 0, 4};
    b.pool[BUDGET_PBUF] = (struct budget_pool){4096, 0, 4};
    b.pool[BUDGET_HEAP] = (struct budget_pool){4u << 20, 0, 4 * (160 + MSS)};
    b.pool[BUDGET_PBUF_POOL] = (struct budget_pool){512, 0, 0};
    b.pool[BUDGET_APPMEM] = (struct budget_pool){100u << 20, 0, 16384};
    b.pool[BUDGET_RXBUF] = (struct budget_pool){128, 0, 0};
    b.pcbs_total = 600;
    b.reserve_slots = 64;
    return b;
}

/* What http (zero-copy) and echo (copied) pay per queued segment. */
static struct budget_cost cost(int copy)
{
    struct budget_cost c = {0};

    c.per_seg[BUDGET_SEG] = 1;
    c.per_seg[BUDGET_PBUF] = copy ? 0 : 1;
    c.per_seg[BUDGET_HEAP] = 160;
    c.per_byte[BUDGET_HEAP] = copy ? 1 : 0;
    return c;
}

static void test_reserve_headroom_pressure(void **state)
{
    struct budget b = kernel_budget();

    (void)state;
    /* 600 free slots, a reserve for 64 of them. */
    assert_int_equal(budget_reserve(&b, BUDGET_SEG), 64 * 4);
    assert_int_equal(budget_shareable(&b, BUDGET_SEG), 4096 - 256);
    assert_int_equal(budget_headroom(&b, BUDGET_SEG), 4096 - 256);
    assert_int_equal(budget_pressure(&b, NULL), 0);
    /* Fewer free slots than reserve_slots: the reserve shrinks with them. */
    b.pcbs_used = 590;
    assert_int_equal(budget_reserve(&b, BUDGET_PBUF), 10 * 4);
    b.pcbs_used = 600;
    assert_int_equal(budget_reserve(&b, BUDGET_PBUF), 0);
    b.pcbs_used = 10;
    /* Pressure is used / shareable, the worst pool's, capped. */
    b.pool[BUDGET_PBUF].used = (4096 - 256) / 2;
    b.pool[BUDGET_SEG].used = (4096 - 256) / 4;
    unsigned worst = 99;
    assert_int_equal(budget_pressure(&b, &worst), 500);
    assert_int_equal(worst, BUDGET_PBUF);
    b.pool[BUDGET_PBUF].used = 4096; /* into the reserve (lwIP's own allocations) */
    assert_int_equal(budget_pool_pressure(&b, BUDGET_PBUF), BUDGET_PRESSURE_MAX);
    assert_int_equal(budget_headroom(&b, BUDGET_PBUF), 0);
    /* A pool the configuration does not have never counts. */
    b.pool[BUDGET_RXBUF] = (struct budget_pool){0, 5, 0};
    assert_int_equal(budget_pool_pressure(&b, BUDGET_RXBUF), 0);
}

static void test_share_shrinks_under_pressure(void **state)
{
    struct budget b = kernel_budget();
    uint64_t s = budget_shareable(&b, BUDGET_SEG);

    (void)state;
    assert_int_equal(budget_share(&b, BUDGET_SEG, 0), s);
    assert_int_equal(budget_share(&b, BUDGET_SEG, 10), s / 10);
    b.pool[BUDGET_SEG].used = s / 2; /* at BUDGET_SQUEEZE: still the full share */
    assert_int_equal(budget_share(&b, BUDGET_SEG, 10), s / 10);
    b.pool[BUDGET_SEG].used = s * 3 / 4; /* half way to full: half the share */
    assert_in_range(budget_share(&b, BUDGET_SEG, 10), s / 20 - 1, s / 20 + 1);
    b.pool[BUDGET_SEG].used = s;
    assert_int_equal(budget_share(&b, BUDGET_SEG, 10), 0);
    /* Monotone: more pressure never means a larger share. */
    uint64_t prev = UINT64_MAX;
    for (uint64_t u = 0; u <= s; u += 7) {
        b.pool[BUDGET_SEG].used = u;
        uint64_t sh = budget_share(&b, BUDGET_SEG, 3);
        assert_true(sh <= prev);
        prev = sh;
    }
}

/* Shedding as net_budget_tick() does it: the biggest holder goes, while the pressure says so. */
static unsigned shed(struct budget *b, uint64_t held[][BUDGET_POOLS], unsigned n)
{
    unsigned count = 0;

    while (budget_pressure(b, NULL) >= BUDGET_SHED) {
        struct budget_conn cand[700];
        for (unsigned i = 0; i < n; i++)
            cand[i] = (struct budget_conn){held[i][BUDGET_SEG] + held[i][BUDGET_HEAP], 5000, n - i};
        int v = budget_pick_victim(cand, n, budget_pressure(b, NULL), 2000);
        if (v < 0)
            break;
        for (unsigned p = 0; p < BUDGET_POOLS; p++) {
            b->pool[p].used -= held[v][p];
            held[v][p] = 0;
        }
        held[v][BUDGET_SEG] = 0;
        b->pcbs_used--;
        count++;
    }
    return count;
}

/*
 * The property the budget exists for: @n connections, arriving one by one,
 * each queueing whatever budget_send_room() allows, again and again (a
 * reader that never reads: nothing is ever acknowledged), with shedding
 * at work, never take what connection n + 1 needs. Return: the segments
 * they hold in all.
 */
static uint64_t fill(struct budget *b, unsigned n, int copy, uint32_t limit, unsigned *nshed)
{
    static uint64_t held[700][BUDGET_POOLS];
    struct budget_cost c = cost(copy);

    memset(held, 0, sizeof(held));
    *nshed = 0;
    for (unsigned k = 0; k < n; k++) {
        b->pcbs_used++;
        for (unsigned round = 0; round < 3; round++) {
            for (unsigned i = 0; i <= k; i++) {
                uint64_t queued = held[i][BUDGET_SEG] * MSS;
                uint32_t lim = queued >= limit ? 0 : (uint32_t)(limit - queued);
                uint32_t room = budget_send_room(b, &c, held[i], k + 1, MSS, lim);
                assert_true(room <= lim);
                assert_true(room % MSS == 0 || room == lim); /* whole segments, or lwIP's limit */
                uint64_t segs = room / MSS;
                for (unsigned p = 0; p < BUDGET_POOLS; p++) {
                    uint64_t add = segs * c.per_seg[p] + (uint64_t)room * c.per_byte[p];
                    held[i][p] += add;
                    b->pool[p].used += add;
                }
            }
        }
        *nshed += shed(b, held, k + 1);
        /* Connection k + 2 still fits, whatever k + 1 connections did: the
         * reserve is whole but for the first segment of each. */
        if (b->pcbs_used < b->pcbs_total)
            assert_true(budget_admit(b));
        for (unsigned p = 0; p < BUDGET_POOLS; p++) {
            uint64_t first = (uint64_t)(k + 1) * (c.per_seg[p] + (uint64_t)c.per_byte[p] * MSS);
            assert_true(b->pool[p].used <= b->pool[p].total - budget_reserve(b, p) + first);
        }
    }
    return b->pool[BUDGET_SEG].used;
}

static void test_n_connections_never_exhaust_the_next_one(void **state)
{
    static const unsigned ns[] = {1, 2, 8, 64, 70, 200, 599};

    (void)state;
    for (unsigned copy = 0; copy < 2; copy++) {
        for (unsigned i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
            struct budget b = kernel_budget();
            unsigned nshed;
            uint64_t segs = fill(&b, ns[i], (int)copy, 256 * 1024, &nshed);

            printf("  %s: %3u stalled connections hold %4llu segments, pressure %u/1000, %u shed\n",
                   copy ? "copied" : "zero-copy", ns[i], (unsigned long long)segs, budget_pressure(&b, NULL),
                   nshed);
            assert_true(segs > 0);
            /* A fresh connection still gets at least a segment. */
            uint64_t none[BUDGET_POOLS] = {0};
            struct budget_cost c = cost((int)copy);
            if (b.pcbs_used < b.pcbs_total)
                assert_true(budget_send_room(&b, &c, none, ns[i] + 1, MSS, 65535) >= MSS);
        }
    }
}

static void test_one_connection_is_capped_by_its_limit_and_the_pools(void **state)
{
    struct budget b = kernel_budget();
    struct budget_cost c = cost(0);
    uint64_t held[BUDGET_POOLS] = {0};

    (void)state;
    /* Alone: lwIP's own limit decides. */
    assert_int_equal(budget_send_room(&b, &c, held, 1, MSS, 65535), 65535);
    /* The headroom is a hard ceiling even for one connection holding nothing. */
    b.pool[BUDGET_PBUF].used = 4096 - 256 - 2; /* 2 PBUFs above the reserve */
    assert_int_equal(budget_send_room(&b, &c, held, 1, MSS, 65535), 2 * MSS);
    b.pool[BUDGET_PBUF].used = 4096 - 256; /* headroom gone: one segment out of the reserve */
    assert_int_equal(budget_send_room(&b, &c, held, 1, MSS, 65535), MSS);
    held[BUDGET_SEG] = held[BUDGET_PBUF] = 1; /* but only while it holds nothing */
    assert_int_equal(budget_send_room(&b, &c, held, 1, MSS, 65535), 0);
    held[BUDGET_SEG] = held[BUDGET_PBUF] = 0;
    b.pool[BUDGET_PBUF].used = 4096;
    assert_int_equal(budget_send_room(&b, &c, held, 1, MSS, 65535), 0);
    /* Copied data is paid for in heap bytes. */
    b = kernel_budget();
    c = cost(1);
    b.pool[BUDGET_HEAP].used = budget_shareable(&b, BUDGET_HEAP) - 3 * (160 + MSS);
    assert_int_equal(budget_send_room(&b, &c, held, 1, MSS, 65535), 3 * MSS);
}

static void test_admit(void **state)
{
    struct budget b = kernel_budget();

    (void)state;
    assert_true(budget_admit(&b));
    b.pcbs_used = 600;
    assert_false(budget_admit(&b));
    b.pcbs_used = 100;
    b.pool[BUDGET_HEAP].used = b.pool[BUDGET_HEAP].total - 100; /* lwIP ate the reserve itself */
    assert_false(budget_admit(&b));
    b.pool[BUDGET_HEAP].used = b.pool[BUDGET_HEAP].total - b.pool[BUDGET_HEAP].per_conn_reserve;
    assert_true(budget_admit(&b));
}

static void test_ooseq_limit(void **state)
{
    (void)state;
    assert_int_equal(budget_ooseq_pbufs(0), BUDGET_OOSEQ_MAX);
    assert_int_equal(budget_ooseq_pbufs(BUDGET_SQUEEZE), BUDGET_OOSEQ_MAX);
    assert_int_equal(budget_ooseq_pbufs(BUDGET_PRESSURE_MAX), BUDGET_OOSEQ_MIN);
    assert_int_equal(budget_ooseq_pbufs(5000), BUDGET_OOSEQ_MIN);
    unsigned prev = BUDGET_OOSEQ_MAX;
    for (unsigned p = 0; p <= 1000; p++) {
        unsigned l = budget_ooseq_pbufs(p);
        assert_true(l <= prev && l >= BUDGET_OOSEQ_MIN);
        prev = l;
    }
}

static void test_pick_victim(void **state)
{
    struct budget_conn c[] = {
        {.cost = 5000, .stalled_ms = 0, .age_ms = 100},      /* moving: never */
        {.cost = 300000, .stalled_ms = 500, .age_ms = 9000}, /* not stalled long enough */
        {.cost = 200000, .stalled_ms = 3000, .age_ms = 8000},
        {.cost = 250000, .stalled_ms = 2500, .age_ms = 7000}, /* the most expensive stalled one */
        {.cost = 250000, .stalled_ms = 9000, .age_ms = 9000}, /* as expensive, older */
        {.cost = 0, .stalled_ms = 9000, .age_ms = 1},         /* holds nothing: nothing to gain */
    };

    (void)state;
    assert_int_equal(budget_pick_victim(c, 6, BUDGET_SHED - 1, 2000), -1);
    assert_int_equal(budget_pick_victim(c, 6, BUDGET_SHED, 2000), 3);
    c[3].cost = 0; /* shed */
    assert_int_equal(budget_pick_victim(c, 6, BUDGET_PRESSURE_MAX, 2000), 4);
    c[4].cost = 0;
    assert_int_equal(budget_pick_victim(c, 6, BUDGET_PRESSURE_MAX, 2000), 2);
    c[2].cost = 0;
    assert_int_equal(budget_pick_victim(c, 6, BUDGET_PRESSURE_MAX, 2000), -1);
    assert_int_equal(budget_pick_victim(c, 6, BUDGET_PRESSURE_MAX, 400), 1);
    assert_int_equal(budget_pick_victim(c, 0, BUDGET_PRESSURE_MAX, 0), -1);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(budget_name(BUDGET_SEG), "tcp_seg");
    assert_string_equal(budget_name(BUDGET_RXBUF), "rx_buffers");
    assert_string_equal(budget_name(BUDGET_POOLS), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reserve_headroom_pressure),
        cmocka_unit_test(test_share_shrinks_under_pressure),
        cmocka_unit_test(test_n_connections_never_exhaust_the_next_one),
        cmocka_unit_test(test_one_connection_is_capped_by_its_limit_and_the_pools),
        cmocka_unit_test(test_admit),
        cmocka_unit_test(test_ooseq_limit),
        cmocka_unit_test(test_pick_victim),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
