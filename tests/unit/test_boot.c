/*
 * Host tests of the boot-time parsers: the kernel command line (lib/cmdline.c)
 * and the multiboot information decoder (arch/x86_64/bootinfo.c), fed
 * crafted structures, including malformed ones a broken loader could hand us.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86_64/bootinfo.h"
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

    /* A tag running past total_size is not read. */
    mb2_begin(&b);
    struct mb2_tag_mmap *mm = mb2_tag(&b, MB2_TAG_MMAP, 16 + 24);
    mm->entry_size = 24;
    mm->size = 4000; /* lies */
    mb2_end(&b);
    assert_int_equal(bootinfo_parse(MB2_BOOTLOADER_MAGIC, b.buf, &bi), 0);
    assert_int_equal(bi.n_mem, 0);

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

static void test_mb1_mmap(void **state)
{
    (void)state;
    static struct boot_info bi;
    /* The info structure holds 32-bit physical addresses: that only works on
     * the host if the test data sits below 4 GiB, which a static array in a
     * non-PIE test binary does not promise. So test the path without
     * pointers (mem_lower/upper only) and the magic check. */
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
        cmocka_unit_test(test_mb1_mmap),
        cmocka_unit_test(test_bad_magic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
