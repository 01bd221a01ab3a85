/*
 * Host tests of the PCI core (drivers/pci.c, drivers/pci_cfg.c) against the
 * fake configuration space in fake_pcicfg.c. Each test builds a topology,
 * runs the real enumeration, and asserts on what the core found and logged.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86_64/irq.h"
#include "drivers/pci.h"
#include "fake_pcicfg.h"
#include "lib/klog.h"

/* --- klog double: keeps every line so tests can assert on the log --- */

#define LOG_MAX 2048
static char log_lines[LOG_MAX][256];
static int log_n;

void klog(int level, const char *fmt, ...)
{
    va_list ap;
    (void)level;
    va_start(ap, fmt);
    if (log_n < LOG_MAX) {
        vsnprintf(log_lines[log_n], sizeof(log_lines[0]), fmt, ap);
        if (getenv("PCI_TEST_LOG")) /* PCI_TEST_LOG=1 build/unit/test_pci shows the listings */
            fprintf(stderr, "%s\n", log_lines[log_n]);
        log_n++;
    }
    va_end(ap);
}

static int log_count(const char *sub)
{
    int n = 0;
    for (int i = 0; i < log_n; i++)
        if (strstr(log_lines[i], sub))
            n++;
    return n;
}

/* Exactly one line containing @sub; print the log when not, to make failures readable. */
static void assert_logged_once(const char *sub)
{
    int n = log_count(sub);
    if (n != 1) {
        fprintf(stderr, "expected one log line containing \"%s\", found %d; log:\n", sub, n);
        for (int i = 0; i < log_n; i++)
            fprintf(stderr, "  %s\n", log_lines[i]);
    }
    assert_int_equal(n, 1);
}

/* --- irq doubles --- */

static uint64_t msi_addr = 0xFEE00000u;

void irq_msi_compose(int vector, uint64_t *addr, uint32_t *data)
{
    *addr = msi_addr;
    *data = (uint32_t)vector;
}

/* Records its arguments; the GSI encodes slot and pin so the test can check both. */
static struct {
    int calls;
    enum irq_pci_chipset chipset;
    unsigned slot, pin;
    uint8_t line;
} intx;

int irq_pci_intx_gsi(enum irq_pci_chipset chipset, unsigned slot, unsigned pin, uint8_t line, uint32_t *gsi,
                     unsigned *flags)
{
    intx.calls++;
    intx.chipset = chipset;
    intx.slot = slot;
    intx.pin = pin;
    intx.line = line;
    if (line == 0xFF)
        return -ENODEV;
    *gsi = 1000 + slot * 10 + pin;
    *flags = IRQ_TRIGGER_LEVEL;
    return 0;
}

static int setup(void **state)
{
    (void)state;
    fake_pci_reset();
    log_n = 0;
    msi_addr = 0xFEE00000u;
    memset(&intx, 0, sizeof(intx));
    return 0;
}

static uint32_t key(const struct pci_dev *d)
{
    return (uint32_t)d->bus << 8 | (uint32_t)d->dev << 3 | d->fn;
}
#define BDF(b, d, f) ((uint32_t)(b) << 8 | (uint32_t)(d) << 3 | (f))

struct collect {
    uint32_t keys[256];
    int n;
};

static void collect_fn(struct pci_dev *d, void *arg)
{
    struct collect *c = arg;
    c->keys[c->n++] = key(d);
}

/* --- Enumeration --- */

static void test_enumerate_nested_buses(void **state)
{
    (void)state;
    fake_pci_add(0, 0, 0, 0x8086, 0x29c0, 0x060000, 0x00);
    struct fake_pcifn *rp = fake_pci_add(0, 1, 0, 0x1b36, 0x000c, 0x060400, 0x01);
    fake_pci_bridge(rp, 0, 1, 2);
    fake_pci_add(0, 2, 0, 0x1af4, 0x1000, 0x020000, 0x80); /* multi-function, fn 1 absent */
    fake_pci_add(0, 2, 2, 0x1af4, 0x1001, 0x010000, 0x80);
    fake_pci_add_all_ones(0, 3, 0);
    struct fake_pcifn *alias = fake_pci_add(0, 4, 0, 0x8086, 0x100e, 0x020000, 0x00);
    alias->alias_all_fns = true; /* answers on fn 1-7 too: must be listed once */
    fake_pci_add(0, 0x1f, 0, 0x8086, 0x2918, 0x060100, 0x80);
    fake_pci_add(0, 0x1f, 2, 0x8086, 0x2922, 0x010601, 0x80);
    fake_pci_add(0, 0x1f, 3, 0x8086, 0x2930, 0x0c0500, 0x80);
    struct fake_pcifn *br = fake_pci_add(1, 0, 0, 0x1b36, 0x0001, 0x060400, 0x01);
    fake_pci_bridge(br, 1, 2, 2);
    fake_pci_add(1, 1, 0, 0x1af4, 0x1041, 0x020000, 0x00);
    fake_pci_add(2, 0, 0, 0x1af4, 0x1042, 0x010000, 0x00);
    fake_pci_add(5, 0, 0, 0x1af4, 0x1043, 0x010000, 0x00); /* no bridge leads here */

    assert_int_equal(pci_init_ops(&fake_pci_ops), 11);
    assert_int_equal(pci_dev_count(), 11);

    struct collect c = {.n = 0};
    pci_foreach_dev(collect_fn, &c);
    static const uint32_t want[] = {
        BDF(0, 0, 0),    BDF(0, 1, 0),    BDF(0, 2, 0), BDF(0, 2, 2), BDF(0, 4, 0), BDF(0, 0x1f, 0),
        BDF(0, 0x1f, 2), BDF(0, 0x1f, 3), BDF(1, 0, 0), BDF(1, 1, 0), BDF(2, 0, 0),
    };
    assert_int_equal(c.n, 11);
    for (int i = 0; i < 11; i++)
        assert_int_equal(c.keys[i], want[i]);

    struct pci_dev *d = pci_get_dev(0, 2, 0);
    assert_non_null(d);
    assert_true(d->multifunction);
    assert_int_equal(d->vendor, 0x1af4);
    assert_int_equal(d->device, 0x1000);
    assert_int_equal(d->class_code, 0x020000);
    assert_int_equal(d->revision, 0x01);
    assert_null(pci_get_dev(0, 2, 1));
    assert_null(pci_get_dev(0, 3, 0));
    assert_null(pci_get_dev(0, 4, 1));
    assert_null(pci_get_dev(5, 0, 0));

    d = pci_get_dev(1, 0, 0);
    assert_int_equal(d->hdr_type, PCI_HEADER_TYPE_BRIDGE);
    assert_int_equal(d->sec_bus, 2);
    assert_int_equal(d->sub_bus, 2);
    assert_int_equal(pci_get_dev(2, 0, 0)->device, 0x1042);

    assert_logged_once("pci: 11 functions on 3 buses (config access: fake, q35 INTx routing)");
    assert_logged_once("pci: 00:1f.2 8086:2922 SATA controller [0106] (rev 01)");
    assert_logged_once("pci: 00:00.0 8086:29c0 Host bridge [0600]");
    assert_logged_once("pci: 02:00.0 1af4:1042 SCSI storage controller [0100]");
    assert_logged_once("pci:   bridge: secondary bus 01, subordinate bus 02");
    assert_logged_once("pci:   bridge: secondary bus 02, subordinate bus 02");
    assert_int_equal(log_count("not followed"), 0);
}

