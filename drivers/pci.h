/*
 * The PCI core: configuration access, enumeration of every bus reachable
 * through bridges, BAR decoding, capability lists, MSI/MSI-X, and the table
 * of drivers (PCI Local Bus Specification 3.0, ch. 6; PCI-to-PCI Bridge
 * Architecture 1.2, ch. 3; PCI Express Base 3.0, 7.2 for ECAM).
 *
 * Boot sequence (kernel main), after interrupts_init():
 *   if (acpi_mcfg(&base, &start, &end) == 0)   q35: ECAM window from the MCFG
 *       pci_init_ecam(base, start, end);
 *   else                                       pc: ports 0xCF8/0xCFC
 *       pci_init();
 *   pci_assign_unassigned(&windows);          BARs the firmware left at 0
 *   pci_probe_drivers();                       calls each matching driver's probe()
 *
 * Bus numbers and interrupt lines are the ones the firmware programmed, and
 * so are BAR addresses, except where the firmware left a BAR unassigned:
 * SeaBIOS assigns everything, but qboot (QEMU's minimal firmware for -kernel
 * boots) assigns nothing and leaves that to the OS, as Linux does in
 * pci_assign_unassigned_resources(). Devices are left as found (decode, bus
 * mastering) until a driver calls pci_enable_device().
 *
 * Context: boot and main loop only; no function here is safe to call from an
 * interrupt handler (port I/O configuration access is a two-step sequence).
 */
#ifndef DRIVERS_PCI_H
#define DRIVERS_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/pci_cfg.h"
#include "drivers/pci_regs.h"

#define PCI_MAX_DEVICES 128
#define PCI_MAX_CAPS    48 /* (256 - 64) / 4: one capability per dword at most */

/* printf helpers: klog(LOG_INFO, "virtio-net: " PCI_BDF_FMT " ...", PCI_BDF_ARGS(dev)) */
#define PCI_BDF_FMT     "%02x:%02x.%x"
#define PCI_BDF_ARGS(d) (d)->bus, (d)->dev, (d)->fn

enum pci_bar_type {
    PCI_BAR_NONE = 0, /* not implemented, or the upper half of a 64-bit BAR */
    PCI_BAR_IO,
    PCI_BAR_MEM32, /* includes the legacy below-1 MiB type */
    PCI_BAR_MEM64,
};

struct pci_bar {
    enum pci_bar_type type;
    bool prefetchable;
    uint64_t addr; /* bus address the firmware assigned (port number for I/O) */
    uint64_t size; /* bytes decoded; 0 when type is PCI_BAR_NONE */
    void *virt;    /* mapping made by pci_map_bar(), NULL until then */
};

/*
 * One PCI function. Drivers read the identification and BAR fields; the
 * rest belongs to the PCI core.
 */
struct pci_dev {
    uint8_t bus, dev, fn;
    uint16_t vendor, device;
    uint16_t subsys_vendor, subsys_device; /* type 0 headers only */
    uint8_t revision;
    uint32_t class_code; /* base << 16 | sub << 8 | prog-if */
    uint8_t hdr_type;    /* PCI_HEADER_TYPE_*, without the multi-function bit */
    bool multifunction;
    uint8_t irq_pin;             /* 0 none, 1-4 INTA-INTD */
    uint8_t irq_line;            /* as the firmware programmed it; 0xFF: not connected */
    uint8_t intx_slot, intx_pin; /* slot on the root bus and pin there, after bridge swizzling */
    struct pci_bar bar[PCI_NUM_BARS];
    uint8_t sec_bus, sub_bus; /* bridges (types 1 and 2) only */

    /* Capabilities in list order, read once at enumeration and cut at the first bad link. */
    uint8_t caps[PCI_MAX_CAPS];
    uint8_t cap_ids[PCI_MAX_CAPS];
    uint8_t ncaps;
    bool caps_broken;

    /* The driver that claimed the device, and its private data. */
    const struct pci_driver *driver;
    void *drvdata;

    /* MSI / MSI-X state, owned by the pci_msi* functions. */
    uint8_t msi_cap, msix_cap; /* capability offsets, 0 if absent */
    bool msi_enabled, msix_enabled;
    uint16_t msix_table_size; /* entries in the device's table */
    uint16_t msix_nvec;       /* entries the driver asked for */
    uint8_t *msix_table;      /* mapped table, inside the BAR's mapping */
    const uint8_t *msix_pba;
};

/*
 * Driver matching. An id matches when vendor and device match (PCI_ANY_ID
 * matches anything) and (class_code & class_mask) == (dev class & class_mask).
 * The table ends with an entry whose vendor is 0 (an invalid vendor ID).
 */
#define PCI_ANY_ID 0xFFFFFFFFu
struct pci_id {
    uint32_t vendor, device;
    uint32_t class_code, class_mask;
};
#define PCI_ID_DEVICE(v, d)                                                                                  \
    {                                                                                                        \
        .vendor = (v), .device = (d), .class_code = 0, .class_mask = 0                                       \
    }
