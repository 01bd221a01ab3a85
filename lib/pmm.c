/*
 * The physical page-frame allocator: two bitmaps over the usable RAM of the
 * firmware memory map. See lib/pmm.h.
 *
 * Bit i of a map describes page (base_page + i). In "used", 1 means the page
 * may not be handed out (not RAM, reserved, or allocated); in "alloc", 1
 * means pmm_alloc_pages() handed it out. Bits past the last page are 1 in
 * "used", so word-at-a-time scans need no end special case.
 */
#include "lib/pmm.h"

#include <errno.h>

#define PAGE_SHIFT 12
_Static_assert(PMM_PAGE_SIZE == 1ull << PAGE_SHIFT, "page shift");

struct page_range {
    uint64_t start, end; /* page numbers, end exclusive */
};

static struct {
    int ready;
    uint64_t base_page; /* page number of bit 0 */
    uint64_t npages;    /* pages the maps cover */
    uint64_t *used;
    uint64_t *alloc;
    uint64_t hint; /* every page below this index is in use */
    struct pmm_stats st;
    struct page_range early[PMM_EARLY_RESERVED_MAX];
    size_t nearly;
} pmm;

/* --- bitmap helpers --- */

/*
 * The bits of word @from / 64 that lie in [from, to); advances @from past
 * them. Lets range operations work a word at a time.
 */
static uint64_t next_mask(uint64_t *from, uint64_t to)
{
    uint64_t bit = *from % 64;
    uint64_t count = to - *from < 64 - bit ? to - *from : 64 - bit;

    *from += count;
    return (count == 64 ? ~0ull : ((1ull << count) - 1)) << bit;
}

/* Set bits [from, to) of @map to @val. */
static void fill_bits(uint64_t *map, uint64_t from, uint64_t to, int val)
{
    while (from < to) {
        uint64_t w = from / 64, mask = next_mask(&from, to);
        if (val)
            map[w] |= mask;
        else
            map[w] &= ~mask;
    }
}

/*
 * First index in [from, limit) whose bit in @map equals @val, or @limit.
 * Whole words that cannot contain it are skipped.
 */
static uint64_t find_bit(const uint64_t *map, uint64_t from, uint64_t limit, int val)
{
    while (from < limit) {
        uint64_t word = val ? map[from / 64] : ~map[from / 64];
        word &= ~0ull << (from % 64); /* ignore bits below from */
        if (word) {
            uint64_t i = (from & ~63ull) + (uint64_t)__builtin_ctzll(word);
            return i < limit ? i : limit;
        }
        from = (from & ~63ull) + 64;
    }
    return limit;
}

static uint64_t count_zeros(const uint64_t *map, uint64_t from, uint64_t to)
{
    uint64_t n = 0;

    while (from < to) {
        uint64_t w = from / 64, mask = next_mask(&from, to);
        n += (uint64_t)__builtin_popcountll(~map[w] & mask);
    }
    return n;
}

/* Whole pages inside [base, base + len); start >= end when there are none. */
static struct page_range inner_pages(uint64_t base, uint64_t len)
{
    uint64_t end = len > UINT64_MAX - base ? UINT64_MAX : base + len;
    struct page_range r = {
        .start = (base >> PAGE_SHIFT) + ((base & (PMM_PAGE_SIZE - 1)) != 0),
        .end = end >> PAGE_SHIFT,
    };
    return r;
}

/* Every page that [base, base + len) touches. */
static struct page_range outer_pages(uint64_t base, uint64_t len)
{
    uint64_t last = len > UINT64_MAX - base ? UINT64_MAX : base + len - 1;
    struct page_range r = {.start = base >> PAGE_SHIFT, .end = (last >> PAGE_SHIFT) + 1};

    if (len == 0)
        r.end = r.start;
    return r;
}

/* @r clipped to the map, as bit indices; start >= end if outside. */
static struct page_range to_bits(struct page_range r)
{
    uint64_t lo = pmm.base_page, hi = pmm.base_page + pmm.npages;
    struct page_range b = {
        .start = (r.start < lo   ? lo
                  : r.start > hi ? hi
                                 : r.start) -
                 lo,
        .end = (r.end < lo   ? lo
                : r.end > hi ? hi
                             : r.end) -
               lo,
    };
    return b;
}

/* --- setup --- */

int pmm_reserve(uint64_t phys, uint64_t len)
{
    struct page_range r = outer_pages(phys, len);

    if (r.start >= r.end)
        return 0;
    if (!pmm.ready) {
        if (pmm.nearly == PMM_EARLY_RESERVED_MAX)
            return -ENOSPC;
        pmm.early[pmm.nearly++] = r;
        return 0;
    }

    struct page_range b = to_bits(r);
    if (b.start >= b.end)
        return 0;
    if (find_bit(pmm.alloc, b.start, b.end, 1) != b.end)
        return -EBUSY;
    uint64_t newly = count_zeros(pmm.used, b.start, b.end);
    fill_bits(pmm.used, b.start, b.end, 1);
    pmm.st.free_pages -= newly;
    pmm.st.reserved_pages += newly;
    return 0;
}

/*
 * The lowest page number where @count pages fit inside one usable range,
 * avoid page 0 and every early reservation; 0 if there is none.
 */