static void test_bridge_guards(void **state)
{
    (void)state;
    struct fake_pcifn *f;
    f = fake_pci_add(0, 1, 0, 0x1b36, 0x000c, 0x060400, 0x01);
    fake_pci_bridge(f, 0, 0, 0); /* never programmed */
    f = fake_pci_add(0, 2, 0, 0x1b36, 0x000c, 0x060400, 0x01);
    fake_pci_bridge(f, 0, 0, 3); /* secondary bus 0: back to the root */
    f = fake_pci_add(0, 3, 0, 0x1b36, 0x000c, 0x060400, 0x01);
    fake_pci_bridge(f, 0, 1, 4); /* the good one */
    f = fake_pci_add(0, 4, 0, 0x1b36, 0x000c, 0x060400, 0x01);
    fake_pci_bridge(f, 0, 1, 1); /* bus 1 a second time */
    f = fake_pci_add(0, 5, 0, 0x1b36, 0x000c, 0x060400, 0x01);
    fake_pci_bridge(f, 0, 6, 5); /* secondary above subordinate */
    f = fake_pci_add(1, 0, 0, 0x1b36, 0x000c, 0x060400, 0x01);
    fake_pci_bridge(f, 1, 1, 1); /* points at its own bus */
    f = fake_pci_add(1, 2, 0, 0x1b36, 0x000c, 0x060400, 0x01);
    fake_pci_bridge(f, 1, 3, 9); /* escapes its parent's range 1-4 */
    f = fake_pci_add(1, 3, 0, 0x1b36, 0x000c, 0x060400, 0x01);
    fake_pci_bridge(f, 1, 2, 2);
    f = fake_pci_add(2, 0, 0, 0x1b36, 0x000c, 0x060400, 0x01);
    fake_pci_bridge(f, 2, 1, 4); /* a cycle back to bus 1 */
    fake_pci_add(2, 1, 0, 0x1af4, 0x1041, 0x020000, 0x00);
    fake_pci_add(3, 0, 0, 0x1af4, 0x1041, 0x020000, 0x00); /* only via the bad 01:02.0 */

    assert_int_equal(pci_init_ops(&fake_pci_ops), 10);
    assert_null(pci_get_dev(3, 0, 0));
    assert_non_null(pci_get_dev(2, 1, 0));
    assert_logged_once("pci: 10 functions on 3 buses");
    assert_logged_once("pci: 00:01.0: bridge not configured by firmware, not followed");
    assert_logged_once(
        "pci: 00:02.0: bridge to buses 00-03 does not fit behind bus 00 (limit ff), not followed");
    assert_logged_once("pci: 00:04.0: bridge to bus 01, which was already scanned, not followed");
    assert_logged_once(
        "pci: 00:05.0: bridge to buses 06-05 does not fit behind bus 00 (limit ff), not followed");
    assert_logged_once(
        "pci: 01:00.0: bridge to buses 01-01 does not fit behind bus 01 (limit 04), not followed");
    assert_logged_once(
        "pci: 01:02.0: bridge to buses 03-09 does not fit behind bus 01 (limit 04), not followed");
    assert_logged_once(
        "pci: 02:00.0: bridge to buses 01-04 does not fit behind bus 02 (limit 02), not followed");
    assert_int_equal(log_count("not followed"), 7);
}

/* 40 buses deep, each behind the previous one's bridge, and the last bridge loops back. */
static void test_deep_chain_ends_at_loop(void **state)
{
    (void)state;
    for (int b = 0; b < 40; b++) {
        struct fake_pcifn *f = fake_pci_add((uint8_t)b, 0, 0, 0x1b36, 0x000c, 0x060400, 0x01);
        fake_pci_bridge(f, (uint8_t)b, b == 39 ? 5 : (uint8_t)(b + 1), 0xFF);
        fake_pci_add((uint8_t)b, 1, 0, 0x1af4, 0x1041, 0x020000, 0x00);
    }
    assert_int_equal(pci_init_ops(&fake_pci_ops), 80);
    assert_logged_once("pci: 80 functions on 40 buses");
    assert_non_null(pci_get_dev(39, 1, 0));
    assert_logged_once(
        "pci: 27:00.0: bridge to buses 05-ff does not fit behind bus 27 (limit ff), not followed");
}

static void test_device_table_full(void **state)
{
    (void)state;
    for (int dev = 0; dev < 20; dev++)
        for (int fn = 0; fn < 8; fn++)
            fake_pci_add(0, (uint8_t)dev, (uint8_t)fn, 0x8086, 0x1234, 0x088000, 0x80);
    assert_int_equal(pci_init_ops(&fake_pci_ops), PCI_MAX_DEVICES);
    assert_logged_once("pci: more than 128 functions, 00:10.0 and later ignored");
    assert_non_null(pci_get_dev(0, 15, 7));
    assert_null(pci_get_dev(0, 16, 0));
}

/* --- BARs --- */

