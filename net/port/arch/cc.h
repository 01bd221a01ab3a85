/*
 * lwIP's compiler/platform header (lwIP doc/sys_arch.txt, "cc.h"), for our
 * freestanding x86_64 kernel. lwIP finds it as "arch/cc.h" through -Inet/port.
 */
#ifndef NET_PORT_ARCH_CC_H
#define NET_PORT_ARCH_CC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define BYTE_ORDER LITTLE_ENDIAN

/* ssize_t and SSIZE_MAX come from lib/include (<stdlib.h>, <limits.h>); there is no unistd.h. */
#define LWIP_NO_UNISTD_H 1
#ifndef __ssize_t_defined
typedef __PTRDIFF_TYPE__ ssize_t;
#define __ssize_t_defined
#endif

/* The kernel's printf writes to the serial console. */
#define LWIP_PLATFORM_DIAG(x)                                                                                \
    do {                                                                                                     \
        printf x;                                                                                            \
    } while (0)

/* An lwIP assertion is a kernel bug: stop with a backtrace. */
void lwip_port_assert(const char *msg, const char *file, int line) __attribute__((noreturn));
#define LWIP_PLATFORM_ASSERT(x) lwip_port_assert((x), __FILE__, __LINE__)

/* Random numbers for ports and DHCP xids (TCP ISNs: LWIP_HOOK_TCP_ISN, net/port/lwip_hooks.h). */
uint32_t lwip_port_rand(void);
#define LWIP_RAND() lwip_port_rand()

/* lwIP's heap (MEM_LIBC_MALLOC, net/port/lwipopts.h): the kernel heap, capped at MEM_SIZE (net/lwip_mem.h). */
void *lwip_mem_malloc(size_t size);
void *lwip_mem_calloc(size_t n, size_t size);
void lwip_mem_free(void *p);

/* Byte swapping with the compiler's builtins (one bswap instruction). */
#define lwip_htons(x) ((u16_t)__builtin_bswap16((u16_t)(x)))
#define lwip_htonl(x) ((u32_t)__builtin_bswap32((u32_t)(x)))

#endif
