/*
 * lib/pmm.c on the host. Physical memory is only numbers here, except for
 * the bitmaps pmm_init() carves out of it: the phys_to_virt() below maps a
 * window of "physical" addresses onto a host buffer and fails the test on
 * any access outside it, so a test also learns where the bitmaps went.
 * A model (one byte per page) checks every allocation against the map.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86_64/paging.h"
#include "lib/pmm.h"

#define PG  PMM_PAGE_SIZE
#define MiB (1ull << 20)
#define GiB (1ull << 30)

/* --- fake physical memory for the bitmaps --- */

#define WINDOW_SIZE (4 * MiB)
static _Alignas(4096) unsigned char window[WINDOW_SIZE];
static uint64_t window_base;
static uint64_t lowest_mapped, highest_mapped;

void *phys_to_virt(uint64_t phys)
{
    if (phys < window_base || phys - window_base >= WINDOW_SIZE)
        fail_msg("phys_to_virt(%#llx) outside the test window", (unsigned long long)phys);
    if (phys < lowest_mapped)
        lowest_mapped = phys;
    if (phys > highest_mapped)
        highest_mapped = phys;
    return window + (phys - window_base);
}

static void set_window(uint64_t base)
{
    window_base = base;
    lowest_mapped = UINT64_MAX;
    highest_mapped = 0;
    memset(window, 0xee, sizeof(window)); /* pmm_init must not rely on zeroed memory */
}

/* --- a model of which pages are handed out --- */

/* Pages 0 .. MODEL_PAGES-1 (up to 64 MiB) are tracked. */
#define MODEL_PAGES (64 * MiB / PG)
static unsigned char taken[MODEL_PAGES];

static void assert_stats_add_up(void)
{
    struct pmm_stats st;

    pmm_stats(&st);
    assert_int_equal(st.total_pages, st.free_pages + st.reserved_pages + st.alloc_pages);
}

/* Allocate @n pages, check they are new, aligned and not page 0, and mark them in the model. */
static uint64_t alloc_checked(size_t n)
{
    uint64_t p = pmm_alloc_pages(n);

    if (!p)
        return 0;
    assert_int_equal(p % PG, 0);
    assert_true(p / PG + n <= MODEL_PAGES);
    for (size_t i = 0; i < n; i++) {
        if (taken[p / PG + i])
            fail_msg("page %#llx handed out twice", (unsigned long long)(p + i * PG));
        taken[p / PG + i] = 1;
    }
    return p;
}

static void free_checked(uint64_t p, size_t n)
{
    assert_int_equal(pmm_free_pages(p, n), 0);
    for (size_t i = 0; i < n; i++)
        taken[p / PG + i] = 0;
}

static int setup(void **state)
{
    (void)state;
    memset(taken, 0, sizeof(taken));
    set_window(0);
    /* A failed pmm_init leaves the allocator uninitialised: pmm_reserve() records again. */
    assert_int_equal(pmm_init(NULL, 0, phys_to_virt), -EINVAL);
    return 0;
}

/* 16 MiB from 0: page 0 and the bitmap (one page, right after it) are reserved. */
static void test_basic(void **state)
{
    (void)state;
    struct pmm_region r = {0, 16 * MiB};
    struct pmm_stats st;

    assert_int_equal(pmm_init(&r, 1, phys_to_virt), 0);
    pmm_stats(&st);
    assert_int_equal(st.total_pages, 4096);
    assert_int_equal(st.reserved_pages, 2);
    assert_int_equal(st.free_pages, 4094);
    assert_int_equal(st.alloc_pages, 0);
    /* 2 bitmaps of 4096 bits = 1 KiB, at page 1 (page 0 is never used). */
    assert_int_equal(lowest_mapped, PG);
    assert_true(highest_mapped < 2 * PG);

    uint64_t a = alloc_checked(1), b = alloc_checked(3), c = alloc_checked(1);
    assert_int_equal(a, 2 * PG); /* lowest first */
    assert_int_equal(b, 3 * PG);
    assert_int_equal(c, 6 * PG);
    pmm_stats(&st);
    assert_int_equal(st.alloc_pages, 5);
    assert_stats_add_up();

    free_checked(b, 3);
    assert_int_equal(alloc_checked(2), 3 * PG); /* the hole is reused */
    assert_int_equal(alloc_checked(2), 7 * PG); /* 1 page left in the hole: too small */
    assert_int_equal(alloc_checked(1), 5 * PG);
    assert_int_equal(pmm_alloc_pages(0), 0);
    assert_stats_add_up();
}

