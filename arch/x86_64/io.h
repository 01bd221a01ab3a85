/*
 * Port I/O and memory-mapped I/O accessors (Intel SDM vol. 1, ch. 19 "Input/Output").
 *
 * Drivers touch device registers only through these helpers: this is the one
 * place where `volatile` and inline assembly for I/O live.
 */
#ifndef ARCH_X86_64_IO_H
#define ARCH_X86_64_IO_H

#include <stdint.h>

#ifdef HOST_FAKE_PORTIO
/* Host tests of port-I/O drivers (tests/unit/test_virtio_pci.c) define these. */
void outb(uint16_t port, uint8_t v);
void outw(uint16_t port, uint16_t v);
void outl(uint16_t port, uint32_t v);
uint8_t inb(uint16_t port);
uint16_t inw(uint16_t port);
uint32_t inl(uint16_t port);
#else
static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outw(uint16_t port, uint16_t v)
{
    __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint16_t inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

#endif /* HOST_FAKE_PORTIO */

/* A write to port 0x80 takes about a microsecond: the classic ISA delay. */
static inline void io_wait(void)
{
    outb(0x80, 0);
}

#ifdef HOST_FAKE_MMIO
/* Host tests of MMIO drivers (tests/unit/test_virtio_mmio.c) define these. */
uint8_t mmio_read8(const void *a);
uint16_t mmio_read16(const void *a);
uint32_t mmio_read32(const void *a);
uint64_t mmio_read64(const void *a);
void mmio_write8(void *a, uint8_t v);
void mmio_write16(void *a, uint16_t v);
void mmio_write32(void *a, uint32_t v);
void mmio_write64(void *a, uint64_t v);
#else
/*
 * MMIO: one access of exactly the given width, never merged or split by the
 * compiler. Device memory is mapped uncached (map_mmio), so no fence is needed
 * for ordering between accesses to the same device on x86.
 */
static inline uint8_t mmio_read8(const void *a)
{
    return *(const volatile uint8_t *)a;
}
static inline uint16_t mmio_read16(const void *a)
{
    return *(const volatile uint16_t *)a;
}
static inline uint32_t mmio_read32(const void *a)
{
    return *(const volatile uint32_t *)a;
}
static inline uint64_t mmio_read64(const void *a)
{
    return *(const volatile uint64_t *)a;
}
static inline void mmio_write8(void *a, uint8_t v)
{
    *(volatile uint8_t *)a = v;
}
static inline void mmio_write16(void *a, uint16_t v)
{
    *(volatile uint16_t *)a = v;
}
static inline void mmio_write32(void *a, uint32_t v)
{
    *(volatile uint32_t *)a = v;
}
static inline void mmio_write64(void *a, uint64_t v)
{
    *(volatile uint64_t *)a = v;
}
#endif /* HOST_FAKE_MMIO */

static inline void cpu_relax(void)
{
    __asm__ volatile("pause" ::: "memory");
}

#endif
