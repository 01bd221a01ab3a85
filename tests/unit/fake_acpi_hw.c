/* Test doubles for test_acpi.c; see fake_acpi_hw.h. */
#include "fake_acpi_hw.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/ioapic.h"
#include "arch/x86_64/lapic.h"
#include "arch/x86_64/mptable.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/pic.h"
#include "arch/x86_64/timer.h"
#include "lib/klog.h"

/* ---------------------------------------------------------------- memory */

#define MAX_REGIONS 64
static struct {
    uint64_t phys;
    size_t len;
    uint8_t *buf;
} regions[MAX_REGIONS];
static unsigned n_regions, mmio_calls;

void fakemem_reset(void)
{
    for (unsigned i = 0; i < n_regions; i++)
        free(regions[i].buf);
    n_regions = 0;
    mmio_calls = 0;
}

uint8_t *fakemem_add(uint64_t phys, size_t len)
{
    if (n_regions == MAX_REGIONS)
        abort();
    regions[n_regions].phys = phys;
    regions[n_regions].len = len;
    regions[n_regions].buf = calloc(1, len);
    return regions[n_regions++].buf;
}

unsigned fakemem_map_mmio_calls(void)
{
    return mmio_calls;
}

/* The range [phys, phys+len) inside one region, or NULL. */
static void *lookup(uint64_t phys, size_t len)
{
    for (unsigned i = 0; i < n_regions; i++)
        if (phys >= regions[i].phys && len <= regions[i].len &&
            phys - regions[i].phys <= regions[i].len - len)
            return regions[i].buf + (phys - regions[i].phys);
    return NULL;
}

/* Unlike the kernel's, this one answers NULL outside the fake memory, so
 * the parser's fall-back to map_mmio() is exercised too. */
void *phys_to_virt(uint64_t phys)
{
    return lookup(phys, 1);
}

void *map_mmio(uint64_t phys, size_t len)
{
    mmio_calls++;
    return lookup(phys, len);
}

uint64_t virt_to_phys(const void *v)
{
    return (uint64_t)(uintptr_t)v;
}

/* ---------------------------------------------------------------- log */

static char logbuf[1 << 16];
static size_t loglen;
static unsigned level_counts[4];

void fakelog_clear(void)
{
    loglen = 0;
    logbuf[0] = 0;
    memset(level_counts, 0, sizeof(level_counts));
}

bool fakelog_contains(const char *needle)
{
    return strstr(logbuf, needle) != NULL;
}

unsigned fakelog_count_level(int level)
{
    return level >= 0 && level < 4 ? level_counts[level] : 0;
}

const char *fakelog_text(void)
{
    return logbuf;
}

void vklog(int level, const char *fmt, va_list ap)
{
    if (level >= 0 && level < 4)
        level_counts[level]++;
    if (loglen + 512 >= sizeof(logbuf))
        loglen = 0; /* keep the newest lines */
    int n = vsnprintf(logbuf + loglen, sizeof(logbuf) - loglen - 1, fmt, ap);
    if (n > 0)
        loglen += (size_t)n < sizeof(logbuf) - loglen - 2 ? (size_t)n : sizeof(logbuf) - loglen - 2;
    logbuf[loglen++] = '\n';
    logbuf[loglen] = 0;
}

void klog(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vklog(level, fmt, ap);
    va_end(ap);
}

void klog_set_level(int level)
{
    (void)level;
}

/* ---------------------------------------------------------------- CPU */

uint64_t cpu_irq_save(void)
{
    return 0;
}
void cpu_irq_restore(uint64_t flags)
{
    (void)flags;
}
void cpu_irq_enable(void) {}
void cpu_irq_disable(void) {}
bool cpu_irq_enabled(void)
{
    return false;
}
void cpu_idle(void) {}
void cpu_init(void) {}
void cpu_halt(void)
{
    abort();
}
void cpu_triple_fault(void)
{
    abort();
}

/* ---------------------------------------------------------------- LAPIC, IO-APIC, PIC, timer */

uint32_t fake_lapic_id_value;
unsigned fake_eoi_count;
uint32_t fake_isr[8];
struct fake_route fake_last_route;
unsigned fake_route_calls;
int fake_route_result;

void fakehw_reset(void)
{
    fake_lapic_id_value = 0;
    fake_eoi_count = 0;
    memset(fake_isr, 0, sizeof(fake_isr));
    memset(&fake_last_route, 0, sizeof(fake_last_route));
    fake_route_calls = 0;
    fake_route_result = 0;
}

uint32_t lapic_read(uint32_t reg)
{
    if (reg >= LAPIC_ISR && reg < LAPIC_ISR + 0x80)
        return fake_isr[(reg - LAPIC_ISR) / 0x10];
    return 0;
}

void lapic_write(uint32_t reg, uint32_t v)
{
    (void)reg;
    (void)v;
}

uint32_t lapic_id(void)
{
    return fake_lapic_id_value;
}
void lapic_eoi(void)
{
    fake_eoi_count++;
}
int lapic_init(void)
{
    return 0;
}
void lapic_park_others(void) {}
bool lapic_error_irq(void *ctx)
{
    (void)ctx;
    return true;
}
uint64_t lapic_error_count(void)
{
    return 0;
}

int ioapic_init(void)
{
    return 0;
}

/* irq.c asks for the MP table where the MADT is missing; test_mptable.c tests it. */
int mptable_init(void)
{
    return -ENOENT;
}

int ioapic_route(uint32_t gsi, uint8_t vector, unsigned flags, uint32_t dest)
{
    fake_route_calls++;
    fake_last_route.gsi = gsi;
    fake_last_route.vector = vector;
    fake_last_route.flags = flags;
    fake_last_route.dest = dest;
    return fake_route_result;
}

int ioapic_mask(uint32_t gsi, bool masked)
{
    (void)gsi, (void)masked;
    return 0;
}

void pic_disable(void) {}
int timer_init(void)
{
    return 0;
}
