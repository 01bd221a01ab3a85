/*
 * lib/heap.c on the host, in static arenas. The error hook records what the
 * heap reported instead of panicking, so tests can assert that bad frees
 * are caught; heap_check() verifies every block and list after each step.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/heap.h"

#define ARENA_SIZE (1u << 20)
static _Alignas(4096) unsigned char arena[ARENA_SIZE];

/* Pages for the grow callback, handed out in order (so they are adjacent). */
#define POOL_PAGES 256
static _Alignas(4096) unsigned char pool[POOL_PAGES * HEAP_PAGE_SIZE];
static size_t pool_used, grow_calls;

static int errors;
static const char *last_error;
static const void *last_error_ptr;

static void record_error(const char *what, const void *ptr)
{
    errors++;
    last_error = what;
    last_error_ptr = ptr;
}

static void *pool_grow(size_t pages)
{
    grow_calls++;
    if (pages > POOL_PAGES - pool_used)
        return NULL;
    void *p = pool + pool_used * HEAP_PAGE_SIZE;
    pool_used += pages;
    return p;
}

static struct heap_stats baseline;

static int setup_arena(void **state)
{
    (void)state;
    errors = 0;
    last_error = NULL;
    last_error_ptr = NULL;
    /* No stale headers from the previous test: "no header there" must be true. */
    memset(arena, 0, sizeof(arena));
    heap_init(NULL, record_error);
    assert_int_equal(heap_add_region(arena, sizeof(arena)), 0);
    assert_int_equal(heap_check(), 0);
    heap_stats(&baseline);
    return 0;
}

static int setup_grow(void **state)
{
    (void)state;
    errors = 0;
    pool_used = grow_calls = 0;
    heap_init(pool_grow, record_error);
    heap_stats(&baseline);
    return 0;
}

static void assert_consistent(void)
{
    int e = errors;
    assert_int_equal(heap_check(), 0);
    assert_int_equal(errors, e);
}

/* Everything freed: the same numbers as right after setup. */
static void assert_baseline(void)
{
    struct heap_stats st;

    assert_consistent();
    heap_stats(&st);
    assert_int_equal(st.used_bytes, 0);
    assert_int_equal(st.allocations, 0);
    assert_int_equal(st.free_bytes, baseline.free_bytes);
    assert_int_equal(st.largest_free, baseline.largest_free);
}

static void test_basic(void **state)
{
    (void)state;
    struct heap_stats st;
    char *p = k_malloc(100);

    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 16, 0);
    assert_true(heap_usable_size(p) >= 100);
    memset(p, 0x5a, heap_usable_size(p));
    heap_stats(&st);
    assert_int_equal(st.allocations, 1);
    assert_int_equal(st.total_allocations, 1);
    assert_true(st.used_bytes >= 116 && st.used_bytes <= 160);
    assert_int_equal(st.used_bytes + st.free_bytes, baseline.free_bytes);
    assert_consistent();

    /* malloc(0) gives a real, freeable pointer. */
    void *z = k_malloc(0);
    assert_non_null(z);
    k_free(z);
    k_free(NULL); /* allowed, does nothing */
    k_free(p);
    assert_int_equal(errors, 0);
    assert_baseline();
}

/* Every pointer 16-aligned, and no two allocations overlap. */
static void test_alignment_and_disjoint(void **state)
{
    (void)state;
    enum { N = 300 };
    unsigned char *p[N];

    for (int i = 0; i < N; i++) {
        size_t size = (size_t)(i * 37) % 700;
        p[i] = k_malloc(size);
        assert_non_null(p[i]);
        assert_int_equal((uintptr_t)p[i] % 16, 0);
        memset(p[i], i & 0xff, size);
    }
    assert_consistent();
    for (int i = 0; i < N; i++) {
        size_t size = (size_t)(i * 37) % 700;
        for (size_t j = 0; j < size; j++)
            assert_int_equal(p[i][j], i & 0xff);
        k_free(p[i]);
    }
    assert_baseline();
}

