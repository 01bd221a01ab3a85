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
 * TCP initial sequence numbers, ephemeral ports and DHCP transaction ids. An
 * ISN an attacker can predict lets them inject into or reset connections
 * they cannot see (RFC 6528), so each value comes from the CPU's RDRAND when
 * it has one (QEMU's -cpu max does, under TCG too). Without it: xorshift64*,
 * reseeded with the TSC at every call, which avoids collisions between boots
 * but is not unpredictable.
 */
uint32_t lwip_port_rand(void)
{
    static uint64_t state;
    uint64_t r;

    if (cpu_random64(&r))
        return (uint32_t)(r ^ (r >> 32));
    state ^= rdtsc() | 1;
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return (uint32_t)((state * 0x2545F4914F6CDD1Dull) >> 32);
}
