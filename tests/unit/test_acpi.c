/*
 * Host tests of the ACPI table parser (arch/x86_64/acpi.c) and the interrupt
 * API's pure parts (arch/x86_64/irq.c): crafted tables placed in a fake
 * physical memory (fake_acpi_hw.c), each region allocated to its exact size
 * so AddressSanitizer catches any read past a table.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/irq.h"
#include "arch/x86_64/paging.h"
#include "fake_acpi_hw.h"
#include "lib/klog.h"

/* ---------------------------------------------------------------- builders */

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
static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static void fix_checksum(uint8_t *t, size_t len, size_t at)
{
    t[at] = 0;
    uint8_t s = 0;
    for (size_t i = 0; i < len; i++)
        s = (uint8_t)(s + t[i]);
    t[at] = (uint8_t)-s;
}

/* A table under construction: header filled in by tbl_finish(). */
struct tbl {
    uint8_t b[8192];
    size_t len;
};

static void tbl_begin(struct tbl *t, size_t fixed)
{
    memset(t, 0, sizeof(*t));
    t->len = fixed;
}

static uint8_t *tbl_add(struct tbl *t, size_t n)
{
    uint8_t *p = t->b + t->len;
    t->len += n;
    return p;
}

static void tbl_finish(struct tbl *t, const char *sig, uint8_t rev)
{
    memcpy(t->b, sig, 4);
    put32(t->b + ACPI_HDR_LENGTH, (uint32_t)t->len);
    t->b[ACPI_HDR_REVISION] = rev;
    memcpy(t->b + ACPI_HDR_OEMID, "TESTOE", 6);
    fix_checksum(t->b, t->len, ACPI_HDR_CHECKSUM);
}

/* Copy @len bytes to fake physical memory at @phys, in a region of exactly that size. */
static uint8_t *place(uint64_t phys, const void *data, size_t len)
{
    uint8_t *m = fakemem_add(phys, len);
    memcpy(m, data, len);
    return m;
}

static void place_tbl(uint64_t phys, const struct tbl *t)
{
    place(phys, t->b, t->len);
}

static void make_rsdp(uint8_t r[36], uint8_t rev, uint32_t rsdt, uint64_t xsdt)
{
    memset(r, 0, 36);
    memcpy(r, "RSD PTR ", 8);
    memcpy(r + ACPI_RSDP_OEMID, "BOCHS ", 6);
    r[ACPI_RSDP_REVISION] = rev;
    put32(r + ACPI_RSDP_RSDT, rsdt);
    fix_checksum(r, 20, ACPI_RSDP_CHECKSUM);
    if (rev >= 2) {
        put32(r + ACPI_RSDP_LENGTH, 36);
        put64(r + ACPI_RSDP_XSDT, xsdt);
        fix_checksum(r, 36, ACPI_RSDP_XCHECKSUM);
    }
}

static void madt_lapic(struct tbl *t, uint8_t uid, uint8_t id, uint32_t flags)
{
    uint8_t *e = tbl_add(t, 8);
    e[0] = ACPI_MADT_LAPIC;
    e[1] = 8;
    e[2] = uid;
    e[3] = id;
    put32(e + 4, flags);
}

static void madt_ioapic(struct tbl *t, uint8_t id, uint32_t addr, uint32_t base)
{
    uint8_t *e = tbl_add(t, 12);
    e[0] = ACPI_MADT_IOAPIC;
    e[1] = 12;
    e[2] = id;
    put32(e + 4, addr);
    put32(e + 8, base);
}

static void madt_iso(struct tbl *t, uint8_t src, uint32_t gsi, uint16_t flags)
{
    uint8_t *e = tbl_add(t, 10);
    e[0] = ACPI_MADT_ISO;
    e[1] = 10;
    e[2] = 0;
    e[3] = src;
    put32(e + 4, gsi);
    put16(e + 8, flags);
}

static void madt_lapic_nmi(struct tbl *t, uint8_t uid, uint16_t flags, uint8_t lint)
{
    uint8_t *e = tbl_add(t, 6);
    e[0] = ACPI_MADT_LAPIC_NMI;
    e[1] = 6;
    e[2] = uid;
    put16(e + 3, flags);
    e[5] = lint;
}

/* QEMU 7.2's MADT for -M pc/q35 with @ncpu CPUs (hw/i386/acpi-common.c). */
static void qemu_madt(struct tbl *t, unsigned ncpu)
{
    tbl_begin(t, ACPI_MADT_ENTRIES);
    put32(t->b + ACPI_MADT_LAPIC_ADDR, 0xfee00000);
    put32(t->b + ACPI_MADT_FLAGS, ACPI_MADT_PCAT_COMPAT);
    for (unsigned i = 0; i < ncpu; i++)
        madt_lapic(t, (uint8_t)i, (uint8_t)i, ACPI_LAPIC_ENABLED);
    madt_ioapic(t, 0, 0xfec00000, 0);
    madt_iso(t, 0, 2, 0);
    madt_iso(t, 5, 5, 0xd);
    madt_iso(t, 9, 9, 0xd);
    madt_iso(t, 10, 10, 0xd);
    madt_iso(t, 11, 11, 0xd);
    madt_lapic_nmi(t, 0xff, 0, 1);
    tbl_finish(t, "APIC", 1);
}

static void gas(uint8_t *p, uint8_t space, uint8_t width, uint8_t access, uint64_t addr)
{
    p[0] = space;
    p[1] = width;
    p[2] = 0;
    p[3] = access;
    put64(p + 4, addr);
}

/* A FADT of @len bytes (116 = ACPI 1.0, 244 = ACPI 2.0+, 276 = 6.x) like QEMU's. */
static void qemu_fadt(struct tbl *t, size_t len, uint8_t rev, uint32_t dsdt)
{
    tbl_begin(t, len);
    put32(t->b + ACPI_FADT_DSDT, dsdt);
    put16(t->b + ACPI_FADT_SCI_INT, 9);
    put32(t->b + ACPI_FADT_SMI_CMD, 0xb2);
    t->b[ACPI_FADT_ACPI_ENABLE] = 0xf1;
    put32(t->b + ACPI_FADT_PM1A_CNT_BLK, 0x604);
    put32(t->b + ACPI_FADT_PM_TMR_BLK, 0x608);
    t->b[ACPI_FADT_PM1_CNT_LEN] = 2;
    t->b[ACPI_FADT_PM_TMR_LEN] = 4;
    put16(t->b + ACPI_FADT_IAPC_BOOT_ARCH, ACPI_BOOT_ARCH_8042);
    put32(t->b + ACPI_FADT_FLAGS, ACPI_FADT_RESET_REG_SUP);
    if (len > ACPI_FADT_RESET_VALUE) {
        gas(t->b + ACPI_FADT_RESET_REG, ACPI_GAS_SPACE_IO, 8, 0, 0xcf9);
        t->b[ACPI_FADT_RESET_VALUE] = 0x0f;
    }
    tbl_finish(t, "FACP", rev);
}