#define PCI_ID_CLASS(c, m)                                                                                   \
    {                                                                                                        \
        .vendor = PCI_ANY_ID, .device = PCI_ANY_ID, .class_code = (c), .class_mask = (m)                     \
    }

/**
 * struct pci_driver - what a driver handles.
 * @probe: called once per matching unclaimed device, in bus order, after all
 *	buses are enumerated. Return 0 to claim the device; -ENODEV to decline
 *	quietly; any other negative errno is logged as a failed probe. Either
 *	way the next matching driver gets a chance. A driver that claimed
 *	nothing must leave the device as it found it.
 */
struct pci_driver {
    const char *name;
    const struct pci_id *ids;
    int (*probe)(struct pci_dev *dev);
};

/*
 * PCI_DRIVER(drv) registers a `const struct pci_driver drv` by putting a
 * pointer to it in the linker section ".pci_drivers", which linker.ld keeps
 * (KEEP, despite --gc-sections) between __pci_drivers_start and
 * __pci_drivers_end; host tests link with tests/unit/pci_drivers.ld for the
 * same two symbols. The section holds pointers, not structures, so it stays
 * an array of equal pointer-sized entries whatever the compiler does with
 * alignment. Clang's AddressSanitizer would pad such globals with redzones,
 * hence the no_sanitize there (GCC leaves globals in named sections alone).
 */
#if defined(__clang__)
#define PCI_DRIVER_NO_ASAN __attribute__((no_sanitize("address")))
#else
#define PCI_DRIVER_NO_ASAN
#endif
#define PCI_DRIVER(drv)                                                                                      \
    static const struct pci_driver *const pci_driver_ptr_##drv                                               \
        __attribute__((used, section(".pci_drivers"), aligned(sizeof(void *)))) PCI_DRIVER_NO_ASAN = &(drv)

/* --- Initialisation and enumeration --- */

/** pci_init() - enumerate through the legacy ports. Return: devices found. */
int pci_init(void);

/**
 * pci_init_ecam() - enumerate through the ECAM window from ACPI MCFG (segment 0).
 * Falls back to the legacy ports (with a warning) if the window cannot be mapped.
 * Return: devices found.
 */
int pci_init_ecam(uint64_t base, uint8_t bus_start, uint8_t bus_end);

/**
 * pci_init_ops() - forget previous results, use @ops for all configuration
 * access, enumerate every bus reachable from bus 0, and print the listing.
 * pci_init() and pci_init_ecam() call it; host tests call it with a fake.
 * Return: devices found.
 */
int pci_init_ops(const struct pci_cfg_ops *ops);

/*
 * Address ranges pci_assign_unassigned() may give to BARs: [start, end).
 * The caller (arch code) knows the platform: where RAM ends below 4 GiB, the
 * ECAM window, the IO-APIC and LAPIC, which ports are legacy devices'.
 */
struct pci_windows {
    uint64_t mem_start, mem_end; /* below 4 GiB: 32-bit BARs fit anywhere in it */
    uint32_t io_start, io_end;
};

/**
 * pci_assign_unassigned() - give an address to every BAR of a device on the
 * root bus that the firmware left at 0, largest first, each naturally aligned
 * (memory BARs at least on a page), avoiding every BAR that has an address.
 * The BAR is written with decode off and read back. Devices behind bridges
 * are not assigned (their bridge's windows would have to be programmed too):
 * they are logged. Call after pci_init*(), before pci_probe_drivers().
 * Return: BARs assigned.
 */
int pci_assign_unassigned(const struct pci_windows *w);

/**
 * pci_probe_drivers() - offer each device to the drivers in the .pci_drivers
 * section, first match that accepts wins; log who took what and which
 * devices no driver took. Call once, after interrupt controllers are up.
 * Return: number of devices claimed.
 */
int pci_probe_drivers(void);

/** pci_foreach_dev() - call @fn for each function found, in bus:dev.fn order. */
void pci_foreach_dev(void (*fn)(struct pci_dev *dev, void *arg), void *arg);

/** pci_get_dev() - the function at @bus:@dev.@fn, or NULL. */
struct pci_dev *pci_get_dev(uint8_t bus, uint8_t dev, uint8_t fn);

/** pci_dev_count() - number of functions found by the last enumeration. */
int pci_dev_count(void);

/** pci_class_name() - "Ethernet controller" etc. for a 24-bit class code; never NULL. */
const char *pci_class_name(uint32_t class_code);

/** pci_cap_name() - "MSI-X" etc. for a capability ID; never NULL. */
const char *pci_cap_name(uint8_t id);

/* --- Configuration access for drivers --- */

/*
 * Read/write @dev's configuration space. @off must be aligned to the width and
 * below the mechanism's size (256 for port I/O, 4096 for ECAM); otherwise a
 * read returns all ones and a write is dropped, both with a log line.
 */
