/*
 * Clock and timer callbacks on the local APIC timer (Intel SDM vol. 3 11.5.4
 * "APIC Timer" and 11.5.4.1 "TSC-Deadline Mode"; 19.17.1 "Invariant TSC").
 *
 * Rates (boot, interrupts off), cheapest first:
 *   1. CPUID, when it states them (clockcal.c: the hypervisor leaf 40000010H,
 *      leaf 15H, leaf 16H): no waiting at all;
 *   2. else a short measurement (1-20 ms, until the error bound is 0.1 %,
 *      clockcal_measure()) against the HPET main counter (IA-PC HPET 1.0a
 *      2.3.4, period in its capabilities register), else the ACPI PM timer
 *      (ACPI 6.5 4.8.3.3, 3.579545 MHz, FADT PM_TMR_BLK / X_PM_TMR_BLK),
 *      else PIT channel 0 read back through the latch command (8254 data
 *      sheet; channel 0 because channel 2's gate needs port 0x61, which
 *      microvm does not have), else one second of the MC146818 RTC between
 *      two falls of its update-in-progress bit (microvm with pit=off: no
 *      HPET, no PM timer, no PIT; exact, but it costs one to two seconds).
 *      A rate CPUID gives for one of the TSC and the
 *      LAPIC timer but not the other: the other is measured against the TSC.
 * The log names the source of each rate and its error bound.
 *
 * Unit conversions are multiply-and-shift with a 64x64->128 multiply and no
 * division at run time (no 128-bit division helper is linked into the kernel).
 */
#include "arch/x86_64/timer.h"

#include <errno.h>
#include <stddef.h>

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/clockcal.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/io.h"
#include "arch/x86_64/irq.h"
#include "arch/x86_64/lapic.h"
#include "arch/x86_64/paging.h"
#include "lib/klog.h"

/* A callback that keeps re-arming itself at 0 delay must not wedge the interrupt. */
#define MAX_EXPIRIES_PER_IRQ 64

/* PIT (8254 data sheet): channel 0, read back through the counter latch. */
#define PIT_HZ                 1193182u
#define PIT_CH0_DATA           0x40
#define PIT_CMD                0x43
#define PIT_CMD_CH0_LATCH      0x00
#define PIT_CMD_CH0_LOHI_MODE2 0x34 /* rate generator: counts down, reloads, never stops */
#define PIT_CMD_CH0_LOHI_MODE0 0x30 /* one count down, then the output stays high */

/* HPET registers (IA-PC HPET 1.0a 2.3). */
#define HPET_CAP       0x000 /* r, 64: period (fs) in 63-32, COUNT_SIZE_CAP bit 13 */
#define HPET_CAP_64BIT (1ull << 13)
#define HPET_CONFIG    0x010 /* rw, 64: ENABLE_CNF bit 0 */
#define HPET_ENABLE    1ull
#define HPET_COUNTER   0x0f0 /* rw, 64 */

struct scale {
    uint64_t mult;
    unsigned shift;
};

enum clock_src { CLOCK_NONE, CLOCK_TSC, CLOCK_LAPIC_TICK };
enum event_mode { EVENT_NONE, EVENT_TSC_DEADLINE, EVENT_ONESHOT, EVENT_PERIODIC };

static enum clock_src clock_src;
static enum event_mode event_mode;
static uint64_t tsc_hz, lapic_hz;
static struct scale tsc_to_ns, ns_to_tsc, lapic_to_ns, ns_to_lapic, lapic_to_tsc;
static uint64_t tsc_base;       /* TSC at clock_ns() == 0 (timer_init()'s entry) */
static uint64_t origin_ns;      /* tick counting: clock_ns() when the tick started */
static uint32_t tick_counts;    /* LAPIC counts per tick (periodic mode) */
static volatile uint64_t ticks; /* periodic interrupts counted */
/* Lost-tick recovery (periodic mode, see tick_reload_tsc()). */
static bool tick_catchup;
static uint64_t tsc_per_tick;
static uint64_t last_reload_tsc; /* TSC when the counter last reloaded, as of the last count */
static uint64_t last_ns;         /* clock_ns() never goes back */
static uint64_t skipped_periods; /* periods of periodic timers that ran too late to fire */
static uint64_t irq_count;
static uint64_t lost_ticks;      /* periods recovered from the TSC */
static struct timer *armed_list; /* sorted by deadline_ns, FIFO among equals */