/* AML: Scope(\) { Name(_S5, Package(4) {a, b, 0, 0}) } with BytePrefix values. */
static size_t aml_s5(uint8_t *p, uint8_t a, uint8_t b)
{
    const uint8_t aml[] = {0x10, 0x0f, '\\', 0x08, '_',  'S', '5',  '_', 0x12,
                           0x08, 0x04, 0x0a, a,    0x0a, b,   0x00, 0x00};
    memcpy(p, aml, sizeof(aml));
    return sizeof(aml);
}

static void dsdt_with(struct tbl *t, const uint8_t *aml, size_t n)
{
    tbl_begin(t, ACPI_HDR_SIZE);
    /* Some unrelated AML first: a Name(_S4_...) look-alike and an "_S5_"
     * that is a method invocation, not a Name. */
    const uint8_t junk[] = {0x08, '_',  'S',  '4',  '_',  0x12, 0x06, 0x04, 0x0a, 0x02,
                            0x0a, 0x02, 0x00, 0x00, 0x70, '_',  'S',  '5',  '_',  0x60};
    memcpy(tbl_add(t, sizeof(junk)), junk, sizeof(junk));
    if (aml)
        memcpy(tbl_add(t, n), aml, n);
    tbl_finish(t, "DSDT", 2);
}

static void root_table(struct tbl *t, const char *sig, unsigned esize, const uint64_t *ents, unsigned n)
{
    tbl_begin(t, ACPI_HDR_SIZE);
    for (unsigned i = 0; i < n; i++) {
        uint8_t *e = tbl_add(t, esize);
        if (esize == 8)
            put64(e, ents[i]);
        else
            put32(e, (uint32_t)ents[i]);
    }
    tbl_finish(t, sig, 1);
}

/* Physical addresses of the standard test system (gaps between them). */
#define P_FADT 0x7fe0000
#define P_DSDT 0x7fe1000
#define P_MADT 0x7fe3000
#define P_MCFG 0x7fe4000
#define P_HPET 0x7fe5000
#define P_XSDT 0x7fe6000
#define P_RSDT 0x7fe7000
#define P_SSDT 0x7fe8000

static struct tbl tb; /* scratch; big, so not on the stack */

static void place_mcfg(uint64_t phys, uint64_t base)
{
    tbl_begin(&tb, ACPI_MCFG_ENTRIES);
    uint8_t *e = tbl_add(&tb, ACPI_MCFG_ENTRY_SIZE);
    put64(e, base);
    put16(e + 8, 0);
    e[10] = 0;
    e[11] = 255;
    tbl_finish(&tb, "MCFG", 1);
    place_tbl(phys, &tb);
}

static void place_hpet(uint64_t phys)
{
    tbl_begin(&tb, 56);
    gas(tb.b + ACPI_HPET_BASE, ACPI_GAS_SPACE_MEMORY, 64, 0, 0xfed00000);
    tbl_finish(&tb, "HPET", 1);
    place_tbl(phys, &tb);
}

/* The whole QEMU-like system; @rsdp gets a boot loader's copy of the RSDP. */
static void standard_system(uint8_t rsdp[36], uint8_t rev)
{
    qemu_fadt(&tb, 244, 3, P_DSDT);
    place_tbl(P_FADT, &tb);
    uint8_t aml[32];
    size_t n = aml_s5(aml, 5, 6);
    dsdt_with(&tb, aml, n);
    place_tbl(P_DSDT, &tb);
    qemu_madt(&tb, 2);
    place_tbl(P_MADT, &tb);
    place_mcfg(P_MCFG, 0xb0000000);
    place_hpet(P_HPET);
    uint64_t ents[] = {P_FADT, P_MADT, P_MCFG, P_HPET};
    root_table(&tb, "XSDT", 8, ents, 4);
    place_tbl(P_XSDT, &tb);
    root_table(&tb, "RSDT", 4, ents, 4);
    place_tbl(P_RSDT, &tb);
    make_rsdp(rsdp, rev, P_RSDT, P_XSDT);
}

static const void *test_map(uint64_t phys, size_t len)
{
    return map_mmio(phys, len);
}

static struct acpi_info info;

static int setup(void **state)
{
    (void)state;
    fakemem_reset();
    fakelog_clear();
    fakehw_reset();
    memset(&info, 0, sizeof(info));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fakemem_reset();
    return 0;
}

/* ---------------------------------------------------------------- RSDP */

static void test_checksum(void **state)
{
    (void)state;
    uint8_t b[4] = {1, 2, 3, 0};
    assert_false(acpi_checksum_ok(b, 4));
    b[3] = (uint8_t)-6;
    assert_true(acpi_checksum_ok(b, 4));
    assert_true(acpi_checksum_ok(b, 0));
}

static void test_rsdp_validation(void **state)
{
    (void)state;
    uint8_t r[36];
    bool x;
    make_rsdp(r, 0, 0x1000, 0);
    assert_true(acpi_rsdp_valid(r, &x));
    assert_false(x);

    make_rsdp(r, 2, 0x1000, 0x2000);
    assert_true(acpi_rsdp_valid(r, &x));
    assert_true(x);

    /* The 2.0 part broken: the 1.0 part (RSDT) is still usable. */
    r[ACPI_RSDP_XSDT] ^= 1;
    assert_true(acpi_rsdp_valid(r, &x));
    assert_false(x);

    make_rsdp(r, 2, 0x1000, 0x2000);
    r[ACPI_RSDP_RSDT] ^= 1; /* breaks the 1.0 checksum */
    assert_false(acpi_rsdp_valid(r, &x));

    make_rsdp(r, 0, 0x1000, 0);
    r[0] = 'X';
    assert_false(acpi_rsdp_valid(r, &x));

    /* An absurd 2.0 length is not followed. */
    make_rsdp(r, 2, 0x1000, 0x2000);
    put32(r + ACPI_RSDP_LENGTH, 0xfffffff0);
    fix_checksum(r, 36, ACPI_RSDP_XCHECKSUM);
    assert_true(acpi_rsdp_valid(r, &x));
    assert_false(x);
}

/* ---------------------------------------------------------------- whole system */

