/*
 * The PVH boot protocol's hand-off structures (Xen's
 * xen/include/public/arch-x86/hvm/start_info.h, and docs/misc/pvh.pandoc):
 * a loader that finds the XEN_ELFNOTE_PHYS32_ENTRY ELF note enters the
 * kernel at that address in 32-bit protected mode, paging off, with the
 * physical address of a struct hvm_start_info in EBX. QEMU's -kernel (and its
 * microvm), Firecracker and Cloud Hypervisor speak it.
 *
 * Constants only under __ASSEMBLER__ (boot/pvh.S includes them); otherwise
 * only <stdint.h>, so the host tests use the layouts unchanged.
 */
#ifndef BOOT_PVH_H
#define BOOT_PVH_H

/* clang-format off */
#define PVH_ELFNOTE_NAME        "Xen"
#define PVH_ELFNOTE_PHYS32_ENTRY 18         /* XEN_ELFNOTE_PHYS32_ENTRY */
#define PVH_START_MAGIC         0x336ec578u /* hvm_start_info.magic, "xEn3" with bit 7 set */
/* clang-format on */

#ifndef __ASSEMBLER__
#include <stdint.h>

/* All addresses are guest-physical; all fields little-endian. */
struct hvm_start_info {
    uint32_t magic;          /* PVH_START_MAGIC */
    uint32_t version;        /* 0, or 1 when the memory map fields are there */
    uint32_t flags;          /* SIF_* (none used here) */
    uint32_t nr_modules;     /* entries of modlist_paddr */
    uint64_t modlist_paddr;  /* struct hvm_modlist_entry[nr_modules] */
    uint64_t cmdline_paddr;  /* NUL-terminated, 0: none */
    uint64_t rsdp_paddr;     /* the ACPI RSDP, 0: none (then the BIOS areas are searched) */
    uint64_t memmap_paddr;   /* version >= 1: struct hvm_memmap_table_entry[memmap_entries] */
    uint32_t memmap_entries; /* version >= 1 */
    uint32_t reserved;
};
_Static_assert(sizeof(struct hvm_start_info) == 56, "start_info.h");

struct hvm_modlist_entry {
    uint64_t paddr, size;
    uint64_t cmdline_paddr;
    uint64_t reserved;
};
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "start_info.h");

/* type: the e820 types (1 available, 2 reserved, 3 ACPI, 4 NVS, 5 unusable). */
struct hvm_memmap_table_entry {
    uint64_t addr, size;
    uint32_t type;
    uint32_t reserved;
};
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "start_info.h");
#endif

#endif
