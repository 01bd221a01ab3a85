/*
 * Boot information decoding: Multiboot 0.6.96 section 3.3, Multiboot2
 * section 3.6, and PVH's hvm_start_info (boot/pvh.h). The loader's
 * data is trusted only as far as it is checked: every length is bounded, a
 * multiboot2 tag of size < 8 ends the walk, and a PVH address range is read
 * only when it lies wholly below 4 GiB.
 */
#include "arch/x86_64/bootinfo.h"
#include "boot/pvh.h"
#include "boot/multiboot.h"
#include <errno.h>
#include <string.h>

static void add_region(struct boot_info *bi, uint64_t base, uint64_t len, uint32_t type)
{
    if (len == 0)
        return;
    if (bi->n_mem == BOOTINFO_MAX_REGIONS) {
        bi->mem_truncated = true;
        return;
    }
    bi->mem[bi->n_mem].base = base;
    bi->mem[bi->n_mem].len = len;
    bi->mem[bi->n_mem].type = type;
    bi->n_mem++;
}

static void add_module(struct boot_info *bi, uint64_t start, uint64_t end)
{
    if (bi->n_modules < BOOTINFO_MAX_MODULES && end > start) {
        bi->modules[bi->n_modules].start = start;
        bi->modules[bi->n_modules].end = end;
        bi->n_modules++;
    }
}

static const char *ptr32(uint32_t phys)
{
    return (const char *)(uintptr_t)phys;
}

static void parse_mb1(const struct mb1_info *mi, struct boot_info *bi)
{
    bi->multiboot_version = 1;
    bi->info_start = (uintptr_t)mi;
    bi->info_end = (uintptr_t)mi + sizeof(*mi);

    if ((mi->flags & MB1_INFO_CMDLINE) && mi->cmdline)
        strlcpy(bi->cmdline, ptr32(mi->cmdline), sizeof(bi->cmdline));
    if ((mi->flags & MB1_INFO_LOADER_NAME) && mi->boot_loader_name)
        strlcpy(bi->loader_name, ptr32(mi->boot_loader_name), sizeof(bi->loader_name));
    if (mi->flags & MB1_INFO_MODS) {
        const struct mb1_module *m = (const void *)ptr32(mi->mods_addr);
        for (uint32_t i = 0; i < mi->mods_count && i < BOOTINFO_MAX_MODULES; i++)
            add_module(bi, m[i].mod_start, m[i].mod_end);
    }
    if (mi->flags & MB1_INFO_MMAP) {
        /* Each entry's size field does not count itself (3.3). */
        uint32_t off = 0;
        while (off + sizeof(struct mb1_mmap_entry) <= mi->mmap_length) {
            const struct mb1_mmap_entry *e = (const void *)(ptr32(mi->mmap_addr) + off);
            if (e->size < 20)
                break;
            add_region(bi, e->addr, e->len, e->type);
            off += e->size + 4;
        }
    } else if (mi->flags & 1) {
        /* Only the old mem_lower/mem_upper fields (KiB). */
        add_region(bi, 0, (uint64_t)mi->mem_lower * 1024, MB_MEM_AVAILABLE);
        add_region(bi, 0x100000, (uint64_t)mi->mem_upper * 1024, MB_MEM_AVAILABLE);
    }
}

static void parse_mb2(const uint8_t *info, struct boot_info *bi)
{
    uint32_t total = *(const uint32_t *)info;

    bi->multiboot_version = 2;
    bi->info_start = (uintptr_t)info;
    bi->info_end = (uintptr_t)info + total;

    /* Tags start after the 8-byte header and are 8-byte aligned (3.6.1). */
    for (uint32_t off = 8; off + sizeof(struct mb2_tag) <= total;) {
        const struct mb2_tag *tag = (const void *)(info + off);
        if (tag->type == MB2_TAG_END || tag->size < 8 || off + tag->size > total)
            break;
        const char *payload = (const char *)tag + 8;
        uint32_t plen = tag->size - 8;

        switch (tag->type) {
        case MB2_TAG_CMDLINE:
            strlcpy(bi->cmdline, payload, plen + 1 < sizeof(bi->cmdline) ? plen + 1 : sizeof(bi->cmdline));
            break;
        case MB2_TAG_LOADER_NAME:
            strlcpy(bi->loader_name, payload,
                    plen + 1 < sizeof(bi->loader_name) ? plen + 1 : sizeof(bi->loader_name));
            break;
        case MB2_TAG_MODULE: {
            const struct mb2_tag_module *m = (const void *)tag;
            add_module(bi, m->mod_start, m->mod_end);
            break;
        }
        case MB2_TAG_MMAP: {
            const struct mb2_tag_mmap *mm = (const void *)tag;
            if (mm->entry_size < sizeof(struct mb2_mmap_entry))
                break;
            for (uint32_t e = sizeof(*mm); e + mm->entry_size <= tag->size; e += mm->entry_size) {
                const struct mb2_mmap_entry *me = (const void *)((const uint8_t *)tag + e);
                add_region(bi, me->addr, me->len, me->type);
            }
            break;
        }
        case MB2_TAG_ACPI_NEW:
        case MB2_TAG_ACPI_OLD: {
            /* Prefer the ACPI 2.0+ RSDP (it carries the XSDT address). */
            if (bi->has_rsdp && tag->type == MB2_TAG_ACPI_OLD)
                break;
            uint32_t n = plen < sizeof(bi->rsdp) ? plen : sizeof(bi->rsdp);
            memcpy(bi->rsdp, payload, n);
            bi->has_rsdp = n >= 20;
            break;
        }
        default:
            break;
        }
        off += (tag->size + 7) & ~7u;
    }
}