static void test_parse_xsdt_system(void **state)
{
    (void)state;
    uint8_t rsdp[36];
    standard_system(rsdp, 2);
    assert_int_equal(acpi_parse(&info, rsdp, test_map), 0);
    assert_true(info.xsdt);
    assert_int_equal(info.rsdp_revision, 2);
    assert_string_equal(info.oem_id, "BOCHS ");
    assert_int_equal(info.bad_tables, 0);

    assert_true(info.have_madt);
    assert_int_equal(info.lapic_addr, 0xfee00000);
    assert_int_equal(info.n_cpus, 2);
    assert_int_equal(info.cpus[1].apic_id, 1);
    assert_int_equal(info.cpus[1].flags, ACPI_LAPIC_ENABLED);
    assert_int_equal(info.n_ioapics, 1);
    assert_int_equal(info.ioapics[0].addr, 0xfec00000);
    assert_int_equal(info.ioapics[0].gsi_base, 0);
    assert_int_equal(info.n_overrides, 5);
    assert_int_equal(info.overrides[0].source, 0);
    assert_int_equal(info.overrides[0].gsi, 2);
    assert_int_equal(info.overrides[3].source, 10);
    assert_int_equal(info.overrides[3].flags, 0xd);
    assert_int_equal(info.n_lapic_nmis, 1);
    assert_int_equal(info.lapic_nmis[0].acpi_uid, 0xff);
    assert_int_equal(info.lapic_nmis[0].lint, 1);
    assert_int_equal(info.madt_bad_entries, 0);

    assert_true(info.have_fadt);
    assert_int_equal(info.fadt_revision, 3);
    assert_int_equal(info.sci_irq, 9);
    assert_int_equal(info.pm_tmr.space_id, ACPI_GAS_SPACE_IO);
    assert_int_equal(info.pm_tmr.address, 0x608);
    assert_false(info.pm_tmr_32bit);
    assert_int_equal(info.pm1a_cnt.address, 0x604);
    assert_int_equal(info.pm1a_cnt.bit_width, 16);
    assert_int_equal(info.pm1b_cnt.address, 0);
    assert_int_equal(info.reset_reg.address, 0xcf9);
    assert_int_equal(info.reset_value, 0x0f);
    assert_int_equal(info.boot_arch, ACPI_BOOT_ARCH_8042);
    assert_int_equal(info.dsdt_addr, P_DSDT);
    assert_true(info.have_s5);
    assert_int_equal(info.slp_typa, 5);
    assert_int_equal(info.slp_typb, 6);

    assert_int_equal(info.n_mcfg, 1);
    assert_int_equal(info.mcfg[0].base, 0xb0000000);
    assert_int_equal(info.mcfg[0].bus_end, 255);
    assert_int_equal(info.hpet_addr, 0xfed00000);
}

static void test_parse_rsdt_only(void **state)
{
    (void)state;
    uint8_t rsdp[36];
    standard_system(rsdp, 0);
    assert_int_equal(acpi_parse(&info, rsdp, test_map), 0);
    assert_false(info.xsdt);
    assert_int_equal(info.rsdp_revision, 0);
    assert_true(info.have_madt);
    assert_true(info.have_fadt);
    assert_int_equal(info.n_mcfg, 1);
}

static void test_bad_xsdt_falls_back_to_rsdt(void **state)
{
    (void)state;
    uint8_t rsdp[36];
    standard_system(rsdp, 2);
    /* Corrupt one byte of the XSDT in fake memory: its checksum fails. */
    uint8_t *x = map_mmio(P_XSDT, ACPI_HDR_SIZE);
    x[ACPI_HDR_SIZE - 1] ^= 0x55;
    assert_int_equal(acpi_parse(&info, rsdp, test_map), 0);
    assert_false(info.xsdt);
    assert_true(info.have_madt);
    assert_int_equal(info.bad_tables, 1);
    assert_true(fakelog_contains("XSDT at 0x7fe6000: bad checksum"));
}

static void test_no_valid_root(void **state)
{
    (void)state;
    uint8_t rsdp[36];
    make_rsdp(rsdp, 2, 0x9990000, 0x9991000); /* nothing there */
    assert_int_equal(acpi_parse(&info, rsdp, test_map), -EINVAL);
    assert_true(fakelog_contains("neither XSDT nor RSDT"));
}

static void test_bad_table_checksum_skipped(void **state)
{
    (void)state;
    uint8_t rsdp[36];
    standard_system(rsdp, 2);
    uint8_t *m = map_mmio(P_MADT, ACPI_HDR_SIZE);
    m[ACPI_HDR_OEMID] ^= 1;
    assert_int_equal(acpi_parse(&info, rsdp, test_map), 0);
    assert_false(info.have_madt);
    assert_int_equal(info.n_cpus, 0);
    assert_int_equal(info.bad_tables, 1);
    assert_true(info.have_fadt); /* the others are still used */
    assert_int_equal(info.n_mcfg, 1);
    assert_true(fakelog_contains("APIC at 0x7fe3000: bad checksum"));
}

/* A header whose length claims more than there is: the mapping fails, the table is skipped. */
static void test_truncated_table_skipped(void **state)
{
    (void)state;
    uint8_t rsdp[36];
    qemu_madt(&tb, 1);
    size_t real = tb.len;
    put32(tb.b + ACPI_HDR_LENGTH, (uint32_t)real + 64); /* checksum irrelevant: never read */
    place(P_MADT, tb.b, real);
    uint64_t ents[] = {P_MADT};
    root_table(&tb, "RSDT", 4, ents, 1);
    place_tbl(P_RSDT, &tb);
    make_rsdp(rsdp, 0, P_RSDT, 0);
    assert_int_equal(acpi_parse(&info, rsdp, test_map), 0);
    assert_false(info.have_madt);
    assert_int_equal(info.bad_tables, 1);
    assert_true(fakelog_contains("cannot map"));
}

static void test_short_and_huge_lengths_skipped(void **state)
{
    (void)state;
    uint8_t rsdp[36];
    qemu_madt(&tb, 1);
    put32(tb.b + ACPI_HDR_LENGTH, 20); /* shorter than a header */
    place_tbl(P_MADT, &tb);
    qemu_fadt(&tb, 244, 3, 0);
    put32(tb.b + ACPI_HDR_LENGTH, 0xffffff00u);
    place_tbl(P_FADT, &tb);
    uint64_t ents[] = {P_MADT, P_FADT, 0, 0x12345678 /* unmapped */};
    root_table(&tb, "RSDT", 4, ents, 4);
    place_tbl(P_RSDT, &tb);
    make_rsdp(rsdp, 0, P_RSDT, 0);
    assert_int_equal(acpi_parse(&info, rsdp, test_map), 0);
    assert_false(info.have_madt);
    assert_false(info.have_fadt);
    assert_int_equal(info.bad_tables, 3);
    assert_true(fakelog_contains("bad length 20"));
    assert_true(fakelog_contains("table at 0x12345678: cannot map its header"));
}

