/*
 * Clock calibration arithmetic (see clockcal.h for the sources it follows).
 * No 128-bit division: every product below stays within 64 bits for the
 * ranges a CPU, a crystal or a 20 ms window can have (commented where tight).
 */
#include "arch/x86_64/clockcal.h"

#include <errno.h>

#define NS_PER_SEC 1000000000ull
/* Brackets tried at each end of the window; the tightest is kept. */
#define BRACKETS 8

static uint32_t half_unit_ppm(uint64_t unit, uint64_t hz)
{
    /* Rounded to @unit Hz: off by at most half of it. */
    return clockcal_err_ppm(unit / 2, hz);
}

bool clockcal_hv_lapic(const char *hypervisor, struct clockcal_rate *lapic)
{
    static const char *const known[] = {"TCGTCGTCGTCG", "KVMKVMKVM"};

    lapic->hz = 0;
    lapic->err_ppm = 0;
    lapic->source = NULL;
    if (!hypervisor)
        return false;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        const char *a = hypervisor, *b = known[i];

        while (*a && *a == *b)
            a++, b++;
        if (*a == 0 && *b == 0) {
            lapic->hz = CLOCKCAL_HV_LAPIC_BUS_HZ / CLOCKCAL_LAPIC_DIVIDE;
            lapic->source = i == 0 ? "1 GHz LAPIC bus of QEMU's TCG (assumed: nothing to measure against)"
                                   : "1 GHz LAPIC bus of KVM (assumed: nothing to measure against)";
            return true;
        }
    }
    return false;
}

void clockcal_from_cpuid(const struct clockcal_cpuid *c, struct clockcal_rate *tsc,
                         struct clockcal_rate *lapic)
{
    *tsc = (struct clockcal_rate){0, 0, NULL};
    *lapic = (struct clockcal_rate){0, 0, NULL};

    if (c->hv_eax) {
        tsc->hz = (uint64_t)c->hv_eax * 1000;
        tsc->err_ppm = half_unit_ppm(1000, tsc->hz);
        tsc->source = "CPUID 0x40000010 (hypervisor)";
    }
    if (c->hv_ebx) {
        uint64_t bus = (uint64_t)c->hv_ebx * 1000;
        lapic->hz = bus / CLOCKCAL_LAPIC_DIVIDE;
        lapic->err_ppm = half_unit_ppm(1000, bus);
        lapic->source = "CPUID 0x40000010 (hypervisor)";
    }

    /* 15H: TSC = crystal * EBX / EAX; EBX 0 means the ratio is not enumerated. */
    uint64_t crystal = 0;
    uint32_t crystal_err = 0;
    const char *crystal_src = NULL;
    if (c->l15_eax && c->l15_ebx) {
        if (c->l15_ecx) {
            crystal = c->l15_ecx;
            crystal_src = "CPUID 0x15";
        } else if (c->l16_eax) {
            /* No crystal given: the ratio applied to the base frequency
             * (16H EAX, MHz), as the SDM suggests for such parts. */
            crystal = (uint64_t)c->l16_eax * 1000000 * c->l15_eax / c->l15_ebx;
            crystal_err = half_unit_ppm(1000000, (uint64_t)c->l16_eax * 1000000);
            crystal_src = "CPUID 0x15 ratio x 0x16 base";
        }
    }
    if (!tsc->hz && crystal) {
        /* crystal < 2^32 and EBX < 2^32 would not fit, but a crystal is below
         * 2^27 (100 MHz) and EBX below 2^16 on every part there is. */
        tsc->hz = (crystal * c->l15_ebx + c->l15_eax / 2) / c->l15_eax;
        tsc->err_ppm = crystal_err;
        tsc->source = crystal_src;
    }
    if (!lapic->hz && crystal) {
        /* SDM vol. 3 11.5.4: with 15H enumerating the ratio, the LAPIC timer
         * runs at the core crystal clock. */
        lapic->hz = crystal / CLOCKCAL_LAPIC_DIVIDE;
        lapic->err_ppm = crystal_err;
        lapic->source = crystal_src;
    }
    if (!tsc->hz && c->l16_eax) {
        tsc->hz = (uint64_t)c->l16_eax * 1000000;
        tsc->err_ppm = half_unit_ppm(1000000, tsc->hz);
        tsc->source = "CPUID 0x16 (base MHz)";
    }
    if (!lapic->hz && c->l16_ecx) {
        uint64_t bus = (uint64_t)c->l16_ecx * 1000000;
        lapic->hz = bus / CLOCKCAL_LAPIC_DIVIDE;
        lapic->err_ppm = half_unit_ppm(1000000, bus);
        lapic->source = "CPUID 0x16 (bus MHz)";
    }
}

