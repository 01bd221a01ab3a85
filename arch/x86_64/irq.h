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
#define IRQ_VECTOR_FIRST       48
#define IRQ_VECTOR_LAST        238
#define IRQ_VECTOR_LAPIC_TIMER 239
#define IRQ_VECTOR_LAPIC_ERROR 254
#define IRQ_VECTOR_SPURIOUS    255

/* Flags for irq_route_gsi(). Edge + active-high is 0 (ISA default). */
#define IRQ_TRIGGER_LEVEL (1u << 0)
#define IRQ_POLARITY_LOW  (1u << 1)
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
 * irq_detach() - remove the handler @fn/@ctx that irq_attach() or
 * irq_request_gsi() added to @vector. When it was the vector's last handler,
 * the vector is freed, and a GSI routed to it is masked and forgotten (the
 * next irq_request_gsi() for it routes it afresh).
 * Context: any; the removal is atomic with respect to the handlers.
 * Return: 0, -EINVAL for a bad vector, -ENOENT when @fn/@ctx is not attached.
 */
int irq_detach(int vector, irq_handler_t fn, void *ctx);

/** irq_free_vector() - give back a vector from irq_alloc_vector() that has no handler attached. */
void irq_free_vector(int vector);

/**
 * irq_poll() - call every handler of @vector now, as an interrupt would but
 * without an EOI: for a line that is masked (a storm) and polled instead.
 * Context: main loop; interrupts are disabled around the handlers.
 * Return: true if a handler claimed the work.
 */
bool irq_poll(int vector);

/** irq_handler_count() - handlers attached to @vector now (for /stats and tests). */
unsigned irq_handler_count(int vector);

/** irq_vector_allocated() - is @vector reserved (allocated or with handlers)? */
bool irq_vector_allocated(int vector);

/**
 * irq_mask_gsi() - mask or unmask a GSI that irq_request_gsi() routed, e.g.
 * to stop a level-triggered line that stays asserted (an interrupt storm).
 * Return: 0, -ENODEV when @gsi is not routed.
 */
int irq_mask_gsi(uint32_t gsi, bool masked);

/**
 * irq_route_gsi() - program the IO-APIC redirection entry of @gsi to deliver
 * @vector to the boot CPU, with IRQ_TRIGGER_LEVEL/IRQ_POLARITY_LOW @flags, unmasked.
 * Return: 0, -ENODEV when no IO-APIC serves @gsi.
 */
int irq_route_gsi(uint32_t gsi, int vector, unsigned flags);

/**
 * irq_request_gsi() - attach @fn to the vector @gsi delivers, routing the GSI
 * to a new vector the first time: devices that share a level-triggered line
 * (PCI INTx) share its vector, and each handler says whether it was its device.
 * Return: the vector, or a negative errno.
 */
int irq_request_gsi(uint32_t gsi, unsigned flags, const char *name, irq_handler_t fn, void *ctx);

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

/** irq_stats_register() - add "interrupts" to /stats: {"vectors":{N:count},"names":{N:name},...}. */
void irq_stats_register(void);

/** irq_foreach_stat() - call @fn for every vector that has a handler or has fired. */
void irq_foreach_stat(void (*fn)(const struct irq_stat *st, void *arg), void *arg);

/** irq_dump() - print the per-vector counters to the log. */
void irq_dump(void);

/** irq_current_vector() - the vector being handled now (for traces), -1 outside a handler. */
int irq_current_vector(void);

/* Interrupts that arrived on a vector with no handler, and spurious LAPIC interrupts. */
uint64_t irq_unexpected_count(void);
uint64_t irq_spurious_count(void);

/*
 * PCI INTx (legacy line) routing, for devices without MSI/MSI-X or drivers
 * that choose not to use it. How a device's INTx pin reaches a GSI depends on
 * the chipset (docs/interrupts.md works it out for QEMU):
 *   - i440FX/PIIX (-M pc): the PIIX3 routes PIRQ A-D to ISA IRQs (SeaBIOS: 10,
 *     10, 11, 11) and the firmware writes that IRQ into the Interrupt Line
 *     register; the MADT has overrides for those IRQs (level, active high on
 *     QEMU), so GSI = the override's GSI for Interrupt Line (= the same number).
 *   - Q35/ICH9 (-M q35): in APIC mode PIRQ A-H are IO-APIC inputs 16-23; the
 *     Interrupt Line register holds the *8259-mode* IRQ and is useless here.
 *     The PIRQ follows QEMU's DSDT _PRT (= ICH9 defaults): slots 0-24 use
 *     PIRQ E + (slot + pin - 1) % 4, slot 30 PIRQ E + pin - 1, slots 25-29
 *     and 31 PIRQ A + pin - 1; the _PRT links declare level, active high.
 */
enum irq_pci_chipset {
    IRQ_CHIPSET_I440FX, /* host bridge 8086:1237 at 00:00.0 */
    IRQ_CHIPSET_Q35,    /* host bridge 8086:29c0 at 00:00.0 */
};

/**
 * irq_pci_intx_gsi() - the GSI and IRQ_TRIGGER_LEVEL/IRQ_POLARITY_LOW flags
 * for a PCI device's INTx, to pass to irq_route_gsi().
 * @slot: the device number on bus 0 of the device, or of the bridge above it.
 * @pin: the INTx pin as it arrives on bus 0, 1 = INTA .. 4 = INTD: the
 *       device's Interrupt Pin register, swizzled at each bridge on the way
 *       up (pin = (pin - 1 + device number below the bridge) % 4 + 1,
 *       PCI-to-PCI Bridge 1.2 9.1).
 * @line: the device's Interrupt Line register as the firmware left it.
 * Return: 0 with *@gsi and *@flags set; -EINVAL for a bad @pin or @slot;
 * -ENODEV when the line is unknown (0 or 0xff on i440FX).
 */
int irq_pci_intx_gsi(enum irq_pci_chipset chipset, unsigned slot, unsigned pin, uint8_t line, uint32_t *gsi,
                     unsigned *flags);

/**
 * irq_dispatch() - the entry from the IDT for vectors 32-255 (trap.c), with
 * interrupts disabled: counts the vector, calls its handlers, sends the LAPIC
 * EOI. The spurious vector gets no EOI (SDM 11.9); a vector without handlers
 * is counted in irq_unexpected_count(), never fatal.
 */
void irq_dispatch(uint8_t vector);

/**
 * interrupts_init() - bring up interrupts and time, in this order:
 * cpu_init(), acpi_init(@rsdp), pic_disable(), lapic_init(), ioapic_init(),
 * timer_init(), then enable interrupts (sti).
 * @rsdp: the RSDP copy from the multiboot2 ACPI tag, or NULL to scan for it.
 * Context: boot, once, after the IDT and paging are up.
 */
void interrupts_init(const void *rsdp);

#endif