static void test_first_of_duplicate_tables_wins(void **state)
{
    (void)state;
    uint8_t rsdp[36];
    qemu_madt(&tb, 3);
    place_tbl(P_MADT, &tb);
    qemu_madt(&tb, 1);
    place_tbl(P_SSDT, &tb);
    uint64_t ents[] = {P_MADT, P_SSDT};
    root_table(&tb, "XSDT", 8, ents, 2);
    place_tbl(P_XSDT, &tb);
    make_rsdp(rsdp, 2, 0, P_XSDT);
    assert_int_equal(acpi_parse(&info, rsdp, test_map), 0);
    assert_int_equal(info.n_cpus, 3);
}

/* ---------------------------------------------------------------- MADT entries */

static void test_madt_zero_length_entry_stops(void **state)
{
    (void)state;
    tbl_begin(&tb, ACPI_MADT_ENTRIES);
    madt_lapic(&tb, 0, 0, 1);
    uint8_t *e = tbl_add(&tb, 16); /* type 1 with length 0, then junk */
    e[0] = ACPI_MADT_IOAPIC;
    e[1] = 0;
    madt_lapic(&tb, 1, 1, 1); /* unreachable */
    tbl_finish(&tb, "APIC", 1);
    assert_int_equal(acpi_parse_madt(&info, tb.b, tb.len), 0);
    assert_int_equal(info.n_cpus, 1);
    assert_int_equal(info.n_ioapics, 0);
    assert_int_equal(info.madt_bad_entries, 1);
    assert_true(fakelog_contains("has length 0, rest ignored"));

    /* Length 1 cannot advance either. */
    memset(&info, 0, sizeof(info));
    e[1] = 1;
    assert_int_equal(acpi_parse_madt(&info, tb.b, tb.len), 0);
    assert_int_equal(info.n_cpus, 1);
    assert_int_equal(info.madt_bad_entries, 1);
}

static void test_madt_entry_past_end(void **state)
{
    (void)state;
    tbl_begin(&tb, ACPI_MADT_ENTRIES);
    madt_lapic(&tb, 0, 0, 1);
    madt_ioapic(&tb, 0, 0xfec00000, 0);
    tb.b[tb.len - 12 + 1] = 40; /* the IO-APIC entry claims 40 bytes; 12 remain */
    tbl_finish(&tb, "APIC", 1);
    /* Exactly-sized copy, so ASan would see an over-read. */
    uint8_t *copy = place(0x500000, tb.b, tb.len);
    assert_int_equal(acpi_parse_madt(&info, copy, tb.len), 0);
    assert_int_equal(info.n_cpus, 1);
    assert_int_equal(info.n_ioapics, 0);
    assert_int_equal(info.madt_bad_entries, 1);
    assert_true(fakelog_contains("runs past the table end"));
}

static void test_madt_short_entry_skipped_rest_parsed(void **state)
{
    (void)state;
    tbl_begin(&tb, ACPI_MADT_ENTRIES);
    uint8_t *e = tbl_add(&tb, 6); /* an IO-APIC entry of 6 bytes: too short to read */
    e[0] = ACPI_MADT_IOAPIC;
    e[1] = 6;
    e = tbl_add(&tb, 5); /* an unknown type: skipped by its length */
    e[0] = 0x7f;
    e[1] = 5;
    madt_iso(&tb, 0, 2, 0);
    tbl_finish(&tb, "APIC", 1);
    uint8_t *copy = place(0x500000, tb.b, tb.len);
    assert_int_equal(acpi_parse_madt(&info, copy, tb.len), 0);
    assert_int_equal(info.n_ioapics, 0);
    assert_int_equal(info.n_overrides, 1);
    assert_int_equal(info.overrides[0].gsi, 2);
    assert_int_equal(info.madt_bad_entries, 1);
    assert_true(fakelog_contains("too short (6), skipped"));
}

static void test_madt_trailing_byte(void **state)
{
    (void)state;
    tbl_begin(&tb, ACPI_MADT_ENTRIES);
    madt_lapic(&tb, 0, 0, 1);
    tbl_add(&tb, 1);
    tbl_finish(&tb, "APIC", 1);
    uint8_t *copy = place(0x500000, tb.b, tb.len);
    assert_int_equal(acpi_parse_madt(&info, copy, tb.len), 0);
    assert_int_equal(info.n_cpus, 1);
    assert_true(fakelog_contains("1 trailing bytes"));
}

static void test_madt_x2apic_and_address_override(void **state)
{
    (void)state;
    tbl_begin(&tb, ACPI_MADT_ENTRIES);
    put32(tb.b + ACPI_MADT_LAPIC_ADDR, 0xfee00000);
    uint8_t *e = tbl_add(&tb, 16);
    e[0] = ACPI_MADT_X2APIC;
    e[1] = 16;
    put32(e + 4, 300); /* x2APIC id */
    put32(e + 8, ACPI_LAPIC_ENABLED);
    put32(e + 12, 7); /* uid */
    e = tbl_add(&tb, 12);
    e[0] = ACPI_MADT_X2APIC_NMI;
    e[1] = 12;
    put16(e + 2, ACPI_INTI_POLARITY_LOW | ACPI_INTI_TRIGGER_EDGE);
    put32(e + 4, 0xffffffff);
    e[8] = 1;
    e = tbl_add(&tb, 12);
    e[0] = ACPI_MADT_LAPIC_ADDR_OVR;
    e[1] = 12;
    put64(e + 4, 0x123456789000ull);
    e = tbl_add(&tb, 8);
    e[0] = ACPI_MADT_NMI_SRC;
    e[1] = 8;
    put16(e + 2, 0xd);
    put32(e + 4, 23);
    tbl_finish(&tb, "APIC", 4);
    assert_int_equal(acpi_parse_madt(&info, tb.b, tb.len), 0);
    assert_int_equal(info.n_cpus, 1);
    assert_true(info.cpus[0].x2apic);
    assert_int_equal(info.cpus[0].apic_id, 300);
    assert_int_equal(info.cpus[0].acpi_uid, 7);
    assert_int_equal(info.n_lapic_nmis, 1);
    assert_int_equal(info.lapic_nmis[0].acpi_uid, 0xffffffff);
    assert_int_equal(info.lapic_nmis[0].lint, 1);
    assert_int_equal(info.lapic_nmis[0].flags, ACPI_INTI_POLARITY_LOW | ACPI_INTI_TRIGGER_EDGE);
    assert_int_equal(info.lapic_addr, 0x123456789000ull);
    assert_int_equal(info.n_nmi_sources, 1);
    assert_int_equal(info.nmi_sources[0].gsi, 23);
}

