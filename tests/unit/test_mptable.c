/*
 * Host tests of the MP table parser (arch/x86_64/mptable.c): the table qboot
 * builds for QEMU's microvm with acpi=off (bytes dumped from a real boot), and
 * crafted ones with bad checksums, lengths and entries. Each table sits in a
 * fake physical memory region allocated to its exact size (fake_acpi_hw.c),
 * so AddressSanitizer catches any read past it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86_64/mptable.h"
#include "arch/x86_64/paging.h"
#include "fake_acpi_hw.h"

/*
 * qboot (Debian's qemu-system-data 7.2) under `-M microvm,acpi=off`: the
 * floating pointer at 0x9FC00 and the 216-byte table after it, from QEMU's
 * `pmemsave 0 0x100000` (the BIOS data area is all zeros there). Its header
 * counts 0 entries; the base length holds 20.
 */
static const uint8_t qboot_mp[16 + 216] = {
    0x5f, 0x4d, 0x50, 0x5f, 0x10, 0xfc, 0x09, 0x00, 0x01, 0x04, 0x8b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x50,
    0x43, 0x4d, 0x50, 0xd8, 0x00, 0x04, 0xe8, 0x51, 0x42, 0x4f, 0x4f, 0x54, 0x20, 0x20, 0x20, 0x30, 0x30,
    0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0xe0, 0xfe, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x03, 0xb1, 0x0f, 0x06, 0x00,
    0xfd, 0xfb, 0xcb, 0x0f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x49, 0x53, 0x41,
    0x20, 0x20, 0x20, 0x02, 0x02, 0x14, 0x01, 0x00, 0x00, 0xc0, 0xfe, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x02, 0x02, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x01, 0x03, 0x00, 0x00, 0x00, 0x00, 0x03, 0x02,
    0x03, 0x03, 0x00, 0x00, 0x00, 0x00, 0x04, 0x02, 0x04, 0x03, 0x00, 0x00, 0x00, 0x00, 0x05, 0x02, 0x05,
    0x03, 0x00, 0x00, 0x00, 0x00, 0x06, 0x02, 0x06, 0x03, 0x00, 0x00, 0x00, 0x00, 0x07, 0x02, 0x07, 0x03,
    0x00, 0x00, 0x00, 0x00, 0x08, 0x02, 0x08, 0x03, 0x00, 0x00, 0x00, 0x00, 0x09, 0x02, 0x09, 0x03, 0x00,
    0x00, 0x00, 0x00, 0x0a, 0x02, 0x0a, 0x03, 0x00, 0x00, 0x00, 0x00, 0x0b, 0x02, 0x0b, 0x03, 0x00, 0x00,
    0x00, 0x00, 0x0c, 0x02, 0x0c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x0d, 0x02, 0x0d, 0x03, 0x00, 0x00, 0x00,
    0x00, 0x0e, 0x02, 0x0e, 0x03, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x02, 0x0f, 0x04, 0x03, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0xff, 0x01,
};

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)v);
    put16(p + 2, (uint16_t)(v >> 16));
}

static void fix_checksum(uint8_t *t, size_t len, size_t at)
{
    t[at] = 0;
    uint8_t s = 0;
    for (size_t i = 0; i < len; i++)
        s = (uint8_t)(s + t[i]);
    t[at] = (uint8_t)-s;
}

static const void *map(uint64_t phys, size_t len)
{
    return map_mmio(phys, len);
}

static unsigned pins24(uint32_t addr)
{
    (void)addr;
    return 24;
}

/* A zeroed BIOS data area (as qboot leaves it) unless @ebda_seg is set. */
static void bda(uint16_t ebda_seg, uint16_t base_kib)
{
    uint8_t *b = fakemem_add(0x400, 0x100);
    put16(b + 0x0e, ebda_seg);
    put16(b + 0x13, base_kib);
}

/* A floating pointer at @at, pointing at @table (0: none). */
static uint8_t *put_fp(uint8_t *at, uint32_t table, uint8_t default_cfg)
{
    memset(at, 0, 16);
    memcpy(at, "_MP_", 4);
    put32(at + MP_FP_PHYSADDR, table);
    at[MP_FP_LENGTH] = 1;
    at[MP_FP_SPEC_REV] = 4;
    at[MP_FP_FEATURE1] = default_cfg;
    fix_checksum(at, 16, MP_FP_CHECKSUM);
    return at;
}

