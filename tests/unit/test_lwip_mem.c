/*
 * lwIP's heap on the kernel heap (net/lwip_mem.c): requests are refused once
 * lwIP's count of bytes in use (lwip_stats.mem.used, kept by lwIP's
 * mem_malloc(), played here) would pass MEM_SIZE; what the blocks cost the
 * kernel heap is tracked exactly, so the budget can tell them from the apps'.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "lib/heap.h"
#include "lwip/stats.h"
#include "net/lwip_mem.h"

struct stats_ lwip_stats;

#define ARENA_SIZE (MEM_SIZE + (1 << 20))
static _Alignas(4096) unsigned char arena[ARENA_SIZE];

static int setup(void **state)
{
    (void)state;
    memset(&lwip_stats, 0, sizeof(lwip_stats));
    heap_init(NULL, NULL);
    assert_int_equal(heap_add_region(arena, sizeof(arena)), 0);
    lwip_mem_init();
    return 0;
}

/* What lwIP's mem_malloc() does around the call: count what it asked for. */
static void *lwip_alloc(size_t size)
{
    void *p = lwip_mem_malloc(size);
    if (p)
        lwip_stats.mem.used += size;
    else
        lwip_stats.mem.err++;
    return p;
}

static void lwip_release(void *p, size_t size)
{
    lwip_stats.mem.used -= size;
    lwip_mem_free(p);
}

static void test_avail_is_the_limit(void **state)
{
    (void)state;
    assert_int_equal(lwip_stats.mem.avail, MEM_SIZE);
    assert_int_equal(lwip_mem_held(), 0);
}

/* Up to MEM_SIZE in use, not a byte more; freeing makes room again. */
static void test_cap_at_mem_size(void **state)
{
    (void)state;
    enum { N = 64 };
    static void *blocks[N];
    size_t each = MEM_SIZE / N;

    for (unsigned i = 0; i < N; i++) {
        blocks[i] = lwip_alloc(each);
        assert_non_null(blocks[i]);
    }
    assert_int_equal(lwip_stats.mem.used, MEM_SIZE);
    assert_null(lwip_alloc(1));
    assert_int_equal(lwip_stats.mem.err, 1);
    lwip_release(blocks[0], each);
    assert_null(lwip_alloc(each + 1));
    blocks[0] = lwip_alloc(each);
    assert_non_null(blocks[0]);
    for (unsigned i = 0; i < N; i++)
        lwip_release(blocks[i], each);
    assert_int_equal(lwip_stats.mem.used, 0);
    assert_int_equal(lwip_mem_held(), 0);
}

/* Sizes that would wrap the arithmetic are refused, not allocated small. */
static void test_huge_and_overflowing_requests(void **state)
{
    (void)state;
    assert_null(lwip_mem_malloc((size_t)MEM_SIZE + 1));
    assert_null(lwip_mem_malloc(SIZE_MAX));
    assert_null(lwip_mem_calloc(SIZE_MAX / 2, 4));
    assert_null(lwip_mem_calloc(MEM_SIZE, 2));
    assert_int_equal(lwip_mem_held(), 0);
}

/* held is what heap_stats() counts as used for these blocks, headers included. */
static void test_held_matches_the_heap(void **state)
{
    (void)state;
    struct heap_stats before, after;
    static const size_t sizes[] = {1, 54, 100, 1514, 4096, 65536};
    void *p[sizeof(sizes) / sizeof(sizes[0])];

    heap_stats(&before);
    for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        p[i] = lwip_alloc(sizes[i]);
        assert_non_null(p[i]);
        memset(p[i], 0x5a, sizes[i]);
    }
    heap_stats(&after);
    assert_int_equal(lwip_mem_held(), after.used_bytes - before.used_bytes);
    void *z = lwip_mem_calloc(10, 30);
    assert_non_null(z);
    for (unsigned i = 0; i < 300; i++)
        assert_int_equal(((unsigned char *)z)[i], 0);
    lwip_mem_free(z);
    for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        lwip_release(p[i], sizes[i]);
    assert_int_equal(lwip_mem_held(), 0);
    assert_int_equal(heap_check(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_avail_is_the_limit, setup),
        cmocka_unit_test_setup(test_cap_at_mem_size, setup),
        cmocka_unit_test_setup(test_huge_and_overflowing_requests, setup),
        cmocka_unit_test_setup(test_held_matches_the_heap, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