static void test_madt_too_many_cpus_counted(void **state)
{
    (void)state;
    tbl_begin(&tb, ACPI_MADT_ENTRIES);
    for (unsigned i = 0; i < ACPI_MAX_CPUS + 3; i++)
        madt_lapic(&tb, (uint8_t)i, (uint8_t)i, 1);
    tbl_finish(&tb, "APIC", 1);
    assert_int_equal(acpi_parse_madt(&info, tb.b, tb.len), 0);
    assert_int_equal(info.n_cpus, ACPI_MAX_CPUS);
    assert_int_equal(info.madt_bad_entries, 3);
}

static void test_madt_too_short_for_header(void **state)
{
    (void)state;
    tbl_begin(&tb, 40);
    tbl_finish(&tb, "APIC", 1);
    assert_int_equal(acpi_parse_madt(&info, tb.b, tb.len), -EINVAL);
    assert_false(info.have_madt);
}

/* ---------------------------------------------------------------- MCFG */

static void mcfg_entry(struct tbl *t, uint64_t base, uint16_t seg, uint8_t start, uint8_t end)
{
    uint8_t *e = tbl_add(t, ACPI_MCFG_ENTRY_SIZE);
    put64(e, base);
    put16(e + 8, seg);
    e[10] = start;
    e[11] = end;
}

static void test_mcfg_entries(void **state)
{
    (void)state;
    tbl_begin(&tb, ACPI_MCFG_ENTRIES);
    mcfg_entry(&tb, 0xe0000000, 1, 0, 63);
    mcfg_entry(&tb, 0xb0000000, 0, 0, 255);
    mcfg_entry(&tb, 0xc0000000, 2, 9, 3); /* reversed: skipped */
    tbl_add(&tb, 7);                      /* a partial entry: ignored */
    tbl_finish(&tb, "MCFG", 1);
    uint8_t *copy = place(0x500000, tb.b, tb.len);
    assert_int_equal(acpi_parse_mcfg(&info, copy, tb.len), 0);
    assert_int_equal(info.n_mcfg, 2);
    assert_int_equal(info.mcfg[0].segment, 1);
    assert_int_equal(info.mcfg[1].base, 0xb0000000);
    assert_true(fakelog_contains("reversed"));
    assert_true(fakelog_contains("partial entry ignored"));

    tbl_begin(&tb, 40);
    tbl_finish(&tb, "MCFG", 1);
    assert_int_equal(acpi_parse_mcfg(&info, tb.b, tb.len), -EINVAL);
}

/* acpi_init() and acpi_mcfg(), the kernel's entry points, over the fake memory. */
static void test_acpi_init_and_mcfg(void **state)
{
    (void)state;
    uint8_t rsdp[36];
    standard_system(rsdp, 2);
    uint64_t base = 0;
    uint8_t s = 1, e = 1;
    assert_int_equal(acpi_init(rsdp), 0);
    assert_int_equal(acpi_mcfg(&base, &s, &e), 0);
    assert_int_equal(base, 0xb0000000);
    assert_int_equal(s, 0);
    assert_int_equal(e, 255);
    assert_int_equal(acpi_get()->n_cpus, 2);
    assert_int_equal(acpi_pm_timer_bits(), 24);
    /* The boot log names what it found. */
    assert_true(fakelog_contains("acpi: RSDP rev 2 OEM 'BOCHS ', tables from the XSDT"));
    assert_true(fakelog_contains("IO-APIC id 0 at 0xfec00000, GSI base 0"));
    assert_true(fakelog_contains("override: bus 0 IRQ 0 -> GSI 2, conforms, polarity conforms"));
    assert_true(fakelog_contains("override: bus 0 IRQ 11 -> GSI 11, level, polarity high"));
    assert_true(fakelog_contains("MCFG: segment 0 buses 0-255 ECAM at 0xb0000000"));
    assert_true(fakelog_contains("acpi: reset register: port 0xcf9, value 0xf"));
    assert_true(fakelog_contains("acpi: \\_S5: SLP_TYPa 5, SLP_TYPb 6"));
    assert_true(fakelog_contains("acpi: HPET at 0xfed00000"));

    /* No MCFG (-M pc): -ENODEV. */
    fakemem_reset();
    uint8_t r2[36];
    qemu_madt(&tb, 1);
    place_tbl(P_MADT, &tb);
    uint64_t ents[] = {P_MADT};
    root_table(&tb, "RSDT", 4, ents, 1);
    place_tbl(P_RSDT, &tb);
    make_rsdp(r2, 0, P_RSDT, 0);
    assert_int_equal(acpi_init(r2), 0);
    assert_int_equal(acpi_mcfg(&base, &s, &e), -ENODEV);
    assert_int_equal(acpi_pm_timer_bits(), 0);
}

/* ---------------------------------------------------------------- FADT */

static void test_fadt_acpi1_short(void **state)
{
    (void)state;
    qemu_fadt(&tb, 116, 1, 0x1234);
    put32(tb.b + ACPI_FADT_FLAGS, ACPI_FADT_TMR_VAL_EXT);
    fix_checksum(tb.b, tb.len, ACPI_HDR_CHECKSUM);
    uint8_t *copy = place(0x500000, tb.b, tb.len);
    assert_int_equal(acpi_parse_fadt(&info, copy, tb.len), 0);
    assert_true(info.have_fadt);
    assert_int_equal(info.reset_reg.address, 0); /* not in a 1.0 FADT */
    assert_int_equal(info.boot_arch, 0);         /* reserved before revision 3 */
    assert_true(info.pm_tmr_32bit);
    assert_int_equal(info.pm_tmr.address, 0x608);
    assert_int_equal(info.dsdt_addr, 0x1234);

    tbl_begin(&tb, 100);
    tbl_finish(&tb, "FACP", 1);
    memset(&info, 0, sizeof(info));
    assert_int_equal(acpi_parse_fadt(&info, tb.b, tb.len), -EINVAL);
    assert_false(info.have_fadt);
}

static void test_fadt_x_fields_win(void **state)
{
    (void)state;
    qemu_fadt(&tb, 276, 6, 0x1234);
    put64(tb.b + ACPI_FADT_X_DSDT, 0x100000000ull);
    gas(tb.b + ACPI_FADT_X_PM1A_CNT_BLK, ACPI_GAS_SPACE_MEMORY, 16, 2, 0xfe000404);
    gas(tb.b + ACPI_FADT_X_PM_TMR_BLK, ACPI_GAS_SPACE_MEMORY, 32, 3, 0xfe000408);
    /* X_PM1b left zero: the legacy (zero) value stays. */
    tbl_finish(&tb, "FACP", 6);
    assert_int_equal(acpi_parse_fadt(&info, tb.b, tb.len), 0);
    assert_int_equal(info.dsdt_addr, 0x100000000ull);
    assert_int_equal(info.pm1a_cnt.space_id, ACPI_GAS_SPACE_MEMORY);
    assert_int_equal(info.pm1a_cnt.address, 0xfe000404);
    assert_int_equal(info.pm_tmr.address, 0xfe000408);
    assert_int_equal(info.pm1b_cnt.address, 0);
}

