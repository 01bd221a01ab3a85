/*
 * Host tests of the boot-time parsers: the kernel command line (lib/cmdline.c)
 * and the multiboot and PVH information decoder (arch/x86_64/bootinfo.c), fed
 * crafted structures, including malformed ones a broken loader could hand us.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "arch/x86_64/bootinfo.h"
#include "boot/pvh.h"
#include "boot/multiboot.h"
#include "lib/cmdline.h"

static void test_cmdline_keys_and_flags(void **state)
{
    (void)state;
    assert_int_equal(cmdline_parse("/boot/kernel.elf ip=10.0.0.2/24 gw=10.0.0.1 verbose log=debug"), 4);
    assert_string_equal(cmdline_get("ip"), "10.0.0.2/24");
    assert_string_equal(cmdline_get("gw"), "10.0.0.1");
    assert_string_equal(cmdline_get("verbose"), "");
    assert_null(cmdline_get("/boot/kernel.elf"));
    assert_null(cmdline_get("missing"));
    assert_string_equal(cmdline_raw(), "/boot/kernel.elf ip=10.0.0.2/24 gw=10.0.0.1 verbose log=debug");
}

static void test_cmdline_last_wins_and_numbers(void **state)
{
    (void)state;
    cmdline_parse("  port=80\tport=0x1f90  bad=12x   ");
    assert_string_equal(cmdline_get("port"), "0x1f90");
    assert_int_equal(cmdline_get_u64("port", 1), 8080);
    assert_int_equal(cmdline_get_u64("bad", 7), 7);
    assert_int_equal(cmdline_get_u64("none", 9), 9);
}

static void test_cmdline_lists(void **state)
{
    (void)state;
    cmdline_parse("trace=virtq,net apps=http");
    assert_true(cmdline_has_item("trace", "virtq"));
    assert_true(cmdline_has_item("trace", "net"));
    assert_false(cmdline_has_item("trace", "irq"));
    assert_false(cmdline_has_item("trace", "vir"));
    assert_true(cmdline_has_item("apps", "http"));
    assert_false(cmdline_has_item("nothing", "http"));
}

static void test_cmdline_overflow(void **state)
{
    (void)state;
    char line[4000];
    size_t n = 0;
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(line + n, sizeof(line) - n, "k%d=v ", i);
    /* Bounded: at most CMDLINE_MAX_OPTS options, from at most CMDLINE_MAX bytes. */
    assert_int_equal(cmdline_parse(line), CMDLINE_MAX_OPTS);
    assert_string_equal(cmdline_get("k0"), "v");
    assert_null(cmdline_get("k199"));
    assert_int_equal(cmdline_parse(NULL), 0);
}

/* ---- multiboot2 ---- */

struct mb2_builder {
    uint8_t buf[4096] __attribute__((aligned(8)));
    uint32_t len;
};

static void mb2_begin(struct mb2_builder *b)
{
    memset(b, 0, sizeof(*b));
    b->len = 8;
}

static void *mb2_tag(struct mb2_builder *b, uint32_t type, uint32_t size)
{
    uint8_t *t = b->buf + b->len;
    memcpy(t, &type, 4);
    memcpy(t + 4, &size, 4);
    b->len += (size + 7) & ~7u;
    return t;
}

static void mb2_end(struct mb2_builder *b)
{
    mb2_tag(b, MB2_TAG_END, 8);
    memcpy(b->buf, &b->len, 4);
}

static void test_mb2_full(void **state)
{
    (void)state;
    static struct mb2_builder b;
    static struct boot_info bi;
    mb2_begin(&b);
    char *cmd = mb2_tag(&b, MB2_TAG_CMDLINE, 8 + 12);
    memcpy(cmd + 8, "log=debug x", 12);
    char *name = mb2_tag(&b, MB2_TAG_LOADER_NAME, 8 + 5);
    memcpy(name + 8, "GRUB", 5);
    struct mb2_tag_mmap *mm = mb2_tag(&b, MB2_TAG_MMAP, 16 + 3 * 24);
    mm->entry_size = 24;
    struct mb2_mmap_entry *e = (void *)(mm + 1);
    e[0] = (struct mb2_mmap_entry){0, 0x9fc00, MB_MEM_AVAILABLE, 0};
    e[1] = (struct mb2_mmap_entry){0x100000, 0x7f00000, MB_MEM_AVAILABLE, 0};
    e[2] = (struct mb2_mmap_entry){0x8000000, 0x10000, MB_MEM_ACPI_RECLAIMABLE, 0};
    uint8_t *old = mb2_tag(&b, MB2_TAG_ACPI_OLD, 8 + 20);
    memcpy(old + 8, "RSD PTR old", 11);
    uint8_t *newr = mb2_tag(&b, MB2_TAG_ACPI_NEW, 8 + 36);
    memcpy(newr + 8, "RSD PTR new", 11);
    mb2_end(&b);

    assert_int_equal(bootinfo_parse(MB2_BOOTLOADER_MAGIC, b.buf, &bi), 0);
    assert_int_equal(bi.multiboot_version, 2);
    assert_string_equal(bi.cmdline, "log=debug x");
    assert_string_equal(bi.loader_name, "GRUB");
    assert_int_equal(bi.n_mem, 3);
    assert_int_equal(bi.mem[1].base, 0x100000);
    assert_int_equal(bi.mem[2].type, MB_MEM_ACPI_RECLAIMABLE);
    /* The ACPI 2.0 RSDP wins over the 1.0 one. */
    assert_true(bi.has_rsdp);
    assert_memory_equal(bi.rsdp, "RSD PTR new", 11);
    assert_int_equal(bi.info_end - bi.info_start, b.len);
}

