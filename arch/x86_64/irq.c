/*
 * The interrupt API of irq.h: vector allocation, handler lists, GSI routing
 * through the IO-APIC, MSI messages, statistics, and the common dispatcher
 * the IDT stubs call (Intel SDM vol. 3 6.2 "Exception and Interrupt Vectors",
 * 11.8.5 "Signaling Interrupt Servicing Completion", 11.9 "Spurious
 * Interrupt", 11.11 "Message Signalled Interrupts").
 *
 * Vector map: 0-31 exceptions (trap.c), 32-47 the masked 8259s, 48-238 for
 * drivers (irq_alloc_vector), 239 LAPIC timer, 254 LAPIC error, 255 spurious.
 * A vector's priority class is vector / 16; handlers run with interrupts
 * disabled, so classes only matter for which pending vector is taken first.
 */
#include "arch/x86_64/irq.h"

#include <errno.h>
#include <stddef.h>

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/ioapic.h"
#include "arch/x86_64/lapic.h"
#include "arch/x86_64/mptable.h"
#include "arch/x86_64/pic.h"
#include "arch/x86_64/timer.h"
#include "lib/klog.h"
#include "lib/stats.h"
#include "lib/trace.h"
#include <stdio.h>

#define IRQ_MAX_HANDLERS    4           /* sharers of one vector (shared INTx lines) */
#define MSI_ADDR_BASE       0xfee00000u /* SDM 11.11.1: bits 31-20 = 0xFEE */
#define MSI_ADDR_DEST_SHIFT 12          /* destination APIC id in bits 19-12 */

struct irq_handler_slot {
    irq_handler_t fn;
    void *ctx;
    const char *name;
};

struct irq_vector {
    struct irq_handler_slot h[IRQ_MAX_HANDLERS];
    unsigned n;         /* handlers attached */
    bool allocated;     /* reserved by irq_alloc_vector() */
    uint64_t count;     /* times the vector was taken */
    uint64_t unclaimed; /* times no handler said it was theirs */
};

static struct irq_vector vectors[256];
static uint64_t unexpected, spurious;
static int current_vector = -1;

static bool in_service(uint8_t vector)
{
    return (lapic_read(LAPIC_ISR + 0x10 * (vector / 32)) >> (vector % 32)) & 1;
}

/* trace=irq: one line per interrupt, naming the handlers. */
static void __attribute__((noinline, cold)) trace_irq(uint8_t vector, const struct irq_vector *v)
{
    if (v->n == 0)
        trace_line("irq vector=%u %s", vector, vector == IRQ_VECTOR_SPURIOUS ? "spurious" : "no handler");
    else if (v->n == 1)
        trace_line("irq vector=%u %s", vector, v->h[0].name);
    else
        trace_line("irq vector=%u %s (+%u sharing)", vector, v->h[0].name, v->n - 1);
}

int irq_current_vector(void)
{
    return current_vector;
}

static void dispatch(uint8_t vector);

void irq_dispatch(uint8_t vector)
{
    /* Handlers run with interrupts off, so dispatches never nest. */
    current_vector = vector;
    /* The LAPIC timer fires at least 100 times a second even when idle (1000
     * when it counts ticks, timer.h): its lines would use up the trace budget
     * and tell nothing about the NIC. */
    if (trace_on(TRACE_IRQ) && vector != IRQ_VECTOR_LAPIC_TIMER)
        trace_irq(vector, &vectors[vector]);
    dispatch(vector);
    current_vector = -1;
}

static void dispatch(uint8_t vector)
{
    struct irq_vector *v = &vectors[vector];
    v->count++;
    if (vector == IRQ_VECTOR_SPURIOUS) {
        /* SDM 11.9: a spurious interrupt sets no ISR bit, so it gets no EOI. */
        spurious++;
        return;
    }
    if (v->n == 0) {
        unexpected++;
        if (unexpected <= 10 || (unexpected & (unexpected - 1)) == 0)
            klog(LOG_WARN, "irq: unexpected interrupt on vector %u (%llu so far)", vector,
                 (unsigned long long)unexpected);
        /* Vectors 32-47 can only be stray 8259 interrupts, which do not go
         * through the LAPIC; an EOI is owed only if the LAPIC delivered it. */
        if (in_service(vector))
            lapic_eoi();
        return;
    }
    bool claimed = false;
    for (unsigned i = 0; i < v->n; i++)
        claimed |= v->h[i].fn(v->h[i].ctx);
    if (!claimed)
        v->unclaimed++;
    /* After every handler: for a level-triggered IO-APIC input the EOI is
     * broadcast to the IO-APIC and re-arms the line, which must by then be
     * deasserted by the handlers (SDM 11.8.5). */
    lapic_eoi();
}