/* Free every other block: holes form, a big request does not fit in them, and freeing the rest coalesces all. */
static void test_fragmentation_coalescing(void **state)
{
    (void)state;
    enum { N = 200, SMALL = 256 };
    void *p[N];
    struct heap_stats st;

    for (int i = 0; i < N; i++)
        assert_non_null(p[i] = k_malloc(SMALL));
    for (int i = 0; i < N; i += 2)
        k_free(p[i]);
    assert_consistent();
    heap_stats(&st);
    assert_int_equal(st.allocations, N / 2);

    /* A hole of one small block cannot hold this: it must come from past the last block. */
    char *big = k_malloc(4 * SMALL);
    assert_non_null(big);
    assert_true(big > (char *)p[N - 1]);
    /* Small requests reuse the holes. */
    void *again = k_malloc(SMALL);
    assert_true(again >= p[0] && again <= p[N - 1]);
    k_free(again);
    k_free(big);

    /* Freeing the odd ones merges each with both free neighbours. */
    for (int i = 1; i < N; i += 2)
        k_free(p[i]);
    assert_int_equal(errors, 0);
    assert_baseline();

    /* Three neighbours freed in the order a, c, b end up as one block again. */
    void *a = k_malloc(1000), *b = k_malloc(1000), *c = k_malloc(1000);
    k_free(a);
    k_free(c);
    assert_consistent();
    k_free(b);
    assert_baseline();
}

static void test_aligned(void **state)
{
    (void)state;
    enum { MAXP = 64 };
    void *ptrs[MAXP];
    int n = 0;

    for (size_t align = 1; align <= 65536; align *= 2) {
        for (size_t size = 1; size <= 5000; size = size * 3 + 1) {
            unsigned char *p = heap_alloc_aligned(size, align);
            assert_non_null(p);
            assert_int_equal((uintptr_t)p % (align < 16 ? 16 : align), 0);
            assert_true(heap_usable_size(p) >= size);
            memset(p, 0xcc, size);
            assert_consistent();
            if (n < MAXP)
                ptrs[n++] = p;
            else
                k_free(p);
        }
    }
    for (int i = 0; i < n; i++)
        k_free(ptrs[i]);
    assert_baseline();

    /* Not a power of two, or zero: refused. */
    assert_null(heap_alloc_aligned(64, 48));
    assert_null(heap_alloc_aligned(64, 0));

    void *q = NULL;
    assert_int_equal(k_posix_memalign(&q, 4096, 100), 0);
    assert_int_equal((uintptr_t)q % 4096, 0);
    k_free(q);
    assert_int_equal(k_posix_memalign(&q, 4, 100), EINVAL); /* below sizeof(void *) */
    assert_int_equal(k_posix_memalign(&q, 1u << 30, 100), ENOMEM);
    q = k_aligned_alloc(256, 512);
    assert_int_equal((uintptr_t)q % 256, 0);
    k_free(q);
    assert_baseline();
}

static void test_double_free(void **state)
{
    (void)state;
    void *a = k_malloc(64), *b = k_malloc(64), *c = k_malloc(64);
    struct heap_stats st;

    k_free(b);
    k_free(b);
    assert_int_equal(errors, 1);
    assert_string_equal(last_error, "double free");
    assert_ptr_equal(last_error_ptr, b);
    assert_consistent();

    /* Freed and merged into its free neighbour: still recognised. */
    k_free(a); /* a absorbs b */
    k_free(b);
    assert_int_equal(errors, 2);
    assert_string_equal(last_error, "double free");
    k_free(a);
    assert_int_equal(errors, 3);
    assert_string_equal(last_error, "double free");
    assert_consistent();

    /* realloc of a freed pointer is caught too, and returns NULL. */
    assert_null(k_realloc(a, 200));
    assert_int_equal(errors, 4);

    heap_stats(&st);
    assert_int_equal(st.errors, 4);
    k_free(c);
    assert_baseline();
}

static void test_foreign_pointers(void **state)
{
    (void)state;
    int on_stack;
    static char outside[64];
    char *p = k_malloc(128);

    k_free(&on_stack);
    assert_int_equal(errors, 1);
    assert_string_equal(last_error, "invalid pointer (not from the heap)");
    k_free(outside + 16);
    assert_int_equal(errors, 2);
    k_free(p + 1); /* unaligned, inside the heap */
    assert_int_equal(errors, 3);
    k_free(p + 32); /* aligned, inside a block, no header there */
    assert_int_equal(errors, 4);
    assert_string_equal(last_error, "invalid pointer (no block header)");
    assert_ptr_equal(last_error_ptr, p + 32);
    assert_int_equal(heap_usable_size(p + 48), 0);
    assert_int_equal(errors, 5);
    assert_consistent();

    /* A header overwritten by a stray write is not trusted. */
    p[-12] ^= 0x40; /* a bit of the size word */
    k_free(p);
    assert_int_equal(errors, 6);
    assert_string_equal(last_error, "invalid pointer (no block header)");
    p[-12] ^= 0x40;
    k_free(p);
    assert_int_equal(errors, 6);
    assert_baseline();
}

