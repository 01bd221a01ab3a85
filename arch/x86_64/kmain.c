/*
 * kmain(): where boot.S hands over, in 64-bit mode on the boot stack.
 *
 * The order matters, and each step only uses what the steps before it set up:
 *   0. the stack canary                  (before any protected frame that returns is live:
 *                                         kmain() itself is not protected, see canary.h)
 *   1. serial console and log            (so every later failure is visible)
 *   2. boot information                  (copied before anything reuses its memory)
 *   3. GDT/TSS and IDT                   (so a fault prints a dump instead of rebooting)
 *   4. page-frame allocator              (from the memory map)
 *   5. the kernel's own page tables      (W^X, null page, stack guard)
 *   6. kernel heap
 *   7. interrupts and clocks             (ACPI, APIC, IO-APIC, timers)
 *   8. PCI and drivers
 *   9. the main loop
 */
#include "arch/x86_64/acpi.h"
#include "arch/x86_64/bootinfo.h"
#include "arch/x86_64/canary.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/irq.h"
#include "arch/x86_64/timer.h"
#include "drivers/pci.h"
#include "net/net.h"
#include "arch/x86_64/gdt.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/power.h"
#include "arch/x86_64/serial.h"
#include "arch/x86_64/selftest.h"
#include "arch/x86_64/trap.h"
#include "boot/multiboot.h"
#include "lib/cmdline.h"
#include "lib/heap.h"
#include "lib/klog.h"
#include "lib/pmm.h"
#include "lib/printf.h"
#include "lib/trace.h"
#include <stdint.h>
#include <string.h>

#define KERNEL_NAME    "unikernel"
#define KERNEL_VERSION "0.1"

extern const char __kernel_start[], __kernel_end[];

static struct boot_info boot_info;

static void console_line(const char *line, unsigned len)
{
    /* One whole line at a time, even if an interrupt handler logs too. */
    uint64_t flags;
    __asm__ volatile("pushfq; popq %0; cli" : "=r"(flags) : : "memory");
    serial_write(line, len);
    if (flags & (1 << 9))
        __asm__ volatile("sti" : : : "memory");
}

static void console_putc(char c, void *arg)
{
    (void)arg;
    if (c == '\n')
        serial_putc('\r');
    serial_putc(c);
}

static unsigned long long clock_ns_ull(void)
{
    return clock_ns();
}

static void heap_failure(const char *what, const void *ptr)
{
    panic("heap: %s (pointer %p)", what, ptr);
}

static void *heap_grow(size_t pages)
{
    uint64_t phys = pmm_alloc_pages(pages);
    return phys ? phys_to_virt(phys) : NULL;
}

/* Free RAM for the page-frame allocator: available regions above 1 MiB, minus
 * the kernel, the boot information and modules (pmm_reserve below). */