int irq_alloc_vector(void)
{
    uint64_t f = cpu_irq_save();
    for (int vec = IRQ_VECTOR_FIRST; vec <= IRQ_VECTOR_LAST; vec++) {
        if (!vectors[vec].allocated && vectors[vec].n == 0) {
            vectors[vec].allocated = true;
            cpu_irq_restore(f);
            return vec;
        }
    }
    cpu_irq_restore(f);
    return -ENOSPC;
}

int irq_attach(int vector, const char *name, irq_handler_t fn, void *ctx)
{
    if (vector < 32 || vector > 255 || vector == IRQ_VECTOR_SPURIOUS || !fn)
        return -EINVAL;
    struct irq_vector *v = &vectors[vector];
    uint64_t f = cpu_irq_save();
    if (v->n >= IRQ_MAX_HANDLERS) {
        cpu_irq_restore(f);
        return -ENOSPC;
    }
    v->h[v->n].fn = fn;
    v->h[v->n].ctx = ctx;
    v->h[v->n].name = name ? name : "?";
    v->n++;
    v->allocated = true;
    cpu_irq_restore(f);
    return 0;
}

void irq_free_vector(int vector)
{
    if (vector < IRQ_VECTOR_FIRST || vector > IRQ_VECTOR_LAST)
        return;
    uint64_t f = cpu_irq_save();
    if (vectors[vector].n == 0)
        vectors[vector].allocated = false;
    cpu_irq_restore(f);
}

#define IRQ_MAX_GSI 256
static int16_t gsi_vector[IRQ_MAX_GSI]; /* which vector each routed GSI delivers (0: none) */

int irq_detach(int vector, irq_handler_t fn, void *ctx)
{
    if (vector < 32 || vector > 255)
        return -EINVAL;
    struct irq_vector *v = &vectors[vector];
    uint64_t f = cpu_irq_save();
    unsigned i = 0;
    while (i < v->n && !(v->h[i].fn == fn && v->h[i].ctx == ctx))
        i++;
    if (i == v->n) {
        cpu_irq_restore(f);
        return -ENOENT;
    }
    /* Keep the order of the other sharers: they are called in turn. */
    for (; i + 1 < v->n; i++)
        v->h[i] = v->h[i + 1];
    v->n--;
    v->h[v->n] = (struct irq_handler_slot){0};
    if (v->n == 0 && vector >= IRQ_VECTOR_FIRST && vector <= IRQ_VECTOR_LAST) {
        /* The last one: a GSI routed to the vector is masked first (nobody
         * would deassert a level-triggered line any more), then the vector
         * is free for the next irq_alloc_vector(). */
        for (unsigned g = 0; g < IRQ_MAX_GSI; g++) {
            if (gsi_vector[g] == vector) {
                ioapic_mask(g, true);
                gsi_vector[g] = 0;
            }
        }
        v->allocated = false;
    }
    cpu_irq_restore(f);
    return 0;
}

bool irq_poll(int vector)
{
    if (vector < 32 || vector > 255)
        return false;
    struct irq_vector *v = &vectors[vector];
    uint64_t f = cpu_irq_save();
    bool claimed = false;
    for (unsigned i = 0; i < v->n; i++)
        claimed |= v->h[i].fn(v->h[i].ctx);
    cpu_irq_restore(f);
    return claimed;
}

unsigned irq_handler_count(int vector)
{
    return vector >= 0 && vector < 256 ? vectors[vector].n : 0;
}

bool irq_vector_allocated(int vector)
{
    return vector >= 0 && vector < 256 && vectors[vector].allocated;
}

int irq_mask_gsi(uint32_t gsi, bool masked)
{
    if (gsi >= IRQ_MAX_GSI || gsi_vector[gsi] == 0)
        return -ENODEV;
    return ioapic_mask(gsi, masked);
}

