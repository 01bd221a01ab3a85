/*
 * The physical page-frame allocator: which 4 KiB pages of RAM are free.
 *
 * Built from the usable ("available", type 1) ranges of the firmware memory
 * map (Multiboot 0.6.96 section 3.3 mmap_*, Multiboot2 section 3.6.8); the
 * boot code converts either format to an array of struct pmm_region. The
 * ranges may be unaligned (only whole pages inside them count), overlap,
 * be empty, or lie above 4 GiB.
 *
 * State is two bitmaps with one bit per page between the lowest and the
 * highest usable page: "not free" and "handed out by pmm_alloc_pages()".
 * The second one lets pmm_free_pages() refuse double frees and frees of pages
 * that were never allocated (holes, reserved ranges). The bitmaps live in
 * RAM from the map itself, carved by pmm_init() from the lowest free pages
 * that avoid every range reserved before, and are reached through the
 * caller's @to_virt (the kernel's phys_to_virt()), so that range must be
 * mapped by then. lib/ knows no page tables: the mapping is the caller's.
 *
 * Allocation is first fit from the lowest address, so runs of contiguous
 * pages (for DMA) stay available at the top as long as possible.
 * Physical page 0 is never handed out: 0 is the failure value.
 * Context: main loop only (no locking).
 */
#ifndef LIB_PMM_H
#define LIB_PMM_H

#include <stddef.h>
#include <stdint.h>

#define PMM_PAGE_SIZE 4096ull
/* pmm_reserve() calls before pmm_init() that can be remembered. */
#define PMM_EARLY_RESERVED_MAX 32

struct pmm_region {
    uint64_t base; /* physical address of the first byte */
    uint64_t len;  /* bytes; 0 is allowed and ignored */
};

struct pmm_stats {
    uint64_t total_pages;    /* whole pages of usable RAM in the map */
    uint64_t free_pages;     /* available to pmm_alloc_pages() */
    uint64_t reserved_pages; /* RAM pages reserved (incl. page 0, the bitmaps) */
    uint64_t alloc_pages;    /* handed out and not freed */
    /* total_pages == free_pages + reserved_pages + alloc_pages */
};

/**
 * pmm_reserve() - mark [@phys, @phys + @len) as not for allocation; every
 * page it touches (partial pages included) is reserved.
 * Before pmm_init(): remembered (up to PMM_EARLY_RESERVED_MAX ranges) and
 * applied by pmm_init(), which also keeps the bitmaps out of them. Reserve
 * the kernel image, boot modules, the boot information, the first MiB, etc.
 * this way, BEFORE pmm_init(): only then is the bitmap placement safe.
 * After pmm_init(): marks the pages at once.
 * Return: 0; -ENOSPC if the early list is full; -EBUSY (after init) if a page
 * in the range is currently allocated (nothing is changed then).
 */
int pmm_reserve(uint64_t phys, uint64_t len);

/**
 * pmm_init() - build the allocator from @n usable RAM ranges and the early
 * reservations, which it consumes (a later pmm_init() starts afresh).
 * @to_virt: the kernel pointer for a physical address of RAM (the bitmaps').
 * Return: 0; -EINVAL if no whole page is usable or @to_virt is NULL; -ENOMEM if no free run
 * can hold the bitmaps. After a failure the allocator is uninitialised:
 * allocations fail and pmm_reserve() records for the next pmm_init().
 */
int pmm_init(const struct pmm_region *free_regions, size_t n, void *(*to_virt)(uint64_t phys));

/**
 * pmm_alloc_pages() - find @n physically contiguous free pages.
 * Return: the physical address of the first (page aligned), or 0 when no
 * run of @n free pages exists or @n is 0. The pages are not zeroed.
 */
uint64_t pmm_alloc_pages(size_t n);

/**
 * pmm_free_pages() - give back @n pages at @phys from pmm_alloc_pages().
 * All pages are checked before any is freed, so an error changes nothing.
 * Part of a run may be freed (e.g. the tail of an over-allocation).
 * Return: 0; -EINVAL for an unaligned @phys, @n == 0 or pages outside the
 * map; -ENOENT if a page is not allocated (double free, or a reserved page).
 */
int pmm_free_pages(uint64_t phys, size_t n);

/* Fill @st with the page counts. */
void pmm_stats(struct pmm_stats *st);

#endif
