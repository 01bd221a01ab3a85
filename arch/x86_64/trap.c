/*
 * The IDT and the fault handler (Intel SDM vol. 3, ch. 6).
 *
 * Every exception is fatal in this kernel (no demand paging, no user mode):
 * the handler prints what a newcomer needs to find the bug, the exception's
 * name, the error code decoded, CR2 for page faults, all registers and a
 * backtrace with symbol names, then ends the run with a failure code.
 * Vectors 32-255 are interrupts and go to irq_dispatch().
 */
#include "arch/x86_64/trap.h"
#include "arch/x86_64/gdt.h"
#include "arch/x86_64/ksyms.h"
#include "arch/x86_64/power.h"
#include "arch/x86_64/serial.h"
#include "lib/klog.h"
#include "lib/printf.h"
#include <stdarg.h>
#include <stdbool.h>
#include <assert.h>
#include <stddef.h>

struct idt_gate {
    uint16_t offset_lo;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_hi;
    uint32_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct idt_gate) == 16, "SDM vol. 3, figure 6-8");

#define GATE_INTERRUPT 0x8E /* present, ring 0, 64-bit interrupt gate (IF cleared) */

static struct idt_gate idt[256] __attribute__((aligned(16)));
extern const char trap_stubs[];
extern const char boot_stack_bottom[], boot_stack_top[];

void irq_dispatch(uint8_t vector) __attribute__((weak)); /* irq.c */

static const char *const exception_names[32] = {
    "#DE divide error",
    "#DB debug",
    "NMI",
    "#BP breakpoint",
    "#OF overflow",
    "#BR bound range",
    "#UD invalid opcode",
    "#NM device not available",
    "#DF double fault",
    "coprocessor segment overrun",
    "#TS invalid TSS",
    "#NP segment not present",
    "#SS stack fault",
    "#GP general protection",
    "#PF page fault",
    "reserved 15",
    "#MF x87 floating point",
    "#AC alignment check",
    "#MC machine check",
    "#XM SIMD floating point",
    "#VE virtualization",
    "#CP control protection",
    "reserved 22",
    "reserved 23",
    "reserved 24",
    "reserved 25",
    "reserved 26",
    "reserved 27",
    "#HV hypervisor injection",
    "#VC VMM communication",
    "#SX security",
    "reserved 31",
};

static void set_gate(int vec, const void *handler, int ist)
{
    uint64_t a = (uint64_t)(uintptr_t)handler;
    idt[vec].offset_lo = a & 0xFFFF;
    idt[vec].selector = GDT_KERNEL_CODE;
    idt[vec].ist = (uint8_t)ist;
    idt[vec].type_attr = GATE_INTERRUPT;
    idt[vec].offset_mid = (a >> 16) & 0xFFFF;
    idt[vec].offset_hi = (uint32_t)(a >> 32);
    idt[vec].reserved = 0;
}

void trap_init(void)
{
    for (int v = 0; v < 256; v++)
        set_gate(v, trap_stubs + 16 * v, 0);
    /* Faults that can come from a broken stack run on stacks of their own. */
    idt[2].ist = IST_NMI;
    idt[8].ist = IST_DOUBLE_FAULT;
    idt[14].ist = IST_PAGE_FAULT;
    idt[18].ist = IST_MACHINE_CHECK;

    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } ptr = {sizeof(idt) - 1, (uint64_t)(uintptr_t)idt};
    __asm__ volatile("lidt %0" : : "m"(ptr));
}

/* Fault output goes straight to the UART: the log's sink may be what broke. */
static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(buf) - 1)
        n = sizeof(buf) - 1;
    serial_write(buf, (size_t)n);
}

static bool on_known_stack(uint64_t p)
{
    if (p >= (uint64_t)(uintptr_t)boot_stack_bottom && p + 16 <= (uint64_t)(uintptr_t)boot_stack_top)
        return true;
    for (int ist = 1; ist <= 4; ist++) {
        uintptr_t lo, hi;
        gdt_ist_range(ist, &lo, &hi);
        if (p >= lo && p + 16 <= hi)
            return true;
    }
    return false;
}

static void print_location(const char *prefix, uint64_t addr)
{
    uint64_t off;
    const char *name = ksyms_lookup(addr, &off);
    if (name)
        out("%s0x%016llx  %s+0x%llx\n", prefix, (unsigned long long)addr, name, (unsigned long long)off);
    else
        out("%s0x%016llx  ?\n", prefix, (unsigned long long)addr);
}

void backtrace_print(uint64_t rip, uint64_t rbp)
{
    out("backtrace:\n");
    print_location("  ", rip);
    /* Each frame: [rbp] = caller's rbp, [rbp+8] = return address. Only follow
     * pointers into a known stack, upwards, so a corrupt chain ends the walk
     * instead of faulting inside the fault handler. */
    uint64_t last = 0;
    unsigned repeats = 0;
    for (int depth = 0; depth < 64 && rbp && (rbp & 7) == 0 && on_known_stack(rbp); depth++) {
        const uint64_t *frame = (const uint64_t *)(uintptr_t)rbp;
        uint64_t ret = frame[1];
        if (ret == 0)
            break;
        /* Deep recursion: print a repeated frame once, then count it. */
        if (ret == last) {
            repeats++;
        } else {
            if (repeats)
                out("  ... the frame above %u more times\n", repeats);
            repeats = 0;
            /* A return address points after the call: name the call itself. */
            print_location("  ", ret - 1);
        }
        last = ret;
        if (frame[0] <= rbp)
            break;
        rbp = frame[0];
    }
    if (repeats)
        out("  ... the frame above %u more times\n", repeats);
}

