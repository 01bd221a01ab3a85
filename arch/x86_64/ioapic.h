/*
 * I/O APICs (Intel 82093AA I/O APIC datasheet, 3.2 "Register Description";
 * ACPI 6.5 5.2.12.3 for where they are and which GSIs they serve).
 *
 * Each IO-APIC has two MMIO registers: IOREGSEL selects an indirect register,
 * IOWIN reads or writes it. Redirection entry n (64 bits) is indirect
 * registers 0x10+2n (low half) and 0x11+2n (high half) and serves GSI
 * gsi_base + n.
 */
#ifndef ARCH_X86_64_IOAPIC_H
#define ARCH_X86_64_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

#define IOAPIC_REGSEL     0x00 /* rw, 32 bits */
#define IOAPIC_WIN        0x10 /* rw, 32 bits */
#define IOAPIC_REG_ID     0x00 /* id in bits 27-24 */
#define IOAPIC_REG_VER    0x01 /* version 7-0, max redirection entry 23-16 */
#define IOAPIC_REG_REDTBL 0x10
/* Redirection entry, low half. */
#define IOAPIC_RTE_VECTOR_MASK  0xffu
#define IOAPIC_RTE_DM_FIXED     (0u << 8)
#define IOAPIC_RTE_DEST_LOGICAL (1u << 11)
#define IOAPIC_RTE_PENDING      (1u << 12) /* ro: delivery status */
#define IOAPIC_RTE_ACTIVE_LOW   (1u << 13)
#define IOAPIC_RTE_REMOTE_IRR   (1u << 14) /* ro: level interrupt accepted, EOI not yet seen */
#define IOAPIC_RTE_LEVEL        (1u << 15)
#define IOAPIC_RTE_MASKED       (1u << 16)
/* High half: physical destination APIC id in bits 31-24 (bits 63-56 of the entry). */
#define IOAPIC_RTE_DEST_SHIFT 24

#define IOAPIC_DEFAULT_ADDR 0xfec00000u /* where PC chipsets and QEMU put the first one */

/**
 * ioapic_pins_at() - how many redirection entries the IO-APIC at physical
 * @addr has (its version register), or 0 when nothing answers there. For the
 * MP table's translation (mptable_to_madt()), which must number GSIs itself.
 * Context: boot.
 */
unsigned ioapic_pins_at(uint32_t addr);

/**
 * ioapic_init() - map every IO-APIC the MADT (or the MP table in its place)
 * lists, or the default one at 0xFEC00000 with GSI base 0 when neither lists
 * one (logged), read how many inputs
 * each has, and mask all redirection entries. Logs the GSI ranges.
 * Context: boot, after lapic_init(). Return: 0, or -ENODEV when none works.
 */
int ioapic_init(void);

/**
 * ioapic_route() - deliver @gsi as @vector to the CPU with APIC id @dest,
 * fixed delivery, physical destination; @flags are irq.h's
 * IRQ_TRIGGER_LEVEL / IRQ_POLARITY_LOW. The entry is unmasked last.
 * Return: 0, -ENODEV when no IO-APIC serves @gsi, -EINVAL for @dest > 255.
 */
int ioapic_route(uint32_t gsi, uint8_t vector, unsigned flags, uint32_t dest);

/** ioapic_mask() - mask or unmask @gsi. Return: 0 or -ENODEV. */
int ioapic_mask(uint32_t gsi, bool masked);

/** ioapic_read_entry() - the 64-bit redirection entry of @gsi (for logs/tests). Return: 0 or -ENODEV. */
int ioapic_read_entry(uint32_t gsi, uint64_t *entry);

/** ioapic_serves() - true when some IO-APIC has an input for @gsi. */
bool ioapic_serves(uint32_t gsi);

#endif
