/*
 * The platform functions lwIP needs under NO_SYS=1 (lwIP doc/sys_arch.txt):
 * sys_now() for its timers, a random source, and what an lwIP assertion does.
 */
#ifndef NET_LWIP_PORT_H
#define NET_LWIP_PORT_H

#include <stddef.h>
#include <stdint.h>

/* Declared for lwIP in net/port/arch/cc.h; sys_now() in lwip/sys.h. */
uint32_t lwip_port_rand(void);
void lwip_port_assert(const char *msg, const char *file, int line) __attribute__((noreturn));

/*
 * lwIP's heap (MEM_LIBC_MALLOC): blocks of the kernel heap. A request that
 * would take lwIP's bytes in use (lwip_stats.mem.used, what it asked for)
 * past MEM_SIZE is refused, so lwIP meets the same limit its own heap had.
 */
void *lwip_port_malloc(size_t size);
void *lwip_port_calloc(size_t n, size_t size);
void lwip_port_free(void *p);
/* After lwip_init(): lwip_stats.mem.avail says the limit (the budget reads it). */
void lwip_port_mem_init(void);
/* Kernel heap bytes lwIP's blocks take now, headers included (heap_stats() counts them as used). */
size_t lwip_port_mem_held(void);

#endif
