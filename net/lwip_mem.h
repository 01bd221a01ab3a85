/*
 * lwIP's heap (MEM_LIBC_MALLOC, net/port/lwipopts.h): blocks of the kernel
 * heap (lib/heap.c) instead of lwIP's own mem.c, whose first fit from the
 * lowest free block walked over every segment header in flight (docs/lwip.md,
 * "Memory"). A request that would take lwIP's bytes in use
 * (lwip_stats.mem.used, what it asked for) past MEM_SIZE is refused, so lwIP
 * meets the same limit its own heap had, and counts the refusal in mem.err.
 * lwIP calls these through mem_clib_malloc/calloc/free (declared for it in
 * net/port/arch/cc.h); main loop only, as all of lwIP.
 */
#ifndef NET_LWIP_MEM_H
#define NET_LWIP_MEM_H

#include <stddef.h>

void *lwip_mem_malloc(size_t size);
void *lwip_mem_calloc(size_t n, size_t size);
void lwip_mem_free(void *p);
/* After lwip_init(): lwip_stats.mem.avail says the limit (the budget reads it). */
void lwip_mem_init(void);
/* Kernel heap bytes lwIP's blocks take now, headers included (heap_stats() counts them as used). */
size_t lwip_mem_held(void);

#endif
