/*
 * The kernel heap: boundary tags, immediate coalescing, segregated free
 * lists. The design is described in lib/heap.h.
 *
 * Block layout (all sizes multiples of 16):
 *
 *   used:  [size|flags][check] [caller's bytes .....................]
 *   free:  [size|flags][check] [next][prev] [ ...unused... ][size]
 *           \--- 16-byte header ---/                        footer
 *
 * Each arena is [struct arena][block][block]...[sentinel], the sentinel a
 * header of size 0 marked in use, so walking off the last block stops there
 * and coalescing never looks past the arena.
 */
#include "lib/heap.h"

#include <errno.h>
#include <stdint.h>

#include "lib/string.h"

#define HDR_SIZE        16
#define MIN_BLOCK       48 /* header + next/prev links + footer, rounded to 16 */
#define FLAG_INUSE      0x1ul
#define FLAG_PREV_INUSE 0x2ul
#define FLAG_MASK       0xful

/*
 * State magics for the check word; each is XORed with the header's address
 * and its size/flags word, so a header copied elsewhere or with a stray
 * write in its size no longer verifies. GONE marks the header of a block
 * that was merged into a neighbour: a second free() of it is a double free.
 */
#define MAGIC_USED 0x48454150a110c8edull
#define MAGIC_FREE 0x48454150f4eeb10cull
#define MAGIC_GONE 0x48454150de4dbeefull
#define MAGIC_FOOT 0x48454150f007f007ull

/*
 * The key mixed into every check word and footer (heap_set_secret(); the
 * kernel sets it at boot from RDRAND/TSC). Without it an overflow from one
 * block cannot write a neighbour's header or footer that verifies. Kept out
 * of `heap` so heap_init() does not reset it. The default is for host tests.
 */
static uint64_t heap_secret = HEAP_DEFAULT_SECRET;

/* Requests above this fail outright, which keeps all size arithmetic far from overflow. */
#define REQUEST_MAX (SIZE_MAX / 4)

#define NBINS 59 /* one per power of two from 2^5 (48 > 32) to 2^63 */

struct block {
    size_t head;    /* size | FLAG_* */
    uint64_t check; /* MAGIC_* ^ address ^ head */
};

struct free_block {
    struct block b;
    struct free_block *next, *prev;
};

struct arena {
    struct arena *next;
    uintptr_t end; /* one past the sentinel */
    uint64_t reserved[2];
};
_Static_assert(sizeof(struct arena) % 16 == 0, "arena header keeps blocks 16-aligned");
_Static_assert(sizeof(struct block) == HDR_SIZE, "block header size");
_Static_assert(sizeof(struct free_block) + sizeof(size_t) <= MIN_BLOCK, "free block fits");

static struct {
    heap_grow_fn grow;
    heap_error_fn on_error;
    struct arena *arenas;
    struct free_block *bins[NBINS];
    uint64_t nonempty; /* bit n: bins[n] has blocks */
    uintptr_t lo, hi;  /* lowest arena start, highest arena end: where a list link may point */
    struct heap_stats st;
} heap;

/* --- headers --- */

static size_t bsize(const struct block *b)
{
    return b->head & ~FLAG_MASK;
}

static uint64_t check_of(const struct block *b, uint64_t magic)
{
    return magic ^ heap_secret ^ (uintptr_t)b ^ b->head;
}

static int has_magic(const struct block *b, uint64_t magic)
{
    return b->check == check_of(b, magic);
}

static void set_head(struct block *b, size_t head, uint64_t magic)
{
    b->head = head;
    b->check = check_of(b, magic);
}

static struct block *at(uintptr_t addr)
{
    return (struct block *)addr;
}

static struct block *next_block(const struct block *b)
{
    return at((uintptr_t)b + bsize(b));
}

/* The footer, keyed like a check word: the size of the block it ends. */
static uint64_t footer_of(uintptr_t where, size_t size)
{
    return size ^ MAGIC_FOOT ^ heap_secret ^ where;
}

static void set_footer(struct block *b)
{
    uintptr_t where = (uintptr_t)b + bsize(b) - sizeof(size_t);
    *(uint64_t *)where = footer_of(where, bsize(b));
}

