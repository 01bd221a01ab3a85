/*
 * Boot CPU feature detection and the few privileged instructions around
 * interrupts and idling (Intel SDM vol. 2A "CPUID", vol. 3 6.8.1 "Masking
 * Maskable Hardware Interrupts", AMD APM vol. 3 appendix E).
 */
#include "arch/x86_64/cpu.h"

#include <string.h>

#include "lib/klog.h"

#define RFLAGS_IF (1ull << 9)

static struct cpu_info info;
static bool detected;

static void put_regs(char *dst, uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
    memcpy(dst, &a, 4);
    memcpy(dst + 4, &b, 4);
    memcpy(dst + 8, &c, 4);
    memcpy(dst + 12, &d, 4);
}

static void detect(void)
{
    uint32_t a, b, c, d;

    cpu_cpuid(0, 0, &a, &b, &c, &d);
    info.max_leaf = a;
    /* The vendor string is EBX, EDX, ECX in that order. */
    memcpy(info.vendor, &b, 4);
    memcpy(info.vendor + 4, &d, 4);
    memcpy(info.vendor + 8, &c, 4);
    info.vendor[12] = 0;

    cpu_cpuid(1, 0, &a, &b, &c, &d);
    uint32_t fam = (a >> 8) & 0xf, model = (a >> 4) & 0xf;
    /* SDM vol. 2A table 3-9: the extended fields count only for families 6 and 15. */
    if (fam == 0xf)
        fam += (a >> 20) & 0xff;
    if (fam == 0x6 || fam >= 0xf)
        model |= ((a >> 16) & 0xf) << 4;
    info.family = fam;
    info.model = model;
    info.stepping = a & 0xf;
    info.initial_apic_id = b >> 24;
    info.tsc = (d >> 4) & 1;
    info.apic = (d >> 9) & 1;
    info.x2apic = (c >> 21) & 1;
    info.tsc_deadline = (c >> 24) & 1;
    info.rdrand = (c >> 30) & 1;
    bool hv = (c >> 31) & 1;

    if (info.max_leaf >= 6) {
        cpu_cpuid(6, 0, &a, &b, &c, &d);
        info.arat = (a >> 2) & 1;
    }
    /* Leaf 15H: TSC = crystal * EBX / EAX, when ECX (crystal Hz) is reported. */
    if (info.max_leaf >= 0x15) {
        cpu_cpuid(0x15, 0, &a, &b, &c, &d);
        if (a && b && c)
            info.tsc_hz_cpuid = (uint64_t)c * b / a;
    }

    cpu_cpuid(0x80000000, 0, &a, &b, &c, &d);
    info.max_ext_leaf = a;
    if (info.max_ext_leaf >= 0x80000001) {
        cpu_cpuid(0x80000001, 0, &a, &b, &c, &d);
        info.pdpe1gb = (d >> 26) & 1;
    }
    if (info.max_ext_leaf >= 0x80000004) {
        uint32_t r[4];
        for (uint32_t i = 0; i < 3; i++) {
            cpu_cpuid(0x80000002 + i, 0, &r[0], &r[1], &r[2], &r[3]);
            put_regs(info.brand + 16 * i, r[0], r[1], r[2], r[3]);
        }
        info.brand[48] = 0;
    }
    if (info.max_ext_leaf >= 0x80000007) {
        cpu_cpuid(0x80000007, 0, &a, &b, &c, &d);
        info.invariant_tsc = (d >> 8) & 1;
    }

    if (hv) {
        uint32_t max_hv;
        cpu_cpuid(0x40000000, 0, &max_hv, &b, &c, &d);
        memcpy(info.hypervisor, &b, 4);
        memcpy(info.hypervisor + 4, &c, 4);
        memcpy(info.hypervisor + 8, &d, 4);
        info.hypervisor[12] = 0;
        /* The "timing information" leaf (VMware's, also offered by QEMU/KVM
         * with vmware-cpuid-freq): EAX = TSC kHz. */
        if (max_hv >= 0x40000010 && max_hv < 0x40000100 && !info.tsc_hz_cpuid) {
            cpu_cpuid(0x40000010, 0, &a, &b, &c, &d);
            info.tsc_hz_cpuid = (uint64_t)a * 1000;
        }
    }
    detected = true;
}

const struct cpu_info *cpu_get_info(void)
{
    if (!detected)
        detect();
    return &info;
}

void cpu_init(void)
{
    const struct cpu_info *ci = cpu_get_info();
    /* The brand string is often right-justified with leading spaces. */
    const char *brand = ci->brand;
    while (*brand == ' ')
        brand++;
    klog(LOG_INFO, "cpu: %s family %u model %u stepping %u '%s'%s%s", ci->vendor, ci->family, ci->model,
         ci->stepping, brand, ci->hypervisor[0] ? " hypervisor " : "", ci->hypervisor);
    klog(LOG_INFO,
         "cpu: features: tsc=%d invariant_tsc=%d tsc_deadline=%d apic=%d x2apic=%d arat=%d rdrand=%d",
         ci->tsc, ci->invariant_tsc, ci->tsc_deadline, ci->apic, ci->x2apic, ci->arat, ci->rdrand);
    if (ci->tsc_hz_cpuid)
        klog(LOG_INFO, "cpu: CPUID reports a TSC of %llu kHz", (unsigned long long)(ci->tsc_hz_cpuid / 1000));
}

bool cpu_random64(uint64_t *out)
{
    if (!cpu_get_info()->rdrand)
        return false;
    for (int i = 0; i < 10; i++) {
        uint64_t v;
        uint8_t ok;
        /* CF=1: a random value was delivered (SDM vol. 2B "RDRAND"). */
        __asm__ volatile("rdrand %0; setc %1" : "=r"(v), "=qm"(ok) : : "cc");
        if (ok) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* splitmix64's finalizer (Steele et al., "Fast splittable pseudorandom
 * number generators", 2014): every input bit affects every output bit. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

bool cpu_seed64(uint64_t *out)
{
    if (cpu_random64(out))
        return true;
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 8; i++) {
        uint32_t a, b, c, d;
        cpu_cpuid(0, 0, &a, &b, &c, &d);
        h = mix64(h ^ rdtsc());
    }
    *out = h;
    return false;
}

uint64_t cpu_irq_save(void)
{
    uint64_t flags;
    __asm__ volatile("pushfq; popq %0; cli" : "=r"(flags) : : "memory");
    return flags;
}

void cpu_irq_restore(uint64_t flags)
{
    if (flags & RFLAGS_IF)
        __asm__ volatile("sti" ::: "memory");
}

void cpu_irq_enable(void)
{
    __asm__ volatile("sti" ::: "memory");
}

void cpu_irq_disable(void)
{
    __asm__ volatile("cli" ::: "memory");
}

bool cpu_irq_enabled(void)
{
    uint64_t flags;
    __asm__ volatile("pushfq; popq %0" : "=r"(flags) : : "memory");
    return (flags & RFLAGS_IF) != 0;
}

void cpu_idle(void)
{
    /* Must stay two adjacent instructions: see the header. */
    __asm__ volatile("sti; hlt" ::: "memory");
}

void cpu_halt(void)
{
    for (;;)
        __asm__ volatile("cli; hlt" ::: "memory");
}

void cpu_triple_fault(void)
{
    /* A zero-limit IDT makes the next exception a triple fault: a CPU reset. */
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } idtr = {0, 0};
    __asm__ volatile("cli; lidt %0; int3" : : "m"(idtr) : "memory");
    for (;;)
        __asm__ volatile("hlt");
}
