/*
 * ACPI static tables: RSDP, RSDT/XSDT, MADT, FADT, MCFG, HPET, and the one
 * AML object we need (\_S5) (ACPI 6.5 chapter 5.2 "ACPI System Description
 * Tables"; PCI Firmware 3.2 4.1.2 for MCFG; IA-PC HPET 1.0a 3.2.4).
 *
 * The parser is pure: it never dereferences a physical address itself but asks
 * a mapping hook for a pointer to [phys, phys+len). The kernel's hook uses
 * phys_to_virt() (and map_mmio() above 4 GiB); the host tests hand it crafted
 * tables in ordinary buffers. Every table's length and checksum are checked
 * before any field is read, and every sub-structure is bounds-checked against
 * its table: a malformed table is logged and skipped, never trusted.
 *
 * This header includes only <stdint.h>, <stddef.h> and <stdbool.h> so the
 * host tests compile against it unchanged.
 */
#ifndef ARCH_X86_64_ACPI_H
#define ARCH_X86_64_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- Wire layouts: byte offsets (tables are packed, fields unaligned) --- */

/* RSDP, ACPI 6.5 5.2.5.3. */
#define ACPI_RSDP_SIGNATURE 0  /* 8 bytes "RSD PTR " */
#define ACPI_RSDP_CHECKSUM  8  /* u8, covers bytes 0-19 */
#define ACPI_RSDP_OEMID     9  /* 6 bytes */
#define ACPI_RSDP_REVISION  15 /* u8: 0 = ACPI 1.0 (20 bytes), 2 = ACPI 2.0+ */
#define ACPI_RSDP_RSDT      16 /* u32 physical address */
#define ACPI_RSDP_LENGTH    20 /* u32, revision >= 2 */
#define ACPI_RSDP_XSDT      24 /* u64 physical address, revision >= 2 */
#define ACPI_RSDP_XCHECKSUM 32 /* u8, covers the whole length */
#define ACPI_RSDP_V1_SIZE   20
#define ACPI_RSDP_V2_SIZE   36

/* System description table header, ACPI 6.5 5.2.6. */
#define ACPI_HDR_SIGNATURE 0  /* 4 bytes */
#define ACPI_HDR_LENGTH    4  /* u32, header included */
#define ACPI_HDR_REVISION  8  /* u8 */
#define ACPI_HDR_CHECKSUM  9  /* u8, all bytes of the table sum to 0 */
#define ACPI_HDR_OEMID     10 /* 6 bytes */
#define ACPI_HDR_SIZE      36

/* MADT, ACPI 6.5 5.2.12. Entries follow at offset 44: type u8, length u8. */
#define ACPI_MADT_LAPIC_ADDR     36        /* u32 */
#define ACPI_MADT_FLAGS          40        /* u32 */
#define ACPI_MADT_PCAT_COMPAT    (1u << 0) /* dual 8259s present */
#define ACPI_MADT_ENTRIES        44
#define ACPI_MADT_LAPIC          0  /* 5.2.12.2, len 8: uid u8 @2, apic id u8 @3, flags u32 @4 */
#define ACPI_MADT_IOAPIC         1  /* 5.2.12.3, len 12: id u8 @2, addr u32 @4, gsi base u32 @8 */
#define ACPI_MADT_ISO            2  /* 5.2.12.5, len 10: bus u8 @2, source u8 @3, gsi u32 @4, flags u16 @8 */
#define ACPI_MADT_NMI_SRC        3  /* 5.2.12.6, len 8: flags u16 @2, gsi u32 @4 */
#define ACPI_MADT_LAPIC_NMI      4  /* 5.2.12.7, len 6: uid u8 @2, flags u16 @3, lint u8 @5 */
#define ACPI_MADT_LAPIC_ADDR_OVR 5  /* 5.2.12.8, len 12: addr u64 @4 */
#define ACPI_MADT_X2APIC         9  /* 5.2.12.12, len 16: x2apic id u32 @4, flags u32 @8, uid u32 @12 */
#define ACPI_MADT_X2APIC_NMI     10 /* 5.2.12.13, len 12: flags u16 @2, uid u32 @4, lint u8 @8 */
/* Local APIC flags (5.2.12.2, table 5.23). */
#define ACPI_LAPIC_ENABLED        (1u << 0)
#define ACPI_LAPIC_ONLINE_CAPABLE (1u << 1)
/* MPS INTI flags (5.2.12.5, table 5.26). */
#define ACPI_INTI_POLARITY_MASK     0x3
#define ACPI_INTI_POLARITY_CONFORMS 0x0
#define ACPI_INTI_POLARITY_HIGH     0x1
#define ACPI_INTI_POLARITY_LOW      0x3
#define ACPI_INTI_TRIGGER_MASK      0xc
#define ACPI_INTI_TRIGGER_CONFORMS  0x0
#define ACPI_INTI_TRIGGER_EDGE      0x4
#define ACPI_INTI_TRIGGER_LEVEL     0xc

