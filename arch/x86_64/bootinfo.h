/*
 * What the boot loader told us, copied out of the multiboot structures at the
 * very start (before the page-frame allocator may reuse their memory) and
 * normalised so the rest of the kernel does not care which multiboot version,
 * or which loader (QEMU's -kernel, GRUB on BIOS, GRUB on UEFI), started it.
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

struct boot_info {
    int multiboot_version; /* 1 or 2 */
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
 * @magic: EAX at entry (0x2BADB002 or 0x36D76289).
 * @info: EBX at entry: a physical address below 4 GiB (identity-mapped).
 * Return: 0, or -EINVAL when @magic is neither multiboot version's.
 */
int bootinfo_parse(uint32_t magic, const void *info, struct boot_info *bi);

/** bootinfo_mem_type_name() - "available", "reserved", "ACPI", ... */
const char *bootinfo_mem_type_name(uint32_t type);

#endif
