/*
 * Host tests of arch/x86_64/clockcal.c: rates from CPUID leaves 15H, 16H and
 * 40000010H, wrap handling of the reference counters (24/32-bit PM timer,
 * 16-bit PIT counting down), and clockcal_measure() against simulated
 * counters driven by one simulated time (every read costs simulated time,
 * some reads stall), whose result must be within the error bound it reports.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86_64/clockcal.h"

static void test_cpuid_15_with_crystal(void **state)
{
    (void)state;
    struct clockcal_cpuid c = {.l15_eax = 2, .l15_ebx = 176, .l15_ecx = 24000000};
    struct clockcal_rate t, l;
    clockcal_from_cpuid(&c, &t, &l);
    assert_int_equal(t.hz, 2112000000ull);
    assert_int_equal(t.err_ppm, 0);
    assert_string_equal(t.source, "CPUID 0x15");
    /* The LAPIC timer runs on the crystal: 24 MHz / 16. */
    assert_int_equal(l.hz, 1500000);
    assert_string_equal(l.source, "CPUID 0x15");
}

static void test_cpuid_15_ratio_rounds_to_nearest(void **state)
{
    (void)state;
    /* 25 MHz * 100 / 3 = 833333333.3 Hz; 25 MHz * 200 / 3 = 1666666666.7 Hz. */
    struct clockcal_cpuid c = {.l15_eax = 3, .l15_ebx = 100, .l15_ecx = 25000000};
    struct clockcal_rate t, l;
    clockcal_from_cpuid(&c, &t, &l);
    assert_int_equal(t.hz, 833333333ull);
    c.l15_ebx = 200;
    clockcal_from_cpuid(&c, &t, &l);
    assert_int_equal(t.hz, 1666666667ull);
    /* A large numerator (38.4 MHz crystal, ratio 0x2000/0x10) stays exact. */
    c = (struct clockcal_cpuid){.l15_eax = 0x10, .l15_ebx = 0x2000, .l15_ecx = 38400000};
    clockcal_from_cpuid(&c, &t, &l);
    assert_int_equal(t.hz, 38400000ull * 0x200);
}

static void test_cpuid_15_without_crystal_uses_16_base(void **state)
{
    (void)state;
    struct clockcal_cpuid c = {.l15_eax = 2, .l15_ebx = 168, .l16_eax = 2100, .l16_ecx = 100};
    struct clockcal_rate t, l;
    clockcal_from_cpuid(&c, &t, &l);
    assert_int_equal(t.hz, 2100000000ull);
    /* Half of 1 MHz in 2100 MHz: 238.1 ppm, rounded up. */
    assert_int_equal(t.err_ppm, 239);
    assert_string_equal(t.source, "CPUID 0x15 ratio x 0x16 base");
    /* The crystal (25 MHz) derived from the base, not 16H's bus field. */
    assert_int_equal(l.hz, 25000000 / 16);
    assert_string_equal(l.source, "CPUID 0x15 ratio x 0x16 base");
}

static void test_cpuid_16_only(void **state)
{
    (void)state;
    /* 15H present but not enumerating (EBX 0): ignored. */
    struct clockcal_cpuid c = {.l15_eax = 1, .l15_ebx = 0, .l15_ecx = 0, .l16_eax = 3000, .l16_ecx = 100};
    struct clockcal_rate t, l;
    clockcal_from_cpuid(&c, &t, &l);
    assert_int_equal(t.hz, 3000000000ull);
    assert_int_equal(t.err_ppm, 167);
    assert_string_equal(t.source, "CPUID 0x16 (base MHz)");
    assert_int_equal(l.hz, 6250000);
    assert_int_equal(l.err_ppm, 5000);
    assert_string_equal(l.source, "CPUID 0x16 (bus MHz)");
}

static void test_cpuid_hypervisor_leaf_first(void **state)
{
    (void)state;
    struct clockcal_cpuid c = {
        .l15_eax = 2, .l15_ebx = 176, .l15_ecx = 24000000, .hv_eax = 2096000, .hv_ebx = 1000000};
    struct clockcal_rate t, l;
    clockcal_from_cpuid(&c, &t, &l);
    assert_int_equal(t.hz, 2096000000ull);
    assert_string_equal(t.source, "CPUID 0x40000010 (hypervisor)");
    assert_int_equal(l.hz, 62500000);
    assert_string_equal(l.source, "CPUID 0x40000010 (hypervisor)");
    /* A hypervisor giving only the TSC: the LAPIC rate from 15H's crystal. */
    c.hv_ebx = 0;
    clockcal_from_cpuid(&c, &t, &l);
    assert_int_equal(t.hz, 2096000000ull);
    assert_int_equal(l.hz, 1500000);
    assert_string_equal(l.source, "CPUID 0x15");
}

static void test_cpuid_nothing(void **state)
{
    (void)state;
    struct clockcal_cpuid c = {0};
    struct clockcal_rate t, l;
    clockcal_from_cpuid(&c, &t, &l);
    assert_int_equal(t.hz, 0);
    assert_int_equal(l.hz, 0);
    assert_null(t.source);
    assert_null(l.source);
}

