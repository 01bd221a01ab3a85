/*
 * Memory a device reads or writes by DMA: physically contiguous, page aligned,
 * zeroed (or, for buffers the device fills before anyone reads them, not),
 * with both addresses returned so a driver never has to guess.
 */
#ifndef ARCH_X86_64_DMA_H
#define ARCH_X86_64_DMA_H

#include <stddef.h>
#include <stdint.h>

/**
 * dma_alloc() - allocate @size bytes (rounded up to whole pages) of zeroed DMA memory.
 * @phys: receives the physical (bus) address of the first byte.
 * Return: the kernel virtual address, or NULL when no contiguous run is free.
 */
void *dma_alloc(size_t size, uint64_t *phys);

/**
 * dma_alloc_uninit() - dma_alloc() without the zeroing: for receive buffers,
 * of which only the bytes the device says it wrote are ever read. Zeroing
 * the 4 MiB receive pool cost 12 ms of every boot under TCG (a rep stosq
 * runs one emulated step per 8 bytes), a fifth of QEMU start to first HTTP 200.
 */
void *dma_alloc_uninit(size_t size, uint64_t *phys);

/**
 * dma_free_bytes() - free page-frame memory now, in bytes: what a driver may
 * size its rings and buffers against (not all of it is one contiguous run).
 */
size_t dma_free_bytes(void);

/** dma_free() - give back memory from dma_alloc() (same @size). */
void dma_free(void *virt, size_t size);

#endif
