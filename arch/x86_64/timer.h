/*
 * Time: a monotonic clock and timer callbacks, driven by the local APIC timer
 * (Intel SDM vol. 3 11.5.4 "APIC Timer", 19.17 "Time-Stamp Counter") and
 * calibrated at boot against the ACPI PM timer (ACPI 6.5 4.8.3.3), the HPET
 * (IA-PC HPET 1.0a) or PIT channel 2 (Intel 8254 data sheet), in that order.
 *
 * Two clock sources, chosen once at boot and logged:
 *   - the TSC, when CPUID says it is invariant (constant rate, never stops):
 *     clock_ns() is a multiply-shift of RDTSC, and the timer interrupt has no
 *     fixed tick: it is programmed for the earliest armed timer (TSC-deadline
 *     mode when CPUID offers it, else one-shot), or TIMER_MAX_IDLE_NS ahead if
 *     that is sooner;
 *   - else LAPIC timer tick counting: the timer runs periodically at
 *     TIMER_TICK_HZ, clock_ns() = ticks * period + the elapsed part of the
 *     current period, read from the timer's current-count register. Under a
 *     hypervisor (whose TSC rate is constant in practice) ticks whose
 *     interrupt was lost are recovered from the TSC (timer.c explains how).
 *
 * Either way a timer interrupt comes at least every TIMER_MAX_IDLE_NS, so a
 * main loop that sleeps in cpu_idle() gets back to its own timeouts (lwIP's
 * sys_check_timeouts()) at least that often without arming anything.
 *
 * Timer callbacks run in the timer interrupt, with interrupts disabled: they
 * must be short and must not sleep. lwIP's NO_SYS timeouts are *not* run
 * from here: the main loop calls sys_check_timeouts() itself (sys_now() is
 * below); a callback that has work for the main loop sets a flag, and the
 * main loop's cpu_idle() returns after every interrupt to look at it.
 */
#ifndef ARCH_X86_64_TIMER_H
#define ARCH_X86_64_TIMER_H

#include <stdbool.h>
#include <stdint.h>

/* Periodic tick rate when the TSC cannot be the clock. */
#define TIMER_TICK_HZ 1000
/* Longest time without a timer interrupt when there is no fixed tick. */
#define TIMER_MAX_IDLE_NS (10 * 1000000ull)

#define NS_PER_MS  1000000ull
#define NS_PER_SEC 1000000000ull

struct timer {
    uint64_t deadline_ns; /* clock_ns() value at which it fires */
    uint64_t period_ns;   /* 0: one-shot */
    void (*fn)(void *ctx);
    void *ctx;
    struct timer *next; /* private: the armed list, sorted by deadline */
    bool armed;         /* private */
};

/**
 * timer_init() - calibrate the TSC and the LAPIC timer, choose the clock
 * source and event mode, attach the timer interrupt and start it. Logs the
 * measured frequencies and the choices. Context: boot, after lapic_init(),
 * interrupts still disabled (interrupts_init() enables them afterwards).
 * Return: 0, or -ENODEV when no reference timer could calibrate anything.
 */
int timer_init(void);

/** clock_ns() - nanoseconds since timer_init(), monotonic. Any context. */
uint64_t clock_ns(void);

/** sys_now() - milliseconds since boot, wrapping at 2^32 (lwIP's sys_now()). */
uint32_t sys_now(void);

/**
 * timer_sleep_ns() / timer_sleep_ms() - wait at least @ns. With interrupts
 * enabled the CPU sleeps in cpu_idle() until the deadline (other interrupts
 * are served meanwhile); called with interrupts disabled (early boot) it
 * spins on the TSC instead, leaving them disabled. Not from interrupt context.
 */
void timer_sleep_ns(uint64_t ns);
void timer_sleep_ms(uint64_t ms);

/**
 * timer_arm() - call @fn(@ctx) from the timer interrupt once @delay_ns from
 * now, then every @period_ns if that is non-zero. Re-arming an armed timer
 * moves it. A periodic timer that falls behind skips the missed periods
 * rather than firing them in a burst. @t must stay valid while armed.
 * Context: any, including a timer callback (which may re-arm or cancel itself).
 */
void timer_arm(struct timer *t, uint64_t delay_ns, uint64_t period_ns, void (*fn)(void *), void *ctx);

/** timer_cancel() - disarm @t; harmless if it is not armed. Context: any. */
void timer_cancel(struct timer *t);

/** timer_armed() - true while @t is waiting to fire. */
bool timer_armed(const struct timer *t);

/** timer_tsc_hz() / timer_lapic_hz() - the calibrated rates (LAPIC: after the divide-by-16). */
uint64_t timer_tsc_hz(void);
uint64_t timer_lapic_hz(void);

/**
 * cycles_now() - the time-stamp counter, for measuring how long code takes
 * (lib/prof.h); timer_tsc_hz() converts. Plain RDTSC without a fence: it may
 * be taken a few instructions early, which is noise next to the sections it
 * measures, and it costs far less than a serialised read (SDM vol. 2B "RDTSC").
 */
static inline uint64_t cycles_now(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

/** timer_clock_source() - "tsc" or "lapic-tick". */
const char *timer_clock_source(void);

/** timer_interrupt_count() - timer interrupts taken since boot. */
uint64_t timer_interrupt_count(void);

/** timer_lost_ticks() - periodic ticks whose interrupt never came, recovered from the TSC. */
uint64_t timer_lost_ticks(void);

/**
 * timer_selftest_sleep() - for test=sleep2: log "sleep: start", sleep 2 s in
 * cpu_idle(), log "sleep: end" with the measured duration and the number of
 * timer interrupts taken. The host compares the markers with its own clock.
 */
void timer_selftest_sleep(void);

#endif