static void test_exhaustion(void **state)
{
    (void)state;
    enum { MAXB = ARENA_SIZE / 1000 + 10 };
    static void *blocks[MAXB];
    struct heap_stats st;
    int n = 0;

    assert_null(k_malloc(ARENA_SIZE)); /* bigger than everything */
    assert_null(k_malloc(SIZE_MAX));
    assert_null(k_malloc(SIZE_MAX - 8));
    heap_stats(&st);
    assert_int_equal(st.failures, 3);

    while ((blocks[n] = k_malloc(1000)) != NULL) {
        n++;
        assert_true(n < MAXB);
    }
    assert_true(n > (int)(ARENA_SIZE / 1100));
    assert_consistent();
    heap_stats(&st);
    assert_true(st.largest_free < 1000);

    /* Still works: free one, allocate in its place. */
    k_free(blocks[n / 2]);
    void *again = k_malloc(1000);
    assert_ptr_equal(again, blocks[n / 2]);
    for (int i = 0; i < n; i++)
        k_free(blocks[i]);
    assert_int_equal(errors, 0);
    assert_baseline();
    assert_non_null(blocks[0] = k_malloc(ARENA_SIZE / 2));
    k_free(blocks[0]);
}

static void fill(unsigned char *p, size_t n, unsigned char seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed + i * 13);
}

static int same(const unsigned char *p, size_t n, unsigned char seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed + i * 13))
            return 0;
    return 1;
}

static void test_realloc_contents(void **state)
{
    (void)state;
    unsigned char *p = k_realloc(NULL, 100); /* = malloc */
    assert_non_null(p);
    fill(p, 100, 1);

    /* Grow in place: the next block is free. */
    unsigned char *q = k_realloc(p, 3000);
    assert_ptr_equal(q, p);
    assert_true(same(q, 100, 1));
    fill(q, 3000, 2);
    assert_consistent();

    /* Shrink keeps the prefix and gives the tail back. */
    struct heap_stats before, after;
    heap_stats(&before);
    q = k_realloc(q, 200);
    assert_ptr_equal(q, p);
    assert_true(same(q, 200, 2));
    heap_stats(&after);
    assert_true(after.used_bytes < before.used_bytes);
    assert_consistent();

    /* Blocked by a neighbour: moves, keeps contents. */
    unsigned char *wall = k_malloc(16);
    unsigned char *r = k_realloc(q, 5000);
    assert_non_null(r);
    assert_ptr_not_equal(r, q);
    assert_true(same(r, 200, 2));
    assert_consistent();

    /* Failure leaves the block alone. */
    assert_null(k_realloc(r, ARENA_SIZE * 2));
    assert_true(same(r, 200, 2));

    assert_null(k_realloc(r, 0)); /* frees */
    k_free(wall);
    assert_int_equal(errors, 0);
    assert_baseline();
}

static void test_calloc_zero_overflow(void **state)
{
    (void)state;
    unsigned char *p = k_malloc(4000);

    memset(p, 0xee, 4000);
    k_free(p);
    unsigned char *z = k_calloc(100, 40);
    assert_ptr_equal(z, p); /* the same dirty memory ... */
    for (int i = 0; i < 4000; i++)
        assert_int_equal(z[i], 0); /* ... now zeroed */
    k_free(z);

    struct heap_stats st;
    assert_null(k_calloc(SIZE_MAX / 2 + 1, 2)); /* product overflows */
    assert_null(k_calloc((size_t)1 << 33, (size_t)1 << 33));
    heap_stats(&st);
    assert_int_equal(st.failures, 2);
    assert_baseline();
}

