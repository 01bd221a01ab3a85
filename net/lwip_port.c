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
 * LWIP_RAND(): lwIP's ephemeral local ports and DHCP transaction ids (not
 * TCP's initial sequence numbers: those are RFC 6528's, from
 * net/tcp_guard.c through LWIP_HOOK_TCP_ISN). RDRAND when the CPU has it
 * (QEMU's -cpu max does, under TCG too); without it, xorshift64* reseeded
 * with the TSC at every call, which avoids collisions between boots but is
 * not unpredictable.
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