/* Every page once, then nothing; page 0 never. Then everything back. */
static void test_exhaustion(void **state)
{
    (void)state;
    struct pmm_region r = {0, 4 * MiB};
    struct pmm_stats st;
    static uint64_t pages[1024];
    size_t n = 0;
    uint64_t p;

    assert_int_equal(pmm_init(&r, 1, phys_to_virt), 0);
    pmm_stats(&st);
    while ((p = alloc_checked(1)) != 0)
        pages[n++] = p;
    assert_int_equal(n, st.free_pages);
    assert_int_equal(taken[0], 0);
    pmm_stats(&st);
    assert_int_equal(st.free_pages, 0);
    assert_int_equal(pmm_alloc_pages(1), 0);
    for (size_t i = 0; i < n; i++)
        free_checked(pages[i], 1);
    pmm_stats(&st);
    assert_int_equal(st.free_pages, 1022);
    assert_int_equal(st.alloc_pages, 0);
    /* All free again, so the largest run is everything but page 0 and the bitmap page. */
    assert_int_equal(alloc_checked(1022), 2 * PG);
    assert_int_equal(pmm_alloc_pages(1), 0);
}

/* Contiguity: with every other page taken, no 2-page run exists until a neighbour is freed. */
static void test_contiguous(void **state)
{
    (void)state;
    struct pmm_region r = {0, 1 * MiB};
    static uint64_t pages[256];
    size_t n = 0;
    uint64_t p;

    assert_int_equal(pmm_init(&r, 1, phys_to_virt), 0);
    while ((p = alloc_checked(1)) != 0)
        pages[n++] = p;
    for (size_t i = 0; i < n; i += 2)
        free_checked(pages[i], 1);
    assert_int_equal(pmm_alloc_pages(2), 0);
    assert_stats_add_up();
    free_checked(pages[51], 1);
    assert_int_equal(alloc_checked(3), pages[50]);
    assert_int_equal(pmm_alloc_pages(2), 0);

    /* Runs longer than 64 pages cross bitmap words. */
    setup(NULL);
    struct pmm_region big = {0, 32 * MiB};
    assert_int_equal(pmm_init(&big, 1, phys_to_virt), 0);
    uint64_t x = alloc_checked(1), y = alloc_checked(200), z = alloc_checked(70);
    assert_int_equal(y, x + PG);
    assert_int_equal(z, y + 200 * PG);
    free_checked(y + 10 * PG, 100); /* part of a run */
    assert_int_equal(alloc_checked(101), z + 70 * PG);
    assert_int_equal(alloc_checked(100), y + 10 * PG);
    assert_stats_add_up();
}

static void test_free_errors(void **state)
{
    (void)state;
    struct pmm_region r = {1 * MiB, 4 * MiB};
    struct pmm_stats before, after;

    set_window(1 * MiB);
    assert_int_equal(pmm_init(&r, 1, phys_to_virt), 0);
    uint64_t p = alloc_checked(4);
    pmm_stats(&before);

    assert_int_equal(pmm_free_pages(p + 1, 1), -EINVAL);    /* not page aligned */
    assert_int_equal(pmm_free_pages(p, 0), -EINVAL);        /* nothing */
    assert_int_equal(pmm_free_pages(0, 1), -EINVAL);        /* below the map */
    assert_int_equal(pmm_free_pages(64 * GiB, 1), -EINVAL); /* above it */
    assert_int_equal(pmm_free_pages(p, SIZE_MAX), -EINVAL); /* runs off the end */
    assert_int_equal(pmm_free_pages(1 * MiB, 1), -ENOENT);  /* the bitmap page: never allocated */
    assert_int_equal(pmm_free_pages(p, 5), -ENOENT);        /* one page too many: nothing freed */
    pmm_stats(&after);
    assert_memory_equal(&before, &after, sizeof(before));

    free_checked(p + PG, 2);
    assert_int_equal(pmm_free_pages(p + PG, 1), -ENOENT); /* double free */
    assert_int_equal(pmm_free_pages(p, 4), -ENOENT);      /* partly double */
    free_checked(p, 1);
    free_checked(p + 3 * PG, 1);
    pmm_stats(&after);
    assert_int_equal(after.alloc_pages, 0);
    assert_stats_add_up();
}