static void test_mb2_malformed_tags_stop_the_walk(void **state)
{
    (void)state;
    static struct mb2_builder b;
    static struct boot_info bi;

    /* A tag of size 0 would loop forever if followed. */
    mb2_begin(&b);
    ((char *)mb2_tag(&b, MB2_TAG_CMDLINE, 8 + 2))[8] = 'a';
    uint8_t *zero = b.buf + b.len;
    b.len += 8;
    memset(zero, 0, 8);
    zero[0] = MB2_TAG_LOADER_NAME;
    mb2_end(&b);
    assert_int_equal(bootinfo_parse(MB2_BOOTLOADER_MAGIC, b.buf, &bi), 0);
    assert_string_equal(bi.cmdline, "a");
    assert_string_equal(bi.loader_name, "");

    /* A tag running past total_size is not read. Past the end lie bytes that
     * would be valid entries (non-zero length: zero-length ones are dropped
     * anyway), so a walk that trusted the tag's size would count them. */
    mb2_begin(&b);
    struct mb2_tag_mmap *mm = mb2_tag(&b, MB2_TAG_MMAP, 16 + 24);
    mm->entry_size = 24;
    mm->size = 16 + 4 * 24; /* lies: three more entries than the info holds */
    struct mb2_mmap_entry *in = (void *)(mm + 1);
    *in = (struct mb2_mmap_entry){0x100000, 0x100000, MB_MEM_AVAILABLE, 0};
    mb2_end(&b);
    for (int i = 0; i < 4; i++) /* after the end tag, outside total_size */
        memcpy(b.buf + b.len + 24u * i,
               &(struct mb2_mmap_entry){0x200000u * (i + 1), 0x1000, MB_MEM_AVAILABLE, 0}, 24);
    assert_int_equal(bootinfo_parse(MB2_BOOTLOADER_MAGIC, b.buf, &bi), 0);
    assert_int_equal(bi.n_mem, 0);
    memset(b.buf + b.len, 0, 4 * 24);

    /* An entry size smaller than an entry is refused. */
    mb2_begin(&b);
    mm = mb2_tag(&b, MB2_TAG_MMAP, 16 + 24);
    mm->entry_size = 4;
    mb2_end(&b);
    assert_int_equal(bootinfo_parse(MB2_BOOTLOADER_MAGIC, b.buf, &bi), 0);
    assert_int_equal(bi.n_mem, 0);
}

static void test_mb2_long_cmdline_truncated(void **state)
{
    (void)state;
    static struct mb2_builder b;
    static struct boot_info bi;
    mb2_begin(&b);
    char *cmd = mb2_tag(&b, MB2_TAG_CMDLINE, 8 + 2000);
    memset(cmd + 8, 'x', 1999);
    cmd[8 + 1999] = '\0';
    mb2_end(&b);
    assert_int_equal(bootinfo_parse(MB2_BOOTLOADER_MAGIC, b.buf, &bi), 0);
    assert_int_equal(strlen(bi.cmdline), sizeof(bi.cmdline) - 1);
}

/* ---- multiboot1 ---- */

/* The loader's structures hold 32-bit physical addresses: the test data must
 * sit below 4 GiB, which MAP_32BIT gives (below 2 GiB). */
static uint8_t *low_mem(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    assert_true(p != MAP_FAILED);
    assert_true((uintptr_t)p + len <= 0xFFFFFFFFu);
    return p;
}

static uint32_t low_addr(const void *p)
{
    return (uint32_t)(uintptr_t)p;
}

