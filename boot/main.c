/*
 * kmain(): the boot sequence, from the loader's hand-off (boot/boot.S calls
 * it in 64-bit mode on the boot stack) to "boot: done" and the main loop.
 * The one place that knows every layer: a list of calls, each into arch/,
 * lib/, drivers/, net/ or apps/. docs/boot.md walks through it.
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
 *   8. PCI and drivers, then the virtio-mmio devices the command line names
 *   9. the network: lwIP and a netif per NIC
 *  10. the apps, then the main loop
 */
#include "apps/app.h"
#include "arch/x86_64/bootinfo.h"
#include "arch/x86_64/canary.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/gdt.h"
#include "arch/x86_64/irq.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/platform.h"
#include "arch/x86_64/power.h"
#include "arch/x86_64/selftest.h"
#include "arch/x86_64/serial.h"
#include "arch/x86_64/timer.h"
#include "arch/x86_64/trap.h"
#include "drivers/pci.h"
#include "drivers/virtio.h"
#include "drivers/virtio_mmio.h"
#include "lib/cmdline.h"
#include "lib/heap.h"
#include "lib/klog.h"
#include "lib/printf.h"
#include "lib/stats.h"
#include "lib/prof.h"
#include "lib/trace.h"
#include "net/loop.h"
#include "net/netif.h"
#include <stdint.h>

#define KERNEL_NAME    "unikernel"
#define KERNEL_VERSION "0.1"

static struct boot_info boot_info;

/* ---- adapters: the arch functions in the shapes lib/ asks for ---- */

static void console_line(const char *line, unsigned len)
{
    /* One whole line at a time, even if an interrupt handler logs too. */
    uint64_t flags = cpu_irq_save();
    serial_write(line, len);
    cpu_irq_restore(flags);
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

static uint64_t uptime_ms(void)
{
    return clock_ns() / NS_PER_MS;
}

static uint64_t tsc_read(void)
{
    return cycles_now();
}

/* The TSC starts at 0 with the CPU (under QEMU, when the VM starts to run):
 * its value at kmain() says how long firmware and loader took. */
static void log_entry_time(uint64_t tsc)
{
    uint64_t hz = timer_tsc_hz();
    if (hz)
        klog(LOG_INFO, "boot: kmain() entered at TSC %llu, %llu us after the CPU started counting",
             (unsigned long long)tsc, (unsigned long long)(tsc / (hz / 1000000 ? hz / 1000000 : 1)));
}

/* Where the boot's time went: since kmain(), and how much of it the serial console took. */
static void log_boot_done(uint64_t tsc_at_entry)
{
    uint64_t mhz = timer_tsc_hz() / 1000000, bytes, cycles;
    serial_cost(&bytes, &cycles);
    if (!mhz) {
        klog(LOG_INFO, "boot: done");
        return;
    }
    klog(LOG_INFO,
         "boot: done, %llu us after kmain(); %llu us of it writing %llu bytes to the serial console",
         (unsigned long long)((cycles_now() - tsc_at_entry) / mhz), (unsigned long long)(cycles / mhz),
         (unsigned long long)bytes);
}

static void heap_failure(const char *what, const void *ptr)
{
    panic("heap: %s (pointer %p)", what, ptr);
}

static void log_level_from_cmdline(void)
{
    const char *lvl = cmdline_get("log");
    if (!lvl)
        return;
    int l = klog_level_from_name(lvl);
    if (l >= 0)
        klog_set_level(l);
    else
        klog(LOG_WARN, "boot: unknown log level '%s' (err, warn, info, debug)", lvl);
}

/* Not protected: its frame is live when the canary is set (it never returns either). */
NO_STACK_PROTECTOR void kmain(uint32_t magic, uint32_t info_phys)
{
    /* 0. */
    uint64_t tsc_at_entry = cycles_now();
    const char *canary_src = canary_init();

    /* 1. */
    serial_init();
    klog_set_sink(console_line);
    trace_set_output(console_line, clock_ns_ull);
    printf_set_sink(console_putc, NULL);

    /* 2. */
    if (bootinfo_parse(magic, (const void *)(uintptr_t)info_phys, &boot_info) < 0) {
        klog(LOG_ERR, "boot: not started by a multiboot or PVH loader (magic %#x); cannot go on", magic);
        power_exit(QEMU_EXIT_FAILURE);
    }
    cmdline_parse(boot_info.cmdline);
    log_level_from_cmdline();

    klog(LOG_INFO, "%s %s: x86_64 unikernel network stack", KERNEL_NAME, KERNEL_VERSION);
    klog(LOG_INFO, "boot: %s from '%s', command line '%s'", boot_info.protocol,
         boot_info.loader_name[0] ? boot_info.loader_name : "?", cmdline_raw());
    if (boot_info.rejected)
        klog(LOG_WARN, "boot: ignored the loader's %s%s%s%s (not wholly below 4 GiB, or missing)",
             boot_info.rejected & BOOTINFO_REJECT_CMDLINE ? "command line " : "",
             boot_info.rejected & BOOTINFO_REJECT_MEMMAP ? "memory map " : "",
             boot_info.rejected & BOOTINFO_REJECT_MODULES ? "modules " : "",
             boot_info.rejected & BOOTINFO_REJECT_RSDP ? "RSDP" : "");

    klog(LOG_INFO, "boot: stack protector canary from %s%s", canary_src,
         canary_src[0] == 't' ? " (no RDRAND: guessable from the boot timing)" : "");

    /* 3.-6. */
    gdt_init();
    trap_init();
    platform_memory_init(&boot_info);
    paging_init(&boot_info);
    heap_init(platform_heap_grow, heap_failure);
    /* Before the first allocation: every check word carries the key. */
    uint64_t heap_key;
    bool heap_key_rdrand = cpu_seed64(&heap_key);
    heap_set_secret(heap_key);
    klog(LOG_INFO, "boot: heap check words keyed from %s", heap_key_rdrand ? "rdrand" : "tsc");

    selftest_run_early(cmdline_get("test"));

    /* 7. */
    interrupts_init(boot_info.has_rsdp ? boot_info.rsdp : NULL);
    klog_set_clock(clock_ns_ull);
    log_entry_time(tsc_at_entry);
    stats_set_clock(uptime_ms);
    prof_set_counter(tsc_read);
    /* With the clock running (trace lines carry timestamps and are rate-limited
     * by it), before the drivers whose rings and interrupts it shows. */
    trace_init(cmdline_get("trace"));

    /* 8. */
    struct platform_pci plat;
    platform_pci(&boot_info, &plat);
    if (plat.has_ecam)
        pci_init_ecam(plat.ecam, plat.bus_start, plat.bus_end);
    else
        pci_init();
    struct pci_windows win = {.mem_start = plat.mem_start,
                              .mem_end = plat.mem_end,
                              .io_start = plat.io_start,
                              .io_end = plat.io_end};
    pci_assign_unassigned(&win);
    virtio_set_packed(cmdline_get("virtio.packed"));
    pci_probe_drivers();
    virtio_mmio_probe_all(cmdline_raw());

    /* 9. */
    nif_init();
    irq_stats_register();

    log_boot_done(tsc_at_entry);
    selftest_run(cmdline_get("test"));

    /* 10. */
    apps_start(cmdline_get("apps"));
    loop_run();
}
