/*
 * The kernel's page tables (Intel SDM vol. 3, 4.5 "4-level paging"; 4.6 for
 * access rights, 11.12 for PAT/PCD/PWT).
 *
 * boot.S left a temporary map of the first 4 GiB with 2 MiB pages, all
 * writable and executable. paging_init() replaces it with:
 *
 *   0 .. 4 KiB            not present: a NULL dereference faults
 *   4 KiB .. 1 MiB        RW, NX   (BIOS data, EBDA, where ACPI's RSDP may be)
 *   kernel .text          R, X     (includes the multiboot headers)
 *   kernel .rodata/.ksyms R, NX
 *   kernel .data/.bss     RW, NX   except the boot stack's guard page: not present
 *   rest of RAM           RW, NX, 2 MiB pages, identity (virtual == physical)
 *   MMIO window           RW, NX, uncached, at MMIO_BASE and up (map_mmio): 4 KiB
 *                         pages, and 2 MiB / 1 GiB pages (pdpe1gb) for the aligned
 *                         middle of a large region (a huge BAR)
 *
 * So no page is both writable and executable (W^X), and CR0.WP (set in
 * boot.S) makes the kernel itself obey read-only pages.
 */
#include "arch/x86_64/paging.h"
#include "arch/x86_64/bootinfo.h"
#include "arch/x86_64/cpu.h"
#include "boot/multiboot.h"
#include "lib/klog.h"
#include "lib/pmm.h"
#include <string.h>

#define PTE_P    (1ull << 0)  /* present */
#define PTE_W    (1ull << 1)  /* writable */
#define PTE_PWT  (1ull << 3)  /* write-through */
#define PTE_PCD  (1ull << 4)  /* cache disable: with PWT, UC under the default PAT */
#define PTE_PS   (1ull << 7)  /* 2 MiB page (in a page-directory entry) */
#define PTE_NX   (1ull << 63) /* no execute (needs EFER.NXE) */
#define PTE_ADDR 0x000FFFFFFFFFF000ull

#define SIZE_2M    (2ull << 20)
#define SIZE_1G    (1ull << 30)
#define MMIO_BASE  0xFFFF800000000000ull /* PML4 slot 256: the first canonical upper-half address */
#define MMIO_LIMIT 0xFFFF808000000000ull /* 512 GiB of window */

extern const char __text_start[], __text_end[], __rodata_start[], __rodata_end[];
extern const char __data_start[], __kernel_end[], boot_stack_guard[];

static uint64_t *pml4;
static uint64_t nx_bit;
static uint64_t mmio_next = MMIO_BASE;
static uint64_t identity_top;

/* A small cache so mapping the same device range twice reuses the mapping. */
#define MMIO_CACHE 32
static struct {
    uint64_t phys, len, virt;
} mmio_maps[MMIO_CACHE];
static unsigned n_mmio_maps;

/* Counts new tables, for map_mmio's log line. */
static unsigned tables_made;

static uint64_t *new_table(void)
{
    uint64_t phys = pmm_alloc_pages(1);
    if (!phys)
        return NULL;
    uint64_t *t = phys_to_virt(phys);
    memset(t, 0, PAGE_SIZE);
    tables_made++;
    return t;
}

/* The entry for @va at @level (3 = PML4 .. 0 = PT), creating tables on the way. */
static uint64_t *walk(uint64_t va, int level_wanted)
{
    uint64_t *table = pml4;
    for (int level = 3; level > level_wanted; level--) {
        unsigned idx = (va >> (12 + 9 * level)) & 511;
        if (table[idx] & PTE_PS)
            return NULL; /* a large page: no table below */
        if (!(table[idx] & PTE_P)) {
            uint64_t *t = new_table();
            if (!t)
                return NULL;
            /* Upper levels permissive; the leaf entry decides the rights. */
            table[idx] = virt_to_phys(t) | PTE_P | PTE_W;
        }
        table = phys_to_virt(table[idx] & PTE_ADDR);
    }
    return &table[(va >> (12 + 9 * level_wanted)) & 511];
}

