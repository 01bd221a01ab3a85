/*
 * PCI configuration access: Configuration Mechanism #1 (PCI 3.0, 3.2.2.3.2)
 * and ECAM (PCI Express Base 3.0, 7.2.2). See pci_cfg.h for the contract.
 */
#include "drivers/pci_cfg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/io.h"
#include "arch/x86_64/paging.h"
#include "drivers/pci_regs.h"
#include "lib/klog.h"

/* --- Configuration Mechanism #1 --- */

#define PCI_CONFIG_ADDRESS 0xCF8       /* 32 rw */
#define PCI_CONFIG_ENABLE  0x80000000u /* bit 31: the next data access is a config cycle */
#define PCI_CONFIG_DATA    0xCFC       /* 8/16/32 rw: bytes 0xCFC-0xCFF select the byte lanes */

/*
 * CONFIG_ADDRESS holds bus (23:16), device (15:11), function (10:8) and the
 * dword (7:2); bits 1:0 must be zero, so a byte or word inside the dword is
 * reached through the matching port of the data window instead.
 */
static uint32_t portio_address(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
    return PCI_CONFIG_ENABLE | (uint32_t)bus << 16 | (uint32_t)dev << 11 | (uint32_t)fn << 8 | (off & 0xFCu);
}

static uint32_t portio_read(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, unsigned size)
{
    outl(PCI_CONFIG_ADDRESS, portio_address(bus, dev, fn, off));
    switch (size) {
    case 1:
        return inb(PCI_CONFIG_DATA + (off & 3));
    case 2:
        return inw(PCI_CONFIG_DATA + (off & 2));
    default:
        return inl(PCI_CONFIG_DATA);
    }
}

static void portio_write(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, unsigned size, uint32_t val)
{
    outl(PCI_CONFIG_ADDRESS, portio_address(bus, dev, fn, off));
    switch (size) {
    case 1:
        outb(PCI_CONFIG_DATA + (off & 3), (uint8_t)val);
        break;
    case 2:
        outw(PCI_CONFIG_DATA + (off & 2), (uint16_t)val);
        break;
    default:
        outl(PCI_CONFIG_DATA, val);
        break;
    }
}

const struct pci_cfg_ops pci_cfg_portio_ops = {
    .name = "port-io",
    .cfg_size = PCI_CFG_SIZE,
    .read = portio_read,
    .write = portio_write,
};

/* --- ECAM --- */

/* Each bus takes 1 MiB of the window: device (19:15), function (14:12), offset (11:0). */
#define ECAM_BUS_SHIFT 20
#define ECAM_BUS_SIZE  (1ul << ECAM_BUS_SHIFT)

static struct {
    uint64_t base; /* physical address of bus 0 */
    uint8_t bus_start, bus_end;
    void *bus_virt[PCI_MAX_BUS];  /* mapping of each bus's 1 MiB, NULL until first use */
    bool map_failed[PCI_MAX_BUS]; /* so a failed mapping is reported once, not per access */
} ecam;

static uint8_t *ecam_addr(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
    if (bus < ecam.bus_start || bus > ecam.bus_end)
        return NULL;
    if (!ecam.bus_virt[bus]) {
        if (ecam.map_failed[bus])
            return NULL;
        uint64_t phys = ecam.base + ((uint64_t)bus << ECAM_BUS_SHIFT);
        ecam.bus_virt[bus] = map_mmio(phys, ECAM_BUS_SIZE);
        if (!ecam.bus_virt[bus]) {
            ecam.map_failed[bus] = true;
            klog(LOG_ERR, "pci: ecam: cannot map bus %u at 0x%llx", bus, (unsigned long long)phys);
            return NULL;
        }
    }
    return (uint8_t *)ecam.bus_virt[bus] + ((uint32_t)dev << 15 | (uint32_t)fn << 12 | off);
}

static uint32_t ecam_read(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, unsigned size)
{
    const uint8_t *a = ecam_addr(bus, dev, fn, off);
    if (!a)
        return 0xFFFFFFFFu >> (32 - 8 * size); /* what a master abort returns */
    switch (size) {
    case 1:
        return mmio_read8(a);
    case 2:
        return mmio_read16(a);
    default:
        return mmio_read32(a);
    }
}

static void ecam_write(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, unsigned size, uint32_t val)
{
    uint8_t *a = ecam_addr(bus, dev, fn, off);
    if (!a)
        return;
    switch (size) {
    case 1:
        mmio_write8(a, (uint8_t)val);
        break;
    case 2:
        mmio_write16(a, (uint16_t)val);
        break;
    default:
        mmio_write32(a, val);
        break;
    }
}

static const struct pci_cfg_ops pci_cfg_ecam_ops = {
    .name = "ecam",
    .cfg_size = PCI_CFG_SIZE_EXT,
    .read = ecam_read,
    .write = ecam_write,
};

const struct pci_cfg_ops *pci_cfg_ecam_setup(uint64_t base, uint8_t bus_start, uint8_t bus_end)
{
    if (bus_start > bus_end)
        return NULL;
    for (unsigned b = 0; b < PCI_MAX_BUS; b++) {
        ecam.bus_virt[b] = NULL;
        ecam.map_failed[b] = false;
    }
    ecam.base = base;
    ecam.bus_start = bus_start;
    ecam.bus_end = bus_end;
    /* Map the first bus now, so a window that cannot be mapped falls back early. */
    if (!ecam_addr(bus_start, 0, 0, 0))
        return NULL;
    return &pci_cfg_ecam_ops;
}
