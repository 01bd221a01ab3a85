/*
 * I/O APIC redirection table programming (82093AA datasheet 3.2.4
 * "IOREDTBL"). The MMIO window is two registers, so an access is a select
 * followed by a read or write: callers must not interleave them, which holds
 * since every access here runs with interrupts disabled on the only CPU.
 */
#include "arch/x86_64/ioapic.h"

#include <errno.h>

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/io.h"
#include "arch/x86_64/irq.h"
#include "arch/x86_64/paging.h"
#include "lib/klog.h"

struct ioapic {
    uint8_t *regs;
    uint32_t gsi_base;
    uint32_t n_pins;
    uint8_t id;
};

static struct ioapic ioapics[ACPI_MAX_IOAPICS];
static unsigned n_ioapics;

static uint32_t io_read(const struct ioapic *io, uint32_t reg)
{
    mmio_write32(io->regs + IOAPIC_REGSEL, reg);
    return mmio_read32(io->regs + IOAPIC_WIN);
}

static void io_write(const struct ioapic *io, uint32_t reg, uint32_t v)
{
    mmio_write32(io->regs + IOAPIC_REGSEL, reg);
    mmio_write32(io->regs + IOAPIC_WIN, v);
}

static const struct ioapic *find(uint32_t gsi, uint32_t *pin)
{
    for (unsigned i = 0; i < n_ioapics; i++) {
        const struct ioapic *io = &ioapics[i];
        if (gsi >= io->gsi_base && gsi - io->gsi_base < io->n_pins) {
            *pin = gsi - io->gsi_base;
            return io;
        }
    }
    return NULL;
}

bool ioapic_serves(uint32_t gsi)
{
    uint32_t pin;
    return find(gsi, &pin) != NULL;
}

static int add(uint8_t id, uint64_t addr, uint32_t gsi_base)
{
    struct ioapic *io = &ioapics[n_ioapics];
    io->regs = map_mmio(addr, 0x20);
    if (!io->regs) {
        klog(LOG_ERR, "ioapic: cannot map 0x%llx", (unsigned long long)addr);
        return -ENODEV;
    }
    uint32_t ver = io_read(io, IOAPIC_REG_VER);
    if (ver == 0xffffffffu) {
        /* Nothing decodes that address: reads float to all ones. */
        klog(LOG_ERR, "ioapic: no IO-APIC answers at 0x%llx", (unsigned long long)addr);
        return -ENODEV;
    }
    io->id = id;
    io->gsi_base = gsi_base;
    io->n_pins = ((ver >> 16) & 0xff) + 1;
    for (uint32_t pin = 0; pin < io->n_pins; pin++) {
        io_write(io, IOAPIC_REG_REDTBL + 2 * pin, IOAPIC_RTE_MASKED);
        io_write(io, IOAPIC_REG_REDTBL + 2 * pin + 1, 0);
    }
    klog(LOG_INFO, "ioapic: id %u at 0x%llx, version 0x%x, GSI %u-%u, all masked", id,
         (unsigned long long)addr, ver & 0xff, gsi_base, gsi_base + io->n_pins - 1);
    n_ioapics++;
    return 0;
}

unsigned ioapic_pins_at(uint32_t addr)
{
    struct ioapic probe = {.regs = map_mmio(addr, 0x20)};
    if (!probe.regs)
        return 0;
    uint32_t ver = io_read(&probe, IOAPIC_REG_VER);
    return ver == 0xffffffffu ? 0 : ((ver >> 16) & 0xff) + 1;
}

int ioapic_init(void)
{
    const struct acpi_info *ai = acpi_get();
    n_ioapics = 0;
    if (ai->n_ioapics == 0) {
        klog(LOG_WARN, "ioapic: neither a MADT nor an MP table lists one, trying the default at 0x%x",
             IOAPIC_DEFAULT_ADDR);
        add(0, IOAPIC_DEFAULT_ADDR, 0);
    }
    for (unsigned i = 0; i < ai->n_ioapics; i++)
        add(ai->ioapics[i].id, ai->ioapics[i].addr, ai->ioapics[i].gsi_base);
    return n_ioapics ? 0 : -ENODEV;
}

int ioapic_route(uint32_t gsi, uint8_t vector, unsigned flags, uint32_t dest)
{
    uint32_t pin;
    const struct ioapic *io = find(gsi, &pin);
    if (!io)
        return -ENODEV;
    if (dest > 0xff)
        return -EINVAL;
    uint32_t lo = vector | IOAPIC_RTE_DM_FIXED;
    if (flags & IRQ_TRIGGER_LEVEL)
        lo |= IOAPIC_RTE_LEVEL;
    if (flags & IRQ_POLARITY_LOW)
        lo |= IOAPIC_RTE_ACTIVE_LOW;
    uint64_t irq = cpu_irq_save();
    /* Masked while half-written, so the input never fires with a torn entry. */
    io_write(io, IOAPIC_REG_REDTBL + 2 * pin, IOAPIC_RTE_MASKED);
    io_write(io, IOAPIC_REG_REDTBL + 2 * pin + 1, dest << IOAPIC_RTE_DEST_SHIFT);
    io_write(io, IOAPIC_REG_REDTBL + 2 * pin, lo);
    cpu_irq_restore(irq);
    return 0;
}

int ioapic_mask(uint32_t gsi, bool masked)
{
    uint32_t pin;
    const struct ioapic *io = find(gsi, &pin);
    if (!io)
        return -ENODEV;
    uint64_t irq = cpu_irq_save();
    uint32_t lo = io_read(io, IOAPIC_REG_REDTBL + 2 * pin);
    lo = masked ? (lo | IOAPIC_RTE_MASKED) : (lo & ~IOAPIC_RTE_MASKED);
    io_write(io, IOAPIC_REG_REDTBL + 2 * pin, lo);
    cpu_irq_restore(irq);
    return 0;
}

int ioapic_read_entry(uint32_t gsi, uint64_t *entry)
{
    uint32_t pin;
    const struct ioapic *io = find(gsi, &pin);
    if (!io)
        return -ENODEV;
    uint64_t irq = cpu_irq_save();
    uint32_t lo = io_read(io, IOAPIC_REG_REDTBL + 2 * pin);
    uint32_t hi = io_read(io, IOAPIC_REG_REDTBL + 2 * pin + 1);
    cpu_irq_restore(irq);
    *entry = (uint64_t)hi << 32 | lo;
    return 0;
}