static void put_mb1_entry(uint8_t *at, uint32_t size, uint64_t addr, uint64_t len, uint32_t type)
{
    struct mb1_mmap_entry e = {size, addr, len, type};
    memcpy(at, &e, sizeof(e));
}

static void test_mb1_full(void **state)
{
    (void)state;
    static struct boot_info bi;
    uint8_t *mem = low_mem(4096);
    struct mb1_info *mi = (void *)mem;
    char *cmd = (char *)mem + 256, *name = (char *)mem + 512;
    struct mb1_module *mods = (void *)(mem + 768);
    uint8_t *map = mem + 1024;

    memset(mem, 0, 4096);
    strcpy(cmd, "ip=10.0.0.2/24 log=debug");
    strcpy(name, "GRUB 2.06");
    mods[0] = (struct mb1_module){0x200000, 0x201000, 0, 0};
    mods[1] = (struct mb1_module){0x300000, 0x300000, 0, 0}; /* empty: dropped */
    /* Entries of size 20 (the minimum) and 24 (an extra field the walk must step over). */
    put_mb1_entry(map, 20, 0, 0x9fc00, MB_MEM_AVAILABLE);
    put_mb1_entry(map + 24, 24, 0x100000, 0x7ee0000, MB_MEM_AVAILABLE);
    put_mb1_entry(map + 24 + 28, 20, 0x7fe0000, 0x20000, MB_MEM_ACPI_RECLAIMABLE);
    put_mb1_entry(map + 24 + 28 + 24, 20, 0xfffc0000, 0, MB_MEM_RESERVED); /* zero length: dropped */
    mi->flags = 1 | MB1_INFO_CMDLINE | MB1_INFO_MODS | MB1_INFO_MMAP | MB1_INFO_LOADER_NAME;
    mi->mem_lower = 639; /* ignored when the map is there */
    mi->mem_upper = 1;
    mi->cmdline = low_addr(cmd);
    mi->boot_loader_name = low_addr(name);
    mi->mods_count = 2;
    mi->mods_addr = low_addr(mods);
    mi->mmap_addr = low_addr(map);
    mi->mmap_length = 24 + 28 + 24 + 24;

    assert_int_equal(bootinfo_parse(MB1_BOOTLOADER_MAGIC, mi, &bi), 0);
    assert_int_equal(bi.multiboot_version, 1);
    assert_string_equal(bi.protocol, "multiboot1");
    assert_string_equal(bi.cmdline, "ip=10.0.0.2/24 log=debug");
    assert_string_equal(bi.loader_name, "GRUB 2.06");
    assert_int_equal(bi.n_modules, 1);
    assert_int_equal(bi.modules[0].start, 0x200000);
    assert_int_equal(bi.modules[0].end, 0x201000);
    assert_int_equal(bi.n_mem, 3);
    assert_int_equal(bi.mem[0].len, 0x9fc00);
    assert_int_equal(bi.mem[1].base, 0x100000);
    assert_int_equal(bi.mem[1].len, 0x7ee0000);
    assert_int_equal(bi.mem[2].base, 0x7fe0000);
    assert_int_equal(bi.mem[2].type, MB_MEM_ACPI_RECLAIMABLE);

    /* A map length that ends inside an entry: that entry is not read. */
    mi->mmap_length = 24 + 28 + 10;
    assert_int_equal(bootinfo_parse(MB1_BOOTLOADER_MAGIC, mi, &bi), 0);
    assert_int_equal(bi.n_mem, 2);

    /* An entry whose size field is too small ends the walk (it would not advance sanely). */
    put_mb1_entry(map + 24, 4, 0x100000, 0x7ee0000, MB_MEM_AVAILABLE);
    mi->mmap_length = 24 + 28 + 24;
    assert_int_equal(bootinfo_parse(MB1_BOOTLOADER_MAGIC, mi, &bi), 0);
    assert_int_equal(bi.n_mem, 1);
    munmap(mem, 4096);
}

static void test_mb1_mem_fields_only(void **state)
{
    (void)state;
    static struct boot_info bi;
    /* Without a map (flags bit 6 clear) only mem_lower/mem_upper (KiB) describe memory. */
    struct mb1_info mi;
    memset(&mi, 0, sizeof(mi));
    mi.flags = 1;
    mi.mem_lower = 639;
    mi.mem_upper = 130048;
    assert_int_equal(bootinfo_parse(MB1_BOOTLOADER_MAGIC, &mi, &bi), 0);
    assert_int_equal(bi.multiboot_version, 1);
    assert_int_equal(bi.n_mem, 2);
    assert_int_equal(bi.mem[0].len, 639 * 1024);
    assert_int_equal(bi.mem[1].base, 0x100000);
    assert_int_equal(bi.mem[1].len, 130048ull * 1024);
}

