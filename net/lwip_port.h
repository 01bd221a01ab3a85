/*
 * The platform functions lwIP needs under NO_SYS=1 (lwIP doc/sys_arch.txt):
 * sys_now() for its timers, a random source, and what an lwIP assertion does.
 */
#ifndef NET_LWIP_PORT_H
#define NET_LWIP_PORT_H

#include <stdint.h>

/* Declared for lwIP in net/port/arch/cc.h; sys_now() in lwip/sys.h. */
uint32_t lwip_port_rand(void);
void lwip_port_assert(const char *msg, const char *file, int line) __attribute__((noreturn));

#endif