/* Early reservations are honoured and keep the bitmap away; later ones mark at once. */
static void test_reserve(void **state)
{
    (void)state;
    struct pmm_region r = {0, 16 * MiB};
    struct pmm_stats st;

    assert_int_equal(pmm_reserve(0, 1 * MiB), 0);             /* the first MiB */
    assert_int_equal(pmm_reserve(1 * MiB, 2 * MiB + 123), 0); /* "kernel": partial last page */
    assert_int_equal(pmm_reserve(5 * MiB + 100, 10), 0);      /* inside one page */
    assert_int_equal(pmm_reserve(7 * MiB, 0), 0);             /* empty: nothing */
    assert_int_equal(pmm_init(&r, 1, phys_to_virt), 0);

    /* Bitmap: the first page after the "kernel", 3 MiB + 1 page. */
    assert_int_equal(lowest_mapped, 3 * MiB + PG);
    pmm_stats(&st);
    uint64_t reserved = 256 + 513 + 1 + 1; /* first MiB, kernel, one page, bitmap */
    assert_int_equal(st.reserved_pages, reserved);
    assert_int_equal(st.free_pages, 4096 - reserved);

    uint64_t p;
    while ((p = alloc_checked(1)) != 0) {
        assert_true(p >= 3 * MiB + 2 * PG);
        assert_true(p != 5 * MiB);
    }
    assert_int_equal(taken[7 * MiB / PG], 1); /* the empty reservation reserved nothing */

    /* After init: refused over allocated pages, else applied at once. */
    assert_int_equal(pmm_reserve(8 * MiB, PG), -EBUSY);
    free_checked(8 * MiB, 1);
    free_checked(8 * MiB + PG, 1);
    pmm_stats(&st);
    assert_int_equal(st.free_pages, 2);
    assert_int_equal(pmm_reserve(8 * MiB, PG + 1), 0); /* touches two pages */
    pmm_stats(&st);
    assert_int_equal(st.free_pages, 0);
    assert_int_equal(pmm_reserve(8 * MiB, PG), 0);   /* again: no change */
    assert_int_equal(pmm_reserve(100 * GiB, PG), 0); /* outside the map: nothing to do */
    pmm_stats(&st);
    assert_int_equal(st.reserved_pages, reserved + 2);
    assert_int_equal(pmm_free_pages(8 * MiB, 1), -ENOENT); /* reserved, not allocated */
    assert_stats_add_up();

    /* A later pmm_init starts afresh: the early list was consumed. */
    memset(taken, 0, sizeof(taken));
    assert_int_equal(pmm_init(&r, 1, phys_to_virt), 0);
    pmm_stats(&st);
    assert_int_equal(st.reserved_pages, 2);

    /* The early list has a limit. */
    setup(NULL);
    for (int i = 0; i < PMM_EARLY_RESERVED_MAX; i++)
        assert_int_equal(pmm_reserve((uint64_t)i * 2 * PG, PG), 0);
    assert_int_equal(pmm_reserve(1 * GiB, PG), -ENOSPC);
    assert_int_equal(pmm_init(&r, 1, phys_to_virt), 0);
    pmm_stats(&st);
    /* Pages 0, 2, ..., 62 and the bitmap, which lands on the first free page, 1. */
    assert_int_equal(st.reserved_pages, PMM_EARLY_RESERVED_MAX + 1);
    assert_int_equal(lowest_mapped, PG);
}