/* The last resort: the LAPIC bus of a hypervisor we know, by its exact signature only. */
static void test_hv_lapic_known_signatures_only(void **state)
{
    (void)state;
    struct clockcal_rate l;

    assert_true(clockcal_hv_lapic("TCGTCGTCGTCG", &l));
    assert_int_equal(l.hz, 62500000);
    assert_non_null(strstr(l.source, "QEMU's TCG (assumed"));
    assert_true(clockcal_hv_lapic("KVMKVMKVM", &l));
    assert_int_equal(l.hz, 62500000);
    assert_non_null(strstr(l.source, "KVM (assumed"));
    const char *others[] = {"", "KVMKVMKV", "KVMKVMKVMX", "VMwareVMware", "Microsoft Hv", "TCGTCGTCGTC"};
    for (unsigned i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        assert_false(clockcal_hv_lapic(others[i], &l));
        assert_int_equal(l.hz, 0);
        assert_null(l.source);
    }
    assert_false(clockcal_hv_lapic(NULL, &l));
}

static void test_delta_wraps(void **state)
{
    (void)state;
    /* 24-bit PM timer across its wrap, and bits above 24 ignored. */
    assert_int_equal(clockcal_delta(0xfffff0, 0x000010, 24, false), 0x20);
    assert_int_equal(clockcal_delta(0xfffff0, 0xff000010, 24, false), 0x20);
    assert_int_equal(clockcal_delta(0x000010, 0x000010, 24, false), 0);
    /* 32-bit PM timer / HPET. */
    assert_int_equal(clockcal_delta(0xfffffff0u, 0x10, 32, false), 0x20);
    /* 16-bit PIT counting down, across its reload. */
    assert_int_equal(clockcal_delta(0x0005, 0xfffb, 16, true), 10);
    assert_int_equal(clockcal_delta(0x8000, 0x7000, 16, true), 0x1000);
    /* 64-bit. */
    assert_int_equal(clockcal_delta(~0ull - 4, 5, 64, false), 10);
}

static void test_err_ppm(void **state)
{
    (void)state;
    assert_int_equal(clockcal_err_ppm(1, 1000000), 1);
    assert_int_equal(clockcal_err_ppm(1, 3), 333334);
    assert_int_equal(clockcal_err_ppm(0, 3), 0);
    assert_int_equal(clockcal_err_ppm(1, 0), ~0u);
    assert_int_equal(clockcal_err_ppm(5000, 1), 0xffffffffu);
}

/* ---------------------------------------------------------------- measurement */

struct sim {
    uint64_t now_ps; /* simulated time, picoseconds */
    uint64_t tsc_hz, lapic_hz, ref_hz;
    uint64_t ref0; /* reference value at time 0 */
    unsigned bits;
    bool down, dead;
    uint64_t ref_cost_ps, tsc_cost_ps;
    unsigned stall_every; /* every Nth TSC read stalls for stall_ps (0: never) */
    uint64_t stall_ps;
    unsigned tsc_reads;
};

static uint64_t at(uint64_t ps, uint64_t hz)
{
    return (uint64_t)((unsigned __int128)ps * hz / 1000000000000ull);
}

static uint64_t sim_ref(void *ctx)
{
    struct sim *s = ctx;
    s->now_ps += s->ref_cost_ps / 2;
    uint64_t t = s->dead ? 0 : at(s->now_ps, s->ref_hz);
    s->now_ps += s->ref_cost_ps - s->ref_cost_ps / 2;
    uint64_t mask = s->bits >= 64 ? ~0ull : (1ull << s->bits) - 1;
    return (s->down ? s->ref0 - t : s->ref0 + t) & mask;
}

static uint64_t sim_tsc(void *ctx)
{
    struct sim *s = ctx;
    if (s->stall_every && ++s->tsc_reads % s->stall_every == 0)
        s->now_ps += s->stall_ps;
    s->now_ps += s->tsc_cost_ps;
    return 1000000 + at(s->now_ps, s->tsc_hz);
}

static uint32_t sim_lapic(void *ctx)
{
    struct sim *s = ctx;
    s->now_ps += 200000; /* an MMIO read: 200 ns */
    return 0xffffffffu - (uint32_t)at(s->now_ps, s->lapic_hz);
}

static void check_within_bound(uint64_t got, uint64_t want, uint32_t err_ppm)
{
    uint64_t diff = got > want ? got - want : want - got;
    /* |got - want| / want <= err_ppm / 1e6, with 1 Hz of rounding. */
    assert_true(diff * 1000000 <= (uint64_t)err_ppm * want + 1000000);
}