/* True when [phys, phys + len) lies below BOOTINFO_PHYS_LIMIT (no wrap-around). */
static bool phys_range_ok(uint64_t phys, uint64_t len)
{
    return phys != 0 && phys < BOOTINFO_PHYS_LIMIT && len <= BOOTINFO_PHYS_LIMIT - phys;
}

static const void *phys_ptr(uint64_t phys)
{
    return (const void *)(uintptr_t)phys;
}

/* A NUL-terminated string at @phys, at most @size - 1 bytes, never past 4 GiB. */
static bool copy_phys_str(char *dst, size_t size, uint64_t phys)
{
    if (!phys_range_ok(phys, 1))
        return false;
    uint64_t max = BOOTINFO_PHYS_LIMIT - phys;
    const char *src = phys_ptr(phys);
    size_t i = 0;
    while (i + 1 < size && i < max && src[i]) {
        dst[i] = src[i];
        i++;
    }
    dst[i] = '\0';
    return true;
}

static int parse_pvh(const struct hvm_start_info *si, struct boot_info *bi)
{
    if (!phys_range_ok((uintptr_t)si, sizeof(*si)) || si->magic != PVH_START_MAGIC)
        return -EINVAL;
    strlcpy(bi->protocol, "PVH", sizeof(bi->protocol));
    strlcpy(bi->loader_name, "PVH", sizeof(bi->loader_name));
    bi->info_start = (uintptr_t)si;
    bi->info_end = (uintptr_t)si + sizeof(*si);

    if (si->cmdline_paddr && !copy_phys_str(bi->cmdline, sizeof(bi->cmdline), si->cmdline_paddr))
        bi->rejected |= BOOTINFO_REJECT_CMDLINE;

    /* Version 0 has no memory map (Xen's guests asked a hypercall for it). */
    uint64_t mlen = (uint64_t)si->memmap_entries * sizeof(struct hvm_memmap_table_entry);
    if (si->version < 1 || !phys_range_ok(si->memmap_paddr, mlen)) {
        bi->rejected |= BOOTINFO_REJECT_MEMMAP;
    } else {
        const struct hvm_memmap_table_entry *e = phys_ptr(si->memmap_paddr);
        /* add_region() stops storing at BOOTINFO_MAX_REGIONS; stop reading there too. */
        for (uint32_t i = 0; i < si->memmap_entries && !bi->mem_truncated; i++)
            add_region(bi, e[i].addr, e[i].size, e[i].type);
    }

    uint64_t modlen = (uint64_t)si->nr_modules * sizeof(struct hvm_modlist_entry);
    if (si->nr_modules && !phys_range_ok(si->modlist_paddr, modlen)) {
        bi->rejected |= BOOTINFO_REJECT_MODULES;
    } else {
        const struct hvm_modlist_entry *m = phys_ptr(si->modlist_paddr);
        for (uint32_t i = 0; i < si->nr_modules && i < BOOTINFO_MAX_MODULES; i++)
            if (m[i].size <= UINT64_MAX - m[i].paddr)
                add_module(bi, m[i].paddr, m[i].paddr + m[i].size);
    }

    if (si->rsdp_paddr) {
        /* Copy the ACPI 2.0 size; acpi_parse() checks signature and checksums. */
        if (phys_range_ok(si->rsdp_paddr, sizeof(bi->rsdp))) {
            memcpy(bi->rsdp, phys_ptr(si->rsdp_paddr), sizeof(bi->rsdp));
            bi->has_rsdp = true;
        } else {
            bi->rejected |= BOOTINFO_REJECT_RSDP;
        }
    }
    return 0;
}

int bootinfo_parse(uint32_t magic, const void *info, struct boot_info *bi)
{
    memset(bi, 0, sizeof(*bi));
    if (magic == MB1_BOOTLOADER_MAGIC) {
        parse_mb1(info, bi);
        strlcpy(bi->protocol, "multiboot1", sizeof(bi->protocol));
    } else if (magic == MB2_BOOTLOADER_MAGIC) {
        parse_mb2(info, bi);
        strlcpy(bi->protocol, "multiboot2", sizeof(bi->protocol));
    } else if (magic == PVH_START_MAGIC) {
        return parse_pvh(info, bi);
    } else {
        return -EINVAL;
    }
    return 0;
}

const char *bootinfo_mem_type_name(uint32_t type)
{
    switch (type) {
    case MB_MEM_AVAILABLE:
        return "available";
    case MB_MEM_RESERVED:
        return "reserved";
    case MB_MEM_ACPI_RECLAIMABLE:
        return "ACPI reclaimable";
    case MB_MEM_NVS:
        return "ACPI NVS";
    case MB_MEM_BADRAM:
        return "bad RAM";
    default:
        return "unknown";
    }
}