/* Unaligned, overlapping, duplicate and empty ranges. */
static void test_odd_regions(void **state)
{
    (void)state;
    struct pmm_stats st;

    /* [0x1234, 0x5010): pages 2, 3 and 4 are whole. */
    struct pmm_region unaligned = {0x1234, 0x5010 - 0x1234};
    assert_int_equal(pmm_init(&unaligned, 1, phys_to_virt), 0);
    pmm_stats(&st);
    assert_int_equal(st.total_pages, 3);
    assert_int_equal(st.reserved_pages, 1); /* the bitmap, at page 2 */
    assert_int_equal(lowest_mapped, 2 * PG);
    assert_int_equal(alloc_checked(2), 3 * PG);
    assert_int_equal(pmm_alloc_pages(1), 0);

    setup(NULL);
    set_window(1 * MiB);
    struct pmm_region overlap[] = {
        {2 * MiB, 2 * MiB},      /* 2-4 MiB */
        {1 * MiB, 2 * MiB},      /* 1-3 MiB */
        {2 * MiB, 1 * MiB},      /* inside both */
        {9 * MiB, 0},            /* empty */
        {5 * MiB + 10, PG - 20}, /* no whole page */
        {1 * MiB, 2 * MiB},      /* duplicate */
    };
    assert_int_equal(pmm_init(overlap, 6, phys_to_virt), 0);
    pmm_stats(&st);
    assert_int_equal(st.total_pages, 3 * MiB / PG);
    assert_int_equal(st.reserved_pages, 1);
    assert_int_equal(lowest_mapped, 1 * MiB);
    /* One contiguous run across the overlapping ranges. */
    assert_int_equal(alloc_checked(3 * MiB / PG - 1), 1 * MiB + PG);
    assert_int_equal(pmm_alloc_pages(1), 0);

    /* Nothing usable at all. */
    struct pmm_region none[] = {{0, 0}, {0x10, 0x100}, {5 * PG + 1, PG}};
    assert_int_equal(pmm_init(none, 3, phys_to_virt), -EINVAL);
    assert_int_equal(pmm_init(NULL, 0, phys_to_virt), -EINVAL);
    assert_int_equal(pmm_alloc_pages(1), 0); /* not initialised */
    assert_int_equal(pmm_free_pages(PG, 1), -EINVAL);

    /*
     * A length that runs past the end of the address space is cut at the
     * last address instead of wrapping; the very last page, which ends
     * exactly at 2^64, cannot be described and is left out.
     */
    setup(NULL);
    set_window(UINT64_MAX - 2 * MiB + 1);
    struct pmm_region top = {UINT64_MAX - MiB + 1, UINT64_MAX};
    assert_int_equal(pmm_init(&top, 1, phys_to_virt), 0);
    pmm_stats(&st);
    assert_int_equal(st.total_pages, MiB / PG - 1);
    assert_int_equal(lowest_mapped, UINT64_MAX - MiB + 1);
    uint64_t p = pmm_alloc_pages(254);
    assert_int_equal(p, UINT64_MAX - MiB + 1 + PG);
    assert_int_equal(pmm_alloc_pages(1), 0);
    assert_int_equal(pmm_free_pages(p, 254), 0);
}

/* RAM below 4 GiB and above it: one map spans the hole, allocation reaches the high RAM. */
static void test_above_4g(void **state)
{
    (void)state;
    struct pmm_region r[] = {{1 * MiB, 1 * MiB}, {4 * GiB, 2 * MiB}};
    struct pmm_stats st;

    set_window(1 * MiB);
    assert_int_equal(pmm_init(r, 2, phys_to_virt), 0);
    pmm_stats(&st);
    assert_int_equal(st.total_pages, 256 + 512);
    /* (4 GiB + 2 MiB - 1 MiB) / 4 KiB pages, two bits each: 65 pages of bitmap at 1 MiB. */
    uint64_t map_pages = (2 * ((4 * GiB + 1 * MiB) / PG / 64) * 8 + PG - 1) / PG;
    assert_int_equal(st.reserved_pages, map_pages);
    assert_int_equal(lowest_mapped, 1 * MiB);
    assert_true(highest_mapped < 1 * MiB + map_pages * PG);

    /* The low run is too short for 300 pages; the high one is not. */
    uint64_t p = pmm_alloc_pages(300);
    assert_int_equal(p, 4 * GiB);
    uint64_t q = pmm_alloc_pages(256 - map_pages);
    assert_int_equal(q, 1 * MiB + map_pages * PG);
    assert_int_equal(pmm_alloc_pages(212), 4 * GiB + 300 * PG);
    assert_int_equal(pmm_alloc_pages(1), 0);
    assert_int_equal(pmm_free_pages(p, 300), 0);
    assert_int_equal(pmm_free_pages(4 * GiB - PG, 1), -ENOENT); /* the hole is not RAM */
    assert_stats_add_up();

    /* RAM so far apart that the bitmaps fit nowhere. */
    struct pmm_region sparse[] = {{1 * MiB, 64 * PG}, {1ull << 40, 64 * PG}};
    assert_int_equal(pmm_init(sparse, 2, phys_to_virt), -ENOMEM);
}

