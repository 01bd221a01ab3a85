/*
 * The main loop (lwIP NO_SYS=1: lwIP is only ever called from here, never
 * from an interrupt handler).
 *
 * One turn of the loop:
 *   1. nif_poll(): received frames into lwIP (a budget of them), refill,
 *      reclaim sent buffers, kick the transmit queue once for the batch;
 *   2. sys_check_timeouts(): lwIP's TCP, ARP, DHCP, ND timers, then one more
 *      kick for whatever they sent (nif_flush()), and the address
 *      configuration steps (DHCP timeout, fallback);
 *   3. once a second: the transmit watchdog, the registered ticks;
 *   4. sleep: with interrupts off, check nothing is pending, then sti;hlt
 *      atomically, so an interrupt between the check and the hlt still wakes us.
 */
#include "net/loop.h"
#include "net/netif.h"
#include "net/net_budget.h"
#include "net/txhold.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/timer.h"
#include "lib/cmdline.h"
#include "lib/trace.h"
#include "lwip/timeouts.h"
#include <errno.h>
#include <stddef.h>

#define RX_BUDGET 64

static void (*ticks[LOOP_MAX_TICKS])(void);
static unsigned nticks;

int loop_register_tick(void (*fn)(void))
{
    if (!fn)
        return -EINVAL;
    if (nticks == LOOP_MAX_TICKS)
        return -ENOSPC;
    ticks[nticks++] = fn;
    return 0;
}

void loop_run(void)
{
    uint64_t stats_interval_ns = cmdline_get_u64("stats_interval", 0) * 1000000000ull;
    uint64_t next_stats_ns = stats_interval_ns;
    uint64_t next_second_ns = 0;

    for (;;) {
        bool more = false;
        uint64_t now = clock_ns();
        bool nics = nif_count() > 0;
        if (nics) {
            more = nif_poll(RX_BUDGET);
            txhold_run(); /* app memory the ring has stopped reading */
        }
        sys_check_timeouts();
        net_budget_tick(now);
        if (nics) {
            nif_flush(now);
            if (now >= next_second_ns) {
                next_second_ns = now + 1000000000ull;
                nif_second();
                for (unsigned i = 0; i < nticks; i++)
                    ticks[i]();
                trace_tick();
                if (stats_interval_ns && now >= next_stats_ns) {
                    next_stats_ns = now + stats_interval_ns;
                    nif_dump();
                }
            }
        }
        if (more)
            continue;
        cpu_irq_disable();
        if (nif_has_work()) {
            cpu_irq_enable();
            continue;
        }
        cpu_idle(); /* sti; hlt: the next interrupt (at most a timer tick away) wakes us */
    }
}
