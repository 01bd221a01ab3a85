/*
 * What the boot loader told us, copied out of the multiboot structures or
 * PVH's hvm_start_info at the very start (before the page-frame allocator may
 * reuse their memory) and normalised so the rest of the kernel does not care
 * which protocol (multiboot1, multiboot2, PVH) or which loader (QEMU's
 * -kernel, GRUB on BIOS or UEFI, Firecracker, Cloud Hypervisor) started it.
 */
#ifndef ARCH_X86_64_BOOTINFO_H
#define ARCH_X86_64_BOOTINFO_H

#include <stdbool.h>
#include <stdint.h>

#define BOOTINFO_MAX_REGIONS 128
#define BOOTINFO_MAX_MODULES 8

struct boot_region {
    uint64_t base, len;
    uint32_t type; /* MB_MEM_* (the e820 types) */
};

/* What bootinfo_parse() refused to read (struct boot_info.rejected). */
#define BOOTINFO_REJECT_CMDLINE (1u << 0) /* outside the identity-mapped 4 GiB */
#define BOOTINFO_REJECT_MEMMAP  (1u << 1) /* PVH: missing (version 0) or outside 4 GiB */
#define BOOTINFO_REJECT_MODULES (1u << 2)
#define BOOTINFO_REJECT_RSDP    (1u << 3)

/* Loader data is read only below this address: the boot page tables
 * (boot/boot.S) identity-map [0, 4 GiB) when bootinfo_parse() runs. */
#define BOOTINFO_PHYS_LIMIT 0x100000000ull

struct boot_info {
    int multiboot_version; /* 1 or 2; 0 for PVH */
    char protocol[16];     /* "multiboot1", "multiboot2" or "PVH" */
    uint32_t rejected;     /* BOOTINFO_REJECT_* */
    char cmdline[1024];
    char loader_name[64];
    struct boot_region mem[BOOTINFO_MAX_REGIONS];
    unsigned n_mem;
    bool mem_truncated;
    struct {
        uint64_t start, end;
    } modules[BOOTINFO_MAX_MODULES];
    unsigned n_modules;
    /* A copy of the RSDP the loader found (multiboot2 ACPI tags), if any. */
    uint8_t rsdp[36];
    bool has_rsdp;
    /* Where the info structure itself lay, to keep it out of the allocator. */
    uint64_t info_start, info_end;
};

/**
 * bootinfo_parse() - decode the boot loader's information.
 * @magic: EAX at entry (0x2BADB002 or 0x36D76289), or PVH_START_MAGIC, which
 *         the PVH entry (boot/pvh.S) puts there itself.
 * @info: EBX at entry: a physical address below 4 GiB (identity-mapped).
 * PVH addresses are 64-bit: anything not wholly below BOOTINFO_PHYS_LIMIT is
 * not read and is flagged in @bi->rejected.
 * Return: 0, or -EINVAL when @magic is none of these or the PVH start info
 * does not carry its own magic.
 */
int bootinfo_parse(uint32_t magic, const void *info, struct boot_info *bi);

/** bootinfo_mem_type_name() - "available", "reserved", "ACPI", ... */
const char *bootinfo_mem_type_name(uint32_t type);

#endif