/* Hardware-reduced (QEMU microvm): no PM1 blocks, the sleep registers in the ACPI 5.0 tail. */
static void test_fadt_hw_reduced_sleep_registers(void **state)
{
    (void)state;
    qemu_fadt(&tb, 276, 5, 0x1234);
    put32(tb.b + ACPI_FADT_PM1A_CNT_BLK, 0);
    put32(tb.b + ACPI_FADT_FLAGS, ACPI_FADT_HW_REDUCED);
    gas(tb.b + ACPI_FADT_SLEEP_CONTROL, ACPI_GAS_SPACE_MEMORY, 8, 1, 0xfea00200);
    gas(tb.b + ACPI_FADT_SLEEP_STATUS, ACPI_GAS_SPACE_MEMORY, 8, 1, 0xfea00201);
    tbl_finish(&tb, "FACP", 5);
    memset(&info, 0, sizeof(info));
    assert_int_equal(acpi_parse_fadt(&info, tb.b, tb.len), 0);
    assert_int_equal(info.pm1a_cnt.address, 0);
    assert_int_equal(info.sleep_control.space_id, ACPI_GAS_SPACE_MEMORY);
    assert_int_equal(info.sleep_control.address, 0xfea00200);
    assert_int_equal(info.sleep_status.address, 0xfea00201);

    /* A FADT that ends before the sleep registers has none (never read past its length). */
    qemu_fadt(&tb, 244, 3, 0x1234);
    memset(&info, 0, sizeof(info));
    assert_int_equal(acpi_parse_fadt(&info, tb.b, tb.len), 0);
    assert_int_equal(info.sleep_control.address, 0);
    assert_int_equal(info.sleep_status.address, 0);
}

/* ---------------------------------------------------------------- \_S5 */

static void test_s5_scan(void **state)
{
    (void)state;
    uint8_t a = 9, b = 9;
    /* QEMU's form: Name(_S5_, Package(4){Zero, Zero, Zero, Zero}) inside Scope(\). */
    const uint8_t q[] = {0x10, 0x0d, '\\', 0x08, '_',  'S',  '5', '_',
                         0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00};
    assert_true(acpi_aml_find_s5(q, sizeof(q), &a, &b));
    assert_int_equal(a, 0);
    assert_int_equal(b, 0);

    /* Root-prefixed name, word and one values, a 2-byte PkgLength. */
    const uint8_t r[] = {0x08, '\\', '_', 'S', '5', '_', 0x12, 0x47, 0x00, 0x02, 0x0b, 0x07, 0x00, 0x01};
    assert_true(acpi_aml_find_s5(r, sizeof(r), &a, &b));
    assert_int_equal(a, 7);
    assert_int_equal(b, 1);

    /* One element holding both values (a in bits 0-7, b in 8-15). */
    const uint8_t p[] = {0x08, '_', 'S', '5', '_', 0x12, 0x05, 0x01, 0x0b, 0x05, 0x06};
    assert_true(acpi_aml_find_s5(p, sizeof(p), &a, &b));
    assert_int_equal(a, 5);
    assert_int_equal(b, 6);

    /* Not a Name: a reference to _S5_ in code. */
    const uint8_t n[] = {0x70, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00};
    assert_false(acpi_aml_find_s5(n, sizeof(n), &a, &b));

    /* Cut short at every possible point: never found, never read past the end. */
    for (size_t len = 0; len < sizeof(q); len++) {
        uint8_t *cut = place(0x600000 + len * 0x100, q, len ? len : 1);
        bool found = acpi_aml_find_s5(cut, len, &a, &b);
        assert_int_equal(found, len == sizeof(q));
    }
    /* An element that is not an integer constant. */
    const uint8_t s[] = {0x08, '_', 'S', '5', '_', 0x12, 0x04, 0x02, 0x70, 0x00};
    assert_false(acpi_aml_find_s5(s, sizeof(s), &a, &b));
}

static void test_s5_from_ssdt_when_dsdt_lacks_it(void **state)
{
    (void)state;
    uint8_t rsdp[36];
    qemu_fadt(&tb, 244, 3, P_DSDT);
    place_tbl(P_FADT, &tb);
    dsdt_with(&tb, NULL, 0);
    place_tbl(P_DSDT, &tb);
    uint8_t aml[32];
    size_t n = aml_s5(aml, 7, 7);
    tbl_begin(&tb, ACPI_HDR_SIZE);
    memcpy(tbl_add(&tb, n), aml, n);
    tbl_finish(&tb, "SSDT", 1);
    place_tbl(P_SSDT, &tb);
    uint64_t ents[] = {P_FADT, P_SSDT};
    root_table(&tb, "RSDT", 4, ents, 2);
    place_tbl(P_RSDT, &tb);
    make_rsdp(rsdp, 0, P_RSDT, 0);
    assert_int_equal(acpi_parse(&info, rsdp, test_map), 0);
    assert_true(info.have_s5);
    assert_int_equal(info.slp_typa, 7);
}

static void test_dsdt_bad_checksum_no_s5(void **state)
{
    (void)state;
    uint8_t rsdp[36];
    standard_system(rsdp, 2);
    uint8_t *d = map_mmio(P_DSDT, ACPI_HDR_SIZE);
    d[ACPI_HDR_OEMID] ^= 1;
    assert_int_equal(acpi_parse(&info, rsdp, test_map), 0);
    assert_true(info.have_fadt);
    assert_false(info.have_s5);
    assert_true(fakelog_contains("DSDT at 0x7fe1000: bad checksum"));
}

/* ---------------------------------------------------------------- BIOS area scan */

static void bda_with_ebda(uint16_t segment)
{
    uint8_t bda[2];
    put16(bda, segment);
    place(0x40e, bda, 2);
}

static void test_scan_rsdp_in_ebda(void **state)
{
    (void)state;
    uint8_t rsdp[36], tmp[36];
    standard_system(tmp, 0);
    make_rsdp(rsdp, 2, P_RSDT, P_XSDT);
    bda_with_ebda(0x9fc0);
    uint8_t *ebda = fakemem_add(0x9fc00, 1024);
    memcpy(ebda + 0x40, rsdp, 36);
    fakemem_add(0xe0000, 0x20000);
    /* NULL from the boot loader: scan; acpi_init() reads the BDA (page 0) through map_mmio(). */
    assert_int_equal(acpi_init(NULL), 0);
    assert_true(acpi_get()->xsdt);
    assert_true(acpi_get()->have_madt);
    assert_true(fakemem_map_mmio_calls() >= 1);
}