/* MCFG, PCI Firmware 3.2 table 4-2/4-3: 8 reserved bytes, then 16-byte entries. */
#define ACPI_MCFG_ENTRIES    44
#define ACPI_MCFG_ENTRY_SIZE 16 /* base u64 @0, segment u16 @8, bus start u8 @10, bus end u8 @11 */

/* FADT, ACPI 6.5 5.2.9 table 5.9 (only the fields we read). */
#define ACPI_FADT_DSDT           40        /* u32 */
#define ACPI_FADT_SCI_INT        46        /* u16 */
#define ACPI_FADT_SMI_CMD        48        /* u32, I/O port */
#define ACPI_FADT_ACPI_ENABLE    52        /* u8 */
#define ACPI_FADT_PM1A_CNT_BLK   64        /* u32, I/O port */
#define ACPI_FADT_PM1B_CNT_BLK   68        /* u32, I/O port */
#define ACPI_FADT_PM_TMR_BLK     76        /* u32, I/O port */
#define ACPI_FADT_PM1_CNT_LEN    89        /* u8 */
#define ACPI_FADT_PM_TMR_LEN     91        /* u8, 4 when the timer is supported */
#define ACPI_FADT_IAPC_BOOT_ARCH 109       /* u16, revision >= 2 */
#define ACPI_FADT_FLAGS          112       /* u32 */
#define ACPI_FADT_TMR_VAL_EXT    (1u << 8) /* PM timer is 32 bits, else 24 */
#define ACPI_FADT_RESET_REG_SUP  (1u << 10)
#define ACPI_FADT_HW_REDUCED     (1u << 20)
#define ACPI_FADT_RESET_REG      116 /* GAS */
#define ACPI_FADT_RESET_VALUE    128 /* u8 */
#define ACPI_FADT_X_DSDT         140 /* u64 */
#define ACPI_FADT_X_PM1A_CNT_BLK 172 /* GAS */
#define ACPI_FADT_X_PM1B_CNT_BLK 184 /* GAS */
#define ACPI_FADT_X_PM_TMR_BLK   208 /* GAS */
#define ACPI_FADT_SLEEP_CONTROL  244 /* GAS, ACPI 5.0+: hardware-reduced sleep control */
#define ACPI_FADT_SLEEP_STATUS   256 /* GAS, ACPI 5.0+: hardware-reduced sleep status */
/* Hardware-reduced sleep control register (4.8.3.7): SLP_TYP in bits 4:2, SLP_EN bit 5. */
#define ACPI_SLEEP_CTL_SLP_TYP_SHIFT 2
#define ACPI_SLEEP_CTL_SLP_TYP_MASK  (7u << 2)
#define ACPI_SLEEP_CTL_SLP_EN        (1u << 5)
/* IA-PC boot architecture flags (5.2.9.3). */
#define ACPI_BOOT_ARCH_8042 (1u << 1)
/* PM1 control register (4.8.3.2.1). */
#define ACPI_PM1_SCI_EN        (1u << 0)
#define ACPI_PM1_SLP_TYP_SHIFT 10
#define ACPI_PM1_SLP_TYP_MASK  (7u << 10)
#define ACPI_PM1_SLP_EN        (1u << 13)
#define ACPI_PM_TIMER_HZ       3579545u /* 4.8.3.3 */

/* Generic Address Structure, ACPI 6.5 5.2.3.2: 12 bytes. */
#define ACPI_GAS_SIZE         12
#define ACPI_GAS_SPACE_MEMORY 0
#define ACPI_GAS_SPACE_IO     1
#define ACPI_GAS_SPACE_PCI    2

/* HPET description table, IA-PC HPET 1.0a table 3: base address GAS at 40. */
#define ACPI_HPET_BASE 40

/* --- Parsed results --- */

#define ACPI_MAX_CPUS        256
#define ACPI_MAX_IOAPICS     8
#define ACPI_MAX_OVERRIDES   32
#define ACPI_MAX_NMI_SOURCES 8
#define ACPI_MAX_LAPIC_NMIS  16
#define ACPI_MAX_MCFG        8
#define ACPI_MAX_SSDTS       16

struct acpi_gas {
    uint8_t space_id; /* ACPI_GAS_SPACE_* */
    uint8_t bit_width;
    uint8_t bit_offset;
    uint8_t access_size; /* 0 undefined, 1 byte, 2 word, 3 dword, 4 qword */
    uint64_t address;    /* 0: register not present */
};

struct acpi_cpu {
    uint32_t apic_id;
    uint32_t acpi_uid;
    uint32_t flags; /* ACPI_LAPIC_* */
    bool x2apic;    /* described by an x2APIC structure */
};

