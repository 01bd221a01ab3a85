/*
 * Fake PCI configuration space and map_mmio() double; see fake_pcicfg.h.
 */
#include "fake_pcicfg.h"

#include <assert.h>
#include <string.h>

#include "arch/x86_64/paging.h"
#include "drivers/pci_regs.h"

#define FAKE_MAX_FNS  192
#define FAKE_MAX_MMIO 16

static struct fake_pcifn fns[FAKE_MAX_FNS];
static unsigned nfns;

static struct {
    uint64_t phys;
    uint8_t *host;
    size_t len;
} mmio[FAKE_MAX_MMIO];
static unsigned nmmio;

struct fake_mmio_call fake_mmio_calls[64];
unsigned fake_mmio_ncalls;

void fake_pci_reset(void)
{
    memset(fns, 0, sizeof(fns));
    nfns = 0;
    nmmio = 0;
    fake_mmio_ncalls = 0;
}

static struct fake_pcifn *lookup(uint8_t bus, uint8_t dev, uint8_t fn)
{
    for (unsigned i = 0; i < nfns; i++) {
        struct fake_pcifn *f = &fns[i];
        if (f->bus == bus && f->dev == dev && (f->fn == fn || f->alias_all_fns))
            return f;
    }
    return NULL;
}

static struct fake_pcifn *new_fn(uint8_t bus, uint8_t dev, uint8_t fn)
{
    assert(nfns < FAKE_MAX_FNS);
    assert(!lookup(bus, dev, fn));
    struct fake_pcifn *f = &fns[nfns++];
    memset(f, 0, sizeof(*f));
    f->bus = bus;
    f->dev = dev;
    f->fn = fn;
    return f;
}

void fake_pci_set8(struct fake_pcifn *f, uint8_t off, uint8_t v)
{
    f->cfg[off] = v;
}
void fake_pci_set16(struct fake_pcifn *f, uint8_t off, uint16_t v)
{
    assert(off <= 254);
    f->cfg[off] = (uint8_t)v;
    f->cfg[off + 1] = (uint8_t)(v >> 8);
}
void fake_pci_set32(struct fake_pcifn *f, uint8_t off, uint32_t v)
{
    assert(off <= 252);
    for (int i = 0; i < 4; i++)
        f->cfg[off + i] = (uint8_t)(v >> (8 * i));
}
uint8_t fake_pci_get8(const struct fake_pcifn *f, uint8_t off)
{
    return f->cfg[off];
}
uint16_t fake_pci_get16(const struct fake_pcifn *f, uint8_t off)
{
    return (uint16_t)(f->cfg[off] | f->cfg[off + 1] << 8);
}
uint32_t fake_pci_get32(const struct fake_pcifn *f, uint8_t off)
{
    return (uint32_t)fake_pci_get16(f, off) | (uint32_t)fake_pci_get16(f, off + 2) << 16;
}
void fake_pci_wmask16(struct fake_pcifn *f, uint8_t off, uint16_t mask)
{
    f->wmask[off] = (uint8_t)mask;
    f->wmask[off + 1] = (uint8_t)(mask >> 8);
}
void fake_pci_wmask32(struct fake_pcifn *f, uint8_t off, uint32_t mask)
{
    for (int i = 0; i < 4; i++)
        f->wmask[off + i] = (uint8_t)(mask >> (8 * i));
}