static unsigned bit_length(uint64_t v)
{
    unsigned n = 0;
    while (v) {
        n++;
        v >>= 1;
    }
    return n;
}

/* The scale that turns a count at @from_hz into one at @to_hz. */
static struct scale make_scale(uint64_t from_hz, uint64_t to_hz)
{
    struct scale s = {0, 0};
    if (!from_hz)
        return s;
    /* As many fraction bits as keep to_hz << shift within 64 bits, at most 32. */
    unsigned len = bit_length(to_hz);
    s.shift = len >= 63 ? 0 : (63 - len < 32 ? 63 - len : 32);
    s.mult = (to_hz << s.shift) / from_hz;
    return s;
}

static uint64_t scaled(uint64_t v, const struct scale *s)
{
    return (uint64_t)(((unsigned __int128)v * s->mult) >> s->shift);
}

/* ---------------------------------------------------------------- calibration */

static uint64_t read_tsc(void *ctx)
{
    (void)ctx;
    return rdtsc();
}

static uint32_t read_lapic(void *ctx)
{
    (void)ctx;
    return lapic_timer_current();
}

/* The LAPIC timer as a reference (clockcal_hv_lapic()): its 32-bit down-count. */
static uint64_t read_lapic_ref(void *ctx)
{
    (void)ctx;
    return lapic_timer_current();
}

static uint64_t read_pm_timer(void *ctx)
{
    (void)ctx;
    return acpi_pm_timer_read();
}

struct hpet_ref {
    uint8_t *regs;
    bool wide;
};

static uint64_t read_hpet(void *ctx)
{
    const struct hpet_ref *h = ctx;
    return h->wide ? mmio_read64(h->regs + HPET_COUNTER) : mmio_read32(h->regs + HPET_COUNTER);
}

/*
 * MC146818 RTC (its data sheet; every PC's CMOS): index at 0x70, data at
 * 0x71. Register A's UIP bit is set for the 244 us before each once-a-second
 * update and falls when the seconds change. QEMU computes it from its clock
 * at each read (hw/rtc/mc146818rtc.c), so the falling edge is exact to the
 * polling interval; its periodic flag is not (set by a QEMU timer callback,
 * late or skipped on a busy host: tried at 8192 Hz, 23 % off). So the
 * reference of last resort is one second between two falling edges: exact,
 * but up to two seconds of boot.
 */
#define RTC_INDEX       0x70
#define RTC_DATA        0x71
#define RTC_REG_A       0x0a
#define RTC_A_UIP       0x80
#define RTC_REG_B       0x0b
#define RTC_B_BINARY    0x04 /* DM: registers in binary, else BCD */
#define RTC_REG_SECONDS 0x00
#define RTC_REG_D       0x0d
#define RTC_D_VRT       0x80      /* valid RAM and time: set on every working RTC */
#define RTC_POLLS       50000000u /* bound on the reads waiting for one edge (seconds under TCG) */

static uint8_t rtc_read(uint8_t reg)
{
    outb(RTC_INDEX, reg);
    return inb(RTC_DATA);
}

/* The seconds register, in binary (read just after an update: nothing changes it for a second). */
static unsigned rtc_seconds(void)
{
    uint8_t v = rtc_read(RTC_REG_SECONDS);
    return (rtc_read(RTC_REG_B) & RTC_B_BINARY) ? v : (v >> 4) * 10u + (v & 0x0f);
}

/*
 * Wait for UIP to fall; the TSC and LAPIC count just after, the TSC of the
 * read just before, and the seconds register. UIP is high for only 244 us: a
 * vCPU descheduled through it sees the next second's fall instead (seen here
 * on a busy host: a "TSC 4189 MHz"), which the seconds register tells.
 */