static void test_scan_rsdp_in_bios_rom(void **state)
{
    (void)state;
    uint8_t rsdp[36], tmp[36];
    standard_system(tmp, 0);
    make_rsdp(rsdp, 0, P_RSDT, 0);
    bda_with_ebda(0); /* no EBDA */
    uint8_t *rom = fakemem_add(0xe0000, 0x20000);
    memcpy(rom + 0x1000 + 8, rsdp, 20); /* misaligned: must not be found */
    const uint8_t *mis = acpi_scan_rsdp(test_map);
    if (mis)
        fail_msg("found at offset 0x%lx", (unsigned long)(mis - rom));
    memcpy(rom + 0x1fff0 - 16, rsdp, 20); /* the last aligned place where 20 bytes fit */
    const uint8_t *found = acpi_scan_rsdp(test_map);
    assert_ptr_equal(found, rom + 0x1ffe0);
    assert_int_equal(acpi_parse(&info, NULL, test_map), 0);
    assert_true(info.have_fadt);
}

static void test_scan_nothing(void **state)
{
    (void)state;
    bda_with_ebda(0x9fc0);
    fakemem_add(0x9fc00, 1024);
    fakemem_add(0xe0000, 0x20000);
    assert_int_equal(acpi_parse(&info, NULL, test_map), -ENOENT);
    assert_true(fakelog_contains("no RSDP found"));
}

static void test_invalid_bootloader_rsdp_rescans(void **state)
{
    (void)state;
    uint8_t rsdp[36], bad[36];
    standard_system(rsdp, 0);
    memcpy(bad, rsdp, 36);
    bad[ACPI_RSDP_CHECKSUM] ^= 1;
    bda_with_ebda(0);
    uint8_t *rom = fakemem_add(0xe0000, 0x20000);
    memcpy(rom + 0x10, rsdp, 20);
    assert_int_equal(acpi_parse(&info, bad, test_map), 0);
    assert_true(info.have_madt);
    assert_true(fakelog_contains("RSDP from the boot loader is invalid"));
}

/* ---------------------------------------------------------------- irq.c */

static void load_qemu_tables(void)
{
    uint8_t rsdp[36];
    standard_system(rsdp, 2);
    assert_int_equal(acpi_init(rsdp), 0);
}

static void test_isa_to_gsi(void **state)
{
    (void)state;
    load_qemu_tables();
    unsigned flags = 99;
    assert_int_equal(irq_isa_to_gsi(0, &flags), 2);
    assert_int_equal(flags, 0); /* conforms = ISA: edge, high */
    assert_int_equal(irq_isa_to_gsi(9, &flags), 9);
    assert_int_equal(flags, IRQ_TRIGGER_LEVEL);
    assert_int_equal(irq_isa_to_gsi(4, &flags), 4);
    assert_int_equal(flags, 0);
    assert_int_equal(irq_isa_to_gsi(1, NULL), 1);
}

static void test_isa_override_active_low(void **state)
{
    (void)state;
    uint8_t rsdp[36];
    tbl_begin(&tb, ACPI_MADT_ENTRIES);
    madt_iso(&tb, 9, 20, ACPI_INTI_POLARITY_LOW | ACPI_INTI_TRIGGER_LEVEL);
    tbl_finish(&tb, "APIC", 1);
    place_tbl(P_MADT, &tb);
    uint64_t ents[] = {P_MADT};
    root_table(&tb, "RSDT", 4, ents, 1);
    place_tbl(P_RSDT, &tb);
    make_rsdp(rsdp, 0, P_RSDT, 0);
    assert_int_equal(acpi_init(rsdp), 0);
    unsigned flags;
    assert_int_equal(irq_isa_to_gsi(9, &flags), 20);
    assert_int_equal(flags, IRQ_TRIGGER_LEVEL | IRQ_POLARITY_LOW);
}

static void test_pci_intx_q35(void **state)
{
    (void)state;
    load_qemu_tables();
    uint32_t gsi;
    unsigned flags;
    /* Verified in QEMU 7.2 with -device edu,addr=N (INTA): slot -> GSI. */
    const struct {
        unsigned slot, pin;
        uint32_t gsi;
    } cases[] = {
        {2, 1, 22}, {5, 1, 21}, {0x18, 1, 20}, {0x19, 1, 16}, {0x1e, 1, 20},
        {0, 1, 20}, {3, 2, 20}, {0x1f, 2, 17}, {0x1d, 4, 19}, {1, 4, 20},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(irq_pci_intx_gsi(IRQ_CHIPSET_Q35, cases[i].slot, cases[i].pin, 10, &gsi, &flags), 0);
        assert_int_equal(gsi, cases[i].gsi);
        assert_int_equal(flags, IRQ_TRIGGER_LEVEL);
    }
    assert_int_equal(irq_pci_intx_gsi(IRQ_CHIPSET_Q35, 3, 0, 10, &gsi, &flags), -EINVAL);
    assert_int_equal(irq_pci_intx_gsi(IRQ_CHIPSET_Q35, 3, 5, 10, &gsi, &flags), -EINVAL);
    assert_int_equal(irq_pci_intx_gsi(IRQ_CHIPSET_Q35, 32, 1, 10, &gsi, &flags), -EINVAL);
}

static void test_pci_intx_i440fx(void **state)
{
    (void)state;
    load_qemu_tables();
    uint32_t gsi;
    unsigned flags;
    /* Line 11 has QEMU's override: GSI 11, level, active high. */
    assert_int_equal(irq_pci_intx_gsi(IRQ_CHIPSET_I440FX, 3, 1, 11, &gsi, &flags), 0);
    assert_int_equal(gsi, 11);
    assert_int_equal(flags, IRQ_TRIGGER_LEVEL);
    /* A line without an override: a PCI line, level, active low. */
    assert_int_equal(irq_pci_intx_gsi(IRQ_CHIPSET_I440FX, 3, 1, 7, &gsi, &flags), 0);
    assert_int_equal(gsi, 7);
    assert_int_equal(flags, IRQ_PCI_INTX);
    assert_int_equal(irq_pci_intx_gsi(IRQ_CHIPSET_I440FX, 3, 1, 0xff, &gsi, &flags), -ENODEV);
    assert_int_equal(irq_pci_intx_gsi(IRQ_CHIPSET_I440FX, 3, 1, 0, &gsi, &flags), -ENODEV);
}

static int calls_a, calls_b;
static bool handler_a(void *ctx)
{
    calls_a++;
    return ctx == &calls_a;
}
static bool handler_b(void *ctx)
{
    (void)ctx;
    calls_b++;
    return false;
}

struct stat_want {
    int vector;
    uint64_t count;
};

static void stat_find(const struct irq_stat *st, void *arg)
{
    struct stat_want *w = arg;
    if (st->vector == w->vector)
        w->count = st->count;
}