uint32_t irq_isa_to_gsi(unsigned isa_irq, unsigned *flags)
{
    const struct acpi_info *ai = acpi_get();
    /* ACPI 6.5 5.2.12.5: without an override, ISA IRQ n is GSI n, edge, active high. */
    uint32_t gsi = isa_irq;
    unsigned fl = 0;
    for (unsigned i = 0; i < ai->n_overrides; i++) {
        const struct acpi_override *o = &ai->overrides[i];
        if (o->bus != 0 || o->source != isa_irq)
            continue;
        gsi = o->gsi;
        /* "Conforms to the bus" means ISA: edge, active high. */
        if ((o->flags & ACPI_INTI_TRIGGER_MASK) == ACPI_INTI_TRIGGER_LEVEL)
            fl |= IRQ_TRIGGER_LEVEL;
        if ((o->flags & ACPI_INTI_POLARITY_MASK) == ACPI_INTI_POLARITY_LOW)
            fl |= IRQ_POLARITY_LOW;
        break;
    }
    if (flags)
        *flags = fl;
    return gsi;
}

static bool isa_irq_overridden(unsigned isa_irq)
{
    const struct acpi_info *ai = acpi_get();
    for (unsigned i = 0; i < ai->n_overrides; i++)
        if (ai->overrides[i].bus == 0 && ai->overrides[i].source == isa_irq)
            return true;
    return false;
}

int irq_pci_intx_gsi(enum irq_pci_chipset chipset, unsigned slot, unsigned pin, uint8_t line, uint32_t *gsi,
                     unsigned *flags)
{
    if (pin < 1 || pin > 4 || slot > 31)
        return -EINVAL;
    if (chipset == IRQ_CHIPSET_Q35) {
        /* QEMU hw/i386/acpi-build.c build_q35_routing_table(), which mirrors
         * the ICH9 D<n>IR defaults; PIRQ A-H are IO-APIC pins 16-23. */
        unsigned pirq;
        if (slot <= 24)
            pirq = 4 + ((slot + pin - 1) & 3);
        else if (slot == 30)
            pirq = 4 + (pin - 1);
        else
            pirq = pin - 1;
        *gsi = 16 + pirq;
        /* QEMU's GSIx link devices: Interrupt(, Level, ActiveHigh, Shared). */
        *flags = IRQ_TRIGGER_LEVEL;
        return 0;
    }
    /* i440FX: the firmware's Interrupt Line is the ISA IRQ its PIRQ link
     * routes to; 0xff means "unknown / not connected" (PCI 3.0 6.2.4). */
    if (line == 0 || line >= 16)
        return -ENODEV;
    *gsi = irq_isa_to_gsi(line, flags);
    /* A PCI line behind a PIRQ router is level-triggered whatever the ISA
     * default says; with no override to tell the polarity, take PCI's own
     * active-low (QEMU always provides the override: level, active high). */
    if (!isa_irq_overridden(line))
        *flags = IRQ_PCI_INTX;
    return 0;
}

int irq_route_gsi(uint32_t gsi, int vector, unsigned flags)
{
    if (vector < 32 || vector > 254)
        return -EINVAL;
    int rc = ioapic_route(gsi, (uint8_t)vector, flags, lapic_id());
    if (rc == 0)
        klog(LOG_INFO, "irq: GSI %u -> vector %d (%s, active %s)", gsi, vector,
             (flags & IRQ_TRIGGER_LEVEL) ? "level" : "edge", (flags & IRQ_POLARITY_LOW) ? "low" : "high");
    else
        klog(LOG_WARN, "irq: cannot route GSI %u to vector %d: error %d", gsi, vector, rc);
    return rc;
}

int irq_request_gsi(uint32_t gsi, unsigned flags, const char *name, irq_handler_t fn, void *ctx)
{
    if (gsi >= IRQ_MAX_GSI)
        return -EINVAL;
    int vector = gsi_vector[gsi];
    bool fresh = vector == 0;
    if (fresh) {
        vector = irq_alloc_vector();
        if (vector < 0)
            return vector;
    }
    if (fresh) {
        /* Route before attaching, so a GSI no IO-APIC serves leaves nothing behind. */
        int rc = irq_route_gsi(gsi, vector, flags);
        if (rc < 0) {
            vectors[vector].allocated = false;
            return rc;
        }
        gsi_vector[gsi] = (int16_t)vector;
    }
    /* The line is unmasked now; an interrupt before the attach below is
     * counted as unexpected, harmless. */
    int rc = irq_attach(vector, name, fn, ctx);
    if (rc < 0) {
        if (fresh) {
            ioapic_mask(gsi, true);
            gsi_vector[gsi] = 0;
            vectors[vector].allocated = false;
        }
        return rc;
    }
    return vector;
}