static bool rtc_uip_falls(uint64_t *tsc, uint64_t *tsc_before, uint32_t *lapic, unsigned *sec)
{
    uint32_t n = 0;
    while (!(rtc_read(RTC_REG_A) & RTC_A_UIP))
        if (++n > RTC_POLLS)
            return false;
    uint64_t before = rdtsc();
    while (rtc_read(RTC_REG_A) & RTC_A_UIP) {
        before = rdtsc();
        if (++n > RTC_POLLS)
            return false;
    }
    *tsc = rdtsc();
    *lapic = lapic_timer_current();
    *tsc_before = before;
    *sec = rtc_seconds();
    return true;
}

/* Whole seconds of the RTC as the reference: 0, or -ENODEV without an RTC or its updates. */
static int rtc_measure(struct clockcal_result *r)
{
    uint8_t d = rtc_read(RTC_REG_D);
    if (d == 0xff || !(d & RTC_D_VRT))
        return -ENODEV;
    uint64_t t0, b0, t1, b1;
    uint32_t l0, l1;
    unsigned s0, s1;
    if (!rtc_uip_falls(&t0, &b0, &l0, &s0) || !rtc_uip_falls(&t1, &b1, &l1, &s1) || t1 <= t0 || s0 >= 60 ||
        s1 >= 60)
        return -ENODEV;
    unsigned secs = (s1 + 60 - s0) % 60;
    if (secs == 0)
        return -ENODEV;
    uint64_t window = t1 - t0;
    /* Each edge lies between the last read that saw UIP and the TSC after the first that did not. */
    uint64_t slack = (t0 - b0) + (t1 - b1);
    uint32_t err = clockcal_err_ppm(slack, window);
    r->window_ns = secs * 1000000000ull;
    r->tsc = (struct clockcal_rate){.hz = window / secs, .err_ppm = err};
    r->lapic = (struct clockcal_rate){.hz = (uint64_t)(l0 - l1) / secs, .err_ppm = err + 1};
    return 0;
}

static uint64_t read_pit(void *ctx)
{
    (void)ctx;
    outb(PIT_CMD, PIT_CMD_CH0_LATCH);
    uint8_t lo = inb(PIT_CH0_DATA);
    uint8_t hi = inb(PIT_CH0_DATA);
    return (uint64_t)hi << 8 | lo;
}

/*
 * No PIT (microvm pit=off): every port reads 0xff. Each read is a port exit
 * of a microsecond or more, so 64 of them span dozens of the PIT's 838 ns
 * ticks: a live counter moves. Saves clockcal_measure()'s CLOCKCAL_STUCK_READS
 * (25 ms here) to find out.
 */
static bool pit_absent(void)
{
    for (unsigned i = 0; i < 64; i++)
        if (read_pit(NULL) != 0xffff)
            return false;
    return true;
}

/* The HPET as a reference: its rate from the period, enabled if it was not. */
static bool hpet_ref(struct clockcal_ops *ops, struct hpet_ref *h)
{
    if (!acpi_get()->hpet_addr)
        return false;
    h->regs = map_mmio(acpi_get()->hpet_addr, 1024);
    if (!h->regs)
        return false;
    uint64_t cap = mmio_read64(h->regs + HPET_CAP);
    uint64_t period_fs = cap >> 32;
    /* 2.3.4: the period is non-zero and at most 100 ns (10^8 fs). */
    if (period_fs == 0 || period_fs > 100000000ull)
        return false;
    uint64_t cfg = mmio_read64(h->regs + HPET_CONFIG);
    if (!(cfg & HPET_ENABLE))
        mmio_write64(h->regs + HPET_CONFIG, cfg | HPET_ENABLE);
    h->wide = cap & HPET_CAP_64BIT;
    ops->ref_hz = (1000000000000000ull + period_fs / 2) / period_fs;
    ops->ref_bits = h->wide ? 64 : 32;
    ops->ref_down = false;
    ops->ref_read = read_hpet;
    ops->ctx = h;
    return true;
}

static const char *rate_src_tsc = "none", *rate_src_lapic = "none";
static uint32_t tsc_err_ppm, lapic_err_ppm;
static uint64_t calib_window_ns;