/* The leaf entry mapping @va and its page size, without creating tables; NULL if unmapped. */
static const uint64_t *lookup(uint64_t va, uint64_t *page_size)
{
    const uint64_t *table = pml4;
    for (int level = 3; level >= 0; level--) {
        const uint64_t *e = &table[(va >> (12 + 9 * level)) & 511];
        if (!(*e & PTE_P))
            return NULL;
        if (level == 0 || (level <= 2 && (*e & PTE_PS))) {
            *page_size = 1ull << (12 + 9 * level);
            return e;
        }
        table = phys_to_virt(*e & PTE_ADDR);
    }
    return NULL;
}

static uint64_t kernel_page_flags(uint64_t a)
{
    uint64_t text = (uintptr_t)__text_start, text_end = (uintptr_t)__text_end;
    uint64_t ro = (uintptr_t)__rodata_start, ro_end = (uintptr_t)__rodata_end;
    uint64_t data = (uintptr_t)__data_start, end = (uintptr_t)__kernel_end;

    if (a == 0 || a == (uintptr_t)boot_stack_guard)
        return 0; /* not present */
    if (a >= text && a < text_end)
        return PTE_P;
    if (a >= ro && a < ro_end)
        return PTE_P | nx_bit;
    if (a >= data && a < end)
        return PTE_P | PTE_W | nx_bit;
    return PTE_P | PTE_W | nx_bit;
}

static uint64_t efer_read(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0xC0000080));
    return ((uint64_t)hi << 32) | lo;
}

void paging_init(const struct boot_info *bi)
{
    nx_bit = (efer_read() & (1 << 11)) ? PTE_NX : 0;
    if (!nx_bit)
        klog(LOG_WARN, "paging: CPU has no NX bit: data pages stay executable");

    /* Identity-map everything the memory map calls RAM or ACPI. */
    for (unsigned i = 0; i < bi->n_mem; i++) {
        const struct boot_region *r = &bi->mem[i];
        if (r->type == MB_MEM_AVAILABLE || r->type == MB_MEM_ACPI_RECLAIMABLE || r->type == MB_MEM_NVS)
            if (r->base + r->len > identity_top)
                identity_top = r->base + r->len;
    }
    uint64_t kernel_top = ((uintptr_t)__kernel_end + SIZE_2M - 1) & ~(SIZE_2M - 1);
    identity_top = (identity_top + SIZE_2M - 1) & ~(SIZE_2M - 1);
    if (identity_top < kernel_top)
        identity_top = kernel_top;

    pml4 = new_table();
    if (!pml4)
        goto oom;
    /* The kernel's own 2 MiB blocks with 4 KiB pages, to set rights per section. */
    for (uint64_t a = 0; a < kernel_top; a += PAGE_SIZE) {
        uint64_t *pte = walk(a, 0);
        if (!pte)
            goto oom;
        uint64_t fl = kernel_page_flags(a);
        *pte = fl ? (a | fl) : 0;
    }
    for (uint64_t a = kernel_top; a < identity_top; a += SIZE_2M) {
        uint64_t *pde = walk(a, 1);
        if (!pde)
            goto oom;
        *pde = a | PTE_P | PTE_W | PTE_PS | nx_bit;
    }
    __asm__ volatile("mov %0, %%cr3" : : "r"(virt_to_phys(pml4)) : "memory");
    klog(LOG_INFO, "paging: identity map 0-%#llx (W^X kernel, NX %s), null page and stack guard unmapped",
         (unsigned long long)identity_top, nx_bit ? "on" : "off");
    return;
oom:
    klog(LOG_ERR, "paging: out of memory for page tables");
    for (;;)
        __asm__ volatile("cli; hlt");
}

uint64_t virt_to_phys(const void *v)
{
    uint64_t a = (uint64_t)(uintptr_t)v;
    if (a >= MMIO_BASE && a < MMIO_LIMIT) {
        uint64_t size;
        const uint64_t *e = lookup(a, &size);
        /* PTE_ADDR & ~(size - 1) also drops a large page's PAT bit (12). */
        return e ? ((*e & PTE_ADDR & ~(size - 1)) | (a & (size - 1))) : 0;
    }
    return a;
}