static void test_grow(void **state)
{
    (void)state;
    void *p[40];
    struct heap_stats st;

    /* No region at all: the first malloc grows the heap. */
    p[0] = k_malloc(100);
    assert_non_null(p[0]);
    assert_int_equal(grow_calls, 1);
    assert_int_equal(pool_used, HEAP_GROW_MIN_PAGES);
    for (int i = 1; i < 40; i++) {
        p[i] = k_malloc(20000);
        assert_non_null(p[i]);
        memset(p[i], i, 20000);
    }
    assert_consistent();
    heap_stats(&st);
    /* The pages came in order, so the arenas were joined into one: no per-arena overhead past the first. */
    assert_int_equal(st.arena_bytes, pool_used * HEAP_PAGE_SIZE);
    assert_int_equal(st.arena_bytes - st.used_bytes - st.free_bytes, 32 + 16);

    /* A request larger than the minimum grow step gets enough pages at once. */
    void *large = k_malloc(200 * 1024);
    assert_non_null(large);
    memset(large, 1, 200 * 1024);

    /* The provider runs dry: NULL, and the heap still works. */
    assert_null(k_malloc(POOL_PAGES * HEAP_PAGE_SIZE));
    k_free(large);
    for (int i = 0; i < 40; i++)
        k_free(p[i]);
    assert_int_equal(errors, 0);
    assert_consistent();
    heap_stats(&st);
    assert_int_equal(st.used_bytes, 0);
    assert_int_equal(st.largest_free, st.free_bytes - 16); /* one block spans it all */
    assert_non_null(p[0] = k_malloc(100));
    k_free(p[0]);

    /* heap_add_region refuses what it cannot use. */
    assert_int_equal(heap_add_region(NULL, 4096), -EINVAL);
    assert_int_equal(heap_add_region(arena, 40), -EINVAL);
    assert_int_equal(heap_add_region(pool, 4096), -EINVAL); /* already managed */
}

/* Pages with a gap after each grant, so arenas can never be joined. */
static void *scattered_grow(size_t pages)
{
    void *p = pool_grow(pages + 1);
    return p;
}

static void test_grow_scattered(void **state)
{
    (void)state;
    enum { N = 12 };
    void *p[N];
    struct heap_stats st;

    heap_init(scattered_grow, record_error);
    for (int i = 0; i < N; i++) {
        p[i] = k_malloc(60000); /* one arena each */
        assert_non_null(p[i]);
        memset(p[i], i, 60000);
    }
    assert_int_equal(grow_calls, N);
    assert_consistent();
    heap_stats(&st);
    assert_int_equal(st.arena_bytes - st.used_bytes - st.free_bytes, N * (32 + 16));
    /* Frees in an order that makes the arena lookup search the whole list. */
    for (int i = 0; i < N; i += 2)
        k_free(p[i]);
    for (int i = N - 1; i > 0; i -= 2)
        k_free(p[i]);
    assert_int_equal(errors, 0);
    /* A pointer in the page between two arenas belongs to none of them. */
    k_free(pool + (HEAP_GROW_MIN_PAGES)*HEAP_PAGE_SIZE + 64);
    assert_int_equal(errors, 1);
    assert_string_equal(last_error, "invalid pointer (not from the heap)");
    assert_consistent();
    heap_stats(&st);
    assert_int_equal(st.used_bytes, 0);
}

/* Random malloc/free/realloc/aligned traffic against a model of what each block must hold. */
static void test_random(void **state)
{
    (void)state;
    enum { SLOTS = 128, ROUNDS = 20000 };
    static unsigned char *ptr[SLOTS];
    static size_t len[SLOTS];
    static unsigned char seed[SLOTS];
    uint64_t rng = 0x9e3779b97f4a7c15ull;

    memset(ptr, 0, sizeof(ptr));
    for (int round = 0; round < ROUNDS; round++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        unsigned slot = (unsigned)(rng % SLOTS);
        unsigned op = (unsigned)(rng >> 20) % 4;
        size_t size = (rng >> 32) % ((rng >> 28) % 8 == 0 ? 20000 : 300);

        if (ptr[slot]) {
            assert_true(same(ptr[slot], len[slot], seed[slot]));
            if (op == 0) {
                unsigned char *q = k_realloc(ptr[slot], size + 1);
                if (q) {
                    size_t keep = len[slot] < size + 1 ? len[slot] : size + 1;
                    assert_true(same(q, keep, seed[slot]));
                    ptr[slot] = q;
                    len[slot] = size + 1;
                }
            } else {
                k_free(ptr[slot]);
                ptr[slot] = NULL;
            }
        } else {
            size_t align = (size_t)16 << ((rng >> 40) % 6);
            ptr[slot] = op == 0 ? heap_alloc_aligned(size, align) : k_malloc(size);
            len[slot] = size;
            if (ptr[slot] && op == 0)
                assert_int_equal((uintptr_t)ptr[slot] % align, 0);
        }
        if (ptr[slot]) {
            seed[slot] = (unsigned char)round;
            fill(ptr[slot], len[slot], seed[slot]);
        }
        if (round % 500 == 0)
            assert_consistent();
    }
    for (int i = 0; i < SLOTS; i++)
        if (ptr[i]) {
            assert_true(same(ptr[i], len[i], seed[i]));
            k_free(ptr[i]);
        }
    assert_int_equal(errors, 0);
    assert_baseline();
}

