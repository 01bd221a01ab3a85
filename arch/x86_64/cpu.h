/*
 * The boot CPU: CPUID feature detection (Intel SDM vol. 2A "CPUID"; AMD APM
 * vol. 3 appendix E), MSR and TSC access (SDM vol. 4; vol. 3 17.17 "Time-Stamp
 * Counter"), interrupt-flag control and the idle instruction pair.
 *
 * The MSR/TSC/CPUID accessors are inline; everything that changes the
 * interrupt flag or halts is out of line, so host tests can replace it.
 */
#ifndef ARCH_X86_64_CPU_H
#define ARCH_X86_64_CPU_H

#include <stdbool.h>
#include <stdint.h>

/* MSRs (SDM vol. 4, table 2-2). */
#define MSR_IA32_APIC_BASE    0x1b
#define APIC_BASE_BSP         (1ull << 8)
#define APIC_BASE_X2APIC      (1ull << 10) /* EXTD */
#define APIC_BASE_ENABLE      (1ull << 11)
#define APIC_BASE_ADDR_MASK   0x000ffffffffff000ull
#define MSR_IA32_TSC_DEADLINE 0x6e0
#define MSR_X2APIC_BASE       0x800 /* x2APIC register at xAPIC offset R is MSR 0x800 + R/16 */

struct cpu_info {
    char vendor[13];     /* "GenuineIntel", "AuthenticAMD", ... */
    char brand[49];      /* processor brand string, empty if not reported */
    char hypervisor[13]; /* "TCGTCGTCGTCG", "KVMKVMKVM", ... empty on bare metal */
    uint32_t max_leaf, max_ext_leaf;
    uint32_t family, model, stepping;
    uint32_t initial_apic_id; /* CPUID.1:EBX[31:24] */
    bool tsc;                 /* CPUID.1:EDX[4] */
    bool apic;                /* CPUID.1:EDX[9] */
    bool x2apic;              /* CPUID.1:ECX[21] */
    bool tsc_deadline;        /* CPUID.1:ECX[24] */
    bool rdrand;              /* CPUID.1:ECX[30] */
    bool pdpe1gb;             /* CPUID.80000001H:EDX[26]: 1 GiB pages */
    bool invariant_tsc;       /* CPUID.80000007H:EDX[8]: constant rate in all P-/C-states */
    bool arat;                /* CPUID.6:EAX[2]: the LAPIC timer keeps running in deep C-states */
    uint64_t tsc_hz_cpuid;    /* from leaf 15H or the hypervisor leaf 40000010H, 0 if unknown */
};

static inline void cpu_cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t)hi << 32 | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

/* RDTSC is not ordered with earlier loads; the lfence keeps a timestamp from
 * being taken before the work it is meant to follow (SDM vol. 2B "RDTSC"). */
static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
    return (uint64_t)hi << 32 | lo;
}

/**
 * cpu_init() - run CPUID once and log the vendor, brand and the features the
 * interrupt and time code relies on. Context: boot, before lapic_init().
 */
void cpu_init(void);

/** cpu_get_info() - what cpu_init() found (detects on first call if needed). */
const struct cpu_info *cpu_get_info(void);

/**
 * cpu_random64() - 64 random bits from the CPU's hardware generator (RDRAND),
 * retried a few times as Intel's DRNG guide advises when it is momentarily
 * drained. Return: false if there is no RDRAND or it kept failing.
 */
bool cpu_random64(uint64_t *out);

/**
 * cpu_seed64() - 64 bits for a boot-time secret (stack canary, heap key):
 * RDRAND when it works, else several TSC readings around CPUID (whose exit
 * time jitters) mixed through a 64-bit finalizer, which is guessable by
 * someone who knows the boot timing: the boot log says which one was used.
 * Return: true if the value came from RDRAND.
 */
bool cpu_seed64(uint64_t *out);

/** cpu_irq_save() - disable interrupts; return the previous RFLAGS for cpu_irq_restore(). */
uint64_t cpu_irq_save(void);
/** cpu_irq_restore() - re-enable interrupts if @flags (from cpu_irq_save()) had IF set. */
void cpu_irq_restore(uint64_t flags);
void cpu_irq_enable(void);
void cpu_irq_disable(void);
bool cpu_irq_enabled(void);

/**
 * cpu_idle() - enable interrupts and halt until the next one, atomically:
 * `sti` delays interrupt recognition until after the following instruction,
 * so an interrupt that became pending after the caller's last check with
 * interrupts disabled wakes the `hlt` instead of being taken before it and
 * leaving the CPU asleep (SDM vol. 2B "STI"). Returns with interrupts enabled,
 * after the waking interrupt's handler has run.
 *
 * Use: cpu_irq_disable(); if (!work_pending()) cpu_idle(); else cpu_irq_enable();
 */
void cpu_idle(void);

/** cpu_halt() - disable interrupts and halt forever (NMIs included). */
void cpu_halt(void) __attribute__((noreturn));

/** cpu_triple_fault() - reset the CPU by loading an empty IDT and raising an exception. */
void cpu_triple_fault(void) __attribute__((noreturn));

#endif