/* The CPUID leaves that state rates, 0 where a leaf is not offered. */
static void read_cpuid_rates(struct clockcal_cpuid *c)
{
    const struct cpu_info *ci = cpu_get_info();
    uint32_t a, b, cx, d;
    *c = (struct clockcal_cpuid){0};
    if (ci->max_leaf >= 0x15) {
        cpu_cpuid(0x15, 0, &a, &b, &cx, &d);
        c->l15_eax = a;
        c->l15_ebx = b;
        c->l15_ecx = cx;
    }
    if (ci->max_leaf >= 0x16) {
        cpu_cpuid(0x16, 0, &a, &b, &cx, &d);
        c->l16_eax = a & 0xffff;
        c->l16_ecx = cx & 0xffff;
    }
    if (ci->hypervisor[0]) {
        cpu_cpuid(0x40000000, 0, &a, &b, &cx, &d);
        /* Beyond 0x400000ff the answer is not a hypervisor's range. */
        if (a >= 0x40000010 && a < 0x40000100) {
            cpu_cpuid(0x40000010, 0, &a, &b, &cx, &d);
            c->hv_eax = a;
            c->hv_ebx = b;
        }
    }
}

static bool calibrate(void)
{
    struct clockcal_cpuid cc;
    struct clockcal_rate t, l;
    read_cpuid_rates(&cc);
    clockcal_from_cpuid(&cc, &t, &l);
    if (t.hz) {
        tsc_hz = t.hz;
        tsc_err_ppm = t.err_ppm;
        rate_src_tsc = t.source;
    }
    if (l.hz) {
        lapic_hz = l.hz;
        lapic_err_ppm = l.err_ppm;
        rate_src_lapic = l.source;
    }
    if (tsc_hz && lapic_hz)
        return true;

    /* Counting down from the top, masked, so it neither wraps nor interrupts. */
    lapic_timer_mode(LAPIC_TIMER_ONESHOT, IRQ_VECTOR_LAPIC_TIMER, true);
    lapic_timer_start(0xffffffffu);
    struct clockcal_ops ops = {.tsc_read = read_tsc, .lapic_read = read_lapic};
    struct clockcal_result r;
    struct hpet_ref h;
    const char *ref = NULL;
    int err = -ENODEV;
    if (tsc_hz) {
        /* Only the LAPIC rate is missing: the TSC is the best reference there is. */
        ops.ref_hz = tsc_hz;
        ops.ref_bits = 64;
        ops.ref_read = read_tsc;
        ref = "TSC";
        err = clockcal_measure(&ops, &r);
    }
    if (err && hpet_ref(&ops, &h)) {
        ref = "HPET";
        err = clockcal_measure(&ops, &r);
    }
    if (err && acpi_pm_timer_bits()) {
        ops.ref_hz = ACPI_PM_TIMER_HZ;
        ops.ref_bits = acpi_pm_timer_bits();
        ops.ref_down = false;
        ops.ref_read = read_pm_timer;
        ref = "ACPI PM timer";
        err = clockcal_measure(&ops, &r);
    }
    if (err) {
        /* Reload 0 is 65536: a full 16-bit down-count, about 55 ms per wrap. */
        outb(PIT_CMD, PIT_CMD_CH0_LOHI_MODE2);
        outb(PIT_CH0_DATA, 0);
        outb(PIT_CH0_DATA, 0);
        ops.ref_hz = PIT_HZ;
        ops.ref_bits = 16;
        ops.ref_down = true;
        ops.ref_read = read_pit;
        ref = "PIT channel 0";
        err = pit_absent() ? -ENODEV : clockcal_measure(&ops, &r);
        /* Left counting down once, so it raises IRQ 0 (masked) no more. */
        outb(PIT_CMD, PIT_CMD_CH0_LOHI_MODE0);
        outb(PIT_CH0_DATA, 0xff);
        outb(PIT_CH0_DATA, 0xff);
    }
    if (err) {
        ref = "RTC's seconds";
        err = rtc_measure(&r);
    }
    if (err && !lapic_hz && clockcal_hv_lapic(cpu_get_info()->hypervisor, &l)) {
        /* Nothing to measure against: a hypervisor whose LAPIC bus we know.
         * Its timer, counting down from the top, is the reference for the TSC. */
        lapic_hz = l.hz;
        lapic_err_ppm = l.err_ppm;
        rate_src_lapic = l.source;
        klog(LOG_WARN,
             "timer: no HPET, PM timer, PIT or RTC answered: taking the LAPIC timer at %llu Hz, the %s",
             (unsigned long long)lapic_hz, l.source);
        if (!tsc_hz) {
            struct clockcal_ops lo = {.tsc_read = read_tsc,
                                      .ref_hz = lapic_hz,
                                      .ref_bits = 32,
                                      .ref_down = true,
                                      .ref_read = read_lapic_ref};
            ops = lo;
            ref = "LAPIC timer (at its assumed rate)";
            err = clockcal_measure(&ops, &r);
        } else {
            err = 0;
            r.window_ns = 0;
        }
    }
    lapic_timer_start(0);
    if (err)
        return false;
    calib_window_ns = r.window_ns;
    if (!tsc_hz) {
        tsc_hz = r.tsc.hz;
        tsc_err_ppm = r.tsc.err_ppm;
        rate_src_tsc = ref;
    }
    if (!lapic_hz) {
        lapic_hz = r.lapic.hz;
        lapic_err_ppm = r.lapic.err_ppm;
        rate_src_lapic = ref;
    }
    klog(LOG_INFO, "timer: calibrated against the %s over %llu us", ref,
         (unsigned long long)(r.window_ns / 1000));
    return true;
}