struct fake_pcifn *fake_pci_add(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t vendor, uint16_t device,
                                uint32_t class_code, uint8_t hdr_type)
{
    struct fake_pcifn *f = new_fn(bus, dev, fn);
    fake_pci_set16(f, PCI_VENDOR_ID, vendor);
    fake_pci_set16(f, PCI_DEVICE_ID, device);
    fake_pci_set32(f, PCI_REVISION_ID, class_code << 8 | 0x01);
    fake_pci_set8(f, PCI_HEADER_TYPE, hdr_type);
    fake_pci_wmask16(f, PCI_COMMAND,
                     PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
    f->w1c[PCI_STATUS] = 0x00;
    f->w1c[PCI_STATUS + 1] = 0xF9; /* bits 15:11 and 8: error bits, RW1C */
    f->wmask[PCI_CACHE_LINE_SIZE] = 0xFF;
    f->wmask[PCI_INTERRUPT_LINE] = 0xFF;
    return f;
}

struct fake_pcifn *fake_pci_add_all_ones(uint8_t bus, uint8_t dev, uint8_t fn)
{
    struct fake_pcifn *f = new_fn(bus, dev, fn);
    memset(f->cfg, 0xFF, sizeof(f->cfg));
    return f;
}

void fake_pci_bar_io(struct fake_pcifn *f, int bar, uint16_t port, uint32_t size)
{
    uint8_t off = (uint8_t)PCI_BAR(bar);
    fake_pci_set32(f, off, (uint32_t)port | PCI_BAR_SPACE_IO);
    /* 16-bit decode: bits 31:16 hard-wired to zero, as many I/O BARs are. */
    fake_pci_wmask32(f, off, ~(size - 1) & 0x0000FFFCu);
}

void fake_pci_bar_mem32(struct fake_pcifn *f, int bar, uint32_t addr, uint32_t size, bool pref)
{
    uint8_t off = (uint8_t)PCI_BAR(bar);
    fake_pci_set32(f, off, addr | (pref ? PCI_BAR_MEM_PREFETCH : 0));
    fake_pci_wmask32(f, off, ~(size - 1) & PCI_BAR_MEM_MASK);
}

void fake_pci_bar_mem64(struct fake_pcifn *f, int bar, uint64_t addr, uint64_t size, bool pref)
{
    uint8_t off = (uint8_t)PCI_BAR(bar);
    uint64_t mask = ~(size - 1);
    fake_pci_set32(f, off, (uint32_t)addr | PCI_BAR_MEM_TYPE_64 | (pref ? PCI_BAR_MEM_PREFETCH : 0));
    fake_pci_set32(f, off + 4, (uint32_t)(addr >> 32));
    fake_pci_wmask32(f, off, (uint32_t)mask & PCI_BAR_MEM_MASK);
    fake_pci_wmask32(f, off + 4, (uint32_t)(mask >> 32));
}

void fake_pci_bridge(struct fake_pcifn *f, uint8_t primary, uint8_t secondary, uint8_t subordinate)
{
    fake_pci_set8(f, PCI_PRIMARY_BUS, primary);
    fake_pci_set8(f, PCI_SECONDARY_BUS, secondary);
    fake_pci_set8(f, PCI_SUBORDINATE_BUS, subordinate);
    f->wmask[PCI_PRIMARY_BUS] = f->wmask[PCI_SECONDARY_BUS] = f->wmask[PCI_SUBORDINATE_BUS] = 0xFF;
}

void fake_pci_cap_head(struct fake_pcifn *f, uint8_t first)
{
    fake_pci_set8(f, PCI_CAPABILITY_LIST, first);
    fake_pci_set16(f, PCI_STATUS, fake_pci_get16(f, PCI_STATUS) | PCI_STATUS_CAP_LIST);
}

void fake_pci_cap(struct fake_pcifn *f, uint8_t off, uint8_t id, uint8_t next)
{
    fake_pci_set8(f, off, id);
    fake_pci_set8(f, off + 1, next);
}

static uint32_t fake_read(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, unsigned size)
{
    /* The core promises aligned, in-range accesses: hold it to that. */
    assert(size == 1 || size == 2 || size == 4);
    assert(off % size == 0 && off + size <= 256);
    assert(dev < 32 && fn < 8);
    struct fake_pcifn *f = lookup(bus, dev, fn);
    if (!f)
        return 0xFFFFFFFFu >> (32 - 8 * size);
    f->reads++;
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)f->cfg[off + i] << (8 * i);
    return v;
}

static bool is_bar(const struct fake_pcifn *f, uint16_t off)
{
    unsigned n = (f->cfg[PCI_HEADER_TYPE] & 0x7F) == PCI_HEADER_TYPE_BRIDGE ? 2 : 6;
    return off >= PCI_BAR0 && off < PCI_BAR0 + 4 * n;
}

static void fake_write(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, unsigned size, uint32_t val)
{
    assert(size == 1 || size == 2 || size == 4);
    assert(off % size == 0 && off + size <= 256);
    assert(dev < 32 && fn < 8);
    struct fake_pcifn *f = lookup(bus, dev, fn);
    if (!f)
        return;
    f->writes++;
    if (off <= PCI_COMMAND + 1 && off + size > PCI_COMMAND)
        f->cmd_writes++;
    if (size == 4 && val == 0xFFFFFFFFu && is_bar(f, off)) {
        /* An implemented BAR (some writable bit) briefly decoding a bogus range. */
        bool live = f->wmask[off] | f->wmask[off + 1] | f->wmask[off + 2] | f->wmask[off + 3];
        uint16_t cmd = fake_pci_get16(f, PCI_COMMAND);
        if (live && (cmd & (PCI_COMMAND_IO | PCI_COMMAND_MEMORY)))
            f->bar_sized_while_decoding++;
    }
    for (unsigned i = 0; i < size; i++) {
        uint8_t b = (uint8_t)(val >> (8 * i));
        uint8_t *r = &f->cfg[off + i];
        *r = (uint8_t)((*r & ~f->wmask[off + i]) | (b & f->wmask[off + i]));
        *r = (uint8_t)(*r & ~(b & f->w1c[off + i]));
    }
}

const struct pci_cfg_ops fake_pci_ops = {
    .name = "fake",
    .cfg_size = 256,
    .read = fake_read,
    .write = fake_write,
};

/* --- map_mmio() double --- */

void fake_mmio_add(uint64_t phys, void *host, size_t len)
{
    assert(nmmio < FAKE_MAX_MMIO);
    mmio[nmmio].phys = phys;
    mmio[nmmio].host = host;
    mmio[nmmio].len = len;
    nmmio++;
}

void *map_mmio(uint64_t phys, size_t len)
{
    if (fake_mmio_ncalls < sizeof(fake_mmio_calls) / sizeof(fake_mmio_calls[0])) {
        fake_mmio_calls[fake_mmio_ncalls].phys = phys;
        fake_mmio_calls[fake_mmio_ncalls].len = len;
    }
    fake_mmio_ncalls++;
    for (unsigned i = 0; i < nmmio; i++)
        if (phys >= mmio[i].phys && phys - mmio[i].phys + len <= mmio[i].len)
            return mmio[i].host + (phys - mmio[i].phys);
    return NULL;
}
