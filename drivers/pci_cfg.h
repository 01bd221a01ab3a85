/*
 * PCI configuration space access mechanisms: the legacy I/O ports
 * (PCI Local Bus Specification 3.0, 3.2.2.3.2 "Configuration Mechanism #1")
 * and the memory-mapped Enhanced Configuration Access Mechanism (PCI Express
 * Base Specification 3.0, 7.2.2 "ECAM"; the window comes from the ACPI MCFG
 * table, PCI Firmware Specification 3.0, 4.1.2).
 *
 * The PCI core (drivers/pci.c) reaches configuration space only through a
 * struct pci_cfg_ops, so host tests plug in a fake configuration space.
 */
#ifndef DRIVERS_PCI_CFG_H
#define DRIVERS_PCI_CFG_H

#include <stdint.h>

/**
 * struct pci_cfg_ops - one way to reach configuration space.
 * @name: "port-io", "ecam", or a test's name; printed at boot.
 * @cfg_size: bytes of configuration space reachable per function: 256 for
 *	port I/O, 4096 for ECAM.
 * @read: read @size (1, 2 or 4) bytes at @off of bus:dev.fn. The caller
 *	guarantees dev < 32, fn < 8, @off aligned to @size and below @cfg_size.
 *	A function that does not exist reads as all ones.
 * @write: the same for a write; writes to absent functions are dropped.
 *
 * The width matters: some registers have write-1-to-clear bits next to
 * read/write ones (command and status share a dword), so a 16-bit write must
 * never become a 32-bit read-modify-write.
 */
struct pci_cfg_ops {
    const char *name;
    unsigned cfg_size;
    uint32_t (*read)(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, unsigned size);
    void (*write)(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, unsigned size, uint32_t val);
};

/*
 * Configuration mechanism #1 through ports 0xCF8 (address) and 0xCFC (data).
 * Present on every PC chipset QEMU models (i440fx and q35).
 * Context: the address/data pair is not atomic; call from the main loop or
 * boot code only, never from an interrupt handler.
 */
extern const struct pci_cfg_ops pci_cfg_portio_ops;

/**
 * pci_cfg_ecam_setup() - prepare ECAM access for buses @bus_start..@bus_end.
 * @base: physical address of the window as the MCFG table gives it, i.e. the
 *	address of bus 0's configuration space (even when @bus_start > 0: bus b
 *	is at @base + (b << 20)).
 * Each bus's 1 MiB is mapped with map_mmio() when first touched, so only the
 * buses that are actually scanned cost page tables. Accesses outside the bus
 * range read as all ones.
 * Return: the ECAM ops, or NULL if @bus_start > @bus_end or bus @bus_start
 * cannot be mapped.
 */
const struct pci_cfg_ops *pci_cfg_ecam_setup(uint64_t base, uint8_t bus_start, uint8_t bus_end);

#endif