/* The size recorded by the footer that ends just before @b. */
static size_t prev_size(const struct block *b)
{
    uintptr_t where = (uintptr_t)b - sizeof(size_t);
    return (size_t)footer_of(where, *(const uint64_t *)where);
}

/* Update the "previous block in use" flag of @b, keeping its check valid. */
static void set_prev_inuse(struct block *b, int inuse)
{
    size_t head = inuse ? b->head | FLAG_PREV_INUSE : b->head & ~FLAG_PREV_INUSE;

    set_head(b, head, (b->head & FLAG_INUSE) ? MAGIC_USED : MAGIC_FREE);
}

static void report(const char *what, const void *ptr)
{
    heap.st.errors++;
    if (!heap.on_error)
        __builtin_trap();
    heap.on_error(what, ptr);
}

/* --- free lists --- */

static unsigned bin_of(size_t size)
{
    return (unsigned)(63 - __builtin_clzll(size)) - 5;
}

/* Could @fb be a free block? Checked before following a list link, so a
 * forged link is reported instead of dereferenced. */
static int link_ok(const struct free_block *fb)
{
    uintptr_t p = (uintptr_t)fb;
    return !fb || (p % 16 == 0 && p >= heap.lo && p + sizeof(*fb) <= heap.hi);
}

/*
 * Safe unlinking (glibc's "corrupted double-linked list" check): @fb's
 * neighbours must point back at it, and the links must lie in the heap,
 * or an overwritten link would make the unlink write where it says.
 */
static int links_ok(const struct free_block *fb)
{
    unsigned bin = bin_of(bsize(&fb->b));

    if (!link_ok(fb->next) || !link_ok(fb->prev))
        return 0;
    if (fb->next && fb->next->prev != fb)
        return 0;
    return fb->prev ? fb->prev->next == fb : heap.bins[bin] == fb;
}

static void list_insert(struct block *b)
{
    struct free_block *fb = (struct free_block *)b;
    unsigned bin = bin_of(bsize(b));

    if (heap.bins[bin] && heap.bins[bin]->prev) {
        /* The list head's back link was overwritten: do not extend a broken list. */
        report("corrupted free list (head's back link)", heap.bins[bin]);
        return;
    }
    fb->prev = NULL;
    fb->next = heap.bins[bin];
    if (fb->next)
        fb->next->prev = fb;
    heap.bins[bin] = fb;
    heap.nonempty |= 1ull << bin;
    heap.st.free_bytes += bsize(b);
}

/* Take @b off its list. Return: 0, or -1 after reporting broken links (nothing changed). */
static int list_remove(struct block *b)
{
    struct free_block *fb = (struct free_block *)b;
    unsigned bin = bin_of(bsize(b));

    if (!links_ok(fb)) {
        report("corrupted free list (links do not point back)", b);
        return -1;
    }
    if (fb->prev)
        fb->prev->next = fb->next;
    else
        heap.bins[bin] = fb->next;
    if (fb->next)
        fb->next->prev = fb->prev;
    if (!heap.bins[bin])
        heap.nonempty &= ~(1ull << bin);
    heap.st.free_bytes -= bsize(b);
    return 0;
}

/*
 * A free block of at least @need bytes, still on its list, or NULL. The
 * request's own class is searched first-fit (its blocks may be smaller than
 * @need); any block of a larger class fits, so the first one is taken.
 */
static struct block *find_fit(size_t need)
{
    unsigned bin = bin_of(need);

    for (struct free_block *fb = heap.bins[bin]; fb; fb = fb->next) {
        if (!link_ok(fb) || !has_magic(&fb->b, MAGIC_FREE)) {
            report("corrupted free list", fb);
            return NULL;
        }
        if (bsize(&fb->b) >= need)
            return &fb->b;
    }
    uint64_t larger = bin + 1 < 64 ? heap.nonempty & ~((2ull << bin) - 1) : 0;
    if (!larger)
        return NULL;
    struct block *b = &heap.bins[__builtin_ctzll(larger)]->b;
    if (!has_magic(b, MAGIC_FREE)) {
        report("corrupted free list", b);
        return NULL;
    }
    return b;
}

/* --- making blocks free and used --- */

/*
 * Turn @b, on no list and not counted as used, into a free block, merged
 * with free neighbours. Its head must hold its size and FLAG_PREV_INUSE.
 */
