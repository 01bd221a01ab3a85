/*
 * Multiboot 0.6.96 ("multiboot1") and Multiboot2 (version 2.0) constants and
 * the parts of the boot information structures the kernel reads.
 * Specs: https://www.gnu.org/software/grub/manual/multiboot/ and .../multiboot2/
 * Included by boot.S (constants only, under __ASSEMBLER__) and by C code.
 */
#ifndef BOOT_MULTIBOOT_H
#define BOOT_MULTIBOOT_H

/* clang-format off */
#define MB1_HEADER_MAGIC 0x1BADB002
#define MB1_BOOTLOADER_MAGIC 0x2BADB002
#define MB1_HEADER_MEMINFO (1 << 1)    /* ask for mem_* and the memory map */
#define MB1_HEADER_AOUT_KLUDGE (1 << 16) /* load by the addresses in the header */

#define MB2_HEADER_MAGIC 0xE85250D6
#define MB2_BOOTLOADER_MAGIC 0x36D76289
#define MB2_ARCH_I386 0
#define MB2_HEADER_TAG_END 0
#define MB2_HEADER_TAG_INFO_REQ 1
#define MB2_HEADER_TAG_OPTIONAL 1

/* Boot information tags (multiboot2 3.6). */
#define MB2_TAG_END 0
#define MB2_TAG_CMDLINE 1
#define MB2_TAG_LOADER_NAME 2
#define MB2_TAG_MODULE 3
#define MB2_TAG_BASIC_MEMINFO 4
#define MB2_TAG_MMAP 6
#define MB2_TAG_ACPI_OLD 14
#define MB2_TAG_ACPI_NEW 15

/* Memory map entry types, shared by both versions (they are the e820 types). */
#define MB_MEM_AVAILABLE 1
#define MB_MEM_RESERVED 2
#define MB_MEM_ACPI_RECLAIMABLE 3
#define MB_MEM_NVS 4
#define MB_MEM_BADRAM 5

/* clang-format on */
#ifndef __ASSEMBLER__
#include <stdint.h>

/* Multiboot1 boot information (3.3), the fields we use. */
struct mb1_info {
    uint32_t flags;
    uint32_t mem_lower, mem_upper;   /* flags bit 0 */
    uint32_t boot_device;            /* bit 1 */
    uint32_t cmdline;                /* bit 2 */
    uint32_t mods_count, mods_addr;  /* bit 3 */
    uint32_t syms[4];                /* bit 4 or 5 */
    uint32_t mmap_length, mmap_addr; /* bit 6 */
    uint32_t drives_length, drives_addr;
    uint32_t config_table;
    uint32_t boot_loader_name; /* bit 9 */
} __attribute__((packed));

#define MB1_INFO_CMDLINE     (1 << 2)
#define MB1_INFO_MODS        (1 << 3)
#define MB1_INFO_MMAP        (1 << 6)
#define MB1_INFO_LOADER_NAME (1 << 9)

/* Multiboot1 memory map entry: `size` does not count itself. */
struct mb1_mmap_entry {
    uint32_t size;
    uint64_t addr;
    uint64_t len;
    uint32_t type;
} __attribute__((packed));

struct mb1_module {
    uint32_t mod_start, mod_end, string, reserved;
};

struct mb2_tag {
    uint32_t type;
    uint32_t size;
};

struct mb2_tag_mmap {
    uint32_t type, size;
    uint32_t entry_size, entry_version;
    /* entries follow */
};

struct mb2_mmap_entry {
    uint64_t addr;
    uint64_t len;
    uint32_t type;
    uint32_t reserved;
};

struct mb2_tag_module {
    uint32_t type, size;
    uint32_t mod_start, mod_end;
    /* NUL-terminated string follows */
};
#endif

#endif