/* ---------------------------------------------------------------- clock */

/*
 * Periodic mode loses a tick whenever the timer interrupt cannot be taken for
 * a whole period (interrupts off, or under emulation the vCPU not scheduled:
 * QEMU then delivers one interrupt for several periods). Under a hypervisor
 * the TSC runs at a constant rate even when CPUID does not promise it, so
 * there the TSC tells how many periods really passed: the LAPIC count gives
 * the TSC at which the counter last reloaded, and the distance from the
 * previous reload, rounded to whole periods, is the number of reloads. A
 * rate error of the TSC below half a period per period cannot change that.
 */
static uint64_t tick_reload_tsc(uint32_t *in_tick)
{
    uint32_t cur = lapic_timer_current();
    uint64_t now = rdtsc();
    *in_tick = cur <= tick_counts ? tick_counts - cur : 0;
    return now - scaled(*in_tick, &lapic_to_tsc);
}

static uint64_t periods_since_last_reload(uint64_t reload_tsc)
{
    if ((int64_t)(reload_tsc - last_reload_tsc) <= 0)
        return 0;
    return (reload_tsc - last_reload_tsc + tsc_per_tick / 2) / tsc_per_tick;
}

uint64_t clock_ns(void)
{
    uint64_t ns;
    uint64_t f = cpu_irq_save();
    if (clock_src == CLOCK_TSC) {
        ns = scaled(rdtsc() - tsc_base, &tsc_to_ns);
    } else if (clock_src == CLOCK_LAPIC_TICK && tick_catchup) {
        /* The ticks counted up to the last interrupt, then the TSC since that
         * tick's reload: the TSC's rate is constant here (the premise of the
         * catch-up), and reading it costs nothing, where reading the LAPIC
         * count is an emulated MMIO access (under TCG it was 7 % of a bulk
         * send's samples, clock_ns() being called on every turn of the loop). */
        ns = origin_ns + scaled(ticks * tick_counts, &lapic_to_ns) +
             scaled(rdtsc() - last_reload_tsc, &tsc_to_ns);
    } else if (clock_src == CLOCK_LAPIC_TICK) {
        uint64_t t = ticks;
        uint32_t cur = lapic_timer_current();
        /* The counter reloaded but the interrupt that counts it has not run
         * yet (we are in another handler, or interrupts are off): count it,
         * and read the count again, since it may have been from before the
         * reload. More than one such reload cannot be seen here. */
        if (lapic_vector_pending(IRQ_VECTOR_LAPIC_TIMER)) {
            t++;
            cur = lapic_timer_current();
        }
        uint32_t in_tick = cur <= tick_counts ? tick_counts - cur : 0;
        ns = origin_ns + scaled(t * tick_counts + in_tick, &lapic_to_ns);
    } else {
        ns = 0;
    }
    /* Without the catch-up, lost ticks would make it step back. */
    if (ns < last_ns)
        ns = last_ns;
    last_ns = ns;
    cpu_irq_restore(f);
    return ns;
}