static void release(struct block *b)
{
    size_t size = bsize(b);
    size_t prev_flag = b->head & FLAG_PREV_INUSE;
    struct block *n = next_block(b), *p = NULL;

    /* Everything is verified before anything changes, so a report leaves the lists intact. */
    if (!(n->head & FLAG_INUSE)) {
        if (!has_magic(n, MAGIC_FREE)) {
            report("corrupted block header", n);
            return;
        }
        if (!links_ok((struct free_block *)n)) {
            report("corrupted free list (links do not point back)", n);
            return;
        }
    }
    if (!prev_flag) {
        /* The previous block is free, so the word before us is its footer. */
        size_t psize = prev_size(b);
        if (psize % 16 || psize < MIN_BLOCK || psize > (uintptr_t)b - heap.lo) {
            report("corrupted block footer", (const void *)((uintptr_t)b - sizeof(size_t)));
            return;
        }
        p = at((uintptr_t)b - psize);
        if (!has_magic(p, MAGIC_FREE) || bsize(p) != psize) {
            report("corrupted block header", p);
            return;
        }
        if (!links_ok((struct free_block *)p)) {
            report("corrupted free list (links do not point back)", p);
            return;
        }
    }
    if (!(n->head & FLAG_INUSE)) {
        list_remove(n);
        size += bsize(n);
        set_head(n, n->head, MAGIC_GONE);
    }
    if (p) {
        list_remove(p);
        size += bsize(p);
        set_head(b, b->head, MAGIC_GONE);
        prev_flag = p->head & FLAG_PREV_INUSE;
        b = p;
    }
    set_head(b, size | prev_flag, MAGIC_FREE);
    set_footer(b);
    set_prev_inuse(next_block(b), 0);
    list_insert(b);
}

static void count_used(size_t bytes)
{
    heap.st.used_bytes += bytes;
    if (heap.st.used_bytes > heap.st.peak_used_bytes)
        heap.st.peak_used_bytes = heap.st.used_bytes;
}

/*
 * Hand out @b (on no list; head = size | FLAG_PREV_INUSE as it was while
 * free) for a request of @need bytes; a tail big enough to be a block of
 * its own goes back to the free lists.
 */
static void *take(struct block *b, size_t need)
{
    size_t size = bsize(b);
    size_t prev_flag = b->head & FLAG_PREV_INUSE;

    if (size - need >= MIN_BLOCK) {
        /* The block after the tail already says "previous free". */
        struct block *rest = at((uintptr_t)b + need);
        set_head(rest, (size - need) | FLAG_PREV_INUSE, MAGIC_FREE);
        set_footer(rest);
        list_insert(rest);
        size = need;
    } else {
        set_prev_inuse(at((uintptr_t)b + size), 1);
    }
    set_head(b, size | prev_flag | FLAG_INUSE, MAGIC_USED);
    count_used(size);
    heap.st.allocations++;
    heap.st.total_allocations++;
    return (void *)((uintptr_t)b + HDR_SIZE);
}

/* Cut used block @b down to @need bytes, freeing the tail if it can stand alone. */
static void shrink_used(struct block *b, size_t need)
{
    size_t size = bsize(b);

    if (size - need < MIN_BLOCK)
        return;
    struct block *tail = at((uintptr_t)b + need);
    set_head(tail, (size - need) | FLAG_PREV_INUSE | FLAG_INUSE, MAGIC_USED);
    set_head(b, need | (b->head & FLAG_MASK), MAGIC_USED);
    heap.st.used_bytes -= size - need;
    release(tail);
}

/* Block size for a request of @n bytes, or 0 if it can never be satisfied. */
static size_t request_size(size_t n)
{
    if (n > REQUEST_MAX)
        return 0;
    size_t need = (n + HDR_SIZE + 15) & ~(size_t)15;
    return need < MIN_BLOCK ? MIN_BLOCK : need;
}

/* --- arenas --- */

/*
 * The arena holding caller pointer @p, or NULL. Arenas are few (adjacent
 * growth is joined), but when the page provider hands out scattered runs
 * there can be many: the one found moves to the front of the list, so a
 * burst of frees into the same arena finds it first.
 */