/* A configuration table under construction. */
struct ct {
    uint8_t b[1024];
    size_t len;
    unsigned count;
};

static void ct_begin(struct ct *t)
{
    memset(t, 0, sizeof(*t));
    memcpy(t->b, "PCMP", 4);
    t->b[MP_CT_SPEC_REV] = 4;
    memcpy(t->b + MP_CT_OEM_ID, "TEST    ", 8);
    memcpy(t->b + MP_CT_PRODUCT_ID, "CRAFTED     ", 12);
    put32(t->b + MP_CT_LAPIC_ADDR, 0xfee00000);
    t->len = MP_CT_HEADER_SIZE;
}
static void ct_cpu(struct ct *t, uint8_t id, uint8_t flags)
{
    uint8_t *e = t->b + t->len;
    e[0] = MP_ENTRY_PROCESSOR;
    e[1] = id;
    e[2] = 0x14;
    e[3] = flags;
    t->len += MP_PROCESSOR_SIZE;
    t->count++;
}
static void ct_8(struct ct *t, uint8_t type, uint8_t a, uint16_t flags, uint8_t b4, uint8_t b5, uint8_t b6,
                 uint8_t b7)
{
    uint8_t *e = t->b + t->len;
    e[0] = type;
    e[1] = a;
    put16(e + 2, flags);
    e[4] = b4;
    e[5] = b5;
    e[6] = b6;
    e[7] = b7;
    t->len += MP_OTHER_SIZE;
    t->count++;
}
static void ct_bus(struct ct *t, uint8_t id, const char *type6)
{
    uint8_t *e = t->b + t->len;
    e[0] = MP_ENTRY_BUS;
    e[1] = id;
    memcpy(e + 2, type6, 6);
    t->len += MP_OTHER_SIZE;
    t->count++;
}
static void ct_ioapic(struct ct *t, uint8_t id, uint8_t flags, uint32_t addr)
{
    uint8_t *e = t->b + t->len;
    e[0] = MP_ENTRY_IOAPIC;
    e[1] = id;
    e[2] = 0x20;
    e[3] = flags;
    put32(e + 4, addr);
    t->len += MP_OTHER_SIZE;
    t->count++;
}
/* Header length, count and checksum; then the table at @phys (exact size) and a pointer to it at 0x9FC00. */
static uint8_t *ct_place(struct ct *t, uint32_t phys)
{
    put16(t->b + MP_CT_BASE_LENGTH, (uint16_t)t->len);
    put16(t->b + MP_CT_ENTRY_COUNT, (uint16_t)t->count);
    fix_checksum(t->b, t->len, MP_CT_CHECKSUM);
    uint8_t *m = fakemem_add(phys, t->len);
    memcpy(m, t->b, t->len);
    put_fp(fakemem_add(0x9fc00, 16), phys, 0);
    return m;
}

static struct mptable_info mp;
static struct acpi_info out;

static int setup(void **state)
{
    (void)state;
    fakemem_reset();
    fakelog_clear();
    memset(&mp, 0xa5, sizeof(mp)); /* the parser must zero it */
    memset(&out, 0, sizeof(out));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fakemem_reset();
    return 0;
}

