/*
 * Test doubles for the ACPI parser and the interrupt API (test_acpi.c):
 * a fake physical memory for phys_to_virt()/map_mmio(), a klog that keeps
 * the lines, and recording stand-ins for the LAPIC, IO-APIC and CPU calls
 * that acpi.c and irq.c make.
 */
#ifndef TESTS_UNIT_FAKE_ACPI_HW_H
#define TESTS_UNIT_FAKE_ACPI_HW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Fake physical memory: zeroed regions at chosen physical addresses. */
void fakemem_reset(void);
uint8_t *fakemem_add(uint64_t phys, size_t len);
unsigned fakemem_map_mmio_calls(void);

/* The log: every klog() line, newest last. */
void fakelog_clear(void);
bool fakelog_contains(const char *needle);
unsigned fakelog_count_level(int level);
const char *fakelog_text(void); /* all lines, for failure messages */

/* LAPIC / IO-APIC doubles. */
struct fake_route {
    uint32_t gsi;
    uint8_t vector;
    unsigned flags;
    uint32_t dest;
};
void fakehw_reset(void);
extern uint32_t fake_lapic_id_value;
extern unsigned fake_eoi_count;
extern uint32_t fake_isr[8]; /* what lapic_read(LAPIC_ISR + 0x10*i) returns */
extern struct fake_route fake_last_route;
extern unsigned fake_route_calls;
extern int fake_route_result; /* what ioapic_route() returns */

#endif