static struct arena *arena_of(uintptr_t p)
{
    for (struct arena **link = &heap.arenas; *link; link = &(*link)->next) {
        struct arena *a = *link;
        if (p >= (uintptr_t)a + sizeof(struct arena) + HDR_SIZE && p < a->end - HDR_SIZE) {
            *link = a->next;
            a->next = heap.arenas;
            heap.arenas = a;
            return a;
        }
    }
    return NULL;
}

int heap_add_region(void *start, size_t len)
{
    uintptr_t raw = (uintptr_t)start;
    uintptr_t s = (raw + 15) & ~(uintptr_t)15;
    uintptr_t e = (raw + len) & ~(uintptr_t)15;

    if (!start || raw + len < raw || e <= s)
        return -EINVAL;
    for (struct arena *a = heap.arenas; a; a = a->next)
        if (raw < a->end && (uintptr_t)a < raw + len)
            return -EINVAL; /* overlaps memory we already manage */

    /* Right after an arena: its sentinel becomes the header of the new space. */
    for (struct arena *a = heap.arenas; a; a = a->next) {
        if (a->end != s)
            continue;
        if (e - s < MIN_BLOCK)
            return -EINVAL;
        struct block *old_sentinel = at(s - HDR_SIZE);
        set_head(at(e - HDR_SIZE), FLAG_INUSE, MAGIC_USED);
        set_head(old_sentinel, (e - s) | (old_sentinel->head & FLAG_PREV_INUSE) | FLAG_INUSE, MAGIC_USED);
        a->end = e;
        if (e > heap.hi)
            heap.hi = e;
        heap.st.arena_bytes += e - s;
        release(old_sentinel);
        return 0;
    }

    if (e - s < sizeof(struct arena) + MIN_BLOCK + HDR_SIZE)
        return -EINVAL;
    struct arena *a = (struct arena *)s;
    if (!heap.arenas || s < heap.lo)
        heap.lo = s;
    if (e > heap.hi)
        heap.hi = e;
    a->next = heap.arenas;
    a->end = e;
    heap.arenas = a;
    struct block *first = at(s + sizeof(struct arena));
    set_head(at(e - HDR_SIZE), FLAG_INUSE, MAGIC_USED);
    set_head(first, (e - HDR_SIZE - (uintptr_t)first) | FLAG_PREV_INUSE | FLAG_INUSE, MAGIC_USED);
    heap.st.arena_bytes += e - s;
    release(first);
    return 0;
}

/* Ask the page provider for room for a block of @need bytes. */
static int grow(size_t need)
{
    size_t bytes = need + sizeof(struct arena) + HDR_SIZE;
    size_t pages = (bytes + HEAP_PAGE_SIZE - 1) / HEAP_PAGE_SIZE;
    void *mem;

    if (!heap.grow)
        return -ENOMEM;
    if (pages < HEAP_GROW_MIN_PAGES)
        pages = HEAP_GROW_MIN_PAGES;
    mem = heap.grow(pages);
    if (!mem)
        return -ENOMEM;
    return heap_add_region(mem, pages * HEAP_PAGE_SIZE);
}

/* A free block of at least @need bytes, taken off its list, or NULL. */
static struct block *get_free(size_t need)
{
    struct block *b = find_fit(need);

    if (!b && grow(need) == 0)
        b = find_fit(need);
    if (!b) {
        heap.st.failures++;
        return NULL;
    }
    if (list_remove(b) < 0)
        return NULL;
    return b;
}

/*
 * The used block behind caller pointer @ptr, or NULL after reporting why
 * the pointer cannot be one.
 */
static struct block *validate(const void *ptr)
{
    uintptr_t p = (uintptr_t)ptr;
    struct arena *a = arena_of(p);
    struct block *b = at(p - HDR_SIZE);

    if (!a || p % 16) {
        report("invalid pointer (not from the heap)", ptr);
        return NULL;
    }
    if (has_magic(b, MAGIC_USED) && (b->head & FLAG_INUSE) && bsize(b) >= MIN_BLOCK &&
        bsize(b) <= a->end - HDR_SIZE - (uintptr_t)b)
        return b;
    if (has_magic(b, MAGIC_FREE) || has_magic(b, MAGIC_GONE))
        report("double free", ptr);
    else
        report("invalid pointer (no block header)", ptr);
    return NULL;
}