/* The vector's count as irq_foreach_stat() reports it, or -1 if it is not listed. */
static uint64_t stat_count(int vector)
{
    struct stat_want w = {vector, (uint64_t)-1};
    irq_foreach_stat(stat_find, &w);
    return w.count;
}

static void test_dispatch(void **state)
{
    (void)state;
    int v = irq_alloc_vector();
    assert_in_range(v, IRQ_VECTOR_FIRST, IRQ_VECTOR_LAST);
    assert_int_equal(irq_attach(v, "a", handler_a, &calls_a), 0);
    assert_int_equal(irq_attach(v, "b", handler_b, NULL), 0);
    calls_a = calls_b = 0;
    irq_dispatch((uint8_t)v);
    irq_dispatch((uint8_t)v);
    assert_int_equal(calls_a, 2);
    assert_int_equal(calls_b, 2); /* shared: every handler runs */
    assert_int_equal(fake_eoi_count, 2);
    assert_int_equal(stat_count(v), 2);

    /* Spurious: counted, no EOI. */
    uint64_t sp = irq_spurious_count();
    irq_dispatch(IRQ_VECTOR_SPURIOUS);
    assert_int_equal(irq_spurious_count(), sp + 1);
    assert_int_equal(fake_eoi_count, 2);

    /* Unexpected vector not in service (a stray 8259 interrupt): counted, no EOI. */
    uint64_t un = irq_unexpected_count();
    irq_dispatch(39);
    assert_int_equal(irq_unexpected_count(), un + 1);
    assert_int_equal(fake_eoi_count, 2);
    assert_true(fakelog_contains("unexpected interrupt on vector 39"));
    /* Unexpected but in service at the LAPIC: counted and EOI'd, never fatal. */
    fake_isr[200 / 32] = 1u << (200 % 32);
    irq_dispatch(200);
    assert_int_equal(irq_unexpected_count(), un + 2);
    assert_int_equal(fake_eoi_count, 3);
    assert_int_equal(stat_count(200), 1);
}

static void test_attach_errors(void **state)
{
    (void)state;
    assert_int_equal(irq_attach(10, "x", handler_a, NULL), -EINVAL);
    assert_int_equal(irq_attach(IRQ_VECTOR_SPURIOUS, "x", handler_a, NULL), -EINVAL);
    assert_int_equal(irq_attach(300, "x", handler_a, NULL), -EINVAL);
    assert_int_equal(irq_attach(100, "x", NULL, NULL), -EINVAL);
    int v = irq_alloc_vector();
    for (int i = 0; i < 4; i++)
        assert_int_equal(irq_attach(v, "x", handler_b, NULL), 0);
    assert_int_equal(irq_attach(v, "x", handler_b, NULL), -ENOSPC);
}

static void test_route_and_msi(void **state)
{
    (void)state;
    fake_lapic_id_value = 3;
    assert_int_equal(irq_route_gsi(11, 60, IRQ_TRIGGER_LEVEL), 0);
    assert_int_equal(fake_route_calls, 1);
    assert_int_equal(fake_last_route.gsi, 11);
    assert_int_equal(fake_last_route.vector, 60);
    assert_int_equal(fake_last_route.flags, IRQ_TRIGGER_LEVEL);
    assert_int_equal(fake_last_route.dest, 3);
    assert_true(fakelog_contains("irq: GSI 11 -> vector 60 (level, active high)"));
    fake_route_result = -ENODEV;
    assert_int_equal(irq_route_gsi(99, 60, 0), -ENODEV);
    assert_int_equal(irq_route_gsi(11, 7, 0), -EINVAL);

    uint64_t addr;
    uint32_t data;
    irq_msi_compose(0x41, &addr, &data);
    assert_int_equal(addr, 0xfee03000);
    assert_int_equal(data, 0x41);
}

static void test_request_gsi_shares_vector(void **state)
{
    (void)state;
    int v1 = irq_request_gsi(22, IRQ_TRIGGER_LEVEL, "dev1", handler_a, &calls_a);
    assert_in_range(v1, IRQ_VECTOR_FIRST, IRQ_VECTOR_LAST);
    assert_int_equal(fake_route_calls, 1);
    assert_int_equal(fake_last_route.gsi, 22);
    assert_int_equal(fake_last_route.vector, v1);
    /* A second device on the same line: same vector, no second routing. */
    int v2 = irq_request_gsi(22, IRQ_TRIGGER_LEVEL, "dev2", handler_b, NULL);
    assert_int_equal(v2, v1);
    assert_int_equal(fake_route_calls, 1);
    calls_a = calls_b = 0;
    irq_dispatch((uint8_t)v1);
    assert_int_equal(calls_a, 1);
    assert_int_equal(calls_b, 1);
    /* A GSI no IO-APIC serves: the error, and the vector is not lost. */
    fake_route_result = -ENODEV;
    int before = irq_alloc_vector();
    assert_int_equal(irq_request_gsi(40, 0, "dev3", handler_b, NULL), -ENODEV);
    fake_route_result = 0;
    assert_int_equal(irq_alloc_vector(), before + 1);
    assert_int_equal(irq_request_gsi(300, 0, "dev4", handler_b, NULL), -EINVAL);
}

/* Runs last: it uses up every driver vector. */
static void test_alloc_exhaustion(void **state)
{
    (void)state;
    int n = 0, v;
    while ((v = irq_alloc_vector()) >= 0) {
        assert_in_range(v, IRQ_VECTOR_FIRST, IRQ_VECTOR_LAST);
        n++;
    }
    assert_int_equal(v, -ENOSPC);
    assert_true(n > 0 && n <= IRQ_VECTOR_LAST - IRQ_VECTOR_FIRST + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_checksum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rsdp_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_xsdt_system, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_rsdt_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_xsdt_falls_back_to_rsdt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_valid_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_table_checksum_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_table_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_and_huge_lengths_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_of_duplicate_tables_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_madt_zero_length_entry_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_madt_entry_past_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_madt_short_entry_skipped_rest_parsed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_madt_trailing_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_madt_x2apic_and_address_override, setup, teardown),
        cmocka_unit_test_setup_teardown(test_madt_too_many_cpus_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_madt_too_short_for_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mcfg_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acpi_init_and_mcfg, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fadt_acpi1_short, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fadt_x_fields_win, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fadt_hw_reduced_sleep_registers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_s5_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_s5_from_ssdt_when_dsdt_lacks_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dsdt_bad_checksum_no_s5, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_rsdp_in_ebda, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_rsdp_in_bios_rom, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_bootloader_rsdp_rescans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_isa_to_gsi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_isa_override_active_low, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pci_intx_q35, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pci_intx_i440fx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attach_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_and_msi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_gsi_shares_vector, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_exhaustion, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