uint64_t clockcal_delta(uint64_t prev, uint64_t now, unsigned bits, bool down)
{
    uint64_t mask = bits >= 64 ? ~0ull : (1ull << bits) - 1;
    return (down ? prev - now : now - prev) & mask;
}

uint32_t clockcal_err_ppm(uint64_t uncertainty, uint64_t window)
{
    if (!window)
        return ~0u;
    /* uncertainty is at most a few window lengths, far below 2^44. */
    uint64_t ppm = (uncertainty * 1000000 + window - 1) / window;
    return ppm > 0xffffffffu ? 0xffffffffu : (uint32_t)ppm;
}

struct bracket {
    uint64_t tsc, ref;
    uint32_t lapic;
    uint64_t width; /* TSC counts between the two TSC reads */
};

static void bracket_once(const struct clockcal_ops *ops, struct bracket *b)
{
    uint64_t t0 = ops->tsc_read(ops->ctx);
    b->lapic = ops->lapic_read ? ops->lapic_read(ops->ctx) : 0;
    b->ref = ops->ref_read(ops->ctx);
    uint64_t t1 = ops->tsc_read(ops->ctx);
    b->width = t1 - t0;
    b->tsc = t0 + b->width / 2;
}

/* The tightest of BRACKETS brackets, and of up to 4x as many while none is
 * as tight as @want (the opening one, for the closing end). */
static void bracket_best(const struct clockcal_ops *ops, struct bracket *best, uint64_t want)
{
    bracket_once(ops, best);
    for (int i = 1; i < 4 * BRACKETS && (i < BRACKETS || best->width > want); i++) {
        struct bracket b;
        bracket_once(ops, &b);
        if (b.width < best->width)
            *best = b;
    }
}

int clockcal_measure(const struct clockcal_ops *ops, struct clockcal_result *out)
{
    struct bracket a, b;
    *out = (struct clockcal_result){{0, 0, NULL}, {0, 0, NULL}, 0};
    bracket_best(ops, &a, ~0ull);

    /* Follow the reference read by read, so wraps are counted, until the
     * window is long enough for the target error or as long as allowed. */
    uint64_t min_ticks = ops->ref_hz * CLOCKCAL_MIN_NS / NS_PER_SEC;
    uint64_t max_ticks = ops->ref_hz * CLOCKCAL_MAX_NS / NS_PER_SEC;
    uint64_t last = a.ref, ticks = 0, still = 0;
    for (;;) {
        uint64_t r = ops->ref_read(ops->ctx);
        uint64_t d = clockcal_delta(last, r, ops->ref_bits, ops->ref_down);
        last = r;
        if (d == 0) {
            if (++still >= CLOCKCAL_STUCK_READS)
                return -ENODEV;
            continue;
        }
        still = 0;
        ticks += d;
        if (ticks >= max_ticks)
            break;
        if (ticks < min_ticks)
            continue;
        /* Expected bound if the closing bracket is as tight as the opening one. */
        uint64_t dt = ops->tsc_read(ops->ctx) - a.tsc;
        uint32_t e = clockcal_err_ppm(2 * a.width, dt) + clockcal_err_ppm(1, ticks);
        if (e <= CLOCKCAL_TARGET_PPM)
            break;
    }
    bracket_best(ops, &b, a.width);
    /* The ticks between the last poll and the closing bracket. */
    ticks += clockcal_delta(last, b.ref, ops->ref_bits, ops->ref_down);

    /* ticks < 2^32 for any reference below 200 GHz over 20 ms: no overflow. */
    uint64_t ns = ticks * NS_PER_SEC / ops->ref_hz;
    uint64_t dtsc = b.tsc - a.tsc;
    if (!ns || !dtsc)
        return -ENODEV;
    out->window_ns = ns;
    /* dtsc < 2^34 (20 ms at 800 GHz): dtsc * 1e9 < 2^64. */
    out->tsc.hz = dtsc * NS_PER_SEC / ns;
    uint32_t common = clockcal_err_ppm(a.width + b.width, dtsc) + clockcal_err_ppm(1, ticks);
    out->tsc.err_ppm = common;
    if (ops->lapic_read) {
        uint64_t dl = (uint32_t)(a.lapic - b.lapic);
        out->lapic.hz = dl * NS_PER_SEC / ns;
        out->lapic.err_ppm = common + clockcal_err_ppm(1, dl);
    }
    return 0;
}