static void test_bar_sizing(void **state)
{
    (void)state;
    /* A host bridge that decodes with a BAR: sized without touching its command register. */
    struct fake_pcifn *hb = fake_pci_add(0, 0, 0, 0x8086, 0x29c0, 0x060000, 0x00);
    fake_pci_bar_mem32(hb, 0, 0xfec00000, 0x1000, false);
    fake_pci_set16(hb, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);

    struct fake_pcifn *f = fake_pci_add(0, 5, 0, 0x1234, 0x1111, 0x030000, 0x00);
    fake_pci_bar_io(f, 0, 0xc040, 32);
    fake_pci_bar_mem32(f, 1, 0xfebd1000, 0x1000, false);
    fake_pci_bar_mem64(f, 2, 0x800000000ull, 0x4000, true);
    fake_pci_bar_mem32(f, 4, 0xfd000000, 0x1000000, true);
    fake_pci_set16(f, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    uint32_t before[6];
    for (int i = 0; i < 6; i++)
        before[i] = fake_pci_get32(f, (uint8_t)PCI_BAR(i));

    struct fake_pcifn *g = fake_pci_add(0, 6, 0, 0x1234, 0x2222, 0x120000, 0x00);
    fake_pci_bar_mem64(g, 0, 0x400000000ull, 0x200000000ull, false); /* 8 GiB */
    fake_pci_set32(g, PCI_BAR(5), PCI_BAR_MEM_TYPE_64);              /* 64-bit type in the last slot */
    fake_pci_wmask32(g, PCI_BAR(5), 0xFFFFF000u);

    struct fake_pcifn *br = fake_pci_add(0, 7, 0, 0x1b36, 0x000c, 0x060400, 0x01);
    fake_pci_bar_mem32(br, 0, 0xfe800000, 0x1000, false);
    fake_pci_bridge(br, 0, 1, 1);
    fake_pci_set16(br, PCI_COMMAND, PCI_COMMAND_MEMORY);

    assert_int_equal(pci_init_ops(&fake_pci_ops), 4);

    struct pci_dev *d = pci_get_dev(0, 5, 0);
    assert_int_equal(d->bar[0].type, PCI_BAR_IO);
    assert_int_equal(d->bar[0].addr, 0xc040);
    assert_int_equal(d->bar[0].size, 32);
    assert_int_equal(d->bar[1].type, PCI_BAR_MEM32);
    assert_false(d->bar[1].prefetchable);
    assert_int_equal(d->bar[1].addr, 0xfebd1000);
    assert_int_equal(d->bar[1].size, 0x1000);
    assert_int_equal(d->bar[2].type, PCI_BAR_MEM64);
    assert_true(d->bar[2].prefetchable);
    assert_int_equal(d->bar[2].addr, 0x800000000ull);
    assert_int_equal(d->bar[2].size, 0x4000);
    assert_int_equal(d->bar[3].type, PCI_BAR_NONE); /* upper half */
    assert_int_equal(d->bar[4].type, PCI_BAR_MEM32);
    assert_true(d->bar[4].prefetchable);
    assert_int_equal(d->bar[4].size, 0x1000000);
    assert_int_equal(d->bar[5].type, PCI_BAR_NONE);
    assert_int_equal(d->bar[5].size, 0);

    /* Decode was off while all-ones sat in the BARs, and everything is as before. */
    assert_int_equal(f->bar_sized_while_decoding, 0);
    assert_int_equal(f->cmd_writes, 2);
    assert_int_equal(fake_pci_get16(f, PCI_COMMAND), PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    for (int i = 0; i < 6; i++)
        assert_int_equal(fake_pci_get32(f, (uint8_t)PCI_BAR(i)), before[i]);

    assert_int_equal(hb->cmd_writes, 0);
    assert_int_equal(pci_get_dev(0, 0, 0)->bar[0].size, 0x1000);

    d = pci_get_dev(0, 6, 0);
    assert_int_equal(d->bar[0].type, PCI_BAR_MEM64);
    assert_int_equal(d->bar[0].addr, 0x400000000ull);
    assert_int_equal(d->bar[0].size, 0x200000000ull);
    assert_int_equal(d->bar[5].type, PCI_BAR_NONE);
    assert_int_equal(g->cmd_writes, 0); /* decode was off already: nothing to toggle */

    d = pci_get_dev(0, 7, 0);
    assert_int_equal(d->bar[0].type, PCI_BAR_MEM32);
    assert_int_equal(d->bar[0].size, 0x1000);
    assert_int_equal(br->bar_sized_while_decoding, 0);
    assert_int_equal(fake_pci_get8(br, PCI_SECONDARY_BUS), 1); /* 0x18.. not taken for BARs */

    assert_logged_once("pci:   BAR0: I/O ports at 0xc040 [size=32]");
    assert_logged_once("pci:   BAR1: memory at 0xfebd1000 (32-bit, non-prefetchable) [size=4K]");
    assert_logged_once("pci:   BAR2: memory at 0x800000000 (64-bit, prefetchable) [size=16K]");
    assert_logged_once("pci:   BAR4: memory at 0xfd000000 (32-bit, prefetchable) [size=16M]");
    assert_logged_once("pci:   BAR0: memory at 0x400000000 (64-bit, non-prefetchable) [size=8G]");
    assert_logged_once("pci: 00:06.0: 64-bit BAR5 has no upper half, ignored");
}

static void test_enable_and_map(void **state)
{
    (void)state;
    static uint8_t bar1[0x1000];
    struct fake_pcifn *f = fake_pci_add(0, 3, 0, 0x1af4, 0x1000, 0x020000, 0x00);
    fake_pci_bar_io(f, 0, 0xc000, 32);
    fake_pci_bar_mem32(f, 1, 0xfebd1000, 0x1000, false);
    fake_pci_bar_mem64(f, 2, 0, 0x4000, true); /* firmware left it unassigned */
    fake_mmio_add(0xfebd1000, bar1, sizeof(bar1));

    pci_init_ops(&fake_pci_ops);
    struct pci_dev *d = pci_get_dev(0, 3, 0);
    /* Enumeration leaves the command register alone. */
    assert_int_equal(fake_pci_get16(f, PCI_COMMAND), 0);

    assert_int_equal(pci_enable_device(d), 0);
    assert_int_equal(fake_pci_get16(f, PCI_COMMAND), PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    pci_set_master(d);
    assert_int_equal(fake_pci_get16(f, PCI_COMMAND),
                     PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);

    assert_ptr_equal(pci_map_bar(d, 1), bar1);
    assert_ptr_equal(pci_map_bar(d, 1), bar1);
    assert_int_equal(fake_mmio_ncalls, 1); /* mapped once */
    assert_int_equal(fake_mmio_calls[0].phys, 0xfebd1000);
    assert_int_equal(fake_mmio_calls[0].len, 0x1000);
    assert_null(pci_map_bar(d, 0)); /* I/O */
    assert_null(pci_map_bar(d, 3)); /* upper half */
    assert_null(pci_map_bar(d, 5)); /* absent */
    assert_null(pci_map_bar(d, 6)); /* no such BAR */
    assert_null(pci_map_bar(d, -1));
    assert_null(pci_map_bar(d, 2)); /* address 0 */
    assert_logged_once("pci: 00:03.0: BAR2 has no address assigned");
    assert_logged_once("pci:   BAR2: memory at <unassigned> (64-bit, prefetchable) [size=16K]");
    assert_int_equal(fake_mmio_ncalls, 1);
}

/* --- Configuration accessors --- */

static void test_cfg_access_bounds(void **state)
{
    (void)state;
    struct fake_pcifn *f = fake_pci_add(0, 3, 0, 0x1af4, 0x1000, 0x020000, 0x00);
    fake_pci_set32(f, 0x40, 0x11223344);
    pci_init_ops(&fake_pci_ops);
    struct pci_dev *d = pci_get_dev(0, 3, 0);

    assert_int_equal(pci_cfg_read32(d, 0x40), 0x11223344);
    assert_int_equal(pci_cfg_read16(d, 0x42), 0x1122);
    assert_int_equal(pci_cfg_read8(d, 0x41), 0x33);
    /* Misaligned and out of range never reach the mechanism (the fake would abort). */
    assert_int_equal(pci_cfg_read16(d, 0x41), 0xFFFF);
    assert_int_equal(pci_cfg_read32(d, 0x100), 0xFFFFFFFFu);
    assert_int_equal(pci_cfg_read8(d, 0x100), 0xFF);
    pci_cfg_write32(d, 0xFE, 0);
    pci_cfg_write16(d, 0x3D, 0);
    assert_logged_once("pci: 00:03.0: bad config read of 2 bytes at 0x41");
    assert_logged_once("pci: 00:03.0: bad config read of 4 bytes at 0x100");
    assert_logged_once("pci: 00:03.0: bad config write of 4 bytes at 0xfe");
    assert_logged_once("pci: 00:03.0: bad config write of 2 bytes at 0x3d");

    /* A 16-bit write is a 16-bit write: status's RW1C bits next door stay set. */
    fake_pci_set16(f, PCI_STATUS, 0x8000 | PCI_STATUS_CAP_LIST);
    pci_cfg_write16(d, PCI_COMMAND, PCI_COMMAND_MEMORY);
    assert_int_equal(fake_pci_get16(f, PCI_STATUS), 0x8000 | PCI_STATUS_CAP_LIST);
    assert_int_equal(fake_pci_get16(f, PCI_COMMAND), PCI_COMMAND_MEMORY);
}

/* --- Capabilities --- */

static void test_caps_list(void **state)
{
    (void)state;
    struct fake_pcifn *f = fake_pci_add(0, 3, 0, 0x1af4, 0x1041, 0x020000, 0x00);
    fake_pci_cap_head(f, 0x98);
    fake_pci_cap(f, 0x98, PCI_CAP_ID_MSIX, 0x84);
    fake_pci_cap(f, 0x84, PCI_CAP_ID_VNDR, 0x70);
    fake_pci_cap(f, 0x70, PCI_CAP_ID_VNDR, 0x60);
    fake_pci_cap(f, 0x60, PCI_CAP_ID_PM, 0x50);
    fake_pci_cap(f, 0x50, PCI_CAP_ID_VNDR, 0x40);
    fake_pci_cap(f, 0x40, 0x3F, 0x00); /* an ID we have no name for */
    /* Capability pointer set but the status bit clear: no list. */
    struct fake_pcifn *g = fake_pci_add(0, 4, 0, 0x1af4, 0x1041, 0x020000, 0x00);
    fake_pci_set8(g, PCI_CAPABILITY_LIST, 0x40);
    fake_pci_cap(g, 0x40, PCI_CAP_ID_MSIX, 0);
    /* The longest possible list: a capability in every dword from 0x40 to 0xFC. */
    struct fake_pcifn *h = fake_pci_add(0, 5, 0, 0x1af4, 0x1041, 0x020000, 0x00);
    fake_pci_cap_head(h, 0x40);
    for (unsigned off = 0x40; off <= 0xFC; off += 4)
        fake_pci_cap(h, (uint8_t)off, PCI_CAP_ID_VNDR, off == 0xFC ? 0 : (uint8_t)(off + 4));

    pci_init_ops(&fake_pci_ops);
    struct pci_dev *d = pci_get_dev(0, 3, 0);
    assert_int_equal(d->ncaps, 6);
    assert_false(d->caps_broken);
    assert_int_equal(d->msix_cap, 0x98);
    assert_int_equal(d->msi_cap, 0);

    assert_int_equal(pci_find_capability(d, PCI_CAP_ID_MSIX, 0), 0x98);
    assert_int_equal(pci_find_capability(d, PCI_CAP_ID_PM, 0), 0x60);
    int pos = pci_find_capability(d, PCI_CAP_ID_VNDR, 0);
    assert_int_equal(pos, 0x84);
    pos = pci_find_capability(d, PCI_CAP_ID_VNDR, pos);
    assert_int_equal(pos, 0x70);
    pos = pci_find_capability(d, PCI_CAP_ID_VNDR, pos);
    assert_int_equal(pos, 0x50);
    assert_int_equal(pci_find_capability(d, PCI_CAP_ID_VNDR, pos), 0);
    assert_int_equal(pci_find_capability(d, PCI_CAP_ID_EXP, 0), 0);
    assert_int_equal(pci_find_capability(d, PCI_CAP_ID_VNDR, 0x44), 0); /* not a cap offset */

    /* One line would be too long for the console: the list wraps. */
    assert_logged_once("pci:   capabilities: [98] MSI-X, [84] Vendor Specific, [70] Vendor "
                       "Specific, [60] Power Management,");
    assert_logged_once("pci:     [50] Vendor Specific, [40] Unknown");

    d = pci_get_dev(0, 4, 0);
    assert_int_equal(d->ncaps, 0);
    assert_int_equal(pci_get_dev(0, 5, 0)->ncaps, 48);
    assert_logged_once("pci:   capabilities: [40] Vendor Specific, [44] Vendor Specific,");
    assert_logged_once("[f8] Vendor Specific, [fc] Vendor Specific");
    /* Every capability printed once, across the wrapped lines. */
    int total = 0;
    for (int i = 0; i < log_n; i++)
        for (const char *p = log_lines[i]; (p = strstr(p, "Vendor Specific")); p++)
            total++;
    assert_int_equal(total, 48 + 3); /* and 3 from 00:03.0 */
    assert_int_equal(pci_find_capability(d, PCI_CAP_ID_MSIX, 0), 0);
    assert_int_equal(log_count("capabilities:"), 2);
}

static void test_caps_loop(void **state)
{
    (void)state;
    struct fake_pcifn *f = fake_pci_add(0, 3, 0, 0x1af4, 0x1041, 0x020000, 0x00);
    fake_pci_cap_head(f, 0x40);
    fake_pci_cap(f, 0x40, PCI_CAP_ID_VNDR, 0x50);
    fake_pci_cap(f, 0x50, PCI_CAP_ID_MSIX, 0x60);
    fake_pci_cap(f, 0x60, PCI_CAP_ID_VNDR, 0x40); /* back to the head */
    struct fake_pcifn *g = fake_pci_add(0, 4, 0, 0x1af4, 0x1041, 0x020000, 0x00);
    fake_pci_cap_head(g, 0x40);
    fake_pci_cap(g, 0x40, PCI_CAP_ID_PM, 0x40); /* points at itself */

    pci_init_ops(&fake_pci_ops);
    unsigned reads_after_init = f->reads;
    struct pci_dev *d = pci_get_dev(0, 3, 0);
    assert_int_equal(d->ncaps, 3);
    assert_true(d->caps_broken);
    assert_int_equal(d->caps[2], 0x60);
    assert_logged_once("pci: 00:03.0: capability list cut after [60]: next pointer 0x40 loops back");

    /* Searching never goes round: vendor caps at 0x40 and 0x60, then the end. */
    int pos = pci_find_capability(d, PCI_CAP_ID_VNDR, 0);
    assert_int_equal(pos, 0x40);
    pos = pci_find_capability(d, PCI_CAP_ID_VNDR, pos);
    assert_int_equal(pos, 0x60);
    assert_int_equal(pci_find_capability(d, PCI_CAP_ID_VNDR, pos), 0);
    assert_int_equal(pci_find_capability(d, PCI_CAP_ID_MSIX, 0), 0x50);
    assert_int_equal(f->reads, reads_after_init); /* the cached list, no config reads */
    assert_int_equal(log_count("loops back"), 2); /* once per device, never again */

    d = pci_get_dev(0, 4, 0);
    assert_int_equal(d->ncaps, 1);
    assert_logged_once("pci: 00:04.0: capability list cut after [40]: next pointer 0x40 loops back");
    assert_logged_once("capabilities: [40] Power Management, <list cut: bad pointer>");
}

static void test_caps_bad_pointers(void **state)
{
    (void)state;
    struct fake_pcifn *f;
    f = fake_pci_add(0, 1, 0, 0x1af4, 0x1041, 0x020000, 0x00);
    fake_pci_cap_head(f, 0x20); /* inside the standard header */
    f = fake_pci_add(0, 2, 0, 0x1af4, 0x1041, 0x020000, 0x00);
    fake_pci_cap_head(f, 0x40);
    fake_pci_cap(f, 0x40, PCI_CAP_ID_PM, 0xFE); /* past 0xFC */
    f = fake_pci_add(0, 3, 0, 0x1af4, 0x1041, 0x020000, 0x00);
    fake_pci_cap_head(f, 0x40);
    fake_pci_cap(f, 0x40, PCI_CAP_ID_PM, 0x52); /* misaligned */
    fake_pci_cap(f, 0x50, PCI_CAP_ID_MSI, 0x00);
    f = fake_pci_add(0, 4, 0, 0x1af4, 0x1041, 0x020000, 0x00);
    fake_pci_cap_head(f, 0x40);
    fake_pci_cap(f, 0x40, PCI_CAP_ID_PM, 0xFC);   /* last legal dword */
    fake_pci_cap(f, 0xFC, PCI_CAP_ID_VNDR, 0x3C); /* then into the header */
    f = fake_pci_add(0, 5, 0, 0x1af4, 0x1041, 0x020000, 0x00);
    fake_pci_cap_head(f, 0x40);
    fake_pci_cap(f, 0x40, PCI_CAP_ID_PM, 0x80);
    fake_pci_set32(f, 0x80, 0xFFFFFFFF); /* ID 0xFF: nothing there */

    pci_init_ops(&fake_pci_ops);
    assert_int_equal(pci_get_dev(0, 1, 0)->ncaps, 0);
    assert_true(pci_get_dev(0, 1, 0)->caps_broken);
    assert_logged_once("pci: 00:01.0: capability list ignored: first pointer 0x20 out of range");
    assert_int_equal(pci_get_dev(0, 2, 0)->ncaps, 1);
    assert_logged_once("pci: 00:02.0: capability list cut after [40]: next pointer 0xfe out of range");
    assert_int_equal(pci_get_dev(0, 3, 0)->ncaps, 1);
    assert_int_equal(pci_find_capability(pci_get_dev(0, 3, 0), PCI_CAP_ID_MSI, 0), 0);
    assert_logged_once("pci: 00:03.0: capability list cut after [40]: next pointer 0x52 not dword aligned");
    assert_int_equal(pci_get_dev(0, 4, 0)->ncaps, 2);
    assert_int_equal(pci_find_capability(pci_get_dev(0, 4, 0), PCI_CAP_ID_VNDR, 0), 0xFC);
    assert_logged_once("pci: 00:04.0: capability list cut after [fc]: next pointer 0x3c out of range");
    assert_int_equal(pci_get_dev(0, 5, 0)->ncaps, 1);
    assert_logged_once("pci: 00:05.0: capability list cut after [40]: next pointer 0x80 reads as all ones");
}

/* --- MSI-X and MSI --- */

#define MSIX_BAR_PHYS 0xfe000000ull
static uint8_t msix_bar[0x4000] __attribute__((aligned(4096)));

static uint32_t msix_word(unsigned entry, unsigned reg)
{
    uint32_t v;
    memcpy(&v, msix_bar + entry * 16 + reg, 4);
    return v;
}

/* 1af4:1041 with a 16K 64-bit BAR4 holding an MSI-X table of @tsize at @table_off, PBA at 0x800. */
static struct fake_pcifn *add_msix_dev(uint8_t dev, unsigned tsize, uint32_t table_reg)
{
    struct fake_pcifn *f = fake_pci_add(0, dev, 0, 0x1af4, 0x1041, 0x020000, 0x00);
    fake_pci_bar_io(f, 0, 0xc000, 64);
    fake_pci_bar_mem64(f, 4, MSIX_BAR_PHYS, sizeof(msix_bar), true);
    fake_pci_cap_head(f, 0x40);
    fake_pci_cap(f, 0x40, PCI_CAP_ID_VNDR, 0x50);
    fake_pci_cap(f, 0x50, PCI_CAP_ID_MSIX, 0x60);
    fake_pci_set16(f, 0x52, (uint16_t)(tsize - 1));
    fake_pci_wmask16(f, 0x52, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    fake_pci_set32(f, 0x54, table_reg);
    fake_pci_set32(f, 0x58, 0x800 | 4);
    /* MSI, 64-bit, per-vector masking, 4 vectors requested. */
    fake_pci_cap(f, 0x60, PCI_CAP_ID_MSI, 0x00);
    fake_pci_set16(f, 0x62, PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT | 0x0004 | 0x0020);
    fake_pci_wmask16(f, 0x62, PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE);
    fake_pci_wmask32(f, 0x64, 0xFFFFFFFC);
    fake_pci_wmask32(f, 0x68, 0xFFFFFFFF);
    fake_pci_wmask16(f, 0x6C, 0xFFFF);
    fake_pci_set32(f, 0x70, 0x1); /* vector 0 masked */
    fake_pci_wmask32(f, 0x70, 0x1);
    return f;
}

static void test_msix(void **state)
{
    (void)state;
    memset(msix_bar, 0, sizeof(msix_bar)); /* entries left unmasked, as a careless firmware might */
    struct fake_pcifn *f = add_msix_dev(3, 4, 0x0 | 4);
    fake_mmio_add(MSIX_BAR_PHYS, msix_bar, sizeof(msix_bar));
    pci_init_ops(&fake_pci_ops);
    struct pci_dev *d = pci_get_dev(0, 3, 0);
    assert_int_equal(d->msix_cap, 0x50);
    assert_int_equal(d->msi_cap, 0x60);

    assert_int_equal(pci_msix_enable(d, 0), -EINVAL);
    assert_int_equal(pci_msix_enable(d, 5), -EINVAL);
    assert_int_equal(pci_msix_set_vector(d, 0, 0x40), -EINVAL); /* not enabled yet */
    assert_int_equal(pci_msix_enable(d, 3), 0);
    assert_ptr_equal(d->msix_table, msix_bar);
    assert_int_equal(d->msix_table_size, 4);
    assert_int_equal(fake_mmio_ncalls, 1);
    assert_int_equal(fake_mmio_calls[0].phys, MSIX_BAR_PHYS);
    for (unsigned e = 0; e < 4; e++)
        assert_int_equal(msix_word(e, PCI_MSIX_ENTRY_CTRL) & 1, 1);
    uint16_t ctrl = fake_pci_get16(f, 0x52);
    assert_true(ctrl & PCI_MSIX_FLAGS_ENABLE);
    assert_false(ctrl & PCI_MSIX_FLAGS_MASKALL);
    uint16_t cmd = fake_pci_get16(f, PCI_COMMAND);
    assert_int_equal(cmd & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE),
                     PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
    assert_int_equal(pci_msix_enable(d, 3), -EBUSY);
    assert_int_equal(pci_msi_enable(d, 0x50), -EBUSY);

    assert_int_equal(pci_msix_set_vector(d, 1, 0x42), 0);
    assert_int_equal(msix_word(1, PCI_MSIX_ENTRY_ADDR_LO), 0xFEE00000u);
    assert_int_equal(msix_word(1, PCI_MSIX_ENTRY_ADDR_HI), 0);
    assert_int_equal(msix_word(1, PCI_MSIX_ENTRY_DATA), 0x42);
    assert_int_equal(msix_word(1, PCI_MSIX_ENTRY_CTRL) & 1, 0);
    assert_int_equal(msix_word(0, PCI_MSIX_ENTRY_CTRL) & 1, 1);
    assert_int_equal(msix_word(2, PCI_MSIX_ENTRY_CTRL) & 1, 1);
    assert_int_equal(pci_msix_set_vector(d, 3, 0x43), -EINVAL); /* only 3 asked for */

    assert_int_equal(pci_msix_mask(d, 1, true), 0);
    assert_int_equal(msix_word(1, PCI_MSIX_ENTRY_CTRL) & 1, 1);
    assert_int_equal(pci_msix_mask(d, 1, false), 0);
    assert_int_equal(msix_word(1, PCI_MSIX_ENTRY_CTRL) & 1, 0);
    assert_int_equal(msix_word(1, PCI_MSIX_ENTRY_DATA), 0x42);
    assert_int_equal(pci_msix_mask(d, 3, true), -EINVAL);

    msix_bar[0x800] = 0x04;
    assert_true(pci_msix_pending(d, 2));
    assert_false(pci_msix_pending(d, 1));
    assert_false(pci_msix_pending(d, 4));

    pci_msix_disable(d);
    assert_false(fake_pci_get16(f, 0x52) & PCI_MSIX_FLAGS_ENABLE);
    assert_false(fake_pci_get16(f, PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE);
    assert_int_equal(msix_word(1, PCI_MSIX_ENTRY_CTRL) & 1, 1);
    assert_int_equal(pci_msix_set_vector(d, 0, 0x40), -EINVAL);

    /* Re-enabling reuses the mapping. */
    assert_int_equal(pci_msix_enable(d, 4), 0);
    assert_int_equal(fake_mmio_ncalls, 1);
    pci_msix_disable(d);
}

static void test_msix_bad_table(void **state)
{
    (void)state;
    add_msix_dev(1, 4, 0x3FF8 | 4); /* runs past the end of the 16K BAR */
    add_msix_dev(2, 4, 0x0 | 0);    /* BIR 0 is an I/O BAR */
    add_msix_dev(3, 4, 0x0 | 7);    /* BIR 7 does not exist */
    add_msix_dev(4, 4, 0x0 | 4);    /* fine, but no mapping will be possible */
    pci_init_ops(&fake_pci_ops);

    assert_int_equal(pci_msix_enable(pci_get_dev(0, 1, 0), 1), -EIO);
    assert_logged_once("pci: 00:01.0: MSI-X table (BIR 4, offset 0x3ff8) is not inside a memory BAR");
    assert_int_equal(pci_msix_enable(pci_get_dev(0, 2, 0), 1), -EIO);
    assert_int_equal(pci_msix_enable(pci_get_dev(0, 3, 0), 1), -EIO);
    assert_int_equal(pci_msix_enable(pci_get_dev(0, 4, 0), 1), -ENOMEM);
    assert_false(pci_get_dev(0, 4, 0)->msix_enabled);
    assert_int_equal(pci_msix_set_vector(pci_get_dev(0, 4, 0), 0, 0x40), -EINVAL);
}

static void test_msi(void **state)
{
    (void)state;
    struct fake_pcifn *f = add_msix_dev(3, 4, 0x0 | 4);
    /* A device with only a 32-bit MSI capability. */
    struct fake_pcifn *g = fake_pci_add(0, 4, 0, 0x8086, 0x100e, 0x020000, 0x00);
    fake_pci_cap_head(g, 0x40);
    fake_pci_cap(g, 0x40, PCI_CAP_ID_MSI, 0x00);
    fake_pci_wmask16(g, 0x42, PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE);
    fake_pci_wmask32(g, 0x44, 0xFFFFFFFC);
    fake_pci_wmask16(g, 0x48, 0xFFFF);
    fake_pci_add(0, 5, 0, 0x8086, 0x100e, 0x020000, 0x00); /* no capabilities at all */
    pci_init_ops(&fake_pci_ops);

    struct pci_dev *d = pci_get_dev(0, 3, 0);
    assert_int_equal(pci_msi_enable(d, 0x51), 0);
    assert_true(d->msi_enabled);
    assert_int_equal(fake_pci_get32(f, 0x64), 0xFEE00000u);
    assert_int_equal(fake_pci_get32(f, 0x68), 0);
    assert_int_equal(fake_pci_get16(f, 0x6C), 0x51);
    assert_int_equal(fake_pci_get32(f, 0x70) & 1, 0); /* unmasked */
    uint16_t ctrl = fake_pci_get16(f, 0x62);
    assert_true(ctrl & PCI_MSI_FLAGS_ENABLE);
    assert_int_equal(ctrl & PCI_MSI_FLAGS_QSIZE, 0); /* one vector */
    assert_true(fake_pci_get16(f, PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE);
    assert_true(fake_pci_get16(f, PCI_COMMAND) & PCI_COMMAND_MASTER);
    assert_int_equal(pci_msix_enable(d, 1), -EBUSY);
    pci_msi_disable(d);
    assert_false(fake_pci_get16(f, 0x62) & PCI_MSI_FLAGS_ENABLE);
    assert_false(fake_pci_get16(f, PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE);

    d = pci_get_dev(0, 4, 0);
    msi_addr = 0x1FEE00000ull; /* needs 64 bits */
    assert_int_equal(pci_msi_enable(d, 0x52), -EINVAL);
    assert_false(fake_pci_get16(g, 0x42) & PCI_MSI_FLAGS_ENABLE);
    msi_addr = 0xFEE00000u;
    assert_int_equal(pci_msi_enable(d, 0x52), 0);
    assert_int_equal(fake_pci_get32(g, 0x44), 0xFEE00000u);
    assert_int_equal(fake_pci_get16(g, 0x48), 0x52);
    assert_true(fake_pci_get16(g, 0x42) & PCI_MSI_FLAGS_ENABLE);

    d = pci_get_dev(0, 5, 0);
    assert_int_equal(pci_msi_enable(d, 0x53), -ENODEV);
    assert_int_equal(pci_msix_enable(d, 1), -ENODEV);
}

static struct fake_pcifn *add_pin(uint8_t bus, uint8_t dev, uint8_t pin, uint8_t line)
{
    struct fake_pcifn *f = fake_pci_add(bus, dev, 0, 0x8086, 0x100e, 0x020000, 0x00);
    fake_pci_set8(f, PCI_INTERRUPT_PIN, pin);
    fake_pci_set8(f, PCI_INTERRUPT_LINE, line);
    return f;
}

static void test_intx_gsi(void **state)
{
    (void)state;
    fake_pci_add(0, 0, 0, 0x8086, 0x29c0, 0x060000, 0x00); /* q35 host bridge */
    add_pin(0, 3, 1, 11);
    add_pin(0, 4, 0, 0); /* no pin */
    struct fake_pcifn *f = fake_pci_add(0, 0x1c, 0, 0x8086, 0x2940, 0x060400, 0x01);
    fake_pci_bridge(f, 0, 1, 2);
    add_pin(1, 0, 1, 10);
    add_pin(1, 3, 4, 10); /* INTD of device 3: INTC at the bridge */
    f = fake_pci_add(1, 2, 0, 0x1b36, 0x0001, 0x060400, 0x01);
    fake_pci_bridge(f, 1, 2, 2);
    add_pin(2, 1, 3, 10); /* INTC, rotated by 1 then by 2: INTB at slot 1c */
    pci_init_ops(&fake_pci_ops);
    assert_logged_once("q35 INTx routing");

    unsigned flags = 0xdead;
    assert_int_equal(pci_intx_gsi(pci_get_dev(0, 3, 0), &flags), 1000 + 3 * 10 + 1);
    assert_int_equal(flags, IRQ_TRIGGER_LEVEL);
    assert_int_equal(intx.chipset, IRQ_CHIPSET_Q35);
    assert_int_equal(intx.line, 11);
    assert_int_equal(pci_intx_gsi(pci_get_dev(1, 0, 0), &flags), 1000 + 0x1c * 10 + 1);
    assert_int_equal(pci_intx_gsi(pci_get_dev(1, 3, 0), NULL), 1000 + 0x1c * 10 + 3);
    assert_int_equal(pci_intx_gsi(pci_get_dev(2, 1, 0), NULL), 1000 + 0x1c * 10 + 2);
    assert_int_equal(intx.calls, 4);
    assert_int_equal(pci_intx_gsi(pci_get_dev(0, 4, 0), &flags), -ENODEV);
    assert_int_equal(intx.calls, 4); /* no pin: not even asked */
    assert_logged_once("pci:   interrupt: pin A, line 11");
    assert_logged_once("pci:   interrupt: pin D, line 10");
    assert_int_equal(log_count("interrupt:"), 4);

    /* Anything but the q35 host bridge is treated as a PIIX-style PIRQ router. */
    fake_pci_reset();
    fake_pci_add(0, 0, 0, 0x8086, 0x1237, 0x060000, 0x00);
    add_pin(0, 5, 2, 0xFF);
    add_pin(0, 6, 1, 11);
    pci_init_ops(&fake_pci_ops);
    assert_int_equal(pci_intx_gsi(pci_get_dev(0, 5, 0), &flags), -ENOENT);
    assert_int_equal(intx.chipset, IRQ_CHIPSET_I440FX);
    assert_int_equal(intx.slot, 5);
    assert_int_equal(intx.pin, 2);
    assert_int_equal(pci_intx_gsi(pci_get_dev(0, 6, 0), &flags), 1000 + 6 * 10 + 1);
    assert_int_equal(intx.line, 11);
}

/* --- Driver table --- */

static int net_calls, ahci_calls, decline_calls, fail_calls;

static int net_probe(struct pci_dev *d)
{
    net_calls++;
    pci_enable_device(d);
    pci_set_master(d);
    d->drvdata = &net_calls;
    return 0;
}
static int ahci_probe(struct pci_dev *d)
{
    (void)d;
    ahci_calls++;
    return 0;
}
static int decline_probe(struct pci_dev *d)
{
    (void)d;
    decline_calls++;
    return -ENODEV;
}
static int fail_probe(struct pci_dev *d)
{
    fail_calls++;
    d->drvdata = &fail_calls; /* the core must not keep this */
    return -EIO;
}

static const struct pci_id net_ids[] = {
    PCI_ID_DEVICE(0x1af4, 0x1000),
    PCI_ID_DEVICE(0x1af4, 0x1041),
    {0},
};
static const struct pci_id ahci_ids[] = {PCI_ID_CLASS(0x010601, 0xFFFFFF), {0}};
static const struct pci_id host_ids[] = {PCI_ID_CLASS(0x060000, 0xFFFF00), {0}};
static const struct pci_id smbus_ids[] = {
    {.vendor = 0x8086, .device = PCI_ANY_ID, .class_code = 0x0c0500, .class_mask = 0xFFFF00},
    {0},
};

static const struct pci_driver test_net = {"test-net", net_ids, net_probe};
static const struct pci_driver test_ahci = {"test-ahci", ahci_ids, ahci_probe};
static const struct pci_driver test_decline = {"test-decline", host_ids, decline_probe};
static const struct pci_driver test_fail = {"test-fail", smbus_ids, fail_probe};
PCI_DRIVER(test_net);
PCI_DRIVER(test_ahci);
PCI_DRIVER(test_decline);
PCI_DRIVER(test_fail);

static void test_drivers(void **state)
{
    (void)state;
    net_calls = ahci_calls = decline_calls = fail_calls = 0;
    fake_pci_add(0, 0, 0, 0x8086, 0x29c0, 0x060000, 0x00);
    struct fake_pcifn *rp = fake_pci_add(0, 1, 0, 0x1b36, 0x000c, 0x060400, 0x01);
    fake_pci_bridge(rp, 0, 1, 1);
    struct fake_pcifn *net = fake_pci_add(0, 2, 0, 0x1af4, 0x1000, 0x020000, 0x00);
    fake_pci_bar_io(net, 0, 0xc000, 32);
    fake_pci_bar_mem32(net, 1, 0xfebd1000, 0x1000, false);
    fake_pci_add(0, 0x1f, 0, 0x8086, 0x2918, 0x060100, 0x80);
    fake_pci_add(0, 0x1f, 2, 0x8086, 0x2922, 0x010601, 0x80);
    fake_pci_add(0, 0x1f, 3, 0x8086, 0x2930, 0x0c0500, 0x80);
    struct fake_pcifn *net2 = fake_pci_add(1, 0, 0, 0x1af4, 0x1041, 0x020000, 0x00);
    fake_pci_bar_mem64(net2, 4, 0xfe000000, 0x4000, true);
    pci_init_ops(&fake_pci_ops);

    assert_int_equal(pci_probe_drivers(), 3);
    assert_int_equal(net_calls, 2);
    assert_int_equal(ahci_calls, 1);
    assert_int_equal(decline_calls, 1);
    assert_int_equal(fail_calls, 1);

    struct pci_dev *d = pci_get_dev(0, 2, 0);
    assert_ptr_equal(d->driver, &test_net);
    assert_ptr_equal(d->drvdata, &net_calls);
    assert_int_equal(fake_pci_get16(net, PCI_COMMAND),
                     PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    assert_int_equal(fake_pci_get16(net2, PCI_COMMAND), PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    assert_ptr_equal(pci_get_dev(1, 0, 0)->driver, &test_net);
    assert_ptr_equal(pci_get_dev(0, 0x1f, 2)->driver, &test_ahci);
    assert_null(pci_get_dev(0, 0, 0)->driver);
    assert_null(pci_get_dev(0, 0x1f, 3)->driver);
    assert_null(pci_get_dev(0, 0x1f, 3)->drvdata);

    assert_logged_once("pci: 00:02.0 1af4:1000 claimed by test-net");
    assert_logged_once("pci: 01:00.0 1af4:1041 claimed by test-net");
    assert_logged_once("pci: 00:1f.2 8086:2922 claimed by test-ahci");
    assert_logged_once("pci: 00:1f.3 8086:2930: test-fail probe failed (-5)");
    assert_logged_once("pci: 00:00.0 8086:29c0 Host bridge: no driver");
    assert_logged_once("pci: 00:01.0 1b36:000c PCI bridge: no driver");
    assert_logged_once("pci: 00:1f.0 8086:2918 ISA bridge: no driver");
    assert_logged_once("pci: 00:1f.3 8086:2930 SMBus: no driver");
    assert_int_equal(log_count("no driver"), 4);
    assert_int_equal(log_count("test-decline"), 0); /* -ENODEV is quiet */

    /* A second pass probes nobody again who was claimed. */
    assert_int_equal(pci_probe_drivers(), 3);
    assert_int_equal(net_calls, 2);
    assert_int_equal(ahci_calls, 1);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(pci_class_name(0x020000), "Ethernet controller");
    assert_string_equal(pci_class_name(0x028000), "Network controller");
    assert_string_equal(pci_class_name(0x0c0330), "USB controller");
    assert_string_equal(pci_class_name(0x0c0999), "Serial bus controller");
    assert_string_equal(pci_class_name(0xff0000), "Unassigned class");
    assert_string_equal(pci_class_name(0x420000), "Unknown class");
    assert_string_equal(pci_cap_name(PCI_CAP_ID_MSIX), "MSI-X");
    assert_string_equal(pci_cap_name(PCI_CAP_ID_VNDR), "Vendor Specific");
    assert_string_equal(pci_cap_name(0x00), "Unknown");
    assert_string_equal(pci_cap_name(0xFF), "Unknown");
}

/* --- ECAM, through the map_mmio double over a host buffer --- */

#define ECAM_PHYS 0xB0000000ull

static uint8_t *ecam_fn(uint8_t *ecam, uint8_t bus, uint8_t dev, uint8_t fn)
{
    return ecam + ((size_t)bus << 20 | (size_t)dev << 15 | (size_t)fn << 12);
}

static void ecam_put(uint8_t *cfg, uint16_t off, uint32_t v, unsigned size)
{
    memcpy(cfg + off, &v, size);
}

static void ecam_dev(uint8_t *cfg, uint16_t vendor, uint16_t device, uint32_t class_code, uint8_t hdr)
{
    memset(cfg, 0, 4096);
    ecam_put(cfg, PCI_VENDOR_ID, vendor, 2);
    ecam_put(cfg, PCI_DEVICE_ID, device, 2);
    ecam_put(cfg, PCI_REVISION_ID, class_code << 8, 4);
    ecam_put(cfg, PCI_HEADER_TYPE, hdr, 1);
}

static void test_ecam(void **state)
{
    (void)state;
    size_t len = 2u << 20; /* buses 0 and 1 */
    uint8_t *ecam = malloc(len);
    assert_non_null(ecam);
    memset(ecam, 0xFF, len); /* no function answers */
    ecam_dev(ecam_fn(ecam, 0, 0, 0), 0x8086, 0x29c0, 0x060000, 0x00);
    ecam_dev(ecam_fn(ecam, 0, 1, 0), 0x1b36, 0x000c, 0x060400, 0x01);
    ecam_put(ecam_fn(ecam, 0, 1, 0), PCI_SECONDARY_BUS, 1, 1);
    ecam_put(ecam_fn(ecam, 0, 1, 0), PCI_SUBORDINATE_BUS, 1, 1);
    ecam_dev(ecam_fn(ecam, 0, 2, 0), 0x1b36, 0x000c, 0x060400, 0x01);
    ecam_put(ecam_fn(ecam, 0, 2, 0), PCI_SECONDARY_BUS, 2, 1); /* beyond the MCFG range */
    ecam_put(ecam_fn(ecam, 0, 2, 0), PCI_SUBORDINATE_BUS, 2, 1);
    ecam_dev(ecam_fn(ecam, 1, 3, 0), 0x1af4, 0x1041, 0x020000, 0x00);
    ecam_put(ecam_fn(ecam, 1, 3, 0), 0x100, 0x12345678, 4); /* extended space */
    fake_mmio_add(ECAM_PHYS, ecam, len);

    assert_int_equal(pci_init_ecam(ECAM_PHYS, 0, 1), 4);
    assert_logged_once("pci: 4 functions on 2 buses (config access: ecam, q35 INTx routing)");
    assert_logged_once(
        "pci: 00:02.0: bridge to buses 02-02 does not fit behind bus 00 (limit 01), not followed");
    struct pci_dev *d = pci_get_dev(1, 3, 0);
    assert_non_null(d);
    assert_int_equal(d->vendor, 0x1af4);
    assert_int_equal(d->device, 0x1041);
    assert_int_equal(pci_cfg_read32(d, 0x100), 0x12345678);
    assert_int_equal(pci_cfg_read16(d, 0x102), 0x1234);
    pci_cfg_write16(d, PCI_COMMAND, PCI_COMMAND_MEMORY);
    assert_int_equal(ecam_fn(ecam, 1, 3, 0)[PCI_COMMAND], PCI_COMMAND_MEMORY);
    /* One 1 MiB mapping per bus touched, made once. */
    assert_int_equal(fake_mmio_ncalls, 2);
    assert_int_equal(fake_mmio_calls[0].phys, ECAM_PHYS);
    assert_int_equal(fake_mmio_calls[0].len, 1u << 20);
    assert_int_equal(fake_mmio_calls[1].phys, ECAM_PHYS + (1u << 20));

    /* MCFG's base is bus 0's address even when the range starts later. */
    log_n = 0;
    fake_mmio_ncalls = 0;
    assert_int_equal(pci_init_ecam(ECAM_PHYS, 1, 1), 1);
    assert_int_equal(fake_mmio_calls[0].phys, ECAM_PHYS + (1u << 20));
    assert_non_null(pci_get_dev(1, 3, 0));
    assert_logged_once("pci: 1 functions on 1 buses (config access: ecam, i440fx/PIRQ INTx routing)");
    free(ecam);
}

/* qboot leaves BARs at 0: the core places them, largest first, around what is taken. */
static void test_assign_unassigned(void **state)
{
    (void)state;
    struct fake_pcifn *host = fake_pci_add(0, 0, 0, 0x8086, 0x29c0, 0x060000, 0x00);
    fake_pci_bar_mem32(host, 0, 0, 0x1000, false); /* a host bridge's BAR: not ours to place */
    struct fake_pcifn *nic = fake_pci_add(0, 2, 0, 0x1af4, 0x1000, 0x020000, 0x00);
    fake_pci_bar_io(nic, 0, 0, 32);
    fake_pci_bar_mem32(nic, 1, 0, 0x1000, false);
    fake_pci_bar_mem64(nic, 4, 0, 0x4000, true);
    struct fake_pcifn *vga = fake_pci_add(0, 3, 0, 0x1234, 0x1111, 0x030000, 0x00);
    fake_pci_bar_mem32(vga, 0, 0xC0000000u, 0x100000, true); /* the firmware placed this one */
    fake_pci_bar_mem32(vga, 2, 0, 0x100, false);             /* small: still a page of its own */
    fake_pci_bar_io(vga, 4, 0xC000, 16);                     /* taken I/O */
    struct fake_pcifn *rp = fake_pci_add(0, 4, 0, 0x1b36, 0x000c, 0x060400, 0x01);
    fake_pci_bridge(rp, 0, 1, 1);
    struct fake_pcifn *behind = fake_pci_add(1, 0, 0, 0x1af4, 0x1041, 0x020000, 0x00);
    fake_pci_bar_mem32(behind, 1, 0, 0x1000, false);
    struct fake_pcifn *huge = fake_pci_add(0, 5, 0, 0x1af4, 0x1042, 0x010000, 0x00);
    fake_pci_bar_mem32(huge, 0, 0, 0x10000000, false); /* 256 MiB: more than the window */

    assert_int_equal(pci_init_ops(&fake_pci_ops), 6);
    struct pci_windows w = {
        .mem_start = 0xC0000000u, .mem_end = 0xC8000000u, .io_start = 0xC000, .io_end = 0x10000};
    assert_int_equal(pci_assign_unassigned(&w), 4);

    struct pci_dev *d = pci_get_dev(0, 2, 0);
    assert_int_equal(d->bar[4].addr, 0xC0100000u); /* 16K first, just past the VGA's 1M */
    assert_int_equal(d->bar[1].addr, 0xC0104000u);
    assert_int_equal(d->bar[0].addr, 0xC020); /* past the taken 0xC000-0xC00F, 32-aligned */
    assert_int_equal(pci_get_dev(0, 3, 0)->bar[2].addr, 0xC0105000u);
    /* Written to the device, with the type bits kept. */
    assert_int_equal(fake_pci_get32(nic, PCI_BAR(4)),
                     0xC0100000u | PCI_BAR_MEM_TYPE_64 | PCI_BAR_MEM_PREFETCH);
    assert_int_equal(fake_pci_get32(nic, PCI_BAR(4) + 4), 0);
    assert_int_equal(fake_pci_get32(nic, PCI_BAR(0)), 0xC020u | PCI_BAR_SPACE_IO);
    assert_int_equal(nic->bar_sized_while_decoding, 0);
    /* Left alone: the host bridge, the device behind the bridge, the one too big. */
    assert_int_equal(pci_get_dev(0, 0, 0)->bar[0].addr, 0);
    assert_int_equal(pci_get_dev(1, 0, 0)->bar[1].addr, 0);
    assert_int_equal(pci_get_dev(0, 5, 0)->bar[0].addr, 0);
    assert_logged_once("pci: 01:00.0: BAR1 unassigned behind a bridge, left so");
    assert_logged_once("pci: 00:05.0: no room for BAR0 (268435456 bytes of memory space)");
    assert_logged_once(
        "pci: 00:02.0: BAR4 assigned: memory at 0xc0100000 [size=16K] (the firmware left it at 0)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_enumerate_nested_buses, setup),
        cmocka_unit_test_setup(test_bridge_guards, setup),
        cmocka_unit_test_setup(test_deep_chain_ends_at_loop, setup),
        cmocka_unit_test_setup(test_device_table_full, setup),
        cmocka_unit_test_setup(test_bar_sizing, setup),
        cmocka_unit_test_setup(test_enable_and_map, setup),
        cmocka_unit_test_setup(test_cfg_access_bounds, setup),
        cmocka_unit_test_setup(test_caps_list, setup),
        cmocka_unit_test_setup(test_caps_loop, setup),
        cmocka_unit_test_setup(test_caps_bad_pointers, setup),
        cmocka_unit_test_setup(test_msix, setup),
        cmocka_unit_test_setup(test_msix_bad_table, setup),
        cmocka_unit_test_setup(test_msi, setup),
        cmocka_unit_test_setup(test_intx_gsi, setup),
        cmocka_unit_test_setup(test_drivers, setup),
        cmocka_unit_test_setup(test_names, setup),
        cmocka_unit_test_setup(test_ecam, setup),
        cmocka_unit_test_setup(test_assign_unassigned, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