static void memory_init(void)
{
    struct pmm_region regions[BOOTINFO_MAX_REGIONS];
    size_t n = 0;
    uint64_t total = 0;

    klog(LOG_INFO, "memory map (%u entries, multiboot%d):", boot_info.n_mem, boot_info.multiboot_version);
    for (unsigned i = 0; i < boot_info.n_mem; i++) {
        const struct boot_region *r = &boot_info.mem[i];
        klog(LOG_INFO, "  mem: 0x%012llx-0x%012llx %s", (unsigned long long)r->base,
             (unsigned long long)(r->base + r->len - 1), bootinfo_mem_type_name(r->type));
        if (r->type != MB_MEM_AVAILABLE)
            continue;
        regions[n].base = r->base;
        regions[n].len = r->len;
        n++;
        total += r->len;
    }
    if (boot_info.mem_truncated)
        klog(LOG_WARN, "memory map: more than %d entries, the rest ignored", BOOTINFO_MAX_REGIONS);
    if (n == 0)
        panic("memory: the boot loader gave no usable memory map");

    /* Everything the allocator must not hand out is reserved before it can
     * carve its own bitmap out of free memory. */
    pmm_reserve(0, 0x100000);
    pmm_reserve((uintptr_t)__kernel_start, (uintptr_t)__kernel_end - (uintptr_t)__kernel_start);
    pmm_reserve(boot_info.info_start, boot_info.info_end - boot_info.info_start);
    for (unsigned i = 0; i < boot_info.n_modules; i++)
        pmm_reserve(boot_info.modules[i].start, boot_info.modules[i].end - boot_info.modules[i].start);
    if (pmm_init(regions, n) < 0)
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
static void pci_windows_find(struct pci_windows *w, uint64_t ecam, uint64_t ecam_len)
{
    const uint64_t floor = 0xC0000000u, ioapic = 0xFEC00000u;
    uint64_t start = floor, end = ioapic;

    for (unsigned i = 0; i < boot_info.n_mem; i++) {
        const struct boot_region *r = &boot_info.mem[i];
        if (r->base < floor && r->base + r->len > start)
            start = r->base + r->len;
    }
    if (ecam_len && ecam < end && ecam + ecam_len > start)
        start = ecam + ecam_len;
    start = (start + 0xFFFFF) & ~0xFFFFFull;
    for (unsigned i = 0; i < boot_info.n_mem; i++) {
        const struct boot_region *r = &boot_info.mem[i];
        if (r->base >= start && r->base < end)
            end = r->base;
    }
    *w = (struct pci_windows){
        .mem_start = start, .mem_end = end > start ? end : start, .io_start = 0xC000, .io_end = 0x10000};
}

/* Not protected: its frame is live when the canary is set (it never returns either). */
NO_STACK_PROTECTOR void kmain(uint32_t magic, uint32_t info_phys)
{
    const char *canary_src = canary_init();

    serial_init();
    klog_set_sink(console_line);
    trace_set_output(console_line, clock_ns_ull);
    printf_set_sink(console_putc, NULL);

    if (bootinfo_parse(magic, (const void *)(uintptr_t)info_phys, &boot_info) < 0) {
        klog(LOG_ERR, "boot: not started by a multiboot loader (magic %#x); cannot go on", magic);
        power_exit(QEMU_EXIT_FAILURE);
    }
    cmdline_parse(boot_info.cmdline);
    const char *lvl = cmdline_get("log");
    if (lvl) {
        int l = klog_level_from_name(lvl);
        if (l >= 0)
            klog_set_level(l);
        else
            klog(LOG_WARN, "boot: unknown log level '%s' (err, warn, info, debug)", lvl);
    }

    klog(LOG_INFO, "%s %s: x86_64 unikernel network stack", KERNEL_NAME, KERNEL_VERSION);
    klog(LOG_INFO, "boot: multiboot%d from '%s', command line '%s'", boot_info.multiboot_version,
         boot_info.loader_name[0] ? boot_info.loader_name : "?", cmdline_raw());

    klog(LOG_INFO, "boot: stack protector canary from %s%s", canary_src,
         canary_src[0] == 't' ? " (no RDRAND: guessable from the boot timing)" : "");

    gdt_init();
    trap_init();
    memory_init();
    paging_init(&boot_info);
    heap_init(heap_grow, heap_failure);
    /* Before the first allocation: every check word carries the key. */
    uint64_t heap_key;
    bool heap_key_rdrand = cpu_seed64(&heap_key);
    heap_set_secret(heap_key);
    klog(LOG_INFO, "boot: heap check words keyed from %s", heap_key_rdrand ? "rdrand" : "tsc");

    selftest_run_early(cmdline_get("test"));

    interrupts_init(boot_info.has_rsdp ? boot_info.rsdp : NULL);
    klog_set_clock(clock_ns_ull);
    /* With the clock running (trace lines carry timestamps and are rate-limited
     * by it), before the drivers whose rings and interrupts it shows. */
    trace_init(cmdline_get("trace"));

    uint64_t ecam;
    uint8_t bus_start, bus_end;
    bool have_ecam = acpi_mcfg(&ecam, &bus_start, &bus_end) == 0;
    if (have_ecam)
        pci_init_ecam(ecam, bus_start, bus_end);
    else
        pci_init();
    struct pci_windows win;
    pci_windows_find(&win, have_ecam ? ecam : 0, have_ecam ? ((uint64_t)bus_end - bus_start + 1) << 20 : 0);
    pci_assign_unassigned(&win);
    pci_probe_drivers();
    net_init();

    klog(LOG_INFO, "boot: done");
    selftest_run(cmdline_get("test"));

    net_run();
}