/* --- the C interface --- */

int heap_set_secret(uint64_t secret)
{
    if (heap.arenas)
        return -EBUSY;
    heap_secret = secret;
    return 0;
}

void heap_init(heap_grow_fn grow_fn, heap_error_fn on_error)
{
    KLIB(memset)(&heap, 0, sizeof(heap));
    heap.grow = grow_fn;
    heap.on_error = on_error;
}

void *KLIB(malloc)(size_t size)
{
    size_t need = request_size(size);
    struct block *b;

    if (!need) {
        heap.st.failures++;
        return NULL;
    }
    b = get_free(need);
    return b ? take(b, need) : NULL;
}

void *KLIB(calloc)(size_t nmemb, size_t size)
{
    size_t total;
    void *p;

    if (__builtin_mul_overflow(nmemb, size, &total)) {
        heap.st.failures++;
        return NULL;
    }
    p = KLIB(malloc)(total);
    if (p)
        KLIB(memset)(p, 0, total);
    return p;
}

void KLIB(free)(void *ptr)
{
    struct block *b;

    if (!ptr)
        return;
    b = validate(ptr);
    if (!b)
        return;
    heap.st.used_bytes -= bsize(b);
    heap.st.allocations--;
    release(b);
}

void *KLIB(realloc)(void *ptr, size_t size)
{
    struct block *b, *n;
    size_t need, cur;
    void *q;

    if (!ptr)
        return KLIB(malloc)(size);
    if (size == 0) {
        KLIB(free)(ptr);
        return NULL;
    }
    b = validate(ptr);
    if (!b)
        return NULL;
    need = request_size(size);
    if (!need) {
        heap.st.failures++;
        return NULL;
    }
    cur = bsize(b);
    if (need <= cur) {
        shrink_used(b, need);
        return ptr;
    }

    /* Grow in place by swallowing a free successor that is big enough. */
    n = next_block(b);
    if (!(n->head & FLAG_INUSE) && has_magic(n, MAGIC_FREE) && cur + bsize(n) >= need) {
        size_t nsize = bsize(n);
        if (list_remove(n) < 0)
            return NULL;
        set_head(n, n->head, MAGIC_GONE);
        set_head(b, (cur + nsize) | (b->head & FLAG_MASK), MAGIC_USED);
        set_prev_inuse(next_block(b), 1);
        count_used(nsize);
        shrink_used(b, need);
        return ptr;
    }

    q = KLIB(malloc)(size);
    if (!q)
        return NULL;
    KLIB(memcpy)(q, ptr, cur - HDR_SIZE);
    KLIB(free)(ptr);
    return q;
}

void *heap_alloc_aligned(size_t size, size_t align)
{
    size_t need = request_size(size);
    struct block *b, *nb;
    uintptr_t payload;
    size_t gap;

    if (align == 0 || (align & (align - 1)) || align > REQUEST_MAX)
        return NULL;
    if (align <= 16)
        return KLIB(malloc)(size);
    if (!need || need > REQUEST_MAX - align - MIN_BLOCK) {
        heap.st.failures++;
        return NULL;
    }

    /*
     * Room for the worst placement: the first aligned payload may leave a
     * gap in front too small to be a free block (< MIN_BLOCK), and then the
     * next one, @align further, is used. So the gap is < align + MIN_BLOCK.
     */
    b = get_free(need + align + MIN_BLOCK);
    if (!b)
        return NULL;
    payload = ((uintptr_t)b + HDR_SIZE + align - 1) & ~(uintptr_t)(align - 1);
    gap = payload - HDR_SIZE - (uintptr_t)b;
    if (gap && gap < MIN_BLOCK) {
        payload += align;
        gap += align;
    }
    if (!gap)
        return take(b, need);

    /* Hand out the aligned part first, then free the gap in front of it. */
    nb = at(payload - HDR_SIZE);
    set_head(nb, bsize(b) - gap, MAGIC_FREE);
    void *p = take(nb, need);
    set_head(b, gap | (b->head & FLAG_PREV_INUSE) | FLAG_INUSE, MAGIC_USED);
    release(b);
    return p;
}