static uint64_t place_bitmaps(const struct pmm_region *regions, size_t n, uint64_t count)
{
    uint64_t best = 0;

    for (size_t i = 0; i < n; i++) {
        struct page_range r = inner_pages(regions[i].base, regions[i].len);
        uint64_t cand = r.start ? r.start : 1;
        size_t j = 0;

        /* Step past each reservation in the way until none is, or the range ends. */
        while (j < pmm.nearly && cand < r.end && count <= r.end - cand) {
            struct page_range e = pmm.early[j];
            if (e.start < cand + count && cand < e.end) {
                cand = e.end;
                j = 0;
            } else {
                j++;
            }
        }
        if (cand < r.end && count <= r.end - cand && (!best || cand < best))
            best = cand;
    }
    return best;
}

int pmm_init(const struct pmm_region *free_regions, size_t n, void *(*to_virt)(uint64_t phys))
{
    uint64_t lo = UINT64_MAX, hi = 0;
    int err = 0;

    pmm.ready = 0;
    for (size_t i = 0; i < n; i++) {
        struct page_range r = inner_pages(free_regions[i].base, free_regions[i].len);
        if (r.start >= r.end)
            continue;
        lo = r.start < lo ? r.start : lo;
        hi = r.end > hi ? r.end : hi;
    }
    if (lo >= hi || !to_virt) {
        err = -EINVAL;
        goto out;
    }

    uint64_t npages = hi - lo;
    uint64_t nwords = (npages + 63) / 64;
    uint64_t map_pages = (2 * nwords * sizeof(uint64_t) + PMM_PAGE_SIZE - 1) >> PAGE_SHIFT;
    uint64_t map_at = place_bitmaps(free_regions, n, map_pages);
    if (!map_at) {
        err = -ENOMEM;
        goto out;
    }

    pmm.base_page = lo;
    pmm.npages = npages;
    pmm.used = to_virt(map_at << PAGE_SHIFT);
    pmm.alloc = pmm.used + nwords;
    pmm.hint = 0;
    fill_bits(pmm.used, 0, nwords * 64, 1);
    fill_bits(pmm.alloc, 0, nwords * 64, 0);

    /* Overlapping ranges just clear the same bits twice. */
    for (size_t i = 0; i < n; i++) {
        struct page_range b = to_bits(inner_pages(free_regions[i].base, free_regions[i].len));
        if (b.start < b.end)
            fill_bits(pmm.used, b.start, b.end, 0);
    }
    pmm.st.total_pages = count_zeros(pmm.used, 0, npages);

    struct page_range page0 = {0, 1}, maps = {map_at, map_at + map_pages};
    struct page_range b = to_bits(page0);
    fill_bits(pmm.used, b.start, b.end, 1);
    b = to_bits(maps);
    fill_bits(pmm.used, b.start, b.end, 1);
    for (size_t i = 0; i < pmm.nearly; i++) {
        b = to_bits(pmm.early[i]);
        if (b.start < b.end)
            fill_bits(pmm.used, b.start, b.end, 1);
    }
    pmm.st.free_pages = count_zeros(pmm.used, 0, npages);
    pmm.st.reserved_pages = pmm.st.total_pages - pmm.st.free_pages;
    pmm.st.alloc_pages = 0;
    pmm.ready = 1;
out:
    pmm.nearly = 0;
    return err;
}

/* --- allocation --- */

uint64_t pmm_alloc_pages(size_t n)
{
    uint64_t i, first;

    if (!pmm.ready || n == 0 || n > pmm.st.free_pages)
        return 0;
    first = i = find_bit(pmm.used, pmm.hint, pmm.npages, 0);
    pmm.hint = first;
    while (i < pmm.npages) {
        uint64_t limit = pmm.npages - i < n ? pmm.npages : i + n;
        uint64_t run_end = find_bit(pmm.used, i, limit, 1);
        if (run_end - i == n) {
            fill_bits(pmm.used, i, i + n, 1);
            fill_bits(pmm.alloc, i, i + n, 1);
            if (i == first)
                pmm.hint = i + n;
            pmm.st.free_pages -= n;
            pmm.st.alloc_pages += n;
            return (pmm.base_page + i) << PAGE_SHIFT;
        }
        i = find_bit(pmm.used, run_end, pmm.npages, 0);
    }
    return 0;
}

int pmm_free_pages(uint64_t phys, size_t n)
{
    uint64_t page = phys >> PAGE_SHIFT, i;

    if (!pmm.ready || (phys & (PMM_PAGE_SIZE - 1)) || n == 0 || page < pmm.base_page)
        return -EINVAL;
    i = page - pmm.base_page;
    if (i >= pmm.npages || n > pmm.npages - i)
        return -EINVAL;
    if (find_bit(pmm.alloc, i, i + n, 0) != i + n)
        return -ENOENT;
    fill_bits(pmm.alloc, i, i + n, 0);
    fill_bits(pmm.used, i, i + n, 0);
    if (i < pmm.hint)
        pmm.hint = i;
    pmm.st.free_pages += n;
    pmm.st.alloc_pages -= n;
    return 0;
}

void pmm_stats(struct pmm_stats *st)
{
    *st = pmm.st;
}