static void run_sim(struct sim *s, struct clockcal_result *r)
{
    struct clockcal_ops ops = {.ref_hz = s->ref_hz,
                               .ref_bits = s->bits,
                               .ref_down = s->down,
                               .ref_read = sim_ref,
                               .tsc_read = sim_tsc,
                               .lapic_read = sim_lapic,
                               .ctx = s};
    assert_int_equal(clockcal_measure(&ops, r), 0);
    check_within_bound(r->tsc.hz, s->tsc_hz, r->tsc.err_ppm);
    check_within_bound(r->lapic.hz, s->lapic_hz, r->lapic.err_ppm);
    assert_true(r->window_ns >= CLOCKCAL_MIN_NS);
    assert_true(r->window_ns <= CLOCKCAL_MAX_NS + 1000000);
}

static void test_measure_pm_timer_across_wrap(void **state)
{
    (void)state;
    /* A 24-bit PM timer 1 ms before its wrap; 1 us per port read. */
    struct sim s = {.tsc_hz = 2500000000ull,
                    .lapic_hz = 62500000,
                    .ref_hz = 3579545,
                    .ref0 = 0xffffff - 3580,
                    .bits = 24,
                    .ref_cost_ps = 1000000,
                    .tsc_cost_ps = 10000};
    struct clockcal_result r;
    run_sim(&s, &r);
    assert_true(r.tsc.err_ppm <= CLOCKCAL_TARGET_PPM);
    /* A few ms, not 50: a 1 us read needs (2 x ~1 us) / window + 1 tick <= 0.1 %. */
    assert_true(r.window_ns <= 5000000);
}

static void test_measure_pit_counting_down(void **state)
{
    (void)state;
    /* PIT channel 0 near its reload; three port accesses (3 us) per read. */
    struct sim s = {.tsc_hz = 2096000000ull,
                    .lapic_hz = 62500000,
                    .ref_hz = 1193182,
                    .ref0 = 0x0100,
                    .bits = 16,
                    .down = true,
                    .ref_cost_ps = 3000000,
                    .tsc_cost_ps = 10000};
    struct clockcal_result r;
    run_sim(&s, &r);
    assert_true(r.tsc.err_ppm <= CLOCKCAL_TARGET_PPM);
}

static void test_measure_with_stalls(void **state)
{
    (void)state;
    /* Every 5th TSC read is 100 us late (a descheduled vCPU): the tightest
     * brackets at both ends still give a bound that holds. */
    struct sim s = {.tsc_hz = 3000000000ull,
                    .lapic_hz = 1500000,
                    .ref_hz = 100000000,
                    .ref0 = 12345,
                    .bits = 64,
                    .ref_cost_ps = 500000,
                    .tsc_cost_ps = 10000,
                    .stall_every = 5,
                    .stall_ps = 100000000};
    struct clockcal_result r;
    run_sim(&s, &r);
}

static void test_measure_slow_reads_stop_at_max(void **state)
{
    (void)state;
    /* 50 us per read: the bound cannot reach the target, the window stops at its maximum. */
    struct sim s = {.tsc_hz = 2000000000ull,
                    .lapic_hz = 62500000,
                    .ref_hz = 3579545,
                    .bits = 32,
                    .ref_cost_ps = 50000000,
                    .tsc_cost_ps = 10000};
    struct clockcal_result r;
    run_sim(&s, &r);
    assert_true(r.window_ns >= CLOCKCAL_MAX_NS);
    assert_true(r.tsc.err_ppm > CLOCKCAL_TARGET_PPM);
}

static void test_measure_dead_reference(void **state)
{
    (void)state;
    struct sim s = {.tsc_hz = 2000000000ull,
                    .lapic_hz = 62500000,
                    .ref_hz = 1193182,
                    .ref0 = 0xffff,
                    .bits = 16,
                    .down = true,
                    .dead = true,
                    .ref_cost_ps = 1000000,
                    .tsc_cost_ps = 10000};
    struct clockcal_ops ops = {.ref_hz = s.ref_hz,
                               .ref_bits = s.bits,
                               .ref_down = s.down,
                               .ref_read = sim_ref,
                               .tsc_read = sim_tsc,
                               .lapic_read = sim_lapic,
                               .ctx = &s};
    struct clockcal_result r;
    assert_int_equal(clockcal_measure(&ops, &r), -ENODEV);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpuid_15_with_crystal),
        cmocka_unit_test(test_cpuid_15_ratio_rounds_to_nearest),
        cmocka_unit_test(test_cpuid_15_without_crystal_uses_16_base),
        cmocka_unit_test(test_cpuid_16_only),
        cmocka_unit_test(test_cpuid_hypervisor_leaf_first),
        cmocka_unit_test(test_cpuid_nothing),
        cmocka_unit_test(test_hv_lapic_known_signatures_only),
        cmocka_unit_test(test_delta_wraps),
        cmocka_unit_test(test_err_ppm),
        cmocka_unit_test(test_measure_pm_timer_across_wrap),
        cmocka_unit_test(test_measure_pit_counting_down),
        cmocka_unit_test(test_measure_with_stalls),
        cmocka_unit_test(test_measure_slow_reads_stop_at_max),
        cmocka_unit_test(test_measure_dead_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