static void read_cr(uint64_t *cr0, uint64_t *cr2, uint64_t *cr3, uint64_t *cr4)
{
    __asm__ volatile("mov %%cr0, %0" : "=r"(*cr0));
    __asm__ volatile("mov %%cr2, %0" : "=r"(*cr2));
    __asm__ volatile("mov %%cr3, %0" : "=r"(*cr3));
    __asm__ volatile("mov %%cr4, %0" : "=r"(*cr4));
}

static void dump_fault(const struct trap_frame *f)
{
    uint64_t cr0, cr2, cr3, cr4;
    read_cr(&cr0, &cr2, &cr3, &cr4);

    out("\n*** KERNEL FAULT: vector %llu (%s), error code 0x%llx\n", (unsigned long long)f->vector,
        exception_names[f->vector & 31], (unsigned long long)f->error);
    if (f->vector == 14) {
        /* Page-fault error code, SDM vol. 3, figure 4-12. */
        out("page fault at address 0x%016llx: %s, %s access%s%s\n", (unsigned long long)cr2,
            (f->error & 1) ? "protection violation" : "page not present",
            (f->error & 16)  ? "instruction fetch"
            : (f->error & 2) ? "write"
                             : "read",
            (f->error & 8) ? ", reserved bit set" : "", (f->error & 4) ? ", user mode" : "");
        if (cr2 >= (uintptr_t)boot_stack_bottom - 4096 && cr2 < (uintptr_t)boot_stack_bottom)
            out("the address is in the boot stack's guard page: a stack overflow\n");
        else if (cr2 < 4096)
            out("the address is in the null page: a NULL pointer dereference\n");
    } else if (f->vector == 13 && f->error) {
        out("selector index 0x%llx (%s)\n", (unsigned long long)(f->error >> 3),
            (f->error & 2)   ? "IDT"
            : (f->error & 4) ? "LDT"
                             : "GDT");
    }
    print_location("RIP ", f->rip);
    out("RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx\n", (unsigned long long)f->rax,
        (unsigned long long)f->rbx, (unsigned long long)f->rcx, (unsigned long long)f->rdx);
    out("RSI=%016llx RDI=%016llx RBP=%016llx RSP=%016llx\n", (unsigned long long)f->rsi,
        (unsigned long long)f->rdi, (unsigned long long)f->rbp, (unsigned long long)f->rsp);
    out("R8 =%016llx R9 =%016llx R10=%016llx R11=%016llx\n", (unsigned long long)f->r8,
        (unsigned long long)f->r9, (unsigned long long)f->r10, (unsigned long long)f->r11);
    out("R12=%016llx R13=%016llx R14=%016llx R15=%016llx\n", (unsigned long long)f->r12,
        (unsigned long long)f->r13, (unsigned long long)f->r14, (unsigned long long)f->r15);
    out("RIP=%016llx RFLAGS=%016llx CS=%04llx SS=%04llx\n", (unsigned long long)f->rip,
        (unsigned long long)f->rflags, (unsigned long long)f->cs, (unsigned long long)f->ss);
    out("CR0=%016llx CR2=%016llx CR3=%016llx CR4=%016llx\n", (unsigned long long)cr0, (unsigned long long)cr2,
        (unsigned long long)cr3, (unsigned long long)cr4);
    backtrace_print(f->rip, f->rbp);
}

static bool in_fault;

void trap_dispatch(struct trap_frame *f)
{
    if (f->vector >= 32) {
        if (irq_dispatch)
            irq_dispatch((uint8_t)f->vector);
        return;
    }
    if (in_fault) {
        /* A fault while reporting a fault: say so in as few steps as possible. */
        serial_write("\n*** nested fault while reporting a fault\n", 42);
        power_exit(QEMU_EXIT_FAILURE);
    }
    in_fault = true;
    dump_fault(f);
    out("*** system halted\n");
    power_exit(QEMU_EXIT_FAILURE);
}

void panic(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    uint64_t rbp;

    __asm__ volatile("cli");
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    out("\n*** KERNEL PANIC: %s\n", buf);
    if (!in_fault) {
        in_fault = true;
        __asm__ volatile("mov %%rbp, %0" : "=r"(rbp));
        backtrace_print((uint64_t)(uintptr_t)panic, rbp);
    }
    out("*** system halted\n");
    power_exit(QEMU_EXIT_FAILURE);
}

/* Called by assert() from <assert.h>. */
void assert_fail(const char *expr, const char *file, int line, const char *func)
{
    panic("assertion failed: %s (%s:%d, %s)", expr, file, line, func);
}