void *KLIB(aligned_alloc)(size_t align, size_t size)
{
    return heap_alloc_aligned(size, align);
}

int KLIB(posix_memalign)(void **out, size_t align, size_t size)
{
    void *p;

    if (align < sizeof(void *) || (align & (align - 1)))
        return EINVAL;
    p = heap_alloc_aligned(size, align);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

size_t heap_usable_size(const void *ptr)
{
    struct block *b;

    if (!ptr)
        return 0;
    b = validate(ptr);
    return b ? bsize(b) - HDR_SIZE : 0;
}

size_t heap_block_size(const void *ptr)
{
    struct block *b;

    if (!ptr)
        return 0;
    b = validate(ptr);
    return b ? bsize(b) : 0;
}

void heap_stats(struct heap_stats *st)
{
    size_t largest = 0;

    if (heap.nonempty) {
        unsigned top = 63 - (unsigned)__builtin_clzll(heap.nonempty);
        for (struct free_block *fb = heap.bins[top]; fb; fb = fb->next)
            if (bsize(&fb->b) > largest)
                largest = bsize(&fb->b);
    }
    *st = heap.st;
    st->largest_free = largest ? largest - HDR_SIZE : 0;
}

static int check_fail(const char *what, const void *where)
{
    report(what, where);
    return -EIO;
}

int heap_check(void)
{
    size_t used = 0, free_bytes = 0, nused = 0, nfree = 0, arena_bytes = 0;

    for (struct arena *a = heap.arenas; a; a = a->next) {
        struct block *b = at((uintptr_t)a + sizeof(struct arena));
        struct block *sentinel = at(a->end - HDR_SIZE);
        int prev_used = 1;

        arena_bytes += a->end - (uintptr_t)a;
        while (b != sentinel) {
            size_t size = bsize(b);
            int used_block = (b->head & FLAG_INUSE) != 0;

            if (size < MIN_BLOCK || size > (uintptr_t)sentinel - (uintptr_t)b)
                return check_fail("heap_check: bad block size", b);
            if (!has_magic(b, used_block ? MAGIC_USED : MAGIC_FREE))
                return check_fail("heap_check: bad check word", b);
            if (!(b->head & FLAG_PREV_INUSE) != !prev_used)
                return check_fail("heap_check: wrong previous-in-use flag", b);
            if (used_block) {
                used += size;
                nused++;
            } else {
                if (!prev_used)
                    return check_fail("heap_check: adjacent free blocks", b);
                uintptr_t foot = (uintptr_t)b + size - sizeof(size_t);
                if (*(uint64_t *)foot != footer_of(foot, size))
                    return check_fail("heap_check: bad footer", b);
                free_bytes += size;
                nfree++;
            }
            prev_used = used_block;
            b = next_block(b);
        }
        if (!has_magic(b, MAGIC_USED) || b->head != (FLAG_INUSE | (prev_used ? FLAG_PREV_INUSE : 0)))
            return check_fail("heap_check: bad sentinel", b);
    }

    size_t listed = 0, listed_bytes = 0;
    for (unsigned bin = 0; bin < NBINS; bin++) {
        struct free_block *prev = NULL;
        if (!heap.bins[bin] != !(heap.nonempty & (1ull << bin)))
            return check_fail("heap_check: bin mask out of date", heap.bins[bin]);
        for (struct free_block *fb = heap.bins[bin]; fb; prev = fb, fb = fb->next) {
            if (++listed > nfree)
                return check_fail("heap_check: free lists hold more than the free blocks", fb);
            if (!link_ok(fb) || !has_magic(&fb->b, MAGIC_FREE) || bin_of(bsize(&fb->b)) != bin ||
                fb->prev != prev)
                return check_fail("heap_check: bad free list entry", fb);
            listed_bytes += bsize(&fb->b);
        }
    }
    if (listed != nfree || listed_bytes != free_bytes)
        return check_fail("heap_check: free lists miss free blocks", NULL);
    if (used != heap.st.used_bytes || free_bytes != heap.st.free_bytes || nused != heap.st.allocations ||
        arena_bytes != heap.st.arena_bytes)
        return check_fail("heap_check: statistics do not match the blocks", NULL);
    return 0;
}