static void test_qboot_microvm_table(void **state)
{
    (void)state;
    bda(0, 0);
    uint8_t *low = fakemem_add(0x9fc00, 1024); /* the last KiB of base memory */
    memcpy(low, qboot_mp, sizeof(qboot_mp));
    fakemem_add(0xf0000, 0x10000);
    uint64_t fp = mptable_find(map);
    assert_int_equal(fp, 0x9fc00);
    assert_int_equal(mptable_parse(&mp, fp, map), 0);
    assert_true(mp.have_table);
    assert_int_equal(mp.table_addr, 0x9fc10);
    assert_string_equal(mp.oem, "QBOOT");
    assert_int_equal(mp.lapic_addr, 0xfee00000);
    assert_int_equal(mp.n_entries, 20);
    assert_int_equal(mp.bad_entries, 0);
    assert_true(fakelog_contains("counts 0 entries"));
    assert_int_equal(mp.n_cpus, 1);
    assert_int_equal(mp.cpus[0].apic_id, 0);
    assert_int_equal(mp.cpus[0].flags, MP_CPU_ENABLED | MP_CPU_BSP);
    assert_int_equal(mp.n_ioapics, 1);
    assert_int_equal(mp.ioapics[0].id, 2);
    assert_int_equal(mp.ioapics[0].addr, 0xfec00000);
    assert_int_equal(mp.n_buses, 1);
    assert_true(mp.buses[0].isa);
    assert_int_equal(mp.n_irqs, 15);
    assert_int_equal(mp.n_lints, 2);

    assert_int_equal(mptable_to_madt(&mp, &out, pins24), 1);
    assert_int_equal(out.lapic_addr, 0xfee00000);
    assert_int_equal(out.n_cpus, 1);
    assert_int_equal(out.cpus[0].flags, ACPI_LAPIC_ENABLED);
    assert_int_equal(out.ioapics[0].id, 2);
    assert_int_equal(out.ioapics[0].gsi_base, 0);
    /* IRQ 0 (the PIT) reaches pin 2, the other 14 pin n: one override. */
    assert_int_equal(out.n_overrides, 1);
    assert_int_equal(out.overrides[0].source, 0);
    assert_int_equal(out.overrides[0].gsi, 2);
    /* NMI on LINT1 of every CPU; the ExtINT on LINT0 is not an NMI. */
    assert_int_equal(out.n_lapic_nmis, 1);
    assert_int_equal(out.lapic_nmis[0].lint, 1);
    assert_int_equal(out.lapic_nmis[0].acpi_uid, 0xff);
}

static void test_found_in_ebda_first(void **state)
{
    (void)state;
    bda(0x9000, 640);
    uint8_t *ebda = fakemem_add(0x90000, 1024);
    put_fp(ebda + 0x30, 0, 1);
    put_fp(fakemem_add(0x9fc00, 16), 0, 2);
    assert_int_equal(mptable_find(map), 0x90030);
}

static void test_found_in_bios_rom(void **state)
{
    (void)state;
    bda(0, 0);
    fakemem_add(0x9fc00, 1024);
    uint8_t *rom = fakemem_add(0xf0000, 0x10000);
    put_fp(rom + 0xf5a0, 0, 0);
    assert_int_equal(mptable_find(map), 0xff5a0);
}

static void test_last_kib_of_reported_base_memory(void **state)
{
    (void)state;
    bda(0, 639); /* 639 KiB of base memory: its last KiB starts at 638 KiB */
    uint8_t *low = fakemem_add(0x9f800, 1024);
    put_fp(low + 0x10, 0, 0);
    fakemem_add(0xf0000, 0x10000);
    assert_int_equal(mptable_find(map), 0x9f810);
}

static void test_bad_floating_pointer_checksum_or_length(void **state)
{
    (void)state;
    bda(0, 0);
    uint8_t *low = fakemem_add(0x9fc00, 1024);
    uint8_t *rom = fakemem_add(0xf0000, 0x10000);
    put_fp(low, 0x9fc10, 0)[MP_FP_CHECKSUM] ^= 1;
    uint8_t *f = put_fp(rom + 0x100, 0x9fc10, 0);
    f[MP_FP_LENGTH] = 2;
    fix_checksum(f, 16, MP_FP_CHECKSUM);
    assert_int_equal(mptable_find(map), 0);
    assert_int_equal(mptable_parse(&mp, 0x9fc00, map), -EINVAL);
    assert_false(mp.have_table);
}

static void test_bad_table_checksum_rejected(void **state)
{
    (void)state;
    struct ct t;
    ct_begin(&t);
    ct_cpu(&t, 0, MP_CPU_ENABLED | MP_CPU_BSP);
    ct_ioapic(&t, 1, MP_IOAPIC_ENABLED, 0xfec00000);
    uint8_t *m = ct_place(&t, 0x9fc10);
    m[t.len - 1] ^= 0x40;
    assert_int_equal(mptable_parse(&mp, 0x9fc00, map), -EINVAL);
    assert_false(mp.have_table);
    assert_int_equal(mp.n_ioapics, 0);
    assert_true(fakelog_contains("bad checksum"));
}