uint32_t sys_now(void)
{
    return (uint32_t)(clock_ns() / NS_PER_MS);
}

/* ---------------------------------------------------------------- timers */

/* Program the hardware for the earliest armed timer. Interrupts disabled. */
static void program_next(void)
{
    if (event_mode == EVENT_PERIODIC || event_mode == EVENT_NONE)
        return;
    /* Never longer than TIMER_MAX_IDLE_NS without an interrupt, armed timers
     * or not: the main loop relies on waking up to run its own timeouts. */
    uint64_t now = clock_ns();
    uint64_t dl = now + TIMER_MAX_IDLE_NS;
    if (armed_list && armed_list->deadline_ns < dl)
        dl = armed_list->deadline_ns;
    if (event_mode == EVENT_TSC_DEADLINE) {
        /* Both scales round down, so the converted TSC value can be a few
         * cycles short of the deadline: the interrupt would find nothing
         * expired and re-arm for a TSC value already past, several times.
         * Step up to the first TSC value clock_ns() maps to dl or later. */
        uint64_t t = scaled(dl, &ns_to_tsc), step = 1;
        while (scaled(t, &tsc_to_ns) < dl) {
            t += step;
            step <<= 1;
        }
        /* A deadline already past fires at once (SDM 11.5.4.1). */
        lapic_timer_deadline(tsc_base + t);
        return;
    }
    /* Rounded up by one count: early by a rounding error would only mean a
     * second interrupt for the remainder. 0 would stop the timer. */
    uint64_t counts = dl > now ? scaled(dl - now, &ns_to_lapic) + 1 : 1;
    if (counts > 0xffffffffu)
        counts = 0xffffffffu;
    lapic_timer_start((uint32_t)counts);
}