/* ---- PVH (hvm_start_info) ---- */

struct pvh_fixture {
    uint8_t *mem;
    struct hvm_start_info *si;
    struct hvm_memmap_table_entry *map;
    struct hvm_modlist_entry *mods;
    char *cmd;
    uint8_t *rsdp;
};

/* What QEMU hands a PVH kernel: version 1, a command line, a map, an RSDP. */
static void pvh_setup(struct pvh_fixture *f)
{
    f->mem = low_mem(4096);
    memset(f->mem, 0, 4096);
    f->si = (void *)f->mem;
    f->cmd = (char *)f->mem + 128;
    f->mods = (void *)(f->mem + 512);
    f->map = (void *)(f->mem + 1024);
    f->rsdp = f->mem + 3072;
    strcpy(f->cmd, "ip=10.0.0.2/24 log=debug");
    f->map[0] = (struct hvm_memmap_table_entry){0, 0x9fc00, MB_MEM_AVAILABLE, 0};
    f->map[1] = (struct hvm_memmap_table_entry){0x100000, 0xff00000, MB_MEM_AVAILABLE, 0};
    f->map[2] = (struct hvm_memmap_table_entry){0xfeffc000, 0x4000, MB_MEM_RESERVED, 0};
    f->mods[0] = (struct hvm_modlist_entry){0x2000000, 0x1000, 0, 0};
    memcpy(f->rsdp, "RSD PTR ", 8);
    f->si->magic = PVH_START_MAGIC;
    f->si->version = 1;
    f->si->cmdline_paddr = (uintptr_t)f->cmd;
    f->si->memmap_paddr = (uintptr_t)f->map;
    f->si->memmap_entries = 3;
    f->si->modlist_paddr = (uintptr_t)f->mods;
    f->si->nr_modules = 1;
    f->si->rsdp_paddr = (uintptr_t)f->rsdp;
}

static void test_pvh_full(void **state)
{
    (void)state;
    static struct boot_info bi;
    struct pvh_fixture f;
    pvh_setup(&f);
    assert_int_equal(bootinfo_parse(PVH_START_MAGIC, f.si, &bi), 0);
    assert_string_equal(bi.protocol, "PVH");
    assert_string_equal(bi.loader_name, "PVH");
    assert_int_equal(bi.multiboot_version, 0);
    assert_int_equal(bi.rejected, 0);
    assert_string_equal(bi.cmdline, "ip=10.0.0.2/24 log=debug");
    assert_int_equal(bi.n_mem, 3);
    assert_int_equal(bi.mem[1].base, 0x100000);
    assert_int_equal(bi.mem[1].len, 0xff00000);
    assert_int_equal(bi.mem[2].type, MB_MEM_RESERVED);
    assert_int_equal(bi.n_modules, 1);
    assert_int_equal(bi.modules[0].start, 0x2000000);
    assert_int_equal(bi.modules[0].end, 0x2001000);
    assert_true(bi.has_rsdp);
    assert_memory_equal(bi.rsdp, "RSD PTR ", 8);
    assert_int_equal(bi.info_start, (uintptr_t)f.si);
    assert_int_equal(bi.info_end, (uintptr_t)f.si + sizeof(*f.si));
    munmap(f.mem, 4096);
}

static void test_pvh_bad_magic(void **state)
{
    (void)state;
    static struct boot_info bi;
    struct pvh_fixture f;
    pvh_setup(&f);
    /* EAX said PVH but the structure is not a start info: refused, nothing read. */
    f.si->magic = MB2_BOOTLOADER_MAGIC;
    assert_int_equal(bootinfo_parse(PVH_START_MAGIC, f.si, &bi), -22);
    assert_int_equal(bi.n_mem, 0);
    assert_string_equal(bi.cmdline, "");
    munmap(f.mem, 4096);
}

static void test_pvh_version0_has_no_map(void **state)
{
    (void)state;
    static struct boot_info bi;
    struct pvh_fixture f;
    pvh_setup(&f);
    /* memmap_paddr/entries exist only from version 1: in version 0 they are not there to read. */
    f.si->version = 0;
    assert_int_equal(bootinfo_parse(PVH_START_MAGIC, f.si, &bi), 0);
    assert_int_equal(bi.n_mem, 0);
    assert_true(bi.rejected & BOOTINFO_REJECT_MEMMAP);
    assert_string_equal(bi.cmdline, "ip=10.0.0.2/24 log=debug");
    munmap(f.mem, 4096);
}