void irq_msi_compose(int vector, uint64_t *addr, uint32_t *data)
{
    uint32_t dest = lapic_id();
    /* Physical destination mode, no redirection hint; an 8-bit destination
     * field, so an APIC id above 255 would need interrupt remapping. */
    if (dest > 0xff)
        klog(LOG_ERR, "irq: APIC id %u does not fit an MSI address", dest);
    *addr = MSI_ADDR_BASE | (dest & 0xff) << MSI_ADDR_DEST_SHIFT;
    /* SDM 11.11.2: fixed delivery (bits 10-8 = 0), edge (bit 15 = 0). */
    *data = (uint32_t)vector & 0xff;
}

static const char *system_name(int vec)
{
    switch (vec) {
    case IRQ_VECTOR_SPURIOUS:
        return "spurious";
    case IRQ_VECTOR_LAPIC_ERROR:
        return "lapic-error";
    case IRQ_VECTOR_LAPIC_TIMER:
        return "lapic-timer";
    default:
        return vec >= 32 && vec < 48 ? "8259" : "unexpected";
    }
}

void irq_foreach_stat(void (*fn)(const struct irq_stat *st, void *arg), void *arg)
{
    for (int vec = 32; vec < 256; vec++) {
        const struct irq_vector *v = &vectors[vec];
        if (v->n == 0 && v->count == 0)
            continue;
        struct irq_stat st = {vec, v->n ? v->h[0].name : system_name(vec), v->count};
        fn(&st, arg);
    }
}

static void dump_one(const struct irq_stat *st, void *arg)
{
    (void)arg;
    const struct irq_vector *v = &vectors[st->vector];
    klog(LOG_INFO, "irq: %3d: %12llu  %s%s%s", st->vector, (unsigned long long)st->count, st->name,
         v->n > 1 ? " (shared)" : "", v->unclaimed ? " (some unclaimed)" : "");
}

void irq_dump(void)
{
    klog(LOG_INFO, "irq: vec        count  name");
    irq_foreach_stat(dump_one, NULL);
    klog(LOG_INFO, "irq: unexpected %llu, spurious %llu, LAPIC errors %llu", (unsigned long long)unexpected,
         (unsigned long long)spurious, (unsigned long long)lapic_error_count());
}

uint64_t irq_unexpected_count(void)
{
    return unexpected;
}
uint64_t irq_spurious_count(void)
{
    return spurious;
}

void interrupts_init(const void *rsdp)
{
    cpu_irq_disable();
    cpu_init();
    acpi_init(rsdp);
    /* MP 1.4 before ACPI existed, and microvm with acpi=off today. */
    if (!acpi_get()->have_madt)
        mptable_init();
    pic_disable();
    if (lapic_init() < 0) {
        /* Without a LAPIC there are no interrupts to enable. */
        klog(LOG_ERR, "irq: no local APIC; interrupts stay disabled");
        return;
    }
    irq_attach(IRQ_VECTOR_LAPIC_ERROR, "lapic-error", lapic_error_irq, NULL);
    const struct acpi_info *ai = acpi_get();
    unsigned others = 0;
    for (unsigned i = 0; i < ai->n_cpus; i++)
        if ((ai->cpus[i].flags & ACPI_LAPIC_ENABLED) && ai->cpus[i].apic_id != lapic_id())
            others++;
    if (others) {
        lapic_park_others();
        klog(LOG_INFO, "irq: sent INIT to the %u other CPUs: they wait for a SIPI, idle", others);
    }
    ioapic_init();
    timer_init();
    cpu_irq_enable();
}

/* ---- /stats "interrupts": counts and names by vector ---- */

static void stats_irq_one(const struct irq_stat *st, void *arg)
{
    struct json_out *o = arg;
    char key[8];
    snprintf(key, sizeof(key), "%d", st->vector);
    json_kv_u64(o, key, st->count);
}

static void stats_irq_name(const struct irq_stat *st, void *arg)
{
    struct json_out *o = arg;
    char key[8];
    snprintf(key, sizeof(key), "%d", st->vector);
    json_kv_string(o, key, st->name);
}

static void stats_interrupts(struct json_out *o, void *ctx)
{
    (void)ctx;
    json_begin_object(o);
    json_key(o, "vectors");
    json_begin_object(o);
    irq_foreach_stat(stats_irq_one, o);
    json_end_object(o);
    json_key(o, "names");
    json_begin_object(o);
    irq_foreach_stat(stats_irq_name, o);
    json_end_object(o);
    json_kv_u64(o, "unexpected", irq_unexpected_count());
    json_kv_u64(o, "spurious", irq_spurious_count());
    json_end_object(o);
}

void irq_stats_register(void)
{
    stats_register("interrupts", stats_interrupts, NULL);
}
