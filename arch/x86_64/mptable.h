/*
 * The MP table: Intel MultiProcessor Specification 1.4 (1997), chapter 4
 * "MP Configuration Table". Before ACPI's MADT it was how firmware described
 * the processors, the IO-APICs and how ISA interrupts reach them; QEMU's
 * microvm with acpi=off gets one from qboot (in the last KiB of base memory)
 * and nothing else, so there it is what tells us where the IO-APIC is.
 *
 * Like acpi.c the parser is pure: it reads physical memory only through the
 * mapping hook (acpi_map_fn), checks the floating pointer's and the table's
 * checksums before reading a field, and bounds every entry by the table's
 * base length and entry count: lengths and counts are the firmware's word,
 * never trusted to be consistent. The result is translated into the MADT's
 * fields of struct acpi_info, so lapic.c, ioapic.c and irq.c do not know which
 * of the two described the machine.
 *
 * This header includes only <stdint.h>, <stddef.h>, <stdbool.h> and acpi.h
 * (itself plain), so the host tests compile against it unchanged.
 */
#ifndef ARCH_X86_64_MPTABLE_H
#define ARCH_X86_64_MPTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/acpi.h"

/* --- Wire layouts: byte offsets (MP 1.4 4.1, 4.2, 4.3) --- */

/* MP floating pointer structure, 4.1: 16 bytes on a 16-byte boundary. */
#define MP_FP_SIGNATURE 0  /* 4 bytes "_MP_" */
#define MP_FP_PHYSADDR  4  /* u32, the configuration table (0: none) */
#define MP_FP_LENGTH    8  /* u8, in 16-byte units: 1 */
#define MP_FP_SPEC_REV  9  /* u8, 1 = MP 1.1, 4 = MP 1.4 */
#define MP_FP_CHECKSUM  10 /* u8, the whole structure sums to 0 */
#define MP_FP_FEATURE1  11 /* u8, 0: a table is present; else a default configuration number (chapter 5) */
#define MP_FP_FEATURE2  12 /* u8, bit 7 IMCRP: the IMCR is present (PIC mode) */
#define MP_FP_IMCRP     (1u << 7)
#define MP_FP_SIZE      16

/* Configuration table header, 4.2: 44 bytes, then the base entries. */
#define MP_CT_SIGNATURE   0  /* 4 bytes "PCMP" */
#define MP_CT_BASE_LENGTH 4  /* u16, header included */
#define MP_CT_SPEC_REV    6  /* u8 */
#define MP_CT_CHECKSUM    7  /* u8, the base table sums to 0 */
#define MP_CT_OEM_ID      8  /* 8 bytes, space-padded */
#define MP_CT_PRODUCT_ID  16 /* 12 bytes */
#define MP_CT_ENTRY_COUNT 34 /* u16, base entries */
#define MP_CT_LAPIC_ADDR  36 /* u32 */
#define MP_CT_EXT_LENGTH  40 /* u16, extended entries after the base table (not read) */
#define MP_CT_HEADER_SIZE 44

/* Base table entries, 4.3: the type byte gives a fixed length. */
#define MP_ENTRY_PROCESSOR 0 /* 20 bytes: apic id u8 @1, version u8 @2, flags u8 @3 */
#define MP_ENTRY_BUS       1 /* 8 bytes: bus id u8 @1, type 6 bytes @2 ("ISA   ", "PCI   ") */
#define MP_ENTRY_IOAPIC    2 /* 8 bytes: id u8 @1, version u8 @2, flags u8 @3, address u32 @4 */
#define MP_ENTRY_IOINT                                                                                       \
    3 /* 8 bytes: type u8 @1, flags u16 @2, bus u8 @4, irq u8 @5, ioapic u8 @6, pin u8 @7 */
#define MP_ENTRY_LINT     4 /* 8 bytes: type u8 @1, flags u16 @2, bus u8 @4, irq u8 @5, lapic u8 @6, lint u8 @7 */
#define MP_PROCESSOR_SIZE 20
#define MP_OTHER_SIZE     8
#define MP_CPU_ENABLED    (1u << 0) /* processor flags */
#define MP_CPU_BSP        (1u << 1)
#define MP_IOAPIC_ENABLED (1u << 0)
/* Interrupt types of IOINT and LINT entries (table 4-9). */
#define MP_INT_INT    0
#define MP_INT_NMI    1
#define MP_INT_SMI    2
#define MP_INT_EXTINT 3
/* Interrupt flags (table 4-10) are the layout ACPI kept: ACPI_INTI_POLARITY_* and _TRIGGER_*. */
#define MP_ALL_APICS 0xff /* destination "all IO-APICs" / "all local APICs" */