static void test_pvh_out_of_range(void **state)
{
    (void)state;
    static struct boot_info bi;
    struct pvh_fixture f;
    pvh_setup(&f);
    /* Each of these would read outside the identity-mapped 4 GiB (or wrap
     * around): none is dereferenced (an access would fault under ASan/SEGV). */
    const uint64_t bad_maps[][2] = {
        {0x100000000ull, 1},             /* starts at 4 GiB */
        {0xfffffff0ull, 2},              /* starts below, ends above */
        {0xfffffffffffffff0ull, 1},      /* wraps around 2^64 */
        {(uintptr_t)f.map, 0xffffffffu}, /* ~96 GiB of entries from a sane address */
    };
    for (unsigned i = 0; i < sizeof(bad_maps) / sizeof(bad_maps[0]); i++) {
        f.si->memmap_paddr = bad_maps[i][0];
        f.si->memmap_entries = (uint32_t)bad_maps[i][1];
        assert_int_equal(bootinfo_parse(PVH_START_MAGIC, f.si, &bi), 0);
        assert_int_equal(bi.n_mem, 0);
        assert_true(bi.rejected & BOOTINFO_REJECT_MEMMAP);
    }
    f.si->cmdline_paddr = 0x100000000ull;
    f.si->rsdp_paddr = 0xffffffe0ull; /* 36 bytes would cross 4 GiB */
    f.si->modlist_paddr = 0xfffffffffffffff0ull;
    assert_int_equal(bootinfo_parse(PVH_START_MAGIC, f.si, &bi), 0);
    assert_int_equal(bi.rejected, BOOTINFO_REJECT_CMDLINE | BOOTINFO_REJECT_MEMMAP | BOOTINFO_REJECT_MODULES |
                                      BOOTINFO_REJECT_RSDP);
    assert_string_equal(bi.cmdline, "");
    assert_false(bi.has_rsdp);
    assert_int_equal(bi.n_modules, 0);
    munmap(f.mem, 4096);
}

static void test_pvh_long_map_and_cmdline_bounded(void **state)
{
    (void)state;
    static struct boot_info bi;
    size_t n = BOOTINFO_MAX_REGIONS + 40, len = 8192 + n * sizeof(struct hvm_memmap_table_entry);
    uint8_t *mem = low_mem(len);
    memset(mem, 0, len);
    struct hvm_start_info *si = (void *)mem;
    char *cmd = (char *)mem + 64;
    struct hvm_memmap_table_entry *map = (void *)(mem + 8192);
    memset(cmd, 'a', 4000); /* longer than bi.cmdline, NUL-terminated by the memset(0) after it */
    for (size_t i = 0; i < n; i++)
        map[i] = (struct hvm_memmap_table_entry){0x100000 * (i + 1), 0x1000, MB_MEM_AVAILABLE, 0};
    si->magic = PVH_START_MAGIC;
    si->version = 1;
    si->cmdline_paddr = (uintptr_t)cmd;
    si->memmap_paddr = (uintptr_t)map;
    si->memmap_entries = (uint32_t)n;
    assert_int_equal(bootinfo_parse(PVH_START_MAGIC, si, &bi), 0);
    assert_int_equal(strlen(bi.cmdline), sizeof(bi.cmdline) - 1);
    assert_int_equal(bi.n_mem, BOOTINFO_MAX_REGIONS);
    assert_true(bi.mem_truncated);
    assert_int_equal(bi.mem[BOOTINFO_MAX_REGIONS - 1].base, 0x100000ull * BOOTINFO_MAX_REGIONS);
    munmap(mem, len);
}

static void test_bad_magic(void **state)
{
    (void)state;
    static struct boot_info bi;
    uint32_t junk[4] = {16, 0, 0, 0};
    assert_int_equal(bootinfo_parse(0x12345678, junk, &bi), -22);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmdline_keys_and_flags),
        cmocka_unit_test(test_cmdline_last_wins_and_numbers),
        cmocka_unit_test(test_cmdline_lists),
        cmocka_unit_test(test_cmdline_overflow),
        cmocka_unit_test(test_mb2_full),
        cmocka_unit_test(test_mb2_malformed_tags_stop_the_walk),
        cmocka_unit_test(test_mb2_long_cmdline_truncated),
        cmocka_unit_test(test_mb1_full),
        cmocka_unit_test(test_mb1_mem_fields_only),
        cmocka_unit_test(test_bad_magic),
        cmocka_unit_test(test_pvh_full),
        cmocka_unit_test(test_pvh_bad_magic),
        cmocka_unit_test(test_pvh_version0_has_no_map),
        cmocka_unit_test(test_pvh_out_of_range),
        cmocka_unit_test(test_pvh_long_map_and_cmdline_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