static void test_bad_signature_or_short_length_rejected(void **state)
{
    (void)state;
    struct ct t;
    ct_begin(&t);
    ct_cpu(&t, 0, MP_CPU_ENABLED);
    uint8_t *m = ct_place(&t, 0x9fc10);
    m[0] = 'X';
    fix_checksum(m, t.len, MP_CT_CHECKSUM);
    assert_int_equal(mptable_parse(&mp, 0x9fc00, map), -EINVAL);
    memcpy(m, "PCMP", 4);
    put16(m + MP_CT_BASE_LENGTH, MP_CT_HEADER_SIZE - 1);
    fix_checksum(m, MP_CT_HEADER_SIZE - 1, MP_CT_CHECKSUM);
    assert_int_equal(mptable_parse(&mp, 0x9fc00, map), -EINVAL);
    assert_false(mp.have_table);
}

/* The header claims more bytes than exist: nothing past the mapped table is read. */
static void test_length_beyond_memory_not_read(void **state)
{
    (void)state;
    struct ct t;
    ct_begin(&t);
    ct_cpu(&t, 0, MP_CPU_ENABLED);
    uint8_t *m = ct_place(&t, 0x9fc10);
    put16(m + MP_CT_BASE_LENGTH, 0xffff);
    assert_int_equal(mptable_parse(&mp, 0x9fc00, map), -EFAULT);
    assert_false(mp.have_table);
}

/* The last entry is cut by the base length: the ones before it are kept. */
static void test_truncated_entry_stops_the_walk(void **state)
{
    (void)state;
    struct ct t;
    ct_begin(&t);
    ct_cpu(&t, 0, MP_CPU_ENABLED | MP_CPU_BSP);
    ct_ioapic(&t, 1, MP_IOAPIC_ENABLED, 0xfec00000);
    ct_cpu(&t, 1, MP_CPU_ENABLED);
    t.len -= 12; /* the second processor entry keeps 8 of its 20 bytes */
    ct_place(&t, 0x9fc10);
    assert_int_equal(mptable_parse(&mp, 0x9fc00, map), 0);
    assert_int_equal(mp.n_cpus, 1);
    assert_int_equal(mp.n_ioapics, 1);
    assert_int_equal(mp.bad_entries, 1);
    assert_true(fakelog_contains("runs past the table"));
}

/* An entry count beyond what the table holds: only what fits is read. */
static void test_count_beyond_the_table(void **state)
{
    (void)state;
    struct ct t;
    ct_begin(&t);
    ct_cpu(&t, 0, MP_CPU_ENABLED | MP_CPU_BSP);
    ct_ioapic(&t, 1, MP_IOAPIC_ENABLED, 0xfec00000);
    t.count = 200;
    ct_place(&t, 0x9fc10);
    assert_int_equal(mptable_parse(&mp, 0x9fc00, map), 0);
    assert_int_equal(mp.n_entries, 2);
    assert_int_equal(mp.n_cpus, 1);
    assert_int_equal(mp.n_ioapics, 1);
    assert_true(fakelog_contains("counts 200 entries"));
}

static void test_unknown_type_ends_walk(void **state)
{
    (void)state;
    struct ct t;
    ct_begin(&t);
    ct_cpu(&t, 0, MP_CPU_ENABLED | MP_CPU_BSP);
    ct_8(&t, 9, 0, 0, 0, 0, 0, 0);
    ct_ioapic(&t, 1, MP_IOAPIC_ENABLED, 0xfec00000);
    ct_place(&t, 0x9fc10);
    assert_int_equal(mptable_parse(&mp, 0x9fc00, map), 0);
    assert_int_equal(mp.n_cpus, 1);
    assert_int_equal(mp.n_ioapics, 0);
    assert_int_equal(mp.bad_entries, 1);
    assert_true(fakelog_contains("unknown type 9"));
}

static void test_too_many_entries_counted(void **state)
{
    (void)state;
    struct ct t;
    ct_begin(&t);
    for (unsigned i = 0; i < MPTABLE_MAX_IOAPIC + 3; i++)
        ct_ioapic(&t, (uint8_t)i, MP_IOAPIC_ENABLED, 0xfec00000 + 0x1000 * i);
    for (unsigned i = 0; i < MPTABLE_MAX_LINTS + 2; i++)
        ct_8(&t, MP_ENTRY_LINT, MP_INT_NMI, 0, 0, 0, 0xff, 1);
    ct_place(&t, 0x9fc10);
    assert_int_equal(mptable_parse(&mp, 0x9fc00, map), 0);
    assert_int_equal(mp.n_ioapics, MPTABLE_MAX_IOAPIC);
    assert_int_equal(mp.n_lints, MPTABLE_MAX_LINTS);
    assert_int_equal(mp.bad_entries, 5);
}