struct acpi_ioapic {
    uint8_t id;
    uint32_t addr; /* physical MMIO base */
    uint32_t gsi_base;
};

struct acpi_override {
    uint8_t bus;    /* 0 = ISA */
    uint8_t source; /* ISA IRQ */
    uint32_t gsi;
    uint16_t flags; /* ACPI_INTI_* */
};

struct acpi_nmi_source {
    uint32_t gsi;
    uint16_t flags;
};

struct acpi_lapic_nmi {
    uint32_t acpi_uid; /* 0xff (xAPIC entry) or 0xffffffff (x2APIC entry): all CPUs */
    uint16_t flags;    /* ACPI_INTI_* */
    uint8_t lint;      /* 0 or 1 */
};

struct acpi_mcfg_entry {
    uint64_t base; /* ECAM base of bus 0 of this segment */
    uint16_t segment;
    uint8_t bus_start;
    uint8_t bus_end;
};

struct acpi_info {
    uint8_t rsdp_revision;
    char oem_id[7];
    bool xsdt;           /* the XSDT (not the RSDT) listed the tables */
    unsigned bad_tables; /* tables rejected (checksum, length, mapping) */

    /* MADT */
    bool have_madt;
    uint64_t lapic_addr;
    uint32_t madt_flags;
    unsigned n_cpus;
    struct acpi_cpu cpus[ACPI_MAX_CPUS];
    unsigned n_ioapics;
    struct acpi_ioapic ioapics[ACPI_MAX_IOAPICS];
    unsigned n_overrides;
    struct acpi_override overrides[ACPI_MAX_OVERRIDES];
    unsigned n_nmi_sources;
    struct acpi_nmi_source nmi_sources[ACPI_MAX_NMI_SOURCES];
    unsigned n_lapic_nmis;
    struct acpi_lapic_nmi lapic_nmis[ACPI_MAX_LAPIC_NMIS];
    unsigned madt_bad_entries; /* entries skipped: too short for their type, or overflow */
    bool mp_table;             /* no MADT: the fields above come from the MP table (mptable.h) */

    /* MCFG */
    unsigned n_mcfg;
    struct acpi_mcfg_entry mcfg[ACPI_MAX_MCFG];

    /* FADT */
    bool have_fadt;
    uint8_t fadt_revision;
    uint32_t fadt_flags;
    uint16_t sci_irq;
    uint16_t boot_arch; /* ACPI_BOOT_ARCH_*; 0 when the FADT is too old to say */
    uint32_t smi_cmd;
    uint8_t acpi_enable;
    struct acpi_gas pm1a_cnt, pm1b_cnt, pm_tmr, reset_reg;
    /* Hardware-reduced ACPI (FADT flag HW_REDUCED_ACPI, e.g. QEMU's microvm):
     * no PM1 blocks, S5 through these registers (address 0: absent). */
    struct acpi_gas sleep_control, sleep_status;
    uint8_t reset_value;
    bool pm_tmr_32bit;
    uint64_t dsdt_addr;

    /* \_S5 from the DSDT (or an SSDT) */
    bool have_s5;
    uint8_t slp_typa, slp_typb;

    /* HPET */
    uint64_t hpet_addr; /* 0: none */
};

/*
 * The mapping hook: a pointer through which @len bytes at physical @phys can
 * be read, or NULL when that range cannot be mapped (the table is skipped).
 */
typedef const void *(*acpi_map_fn)(uint64_t phys, size_t len);

/**
 * acpi_checksum_ok() - true when the @len bytes at @p sum to 0 modulo 256.
 */
bool acpi_checksum_ok(const void *p, size_t len);

/**
 * acpi_rsdp_valid() - check a candidate RSDP: signature, the ACPI 1.0
 * checksum, and for revision >= 2 the length and extended checksum.
 * @xsdt_ok: set to whether the ACPI 2.0 part (XSDT address) can be trusted.
 * Return: true when at least the ACPI 1.0 part is valid.
 */
bool acpi_rsdp_valid(const void *rsdp, bool *xsdt_ok);

/**
 * acpi_scan_rsdp() - look for the RSDP where BIOS firmware puts it (ACPI 6.5
 * 5.2.5.1): the first KiB of the EBDA (segment at 40:0E), then 0xE0000-0xFFFFF,
 * on 16-byte boundaries.
 * Return: a pointer to the valid RSDP found, or NULL.
 */
const void *acpi_scan_rsdp(acpi_map_fn map);

