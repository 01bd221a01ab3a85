/*
 * What the boot sequence (boot/main.c) asks of the machine: the facts of
 * QEMU's pc and q35 platforms and of the Multiboot hand-off that the portable
 * layers must not compute themselves.
 *
 *   platform_memory_init()  the loader's memory map into the page-frame allocator
 *   platform_heap_grow()    pages for the kernel heap, as kernel pointers
 *   platform_pci_ecam()     where the PCIe configuration space is (ACPI MCFG)
 *   platform_pci_windows()  where BARs the firmware left unassigned may go
 */
#ifndef ARCH_X86_64_PLATFORM_H
#define ARCH_X86_64_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct boot_info;

/**
 * platform_memory_init() - hand the available RAM of @bi's memory map to the
 * page-frame allocator, minus the first MiB, the kernel, the boot information
 * and modules. Logs the map. Panics without usable memory.
 */
void platform_memory_init(const struct boot_info *bi);

/** platform_heap_grow() - @pages contiguous pages of RAM for the heap (lib/heap.h's grow), or NULL. */
void *platform_heap_grow(size_t pages);

/**
 * struct platform_pci - where the PCI configuration space and unassigned BARs go.
 * @ecam, @bus_start, @bus_end: the ECAM window of segment 0 (valid if @has_ecam).
 * @mem_start, @mem_end: free 32-bit memory space for BARs, [start, end).
 * @io_start, @io_end: free I/O ports for BARs, [start, end).
 */
struct platform_pci {
    bool has_ecam;
    uint64_t ecam;
    uint8_t bus_start, bus_end;
    uint64_t mem_start, mem_end;
    uint32_t io_start, io_end;
};

/** platform_pci() - fill @p from ACPI's MCFG (interrupts_init() first) and @bi's memory map. */
void platform_pci(const struct boot_info *bi, struct platform_pci *p);

#endif