static void test_default_configuration(void **state)
{
    (void)state;
    put_fp(fakemem_add(0x9fc00, 16), 0, 5);
    assert_int_equal(mptable_parse(&mp, 0x9fc00, map), 0);
    assert_int_equal(mp.default_cfg, 5);
    assert_false(mp.have_table);
}

static unsigned pins_by_addr(uint32_t addr)
{
    return addr == 0xfec00000 ? 24 : addr == 0xfec10000 ? 16 : 0;
}

/* Two IO-APICs numbered in table order, a dead and a disabled one left out,
 * ISA routing with polarity, PCI entries ignored. */
static void test_translation(void **state)
{
    (void)state;
    struct ct t;
    ct_begin(&t);
    ct_cpu(&t, 0, MP_CPU_ENABLED | MP_CPU_BSP);
    ct_cpu(&t, 1, 0);
    ct_bus(&t, 0, "PCI   ");
    ct_bus(&t, 1, "ISA   ");
    ct_ioapic(&t, 4, MP_IOAPIC_ENABLED, 0xfec00000);
    ct_ioapic(&t, 5, 0, 0xfec20000);                 /* disabled */
    ct_ioapic(&t, 6, MP_IOAPIC_ENABLED, 0xfec30000); /* nothing answers */
    ct_ioapic(&t, 7, MP_IOAPIC_ENABLED, 0xfec10000);
    ct_8(&t, MP_ENTRY_IOINT, MP_INT_INT, 0, 1, 0, 4, 2);   /* ISA 0 -> pin 2 */
    ct_8(&t, MP_ENTRY_IOINT, MP_INT_INT, 0, 1, 1, 4, 1);   /* identity: no override */
    ct_8(&t, MP_ENTRY_IOINT, MP_INT_INT, 0xf, 1, 9, 7, 3); /* level, low, on the second */
    ct_8(&t, MP_ENTRY_IOINT, MP_INT_INT, 0, 0, 5, 4, 16);  /* PCI: ignored */
    ct_8(&t, MP_ENTRY_IOINT, MP_INT_INT, 0, 1, 4, 9, 4);   /* unknown IO-APIC: ignored */
    ct_8(&t, MP_ENTRY_LINT, MP_INT_EXTINT, 0, 1, 0, 0xff, 0);
    ct_8(&t, MP_ENTRY_LINT, MP_INT_NMI, 0x5, 1, 0, 1, 1);
    ct_place(&t, 0x9fc10);
    assert_int_equal(mptable_parse(&mp, 0x9fc00, map), 0);
    assert_int_equal(mptable_to_madt(&mp, &out, pins_by_addr), 2);
    assert_int_equal(out.n_cpus, 2);
    assert_int_equal(out.cpus[1].flags, 0);
    assert_int_equal(out.ioapics[0].id, 4);
    assert_int_equal(out.ioapics[0].gsi_base, 0);
    assert_int_equal(out.ioapics[1].id, 7);
    assert_int_equal(out.ioapics[1].gsi_base, 24);
    assert_int_equal(out.n_overrides, 2);
    assert_int_equal(out.overrides[0].gsi, 2);
    assert_int_equal(out.overrides[1].source, 9);
    assert_int_equal(out.overrides[1].gsi, 27);
    assert_int_equal(out.overrides[1].flags & ACPI_INTI_TRIGGER_MASK, ACPI_INTI_TRIGGER_LEVEL);
    assert_int_equal(out.overrides[1].flags & ACPI_INTI_POLARITY_MASK, ACPI_INTI_POLARITY_LOW);
    assert_int_equal(out.n_lapic_nmis, 1);
    assert_int_equal(out.lapic_nmis[0].acpi_uid, 1);
    assert_int_equal(out.lapic_nmis[0].flags, 0x5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_qboot_microvm_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_found_in_ebda_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_found_in_bios_rom, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_kib_of_reported_base_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_floating_pointer_checksum_or_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_table_checksum_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_signature_or_short_length_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_length_beyond_memory_not_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_entry_stops_the_walk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_count_beyond_the_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_type_ends_walk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_many_entries_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_configuration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_translation, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
