/*
 * Clock calibration arithmetic, apart from the hardware so the host tests can
 * drive it: the TSC and LAPIC timer rates from CPUID (Intel SDM vol. 2A
 * "CPUID" leaves 15H and 16H, SDM vol. 3 11.5.4 for the LAPIC timer's clock;
 * the hypervisor "timing information" leaf 40000010H, VMware's convention
 * that QEMU/KVM offer with vmware-cpuid-freq), and a short measurement of
 * both against a reference counter of known rate (HPET, ACPI PM timer, PIT,
 * or the TSC itself), with an error bound.
 *
 * Includes only <stdint.h>, <stddef.h> and <stdbool.h>.
 */
#ifndef ARCH_X86_64_CLOCKCAL_H
#define ARCH_X86_64_CLOCKCAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* LAPIC timer divide configuration the kernel uses (lapic.c: DCR = 0x3). */
#define CLOCKCAL_LAPIC_DIVIDE 16

/* Raw CPUID values, 0 where the leaf is not offered (caller checks the max leaves). */
struct clockcal_cpuid {
    uint32_t l15_eax, l15_ebx, l15_ecx; /* TSC/crystal ratio denominator, numerator, crystal Hz */
    uint32_t l16_eax, l16_ecx;          /* base MHz, bus (reference) MHz */
    uint32_t hv_eax, hv_ebx;            /* 40000010H: TSC kHz, LAPIC bus kHz */
};

/* A rate and how much it can be off, and where it came from (NULL: unknown). */
struct clockcal_rate {
    uint64_t hz;
    uint32_t err_ppm; /* bound on the measurement or rounding error, not the crystal's tolerance */
    const char *source;
};

/**
 * clockcal_from_cpuid() - the TSC rate and the LAPIC timer rate (after the
 * divide by CLOCKCAL_LAPIC_DIVIDE) that CPUID states, in this order of trust:
 * the hypervisor leaf (the rate the guest really sees, even under TSC
 * scaling), leaf 15H (crystal * EBX / EAX; the LAPIC timer runs on the
 * crystal when 15H enumerates it), leaf 16H (base and bus MHz, rounded to
 * 1 MHz). Either rate may stay unknown (hz 0).
 */
void clockcal_from_cpuid(const struct clockcal_cpuid *c, struct clockcal_rate *tsc,
                         struct clockcal_rate *lapic);

/* The LAPIC bus QEMU's emulated LAPIC (hw/intc/apic_common.c) and KVM's
 * in-kernel one (APIC_BUS_CYCLE_NS, 1 ns by default) both run at. */
#define CLOCKCAL_HV_LAPIC_BUS_HZ 1000000000ull

/**
 * clockcal_hv_lapic() - the last resort, when nothing can be measured
 * against (microvm with pit=off and rtc=off: no HPET, no PM timer, no PIT,
 * no RTC): the LAPIC timer rate a hypervisor whose LAPIC we know uses,
 * named by its CPUID signature (@hypervisor: "TCGTCGTCGTCG", "KVMKVMKVM",
 * as cpu.c reads it; QEMU under KVM, Firecracker and Cloud Hypervisor all
 * say "KVMKVMKVM"). It is an assumption, not a measurement: the source says
 * so, and err_ppm is 0 only because nothing bounds it.
 * Return: true with @lapic set, false for any other (or no) hypervisor.
 */
bool clockcal_hv_lapic(const char *hypervisor, struct clockcal_rate *lapic);

/**
 * clockcal_delta() - ticks from @prev to @now of a counter @bits wide
 * (1..64) that counts up, or down when @down: the difference modulo 2^bits,
 * so one wrap in between is handled (a 24-bit PM timer wraps every 4.7 s).
 */
uint64_t clockcal_delta(uint64_t prev, uint64_t now, unsigned bits, bool down);

/** clockcal_err_ppm() - @uncertainty / @window in parts per million, rounded up; ~0u if @window is 0. */
uint32_t clockcal_err_ppm(uint64_t uncertainty, uint64_t window);

/* A reference counter of known rate, and the two counters to measure against it. */
struct clockcal_ops {
    uint64_t ref_hz;
    unsigned ref_bits;
    bool ref_down;
    uint64_t (*ref_read)(void *ctx);
    uint64_t (*tsc_read)(void *ctx);
    uint32_t (*lapic_read)(void *ctx); /* the LAPIC current count, counting down; NULL: not measured */
    void *ctx;
};

struct clockcal_result {
    struct clockcal_rate tsc, lapic;
    uint64_t window_ns; /* by the reference */
};

/*
 * Stop once the error bound is at most CLOCKCAL_TARGET_PPM and the window
 * is at least CLOCKCAL_MIN_NS, or at CLOCKCAL_MAX_NS whatever the error.
 */
#define CLOCKCAL_MIN_NS     1000000ull  /* 1 ms */
#define CLOCKCAL_MAX_NS     20000000ull /* 20 ms */
#define CLOCKCAL_TARGET_PPM 1000        /* 0.1 % */
/* A reference that has not moved in this many reads in a row is dead. */
#define CLOCKCAL_STUCK_READS 200000

/**
 * clockcal_measure() - measure the TSC and LAPIC rates against @ops' reference.
 * Each end of the window is a TSC read, the LAPIC and reference reads, and a
 * second TSC read; the tightest of a few such brackets is kept, and its width
 * bounds how far the reference read can be from the TSC and LAPIC reads.
 * The bound: (both brackets) / window + one reference tick / window
 * (+ one LAPIC count for the LAPIC rate).
 * Context: interrupts off; the LAPIC timer counting down from far enough
 * that it does not reach 0 within CLOCKCAL_MAX_NS.
 * Return: 0, or -ENODEV when the reference does not move (absent, or dead).
 */
int clockcal_measure(const struct clockcal_ops *ops, struct clockcal_result *out);

#endif