static void list_remove(struct timer *t)
{
    for (struct timer **pp = &armed_list; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    t->next = NULL;
    t->armed = false;
}

static void list_insert(struct timer *t)
{
    struct timer **pp = &armed_list;
    while (*pp && (*pp)->deadline_ns <= t->deadline_ns)
        pp = &(*pp)->next;
    t->next = *pp;
    *pp = t;
    t->armed = true;
}

void timer_arm(struct timer *t, uint64_t delay_ns, uint64_t period_ns, void (*fn)(void *), void *ctx)
{
    uint64_t f = cpu_irq_save();
    if (t->armed)
        list_remove(t);
    t->deadline_ns = clock_ns() + delay_ns;
    t->period_ns = period_ns;
    t->fn = fn;
    t->ctx = ctx;
    list_insert(t);
    if (armed_list == t)
        program_next();
    cpu_irq_restore(f);
}

void timer_cancel(struct timer *t)
{
    uint64_t f = cpu_irq_save();
    if (t->armed) {
        bool was_first = armed_list == t;
        list_remove(t);
        if (was_first)
            program_next();
    }
    cpu_irq_restore(f);
}

bool timer_armed(const struct timer *t)
{
    return t->armed;
}

static void run_expired(void)
{
    uint64_t now = clock_ns();
    for (int n = 0; n < MAX_EXPIRIES_PER_IRQ && armed_list && armed_list->deadline_ns <= now; n++) {
        struct timer *t = armed_list;
        armed_list = t->next;
        t->next = NULL;
        t->armed = false;
        if (t->period_ns) {
            /* Next period boundary after now: missed periods are skipped. */
            uint64_t late = now - t->deadline_ns;
            skipped_periods += late / t->period_ns;
            t->deadline_ns = now + t->period_ns - late % t->period_ns;
            list_insert(t);
        }
        /* May re-arm or cancel t, or any other timer. */
        t->fn(t->ctx);
    }
}

static bool timer_irq(void *ctx)
{
    (void)ctx;
    irq_count++;
    if (event_mode == EVENT_PERIODIC && tick_catchup) {
        uint32_t in_tick;
        uint64_t reload = tick_reload_tsc(&in_tick);
        uint64_t k = periods_since_last_reload(reload);
        if (k > 1)
            lost_ticks += k - 1;
        ticks += k ? k : 1; /* this interrupt is at least one reload */
        /* Re-anchored at every tick, so a small TSC/LAPIC rate difference never adds up. */
        last_reload_tsc = reload;
    } else if (event_mode == EVENT_PERIODIC) {
        ticks++;
    }
    run_expired();
    program_next();
    return true;
}

/* ---------------------------------------------------------------- sleeping */

static void spin_ns(uint64_t ns)
{
    if (!tsc_hz) {
        /* Not calibrated yet: port 0x80 writes take about 1 us each. */
        for (uint64_t i = 0; i < ns / 1000 + 1; i++)
            io_wait();
        return;
    }
    uint64_t end = rdtsc() + scaled(ns, &ns_to_tsc);
    while ((int64_t)(rdtsc() - end) < 0)
        cpu_relax();
}

static void wake_nop(void *ctx)
{
    (void)ctx;
}

void timer_sleep_ns(uint64_t ns)
{
    if (event_mode == EVENT_NONE || !cpu_irq_enabled()) {
        spin_ns(ns);
        return;
    }
    uint64_t end = clock_ns() + ns;
    /* Its only job is to make sure an interrupt comes at the deadline. */
    struct timer wake = {0};
    timer_arm(&wake, ns, 0, wake_nop, NULL);
    for (;;) {
        /* Check with interrupts off, then sti;hlt: a wakeup between the two
         * cannot be lost (cpu_idle()). */
        cpu_irq_disable();
        if (clock_ns() >= end)
            break;
        cpu_idle();
    }
    cpu_irq_enable();
    timer_cancel(&wake);
}

void timer_sleep_ms(uint64_t ms)
{
    timer_sleep_ns(ms * NS_PER_MS);
}

/* ---------------------------------------------------------------- setup */

uint64_t timer_tsc_hz(void)
{
    return tsc_hz;
}
uint64_t timer_lapic_hz(void)
{
    return lapic_hz;
}
uint64_t timer_interrupt_count(void)
{
    return irq_count;
}

uint64_t timer_lost_ticks(void)
{
    return lost_ticks;
}

const char *timer_clock_source(void)
{
    switch (clock_src) {
    case CLOCK_TSC:
        return "tsc";
    case CLOCK_LAPIC_TICK:
        return "lapic-tick";
    default:
        return "none";
    }
}

static unsigned long long klog_clock(void)
{
    return clock_ns();
}

/* "1234.567 MHz" from Hz, for the log. */
static void mhz(uint64_t hz, unsigned long long *whole, unsigned long long *frac)
{
    *whole = hz / 1000000;
    *frac = (hz % 1000000) / 1000;
}

int timer_init(void)
{
    const struct cpu_info *ci = cpu_get_info();
    uint64_t entry_tsc = rdtsc();
    if (!calibrate()) {
        klog(LOG_ERR, "timer: no reference timer answered; no clock, no timers");
        return -ENODEV;
    }
    uint64_t calib_tsc = rdtsc() - entry_tsc;
    unsigned long long w, f;
    mhz(tsc_hz, &w, &f);
    klog(LOG_INFO, "timer: TSC %llu.%03llu MHz%s from the %s, error <= %u ppm", w, f,
         ci->invariant_tsc ? " (invariant)" : " (not invariant)", rate_src_tsc, (unsigned)tsc_err_ppm);
    mhz(lapic_hz, &w, &f);
    klog(LOG_INFO, "timer: LAPIC timer %llu.%03llu MHz (bus clock / 16) from the %s, error <= %u ppm", w, f,
         rate_src_lapic, (unsigned)lapic_err_ppm);
    /* The cost this boot paid for its rates (0 when CPUID gave both). */
    klog(LOG_INFO, "timer: rates took %llu us to get",
         (unsigned long long)(tsc_hz ? calib_tsc * 1000000 / tsc_hz : 0));
    if (lapic_hz < TIMER_TICK_HZ * 10) {
        klog(LOG_ERR, "timer: LAPIC timer rate implausible; no timers");
        return -ENODEV;
    }

    tsc_to_ns = make_scale(tsc_hz, NS_PER_SEC);
    ns_to_tsc = make_scale(NS_PER_SEC, tsc_hz);
    lapic_to_ns = make_scale(lapic_hz, NS_PER_SEC);
    ns_to_lapic = make_scale(NS_PER_SEC, lapic_hz);
    lapic_to_tsc = make_scale(lapic_hz, tsc_hz);

    if (ci->invariant_tsc && tsc_hz) {
        clock_src = CLOCK_TSC;
        event_mode = ci->tsc_deadline ? EVENT_TSC_DEADLINE : EVENT_ONESHOT;
    } else {
        clock_src = CLOCK_LAPIC_TICK;
        event_mode = EVENT_PERIODIC;
    }
    irq_attach(IRQ_VECTOR_LAPIC_TIMER, "lapic-timer", timer_irq, NULL);

    uint64_t fl = cpu_irq_save();
    /* clock_ns() counts from timer_init()'s entry, so the log's timestamps
     * include what the calibration cost. */
    tsc_base = entry_tsc;
    origin_ns = scaled(rdtsc() - entry_tsc, &tsc_to_ns);
    switch (event_mode) {
    case EVENT_PERIODIC:
        tick_counts = (uint32_t)(lapic_hz / TIMER_TICK_HZ);
        tsc_per_tick = scaled(tick_counts, &lapic_to_tsc);
        tick_catchup = ci->hypervisor[0] && ci->tsc && tsc_per_tick > 0;
        lapic_timer_mode(LAPIC_TIMER_PERIODIC, IRQ_VECTOR_LAPIC_TIMER, false);
        last_reload_tsc = rdtsc();
        lapic_timer_start(tick_counts);
        break;
    case EVENT_TSC_DEADLINE:
        lapic_timer_mode(LAPIC_TIMER_TSC_DEADLINE, IRQ_VECTOR_LAPIC_TIMER, false);
        break;
    default:
        lapic_timer_mode(LAPIC_TIMER_ONESHOT, IRQ_VECTOR_LAPIC_TIMER, false);
        break;
    }
    program_next();
    cpu_irq_restore(fl);

    if (clock_src == CLOCK_TSC)
        klog(LOG_INFO, "timer: clock source: invariant TSC; events: %s, no fixed tick (at most %u ms apart)",
             event_mode == EVENT_TSC_DEADLINE ? "LAPIC TSC-deadline" : "LAPIC one-shot",
             (unsigned)(TIMER_MAX_IDLE_NS / NS_PER_MS));
    else
        klog(LOG_INFO,
             "timer: clock source: LAPIC timer ticks at %u Hz (%u counts each; TSC not "
             "invariant)%s; events: on the tick",
             TIMER_TICK_HZ, tick_counts, tick_catchup ? ", lost ticks recovered from the TSC" : "");
    klog_set_clock(klog_clock);
    return 0;
}

/* ---------------------------------------------------------------- self test */

static uint64_t periodic_hits;

static void count_tick(void *ctx)
{
    (void)ctx;
    periodic_hits++;
}

void timer_selftest_sleep(void)
{
    struct timer periodic = {0};
    periodic_hits = 0;
    /* The counters are read right around the sleep, not around the log
     * lines: printing (on a UEFI console, several ms) must not count. */
    klog(LOG_INFO, "sleep: start");
    uint64_t irq0 = irq_count, skipped0 = skipped_periods, lost0 = lost_ticks;
    /* A 10 ms periodic timer keeps firing while the CPU sleeps in hlt. */
    timer_arm(&periodic, 10 * NS_PER_MS, 10 * NS_PER_MS, count_tick, NULL);
    uint64_t t0 = clock_ns();
    timer_sleep_ms(2000);
    uint64_t t1 = clock_ns();
    uint64_t irqs = irq_count - irq0, skipped = skipped_periods - skipped0, lost = lost_ticks - lost0;
    uint64_t hits = periodic_hits;
    timer_cancel(&periodic);
    klog(LOG_INFO, "sleep: end");
    klog(LOG_INFO,
         "sleep: slept %llu us by the %s clock, %llu timer interrupts, periodic 10 ms timer "
         "fired %llu times (%llu periods skipped), %llu lost ticks recovered",
         (unsigned long long)((t1 - t0) / 1000), timer_clock_source(), (unsigned long long)irqs,
         (unsigned long long)hits, (unsigned long long)skipped, (unsigned long long)lost);
}