/**
 * acpi_parse() - walk the RSDT or XSDT that @rsdp points to and fill @info
 * with what the MADT, FADT (with \_S5 from the DSDT/SSDTs), MCFG and HPET say.
 * @rsdp: a valid-looking RSDP (a copy from the boot loader is fine); NULL
 *        makes the parser scan the BIOS areas through @map.
 * Uses the XSDT when the RSDP is revision >= 2 and the XSDT is valid, else
 * the RSDT. Logs what it finds and every table it rejects.
 * Return: 0, -ENOENT when no RSDP was found, -EINVAL when neither RSDT nor XSDT is valid.
 */
int acpi_parse(struct acpi_info *info, const void *rsdp, acpi_map_fn map);

/**
 * acpi_parse_madt() / acpi_parse_fadt() / acpi_parse_mcfg() / acpi_parse_hpet()
 * - decode one table whose length and checksum acpi_parse() already verified.
 * @tbl, @len: the whole table, header included.
 * Sub-structures that do not fit in @len are skipped and logged.
 * Return: 0, or -EINVAL when the table is too short to hold its fixed part.
 */
int acpi_parse_madt(struct acpi_info *info, const uint8_t *tbl, size_t len);
int acpi_parse_fadt(struct acpi_info *info, const uint8_t *tbl, size_t len);
int acpi_parse_mcfg(struct acpi_info *info, const uint8_t *tbl, size_t len);
int acpi_parse_hpet(struct acpi_info *info, const uint8_t *tbl, size_t len);

/**
 * acpi_aml_find_s5() - find `Name(\_S5_, Package() {a, b, ...})` in AML
 * bytecode (ACPI 6.5 7.4.2 and 20.2) without an interpreter: a byte scan for
 * the name followed by a PackageOp whose first elements are integer constants.
 * Return: true and SLP_TYPa/SLP_TYPb in @a/@b when found.
 */
bool acpi_aml_find_s5(const uint8_t *aml, size_t len, uint8_t *a, uint8_t *b);

/* --- Kernel interface --- */

/**
 * acpi_init() - find and parse the tables for the kernel.
 * @rsdp_from_bootloader: the RSDP copy in the multiboot2 ACPI tag, or NULL to
 *                        scan the BIOS areas.
 * Logs a summary. Context: boot, before interrupts_init() goes on.
 * Return: as acpi_parse(); on failure acpi_get() still returns a zeroed info.
 */
int acpi_init(const void *rsdp_from_bootloader);

/** acpi_get() - the tables parsed by acpi_init() (never NULL). */
const struct acpi_info *acpi_get(void);

/**
 * acpi_use_mp_madt() - where there is no MADT, take the MADT's fields
 * (local APIC address, CPUs, IO-APICs, overrides, NMIs) from @m, the MP
 * table's translation (mptable_init()); sets mp_table. Context: boot, before lapic_init().
 */
void acpi_use_mp_madt(const struct acpi_info *m);

/**
 * acpi_map_phys() - the kernel's mapping hook (acpi_map_fn): RAM below 4 GiB
 * through phys_to_virt(), anything else (the null page with the BIOS data
 * area, device memory) through map_mmio(). NULL when it cannot be mapped.
 */
const void *acpi_map_phys(uint64_t phys, size_t len);

/**
 * acpi_mcfg() - the PCIe ECAM window of PCI segment 0 from the MCFG.
 * @base: physical address of the configuration space of bus 0 (even when
 *        @bus_start is not 0: ECAM addresses are computed from bus 0).
 * Return: 0, or -ENODEV when there is no MCFG entry for segment 0 (e.g. -M pc).
 */
int acpi_mcfg(uint64_t *base, uint8_t *bus_start, uint8_t *bus_end);

/**
 * acpi_pm_timer_read() - the ACPI PM timer (3.579545 MHz, FADT PM_TMR_BLK).
 * Return: the counter (24 or 32 significant bits, see @bits of
 * acpi_pm_timer_bits()), or 0 when there is none.
 */
uint32_t acpi_pm_timer_read(void);
/** acpi_pm_timer_bits() - 24 or 32, or 0 when the FADT has no PM timer. */
unsigned acpi_pm_timer_bits(void);

/**
 * acpi_reset() - reset the machine: the FADT reset register when it is
 * supported, then port 0xCF9, then the 8042, then a triple fault.
 */
void acpi_reset(void) __attribute__((noreturn));

/**
 * acpi_poweroff() - enter S5 (soft off) by writing SLP_TYPx|SLP_EN to
 * PM1a/PM1b_CNT with the \_S5 values (ACPI 6.5 7.4.2, 16.1.7), or, on a
 * hardware-reduced platform, SLP_TYPa << 2 | SLP_EN to the FADT's
 * SLEEP_CONTROL_REG (4.8.3.7, 7.4.2).
 * Returns only on failure (logged): no FADT, no \_S5, or still running after
 * the write; the caller then tries something else.
 */
void acpi_poweroff(void);

#endif
