/* lwIP's platform hooks for NO_SYS=1 (lwIP 2.1.3 doc/sys_arch.txt). */
#include "net/lwip_port.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/trap.h"
#include "lwip/sys.h"

/* sys_now() is the timer module's (arch/x86_64/timer.c). */

void lwip_port_assert(const char *msg, const char *file, int line)
{
    panic("lwIP assertion failed: %s (%s:%d)", msg, file, line);
}

/*
 * TCP sequence numbers, ephemeral ports and DHCP transaction ids:
 * xorshift64* seeded from the TSC. Good enough to avoid collisions between
 * boots; not unpredictable to an attacker who can time the boot (TODO: RDRAND).
 */
uint32_t lwip_port_rand(void)
{
    static uint64_t state;

    if (state == 0)
        state = rdtsc() | 1;
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return (uint32_t)((state * 0x2545F4914F6CDD1Dull) >> 32);
}
