/*
 * The platform facts of QEMU's pc and q35 machines that boot/main.c hands
 * to the portable layers (platform.h): the memory map and the PCI windows.
 */
#include "arch/x86_64/platform.h"
#include "arch/x86_64/acpi.h"
#include "arch/x86_64/bootinfo.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/trap.h"
#include "boot/multiboot.h"
#include "lib/klog.h"
#include "lib/pmm.h"

extern const char __kernel_start[], __kernel_end[];

void *platform_heap_grow(size_t pages)
{
    uint64_t phys = pmm_alloc_pages(pages);
    return phys ? phys_to_virt(phys) : NULL;
}

/* Free RAM for the page-frame allocator: available regions above 1 MiB, minus
 * the kernel, the boot information and modules (pmm_reserve below). */
void platform_memory_init(const struct boot_info *bi)
{
    struct pmm_region regions[BOOTINFO_MAX_REGIONS];
    size_t n = 0;
    uint64_t total = 0;

    klog(LOG_INFO, "memory map (%u entries, %s):", bi->n_mem, bi->protocol);
    for (unsigned i = 0; i < bi->n_mem; i++) {
        const struct boot_region *r = &bi->mem[i];
        klog(LOG_INFO, "  mem: 0x%012llx-0x%012llx %s", (unsigned long long)r->base,
             (unsigned long long)(r->base + r->len - 1), bootinfo_mem_type_name(r->type));
        if (r->type != MB_MEM_AVAILABLE)
            continue;
        regions[n].base = r->base;
        regions[n].len = r->len;
        n++;
        total += r->len;
    }
    if (bi->mem_truncated)
        klog(LOG_WARN, "memory map: more than %d entries, the rest ignored", BOOTINFO_MAX_REGIONS);
    if (n == 0)
        panic("memory: the boot loader gave no usable memory map");

    /* Everything the allocator must not hand out is reserved before it can
     * carve its own bitmap out of free memory. */
    pmm_reserve(0, 0x100000);
    pmm_reserve((uintptr_t)__kernel_start, (uintptr_t)__kernel_end - (uintptr_t)__kernel_start);
    pmm_reserve(bi->info_start, bi->info_end - bi->info_start);
    for (unsigned i = 0; i < bi->n_modules; i++)
        pmm_reserve(bi->modules[i].start, bi->modules[i].end - bi->modules[i].start);
    /* The bitmaps are reached through the kernel's direct map (paging.h). */
    if (pmm_init(regions, n, phys_to_virt) < 0)
        panic("memory: page-frame allocator failed to initialise");
    struct pmm_stats ps;
    pmm_stats(&ps);
    klog(LOG_INFO, "memory: %llu MiB usable, %llu pages free, kernel %#lx-%#lx (%lu KiB)",
         (unsigned long long)(total >> 20), (unsigned long long)ps.free_pages,
         (unsigned long)(uintptr_t)__kernel_start, (unsigned long)(uintptr_t)__kernel_end,
         (unsigned long)(((uintptr_t)__kernel_end - (uintptr_t)__kernel_start) >> 10));
}

/*
 * Where BARs the firmware left unassigned may go. QEMU's pc and q35 route
 * every address between the end of RAM below 4 GiB and the IO-APIC
 * (0xFEC00000) to PCI; SeaBIOS starts its own assignments at 0xC0000000 or
 * at the end of RAM if higher, and so do we, above the ECAM window if it
 * lies there (q35: 0xB0000000-0xBFFFFFFF), and below any reserved range of
 * the memory map. I/O ports from 0xC000, as SeaBIOS: below are legacy
 * devices and the chipset's ACPI and SMBus blocks.
 */
void platform_pci(const struct boot_info *bi, struct platform_pci *p)
{
    const uint64_t floor = 0xC0000000u, ioapic = 0xFEC00000u;
    uint64_t start = floor, end = ioapic;

    *p = (struct platform_pci){.io_start = 0xC000, .io_end = 0x10000};
    p->has_ecam = acpi_mcfg(&p->ecam, &p->bus_start, &p->bus_end) == 0;
    uint64_t ecam_len = p->has_ecam ? ((uint64_t)p->bus_end - p->bus_start + 1) << 20 : 0;

    for (unsigned i = 0; i < bi->n_mem; i++) {
        const struct boot_region *r = &bi->mem[i];
        if (r->base < floor && r->base + r->len > start)
            start = r->base + r->len;
    }
    if (ecam_len && p->ecam < end && p->ecam + ecam_len > start)
        start = p->ecam + ecam_len;
    start = (start + 0xFFFFF) & ~0xFFFFFull;
    for (unsigned i = 0; i < bi->n_mem; i++) {
        const struct boot_region *r = &bi->mem[i];
        if (r->base >= start && r->base < end)
            end = r->base;
    }
    p->mem_start = start;
    p->mem_end = end > start ? end : start;
}