void *phys_to_virt(uint64_t phys)
{
    return (void *)(uintptr_t)phys;
}

void *map_mmio(uint64_t phys, size_t len)
{
    if (len == 0)
        return NULL;
    uint64_t start = phys & ~(PAGE_SIZE - 1);
    uint64_t end = (phys + len + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);

    for (unsigned i = 0; i < n_mmio_maps; i++)
        if (start >= mmio_maps[i].phys && end <= mmio_maps[i].phys + mmio_maps[i].len)
            return (void *)(uintptr_t)(mmio_maps[i].virt + (phys - mmio_maps[i].phys));

    if (end < start || end - start > MMIO_LIMIT - mmio_next) {
        klog(LOG_ERR, "paging: no virtual space to map %zu bytes of MMIO at %#llx", len,
             (unsigned long long)phys);
        return NULL;
    }
    /*
     * Large pages need the virtual address congruent to the physical one
     * modulo the page size: when the region holds an aligned 2 MiB (1 GiB)
     * stretch, the virtual start is moved up to match. The window has room
     * for that (512 GiB). Small regions keep 4 KiB pages, as before.
     */
    bool gb = cpu_get_info()->pdpe1gb;
    uint64_t align = 0;
    if (gb && ((start + SIZE_1G - 1) & ~(SIZE_1G - 1)) + SIZE_1G <= end)
        align = SIZE_1G;
    else if (((start + SIZE_2M - 1) & ~(SIZE_2M - 1)) + SIZE_2M <= end)
        align = SIZE_2M;
    uint64_t va = mmio_next;
    if (align)
        va += ((start & (align - 1)) - (va & (align - 1))) & (align - 1);
    if (va - mmio_next > MMIO_LIMIT - mmio_next - (end - start)) {
        klog(LOG_ERR, "paging: no virtual space to map %zu bytes of MMIO at %#llx", len,
             (unsigned long long)phys);
        return NULL;
    }
    /* PCD|PWT: PAT entry 3, UC under the power-on PAT (bit 12 of a large page's entry, PAT, stays 0). */
    const uint64_t fl = PTE_P | PTE_W | PTE_PCD | PTE_PWT | nx_bit;
    unsigned n4k = 0, n2m = 0, n1g = 0, tables_before = tables_made;
    for (uint64_t off = 0; off < end - start;) {
        uint64_t pa = start + off, left = end - pa, *e;
        int level = 0;
        if (align && gb && (pa & (SIZE_1G - 1)) == 0 && left >= SIZE_1G)
            level = 2;
        else if (align && (pa & (SIZE_2M - 1)) == 0 && left >= SIZE_2M)
            level = 1;
        e = walk(va + off, level);
        if (e && level && (*e & PTE_P))
            e = NULL; /* a table is already there: never expected in a fresh stretch */
        if (!e) {
            klog(LOG_ERR, "paging: out of memory mapping MMIO at %#llx", (unsigned long long)phys);
            return NULL;
        }
        *e = pa | fl | (level ? PTE_PS : 0);
        __asm__ volatile("invlpg (%0)" : : "r"(va + off) : "memory");
        off += 1ull << (12 + 9 * level);
        if (level == 2)
            n1g++;
        else if (level == 1)
            n2m++;
        else
            n4k++;
    }
    if (n2m || n1g)
        klog(LOG_INFO,
             "paging: MMIO %#llx-%#llx at %#llx: %u x 1 GiB, %u x 2 MiB, %u x 4 KiB pages, %u page-table "
             "pages",
             (unsigned long long)start, (unsigned long long)end - 1, (unsigned long long)va, n1g, n2m, n4k,
             tables_made - tables_before);
    mmio_next = va;
    mmio_next += end - start + PAGE_SIZE; /* an unmapped page between mappings */
    if (n_mmio_maps < MMIO_CACHE) {
        mmio_maps[n_mmio_maps].phys = start;
        mmio_maps[n_mmio_maps].len = end - start;
        mmio_maps[n_mmio_maps].virt = va;
        n_mmio_maps++;
    }
    return (void *)(uintptr_t)(va + (phys - start));
}
