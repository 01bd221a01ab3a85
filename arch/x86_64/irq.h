/*
 * The interrupt API drivers use (Intel SDM vol. 3, ch. 6 and 10-11; PCI 3.0 6.8 for MSI).
 *
 * A driver never needs to know whether its interrupt arrives by MSI-X or by a
 * legacy line routed through the IO-APIC: it gets a vector, attaches a handler
 * with a context pointer, and then either routes a GSI to that vector or asks
 * for the MSI address/data pair to program into the device.
 *
 * Handlers run in interrupt context with interrupts disabled; the EOI is sent
 * by the common dispatcher after all handlers of the vector have run.
 */
#ifndef ARCH_X86_64_IRQ_H
#define ARCH_X86_64_IRQ_H

#include <stdint.h>
#include <stdbool.h>

/* Vectors 0-31 are exceptions; 32-47 are where the masked 8259s were remapped. */
#define IRQ_VECTOR_FIRST 48
#define IRQ_VECTOR_LAST 238
#define IRQ_VECTOR_LAPIC_TIMER 239
#define IRQ_VECTOR_LAPIC_ERROR 254
#define IRQ_VECTOR_SPURIOUS 255

/* Flags for irq_route_gsi(). Edge + active-high is 0 (ISA default). */
#define IRQ_TRIGGER_LEVEL (1u << 0)
#define IRQ_POLARITY_LOW (1u << 1)
/* PCI INTx lines: level-triggered, active low (PCI 3.0 2.2.6). */
#define IRQ_PCI_INTX (IRQ_TRIGGER_LEVEL | IRQ_POLARITY_LOW)

/* Return: true if the handler's device raised the interrupt (for shared lines). */
typedef bool (*irq_handler_t)(void *ctx);

/**
 * irq_alloc_vector() - reserve a free vector in [IRQ_VECTOR_FIRST, IRQ_VECTOR_LAST].
 * Return: the vector, or -ENOSPC.
 */
int irq_alloc_vector(void);

/**
 * irq_attach() - add a handler to a vector. Several handlers may share one
 * vector (shared level-triggered INTx lines); each is called in turn.
 * @name: shown in irq_dump() and /stats, e.g. "virtio-net.rx0".
 * Return: 0, -EINVAL for a bad vector, -ENOSPC when the vector has too many handlers.
 */
int irq_attach(int vector, const char *name, irq_handler_t fn, void *ctx);

/**
 * irq_route_gsi() - program the IO-APIC redirection entry of @gsi to deliver
 * @vector to the boot CPU, with IRQ_TRIGGER_LEVEL/IRQ_POLARITY_LOW @flags, unmasked.
 * Return: 0, -ENODEV when no IO-APIC serves @gsi.
 */
int irq_route_gsi(uint32_t gsi, int vector, unsigned flags);

/**
 * irq_isa_to_gsi() - apply the MADT interrupt source overrides to an ISA IRQ
 * (e.g. IRQ 0 -> GSI 2 on QEMU). Stores the trigger/polarity flags in @flags.
 */
uint32_t irq_isa_to_gsi(unsigned isa_irq, unsigned *flags);

/**
 * irq_msi_compose() - the MSI/MSI-X message that delivers @vector to the boot
 * CPU, fixed delivery, edge-triggered (SDM vol. 3, 11.11).
 */
void irq_msi_compose(int vector, uint64_t *addr, uint32_t *data);

/* Per-vector statistics, as /proc/interrupts shows them. */
struct irq_stat {
    int vector;
    const char *name; /* first handler's name, or a fixed name for system vectors */
    uint64_t count;
};

/** irq_foreach_stat() - call @fn for every vector that has a handler or has fired. */
void irq_foreach_stat(void (*fn)(const struct irq_stat *st, void *arg), void *arg);

/** irq_dump() - print the per-vector counters to the log. */
void irq_dump(void);

/* Interrupts that arrived on a vector with no handler, and spurious LAPIC interrupts. */
uint64_t irq_unexpected_count(void);
uint64_t irq_spurious_count(void);

#endif