uint8_t pci_cfg_read8(const struct pci_dev *dev, uint16_t off);
uint16_t pci_cfg_read16(const struct pci_dev *dev, uint16_t off);
uint32_t pci_cfg_read32(const struct pci_dev *dev, uint16_t off);
void pci_cfg_write8(const struct pci_dev *dev, uint16_t off, uint8_t val);
void pci_cfg_write16(const struct pci_dev *dev, uint16_t off, uint16_t val);
void pci_cfg_write32(const struct pci_dev *dev, uint16_t off, uint32_t val);

/* --- What a driver calls when it claims a device --- */

/**
 * pci_enable_device() - turn on memory and/or I/O decode in the command
 * register, for the kinds of BARs the device has.
 * Return: 0.
 */
int pci_enable_device(struct pci_dev *dev);

/** pci_set_master() - let the device initiate DMA (and MSI writes). */
void pci_set_master(struct pci_dev *dev);

/**
 * pci_map_bar() - map memory BAR @bar uncached (map_mmio), once; later calls
 * return the same pointer.
 * Return: the virtual address of the BAR's first byte, or NULL for a BAR
 * that is absent, I/O, the upper half of a 64-bit BAR, unassigned (address
 * 0), or that cannot be mapped.
 */
void *pci_map_bar(struct pci_dev *dev, int bar);

/**
 * pci_find_capability() - the next capability with ID @id.
 * @start: 0 to search from the head of the list, or an offset this function
 *	returned, to continue after it (e.g. for several vendor-specific caps):
 *	for (pos = pci_find_capability(d, PCI_CAP_ID_VNDR, 0); pos;
 *	     pos = pci_find_capability(d, PCI_CAP_ID_VNDR, pos))
 * Walks the list cached at enumeration, which was cut off at the first
 * pointer that looped, pointed outside 0x40-0xFC or was not dword aligned.
 * Return: the capability's offset in configuration space, or 0 if none.
 */
int pci_find_capability(const struct pci_dev *dev, uint8_t id, int start);

/* --- Interrupts (PCI 3.0 6.8) --- */

/**
 * pci_msix_enable() - switch the device to MSI-X with entries 0..@nvec-1.
 * Maps the table (and PBA) through their BARs, masks every entry, enables
 * MSI-X, sets INTx disable, memory decode and bus mastering (MSI-X messages
 * are memory writes by the device). Entries stay masked until
 * pci_msix_set_vector().
 * Return: 0; -ENODEV without an MSI-X capability; -EINVAL if @nvec is 0 or
 * above the table size; -EBUSY if MSI is on; -EIO if the table or PBA lies
 * outside its BAR; -ENOMEM if the BAR cannot be mapped.
 */
int pci_msix_enable(struct pci_dev *dev, unsigned nvec);

/**
 * pci_msix_set_vector() - point table entry @entry at CPU vector @vector
 * (irq_msi_compose) and unmask it. The entry is masked while it is rewritten.
 * Return: 0, -EINVAL if MSI-X is off or @entry >= nvec.
 */
int pci_msix_set_vector(struct pci_dev *dev, unsigned entry, int vector);

/** pci_msix_mask() - mask (@mask true) or unmask one entry. Return: 0 or -EINVAL. */
int pci_msix_mask(struct pci_dev *dev, unsigned entry, bool mask);

/** pci_msix_pending() - the entry's bit in the PBA (an interrupt held back by a mask). */
bool pci_msix_pending(const struct pci_dev *dev, unsigned entry);

/** pci_msix_disable() - mask all entries, turn MSI-X off and INTx back on. */
void pci_msix_disable(struct pci_dev *dev);

/**
 * pci_msi_enable() - switch the device to plain MSI with one message that
 * delivers @vector; sets INTx disable and bus mastering.
 * Return: 0; -ENODEV without an MSI capability; -EBUSY if MSI-X is on;
 * -EINVAL if the message address needs 64 bits and the device has only 32.
 */
int pci_msi_enable(struct pci_dev *dev, int vector);

/** pci_msi_disable() - turn MSI off and INTx back on. */
void pci_msi_disable(struct pci_dev *dev);

/**
 * pci_intx_gsi() - the GSI the device's INTx pin is wired to, and the
 * IRQ_TRIGGER_LEVEL/IRQ_POLARITY_LOW @flags (may be NULL) for irq_route_gsi().
 * The pin is followed up through the bridges (swizzled at each one) to a
 * slot on the root bus; irq_pci_intx_gsi() then applies the chipset's wiring
 * (q35: fixed PIRQ E-H/A-D -> GSI 16-23; i440fx: the interrupt line SeaBIOS
 * programmed, through the MADT overrides). The chipset is taken from the
 * host bridge at 00:00.0 (8086:29c0 is q35, anything else is treated as a
 * PIIX-style PIRQ router).
 * TODO: the authoritative source is the ACPI _PRT (AML), which we do not
 * interpret; the wiring above is QEMU's.
 * Return: the GSI, -ENODEV if the device has no INTx pin, -ENOENT if its
 * line cannot be routed (i440fx with the interrupt line unassigned).
 */
int pci_intx_gsi(const struct pci_dev *dev, unsigned *flags);

#endif