/* Is there a run of @n free pages, by the model, inside one of @r's regions
 * (whole pages only) and outside the bitmap pages @map_lo .. @map_hi? */
static bool model_has_run(const struct pmm_region *r, int nr, uint64_t map_lo, uint64_t map_hi, size_t n)
{
    for (int i = 0; i < nr; i++) {
        uint64_t first = (r[i].base + PG - 1) / PG, end = (r[i].base + r[i].len) / PG;
        size_t run = 0;
        for (uint64_t pg = first; pg < end && pg < MODEL_PAGES; pg++) {
            bool busy = taken[pg] || (pg * PG >= map_lo && pg * PG < map_hi);
            run = busy ? 0 : run + 1;
            if (run == n)
                return true;
        }
    }
    return false;
}

/* Random runs against the model: every allocation is checked against the
 * map, and a failed one only where the model has no free run that long. */
static void test_random(void **state)
{
    (void)state;
    struct pmm_region r[] = {{0x3000, 20 * MiB}, {30 * MiB + 7, 10 * MiB}};
    enum { SLOTS = 64 };
    uint64_t at[SLOTS] = {0};
    size_t len[SLOTS] = {0};
    uint64_t rng = 88172645463325252ull;
    unsigned failures = 0, successes = 0;
    struct pmm_stats st;

    assert_int_equal(pmm_init(r, 2, phys_to_virt), 0);
    pmm_stats(&st);
    /* The bitmap lies at the lowest page pmm_init() mapped, and is all that is reserved. */
    uint64_t map_lo = lowest_mapped, map_hi = lowest_mapped + st.reserved_pages * PG;
    assert_int_equal(map_lo, 0x3000);
    for (int round = 0; round < 20000; round++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        unsigned slot = (unsigned)(rng % SLOTS);
        if (at[slot]) {
            free_checked(at[slot], len[slot]);
            at[slot] = 0;
        } else {
            size_t n = 1 + (rng >> 16) % ((rng >> 8) % 4 == 0 ? 700 : 16);
            at[slot] = alloc_checked(n);
            len[slot] = n;
            if (!at[slot]) {
                failures++;
                if (model_has_run(r, 2, map_lo, map_hi, n))
                    fail_msg("round %d: %zu pages refused although the model has a free run", round, n);
            } else {
                successes++;
                assert_true((at[slot] >= 0x3000 && at[slot] + n * PG <= 0x3000 + 20 * MiB) ||
                            (at[slot] >= 30 * MiB + PG && at[slot] + n * PG <= 40 * MiB));
            }
        }
        if (round % 1000 == 0)
            assert_stats_add_up();
    }
    size_t held = 0;
    for (int i = 0; i < SLOTS; i++)
        if (at[i]) {
            held += len[i];
            free_checked(at[i], len[i]);
        }
    pmm_stats(&st);
    assert_int_equal(st.alloc_pages, 0);
    assert_true(held > 0);
    /* Both outcomes were exercised (the exact split depends only on the fixed seed). */
    assert_true(failures > 0 && successes > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_basic, setup),      cmocka_unit_test_setup(test_exhaustion, setup),
        cmocka_unit_test_setup(test_contiguous, setup), cmocka_unit_test_setup(test_free_errors, setup),
        cmocka_unit_test_setup(test_reserve, setup),    cmocka_unit_test_setup(test_odd_regions, setup),
        cmocka_unit_test_setup(test_above_4g, setup),   cmocka_unit_test_setup(test_random, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