/*
 * Attacks on the heap's metadata. Each writes what the unkeyed heap of
 * before (check = magic ^ address ^ head, footer = size) would have accepted,
 * the way an overflow or a write through a stale pointer would. The magics
 * are lib/heap.c's.
 */
#define OLD_MAGIC_USED 0x48454150a110c8edull
#define OLD_MAGIC_FREE 0x48454150f4eeb10cull

struct fake_block {
    size_t head;
    uint64_t check;
    void *next, *prev;
};

static uint64_t unkeyed_check(const void *hdr, uint64_t magic, size_t head)
{
    return magic ^ (uintptr_t)hdr ^ head;
}

/* An overflow from @a writes its neighbour a header claiming a bigger size
 * (overlapping blocks): the check word needs the secret, so it is refused. */
static void test_forged_header_needs_key(void **state)
{
    (void)state;
    unsigned char *a = k_malloc(64), *b = k_malloc(64), *c = k_malloc(64);
    struct fake_block *bh = (struct fake_block *)(b - 16);
    size_t head = (bh->head & 0xf) | 4096; /* the flags kept, a size that swallows c */

    memset(a, 'A', 64);
    bh->head = head;
    bh->check = unkeyed_check(bh, OLD_MAGIC_USED, head);
    k_free(b);
    assert_int_equal(errors, 1);
    assert_string_equal(last_error, "invalid pointer (no block header)");
    assert_ptr_equal(last_error_ptr, b);

    /* The key cannot change under blocks that carry the current one. */
    assert_int_equal(heap_set_secret(1), -EBUSY); /* not while blocks carry the current key */
    (void)c;
}

/* Overflow through a free neighbour's header and list links: reported at the neighbour. */
static void test_overflow_into_free_neighbour(void **state)
{
    (void)state;
    unsigned char *a = k_malloc(64), *b = k_malloc(64), *c = k_malloc(64);

    k_free(b);
    assert_consistent();
    memset(a, 0x40, 64 + 32); /* 0x40: the "in use" bit stays clear */
    k_free(a);
    assert_int_equal(errors, 1);
    assert_string_equal(last_error, "corrupted block header");
    assert_ptr_equal(last_error_ptr, b - 16);
    (void)c;
}

/*
 * Through a stale pointer into free block x, a fake free block is written in
 * x's body and x's footer pointed at it, so that freeing the next block y
 * would merge y with the fake one (then handed out twice). The footer is
 * keyed: refused, and nothing changed.
 */
static void test_forged_footer(void **state)
{
    (void)state;
    unsigned char *x = k_malloc(256), *y = k_malloc(64), *wall = k_malloc(64);
    unsigned char *yh = y - 16;
    struct heap_stats before, after;

    k_free(x);
    heap_stats(&before);
    struct fake_block *fake = (struct fake_block *)(x + 128);
    size_t fsize = (size_t)(yh - (unsigned char *)fake);
    fake->head = fsize | 2; /* free, previous in use */
    fake->check = unkeyed_check(fake, OLD_MAGIC_FREE, fake->head);
    fake->next = fake->prev = NULL;
    *(size_t *)(yh - 8) = fsize;
    k_free(y);
    assert_int_equal(errors, 1);
    assert_string_equal(last_error, "corrupted block footer");
    assert_ptr_equal(last_error_ptr, yh - 8);
    heap_stats(&after);
    assert_int_equal(after.free_bytes, before.free_bytes);
    (void)wall;
}

