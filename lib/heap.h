/*
 * The kernel heap: malloc, free, calloc, realloc and aligned allocation
 * (C11 7.22.3), for the kernel and lwIP (MEM_LIBC_MALLOC / MEMP_MEM_MALLOC).
 *
 * Design: boundary-tag blocks with immediate coalescing and segregated free
 * lists (the classic scheme of Knuth, TAOCP 2.5, and of dlmalloc).
 *  - Every block starts with a 16-byte header: its size with two flag bits
 *    (in use, previous block in use) and a check word, the block's state
 *    magic XORed with its address, its size and a secret key set at boot
 *    (heap_set_secret()), so an overflow cannot forge a neighbour's header. free() trusts a pointer only if
 *    that check matches, so double frees, pointers the heap never returned
 *    and overwritten headers are caught and reported through the error hook
 *    instead of corrupting the lists.
 *  - A free block also keeps its size in its last 8 bytes (a footer, keyed
 *    like the check word) and its list links in its body; before a block is
 *    unlinked its neighbours must point back at it (safe unlinking), so the smallest block is 48 bytes: a 16-byte
 *    header and at most 32 bytes for the caller.
 *  - free() merges the block with free neighbours on both sides at once, so
 *    no two free blocks are ever adjacent.
 *  - Free blocks sit in one of ~60 lists by power-of-two size class; malloc
 *    takes the first block that fits from the smallest class that can hold
 *    the request (first fit inside a class, any block of a larger class),
 *    and splits off the rest when it can form a block of its own.
 *  - Memory comes in arenas: regions given to heap_add_region() and pages
 *    obtained from the grow callback when no free block fits. A new arena
 *    that directly follows an existing one is joined to it.
 * All user pointers are 16-byte aligned (the x86_64 SysV malloc alignment).
 *
 * Names of the C functions go through KLIB() (lib/klib.h): malloc in the
 * kernel, k_malloc in host tests. Kernel code includes <stdlib.h>.
 * Context: main loop only. Nothing here is interrupt-safe or locked; interrupt
 * handlers must not allocate.
 */
#ifndef LIB_HEAP_H
#define LIB_HEAP_H

#include <stddef.h>
#include <stdint.h>

#include "lib/klib.h"

#define HEAP_PAGE_SIZE 4096
/* Growing asks for at least this much at a time, to keep arenas few. */
#define HEAP_GROW_MIN_PAGES 16

/*
 * Gives the heap @pages contiguous, writable pages (HEAP_PAGE_SIZE each) it
 * keeps forever. Return: their address, or NULL when there are none.
 */
typedef void *(*heap_grow_fn)(size_t pages);

/*
 * Called when free()/realloc() get a pointer they must not touch: @what says
 * which problem ("double free", "invalid pointer", "corrupted block header",
 * "corrupted block footer", "corrupted free list ..."),
 * @ptr is the pointer. The kernel's hook panics. If the hook returns (host
 * tests record the call), the operation is abandoned: free() does nothing,
 * realloc() and malloc() return NULL.
 */
typedef void (*heap_error_fn)(const char *what, const void *ptr);

/* The key used until heap_set_secret(): host tests run with it. */
#define HEAP_DEFAULT_SECRET 0x6b2f1c5e93a7d400ull

/**
 * heap_set_secret() - key the check words and footers with @secret (the
 * kernel: 64 random bits at boot). Keeps across heap_init().
 * Return: 0, or -EBUSY once the heap manages memory (its words use the old key).
 */
int heap_set_secret(uint64_t secret);

/**
 * heap_init() - (re)start an empty heap, forgetting all previous arenas.
 * @grow: page provider used when the heap runs out; NULL: never grow.
 * @on_error: error hook; NULL: execute a trap instruction instead.
 */
void heap_init(heap_grow_fn grow, heap_error_fn on_error);

/**
 * heap_add_region() - give the heap @len bytes at @start to manage (an
 * initial region, before or instead of a grow callback). Unaligned edges
 * are trimmed to 16 bytes.
 * Return: 0, or -EINVAL if the region is too small to hold one block.
 */
int heap_add_region(void *start, size_t len);

void *KLIB(malloc)(size_t size);
/* Return: zeroed memory, or NULL also when @nmemb * @size overflows. */
void *KLIB(calloc)(size_t nmemb, size_t size);
/*
 * C realloc: keeps the first min(old, @size) bytes, grows in place when the
 * next block is free, returns NULL and leaves @ptr alone on failure.
 * realloc(NULL, n) is malloc(n); realloc(p, 0) frees p and returns NULL.
 */
void *KLIB(realloc)(void *ptr, size_t size);
void KLIB(free)(void *ptr);

/**
 * heap_alloc_aligned() - @size bytes at an address that is a multiple of
 * @align (a power of two; values below 16 act as 16). Free with free().
 * Return: the memory, or NULL when out of memory or @align is invalid.
 */
void *heap_alloc_aligned(size_t size, size_t align);
/* C11 aligned_alloc and POSIX posix_memalign (which returns EINVAL/ENOMEM). */
void *KLIB(aligned_alloc)(size_t align, size_t size);
int KLIB(posix_memalign)(void **out, size_t align, size_t size);

/* How many bytes the caller may use at @ptr (>= what was asked); 0 for NULL. */
size_t heap_usable_size(const void *ptr);

/* What a live allocation costs the heap: its usable size and its header
 * (what heap_stats() counts in used_bytes for it); 0 for NULL. */
size_t heap_block_size(const void *ptr);

struct heap_stats {
    size_t arena_bytes;       /* everything the heap manages */
    size_t used_bytes;        /* in allocated blocks, headers included */
    size_t free_bytes;        /* in free blocks */
    size_t peak_used_bytes;   /* highest used_bytes so far */
    size_t largest_free;      /* the biggest free block (its usable size) */
    size_t allocations;       /* live allocations */
    size_t total_allocations; /* successful allocations since heap_init() */
    size_t failures;          /* requests that returned NULL for lack of memory */
    size_t errors;            /* bad pointers reported to the error hook */
};

/* Fill @st. arena_bytes - used_bytes - free_bytes is the per-arena overhead. */
void heap_stats(struct heap_stats *st);

/**
 * heap_check() - walk every arena and free list and verify the invariants
 * (check words, sizes, footers, flags, no adjacent free blocks, the lists
 * hold exactly the free blocks, the stats add up). For tests and debugging.
 * Return: 0, or -EIO after reporting the first problem to the error hook.
 */
int heap_check(void);

#endif
