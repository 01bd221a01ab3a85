/*
 * The kernel's own page tables (Intel SDM vol. 3, ch. 4.5 "4-level paging").
 *
 * Physical RAM is identity-mapped (virtual == physical), so kernel pointers
 * to RAM are their own physical addresses; still, code that hands an address
 * to a device calls virt_to_phys() so the assumption lives in one place.
 * Device memory is mapped separately, uncached, by map_mmio().
 */
#ifndef ARCH_X86_64_PAGING_H
#define ARCH_X86_64_PAGING_H

#include <stddef.h>
#include <stdint.h>

#define PAGE_SIZE 4096ul

struct boot_info;

/**
 * paging_init() - build and load the kernel's page tables (layout in paging.c).
 * Needs the page-frame allocator; panics-equivalent (halts with a message) without memory.
 */
void paging_init(const struct boot_info *bi);

/** virt_to_phys() - the physical address of a kernel pointer into RAM. */
uint64_t virt_to_phys(const void *v);

/** phys_to_virt() - the kernel pointer for a physical address of RAM. */
void *phys_to_virt(uint64_t phys);

/**
 * map_mmio() - map @len bytes of device memory at @phys (anywhere in the 64-bit
 * physical space) uncached, read/write, no-execute.
 * Return: the virtual address of @phys, or NULL when out of virtual space or page tables.
 */
void *map_mmio(uint64_t phys, size_t len);

#endif