/*
 * A stale pointer's write into a freed block's list links (use after free):
 * unlinking it would write through the forged link. Safe unlinking refuses,
 * whether the link leaves the heap or points at a block that does not point
 * back; the target stays untouched and malloc returns NULL.
 */
static void test_forged_list_links(void **state)
{
    (void)state;
    static struct fake_block target = {0x1111, 0x2222, (void *)0x3333, (void *)0x4444};
    unsigned char *p = k_malloc(200), *w1 = k_malloc(16), *q = k_malloc(3000), *w2 = k_malloc(16);

    k_free(q); /* another free block, in another list */
    k_free(p);
    /* Outside the heap. */
    memcpy(p, &(void *){&target}, sizeof(void *));
    assert_null(k_malloc(200));
    assert_int_equal(errors, 1);
    assert_string_equal(last_error, "corrupted free list (links do not point back)");
    assert_ptr_equal(last_error_ptr, p - 16);
    assert_ptr_equal(target.prev, (void *)0x4444);
    assert_ptr_equal(target.next, (void *)0x3333);

    /* Inside the heap, at a block whose back link is not p. */
    struct fake_block *qh = (struct fake_block *)(q - 16);
    void *q_prev = qh->prev;
    memcpy(p, &(void *){qh}, sizeof(void *));
    assert_null(k_malloc(200));
    assert_int_equal(errors, 2);
    assert_string_equal(last_error, "corrupted free list (links do not point back)");
    assert_ptr_equal(qh->prev, q_prev);

    /* Freeing p's neighbour, which would merge with p, is refused the same way. */
    k_free(w1);
    assert_int_equal(errors, 3);
    assert_string_equal(last_error, "corrupted free list (links do not point back)");
    assert_ptr_equal(last_error_ptr, p - 16);
    (void)w2;
}

/* The key changes every check word: a heap keyed differently does not accept the old words. */
static void test_secret(void **state)
{
    (void)state;
    static _Alignas(16) unsigned char small[4096];
    uint64_t words[2];

    heap_init(NULL, record_error);
    assert_int_equal(heap_set_secret(0x1234567890abcd00ull), 0);
    assert_int_equal(heap_add_region(small, sizeof(small)), 0);
    unsigned char *p = k_malloc(100);
    memcpy(words, p - 16, sizeof(words));
    k_free(p);
    heap_init(NULL, record_error);
    assert_int_equal(heap_set_secret(HEAP_DEFAULT_SECRET), 0);
    memset(small, 0, sizeof(small));
    assert_int_equal(heap_add_region(small, sizeof(small)), 0);
    p = k_malloc(100);
    assert_int_equal(((uint64_t *)(p - 16))[0], words[0]); /* same place, same size */
    assert_true(((uint64_t *)(p - 16))[1] != words[1]);    /* another check word */
    memcpy(p - 16, words, sizeof(words));
    k_free(p);
    assert_int_equal(errors, 1);
    assert_string_equal(last_error, "invalid pointer (no block header)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_basic, setup_arena),
        cmocka_unit_test_setup(test_alignment_and_disjoint, setup_arena),
        cmocka_unit_test_setup(test_fragmentation_coalescing, setup_arena),
        cmocka_unit_test_setup(test_aligned, setup_arena),
        cmocka_unit_test_setup(test_double_free, setup_arena),
        cmocka_unit_test_setup(test_foreign_pointers, setup_arena),
        cmocka_unit_test_setup(test_exhaustion, setup_arena),
        cmocka_unit_test_setup(test_realloc_contents, setup_arena),
        cmocka_unit_test_setup(test_calloc_zero_overflow, setup_arena),
        cmocka_unit_test_setup(test_grow, setup_grow),
        cmocka_unit_test_setup(test_grow_scattered, setup_grow),
        cmocka_unit_test_setup(test_random, setup_arena),
        cmocka_unit_test_setup(test_forged_header_needs_key, setup_arena),
        cmocka_unit_test_setup(test_overflow_into_free_neighbour, setup_arena),
        cmocka_unit_test_setup(test_forged_footer, setup_arena),
        cmocka_unit_test_setup(test_forged_list_links, setup_arena),
        cmocka_unit_test_setup(test_secret, setup_arena),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