/* --- Parsed results --- */

#define MPTABLE_MAX_CPUS   64
#define MPTABLE_MAX_IOAPIC 8
#define MPTABLE_MAX_BUSES  32
#define MPTABLE_MAX_IRQS   64
#define MPTABLE_MAX_LINTS  8

struct mptable_irq {
    uint8_t type; /* MP_INT_* */
    uint16_t flags;
    uint8_t bus, irq;  /* source bus id, IRQ on that bus */
    uint8_t apic, pin; /* destination IO-APIC (or local APIC for LINT) id, input */
};

struct mptable_info {
    uint64_t fp_addr;    /* where the floating pointer was found */
    uint8_t spec_rev;    /* the floating pointer's */
    uint8_t default_cfg; /* feature byte 1: non-zero = no table, a default configuration */
    bool imcr;           /* feature byte 2 IMCRP */
    bool have_table;     /* the configuration table was valid */
    uint64_t table_addr;
    char oem[9], product[13];
    uint32_t lapic_addr;
    unsigned n_cpus;
    struct {
        uint8_t apic_id, flags; /* MP_CPU_* */
    } cpus[MPTABLE_MAX_CPUS];
    unsigned n_ioapics;
    struct {
        uint8_t id, flags; /* MP_IOAPIC_* */
        uint32_t addr;
    } ioapics[MPTABLE_MAX_IOAPIC];
    unsigned n_buses;
    struct {
        uint8_t id;
        bool isa;
    } buses[MPTABLE_MAX_BUSES];
    unsigned n_irqs;
    struct mptable_irq irqs[MPTABLE_MAX_IRQS];
    unsigned n_lints;
    struct mptable_irq lints[MPTABLE_MAX_LINTS];
    unsigned n_entries;   /* base entries read */
    unsigned bad_entries; /* entries skipped: past the table, unknown type, beyond the arrays */
};

/**
 * mptable_find() - look for a valid floating pointer where MP 1.4 4 says
 * firmware puts it, in this order: the first KiB of the EBDA (segment at
 * 40:0E), the last KiB of base memory (KiB count at 40:13; 640 KiB when it is
 * implausible, as qboot leaves it zero), the BIOS ROM 0xF0000-0xFFFFF; 16-byte boundaries, signature,
 * length 1 and checksum.
 * Return: its physical address, or 0 when there is none.
 */
uint64_t mptable_find(acpi_map_fn map);

/**
 * mptable_parse() - read the floating pointer at @fp_phys and, when it points
 * at one, the configuration table into @mp (zeroed first). A table with a bad
 * signature, length or checksum is rejected as a whole (have_table false);
 * entries are read by the base length (as Linux does: qboot's entry count is
 * 0), an entry that would run past it or of unknown type (its length is
 * unknown) ends the walk. Logs each rejection.
 * Return: 0 (a valid table, or a default configuration), -EINVAL for a bad
 * floating pointer or table, -EFAULT when something cannot be mapped.
 */
int mptable_parse(struct mptable_info *mp, uint64_t fp_phys, acpi_map_fn map);

/**
 * mptable_to_madt() - the MADT's fields of @out (lapic_addr, cpus, ioapics,
 * overrides, lapic_nmis; have_madt stays false) from @mp. IO-APICs get GSI
 * bases in table order, each after the previous one's pins (as Linux's
 * mp_register_ioapic()), @ioapic_pins(addr) telling how many an IO-APIC has
 * (0: it does not answer; it is left out). ISA IO interrupt entries become
 * overrides where they differ from ISA IRQ n = GSI n, edge, high; NMI LINT
 * entries become local APIC NMIs (CPU uid = APIC id).
 * Return: the number of IO-APICs taken.
 */
unsigned mptable_to_madt(const struct mptable_info *mp, struct acpi_info *out,
                         unsigned (*ioapic_pins)(uint32_t addr));

/* --- Kernel interface --- */

/**
 * mptable_init() - where ACPI gave no MADT: find and parse the MP table, log
 * what it says and hand the translation to acpi_use_mp_madt(). Logs one line
 * when there is none (the fixed defaults of ioapic.c remain).
 * Context: boot, in interrupts_init() after acpi_init(), before lapic_init().
 * Return: 0 when the MP table now describes the interrupts, else -ENOENT or the parser's error.
 */
int mptable_init(void);

#endif
