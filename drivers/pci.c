/*
 * The PCI core. Enumeration follows PCI 3.0 3.2.2.3 and 6.1 (functions,
 * header types) and the PCI-to-PCI Bridge Architecture 1.2, 3.2.5.3-5 (bus
 * numbers); BAR sizing is PCI 3.0 6.2.5.1; capabilities PCI 3.0 6.7; MSI and
 * MSI-X PCI 3.0 6.8. Contracts are documented in pci.h.
 *
 * The firmware has already numbered the buses and placed the BARs; this file
 * only reads what it did, and distrusts it: bus numbers that go backwards or
 * revisit a bus, capability lists that loop or point outside the device's
 * space are reported once and not followed.
 */
#include "drivers/pci.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "arch/x86_64/io.h"
#include "arch/x86_64/irq.h"
#include "arch/x86_64/paging.h"
#include "lib/klog.h"

static const struct pci_cfg_ops *cfg;
static enum irq_pci_chipset chipset;
static struct pci_dev devs[PCI_MAX_DEVICES];
static int ndevs;
static int nbuses;
static uint8_t root_bus;

/* --- Raw configuration access by address --- */

static bool cfg_access_ok(uint16_t off, unsigned size)
{
    return cfg && (off & (size - 1)) == 0 && (unsigned)off + size <= cfg->cfg_size;
}

static uint32_t cfg_read(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, unsigned size)
{
    if (!cfg_access_ok(off, size)) {
        klog(LOG_ERR, "pci: %02x:%02x.%x: bad config read of %u bytes at 0x%x", bus, dev, fn, size, off);
        return 0xFFFFFFFFu >> (32 - 8 * size);
    }
    return cfg->read(bus, dev, fn, off, size);
}

static void cfg_write(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, unsigned size, uint32_t val)
{
    if (!cfg_access_ok(off, size)) {
        klog(LOG_ERR, "pci: %02x:%02x.%x: bad config write of %u bytes at 0x%x", bus, dev, fn, size, off);
        return;
    }
    cfg->write(bus, dev, fn, off, size, val);
}

uint8_t pci_cfg_read8(const struct pci_dev *d, uint16_t off)
{
    return (uint8_t)cfg_read(d->bus, d->dev, d->fn, off, 1);
}
uint16_t pci_cfg_read16(const struct pci_dev *d, uint16_t off)
{
    return (uint16_t)cfg_read(d->bus, d->dev, d->fn, off, 2);
}
uint32_t pci_cfg_read32(const struct pci_dev *d, uint16_t off)
{
    return cfg_read(d->bus, d->dev, d->fn, off, 4);
}
void pci_cfg_write8(const struct pci_dev *d, uint16_t off, uint8_t val)
{
    cfg_write(d->bus, d->dev, d->fn, off, 1, val);
}
void pci_cfg_write16(const struct pci_dev *d, uint16_t off, uint16_t val)
{
    cfg_write(d->bus, d->dev, d->fn, off, 2, val);
}
void pci_cfg_write32(const struct pci_dev *d, uint16_t off, uint32_t val)
{
    cfg_write(d->bus, d->dev, d->fn, off, 4, val);
}

/* --- Names for the listing --- */

struct class_name {
    uint16_t class_sub; /* base << 8 | sub; sub 0xFF: any subclass of the base */
    const char *name;
};

/* PCI Code and ID Assignment 1.11, ch. 1; the names lspci prints. */
static const struct class_name class_names[] = {
    {0x0000, "Non-VGA unclassified device"},
    {0x0001, "VGA compatible unclassified device"},
    {0x00FF, "Unclassified device"},
    {0x0100, "SCSI storage controller"},
    {0x0101, "IDE interface"},
    {0x0105, "ATA controller"},
    {0x0106, "SATA controller"},
    {0x0107, "Serial Attached SCSI controller"},
    {0x0108, "Non-Volatile memory controller"},
    {0x01FF, "Mass storage controller"},
    {0x0200, "Ethernet controller"},
    {0x02FF, "Network controller"},
    {0x0300, "VGA compatible controller"},
    {0x0302, "3D controller"},
    {0x03FF, "Display controller"},
    {0x0401, "Multimedia audio controller"},
    {0x0403, "Audio device"},
    {0x04FF, "Multimedia controller"},
    {0x0500, "RAM memory"},
    {0x05FF, "Memory controller"},
    {0x0600, "Host bridge"},
    {0x0601, "ISA bridge"},
    {0x0604, "PCI bridge"},
    {0x0607, "CardBus bridge"},
    {0x06FF, "Bridge"},
    {0x0700, "Serial controller"},
    {0x07FF, "Communication controller"},
    {0x0800, "PIC"},
    {0x08FF, "System peripheral"},
    {0x09FF, "Input device controller"},
    {0x0C03, "USB controller"},
    {0x0C05, "SMBus"},
    {0x0CFF, "Serial bus controller"},
    {0x0DFF, "Wireless controller"},
    {0x10FF, "Encryption controller"},
    {0x11FF, "Signal processing controller"},
    {0x12FF, "Processing accelerators"},
    {0xFFFF, "Unassigned class"},
};

const char *pci_class_name(uint32_t class_code)
{
    uint16_t cs = (uint16_t)(class_code >> 8);
    const char *base_name = NULL;

    for (size_t i = 0; i < sizeof(class_names) / sizeof(class_names[0]); i++) {
        if (class_names[i].class_sub == cs)
            return class_names[i].name;
        if ((class_names[i].class_sub & 0xFF) == 0xFF && (class_names[i].class_sub >> 8) == (cs >> 8))
            base_name = class_names[i].name;
    }
    return base_name ? base_name : "Unknown class";
}

/* PCI Code and ID Assignment 1.11, ch. 2. */
static const char *const cap_names[] = {
    [PCI_CAP_ID_PM] = "Power Management",
    [PCI_CAP_ID_AGP] = "AGP",
    [PCI_CAP_ID_VPD] = "Vital Product Data",
    [PCI_CAP_ID_SLOTID] = "Slot ID",
    [PCI_CAP_ID_MSI] = "MSI",
    [PCI_CAP_ID_CHSWP] = "CompactPCI hot-swap",
    [PCI_CAP_ID_PCIX] = "PCI-X",
    [PCI_CAP_ID_HT] = "HyperTransport",
    [PCI_CAP_ID_VNDR] = "Vendor Specific",
    [PCI_CAP_ID_DBG] = "Debug port",
    [PCI_CAP_ID_CCRC] = "CompactPCI resource control",
    [PCI_CAP_ID_SHPC] = "Hot-plug controller",
    [PCI_CAP_ID_SSVID] = "Subsystem ID",
    [PCI_CAP_ID_AGP3] = "AGP 8x",
    [PCI_CAP_ID_SECDEV] = "Secure device",
    [PCI_CAP_ID_EXP] = "Express",
    [PCI_CAP_ID_MSIX] = "MSI-X",
    [PCI_CAP_ID_SATA] = "SATA HBA",
    [PCI_CAP_ID_AF] = "Advanced features",
    [PCI_CAP_ID_EA] = "Enhanced Allocation",
    [PCI_CAP_ID_FPB] = "Flattening Portal Bridge",
};

const char *pci_cap_name(uint8_t id)
{
    if (id < sizeof(cap_names) / sizeof(cap_names[0]) && cap_names[id])
        return cap_names[id];
    return "Unknown";
}

/* --- Reading one function --- */

/*
 * Size each BAR by writing all ones and reading back which address bits
 * stick (PCI 3.0 6.2.5.1). While a BAR holds all ones the device would
 * decode a bogus range, so memory and I/O decode are off meanwhile; host
 * bridges are the exception (as in Linux) because turning their decode off
 * can cut the CPU off from memory on real chipsets.
 */
static void read_bars(struct pci_dev *d, int nbars)
{
    uint16_t cmd = pci_cfg_read16(d, PCI_COMMAND);
    bool toggle =
        (cmd & (PCI_COMMAND_IO | PCI_COMMAND_MEMORY)) && (d->class_code >> 8) != PCI_CLASS_BRIDGE_HOST;

    if (toggle)
        pci_cfg_write16(d, PCI_COMMAND, cmd & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));

    for (int i = 0; i < nbars; i++) {
        struct pci_bar *b = &d->bar[i];
        uint16_t off = PCI_BAR(i);
        uint32_t lo = pci_cfg_read32(d, off);

        pci_cfg_write32(d, off, 0xFFFFFFFFu);
        uint32_t szlo = pci_cfg_read32(d, off);
        pci_cfg_write32(d, off, lo);

        /* 0: not implemented; all ones: the function stopped answering. */
        if (szlo == 0 || szlo == 0xFFFFFFFFu)
            continue;

        if (szlo & PCI_BAR_SPACE_IO) {
            /* Devices may hard-wire bits 31:16 to 0 (16-bit decode); the
             * lowest writable bit gives the size either way. */
            uint32_t mask = szlo & PCI_BAR_IO_MASK;
            if (!mask)
                continue;
            b->type = PCI_BAR_IO;
            b->addr = lo & PCI_BAR_IO_MASK;
            b->size = mask & -mask;
            continue;
        }

        uint64_t mask = szlo & PCI_BAR_MEM_MASK;
        uint64_t addr = lo & PCI_BAR_MEM_MASK;
        enum pci_bar_type type = PCI_BAR_MEM32;

        switch (szlo & PCI_BAR_MEM_TYPE_MASK) {
        case PCI_BAR_MEM_TYPE_32:
        case PCI_BAR_MEM_TYPE_1M:
            break;
        case PCI_BAR_MEM_TYPE_64:
            if (i + 1 >= nbars) {
                klog(LOG_WARN, "pci: " PCI_BDF_FMT ": 64-bit BAR%d has no upper half, ignored",
                     PCI_BDF_ARGS(d), i);
                continue;
            }
            uint32_t hi = pci_cfg_read32(d, off + 4);
            pci_cfg_write32(d, off + 4, 0xFFFFFFFFu);
            uint32_t szhi = pci_cfg_read32(d, off + 4);
            pci_cfg_write32(d, off + 4, hi);
            mask |= (uint64_t)szhi << 32;
            addr |= (uint64_t)hi << 32;
            type = PCI_BAR_MEM64;
            i++; /* the next BAR is this one's upper half; it stays PCI_BAR_NONE */
            break;
        default:
            klog(LOG_WARN, "pci: " PCI_BDF_FMT ": BAR%d has the reserved memory type, ignored",
                 PCI_BDF_ARGS(d), i);
            continue;
        }
        if (!mask)
            continue;
        b->type = type;
        b->prefetchable = (szlo & PCI_BAR_MEM_PREFETCH) != 0;
        b->addr = addr;
        b->size = mask & -mask;
    }

    if (toggle)
        pci_cfg_write16(d, PCI_COMMAND, cmd);
}

static void cap_list_cut(struct pci_dev *d, uint8_t at, const char *why, uint8_t ptr)
{
    d->caps_broken = true;
    if (at)
        klog(LOG_WARN, "pci: " PCI_BDF_FMT ": capability list cut after [%02x]: next pointer 0x%02x %s",
             PCI_BDF_ARGS(d), at, ptr, why);
    else
        klog(LOG_WARN, "pci: " PCI_BDF_FMT ": capability list ignored: first pointer 0x%02x %s",
             PCI_BDF_ARGS(d), ptr, why);
}

/*
 * Walk the capability list once and keep the offsets. Each step lands on a
 * new dword in 0x40..0xFC or the walk stops, so it ends after at most 48
 * steps whatever the device says. PCI 3.0 6.7 reserves pointer bits 1:0 as
 * zero; a pointer with them set is treated as garbage rather than masked,
 * since a device that gets this wrong cannot be trusted for the rest.
 */
static void read_caps(struct pci_dev *d)
{
    if (!(pci_cfg_read16(d, PCI_STATUS) & PCI_STATUS_CAP_LIST))
        return;

    uint16_t head = d->hdr_type == PCI_HEADER_TYPE_CARDBUS ? PCI_CB_CAPABILITY_LIST : PCI_CAPABILITY_LIST;
    uint64_t visited = 0; /* bit n: dword n of the device-specific region 0x40..0xFF */
    uint8_t prev = 0;
    uint8_t pos = pci_cfg_read8(d, head);

    while (pos) {
        if (pos < PCI_CAP_PTR_MIN || pos > PCI_CAP_PTR_MAX) {
            cap_list_cut(d, prev, "out of range", pos);
            return;
        }
        if (pos & 3) {
            cap_list_cut(d, prev, "not dword aligned", pos);
            return;
        }
        uint64_t bit = 1ull << ((pos - PCI_CAP_PTR_MIN) / 4);
        if (visited & bit) {
            cap_list_cut(d, prev, "loops back", pos);
            return;
        }
        visited |= bit;

        uint8_t id = pci_cfg_read8(d, pos + PCI_CAP_ID);
        if (id == 0xFF) { /* reads of a vanished function */
            cap_list_cut(d, prev, "reads as all ones", pos);
            return;
        }
        /* Cannot trigger: the bitmap allows 48 distinct positions. */
        if (d->ncaps == PCI_MAX_CAPS)
            return;
        d->caps[d->ncaps] = pos;
        d->cap_ids[d->ncaps] = id;
        d->ncaps++;
        if (id == PCI_CAP_ID_MSI && !d->msi_cap)
            d->msi_cap = pos;
        if (id == PCI_CAP_ID_MSIX && !d->msix_cap)
            d->msix_cap = pos;
        prev = pos;
        pos = pci_cfg_read8(d, pos + PCI_CAP_NEXT);
    }
}

static struct pci_dev *add_function(uint8_t bus, uint8_t dev, uint8_t fn)
{
    static bool full_reported;

    if (ndevs == PCI_MAX_DEVICES) {
        if (!full_reported)
            klog(LOG_ERR, "pci: more than %d functions, %02x:%02x.%x and later ignored", PCI_MAX_DEVICES, bus,
                 dev, fn);
        full_reported = true;
        return NULL;
    }
    if (ndevs == 0)
        full_reported = false;

    struct pci_dev *d = &devs[ndevs++];
    *d = (struct pci_dev){.bus = bus, .dev = dev, .fn = fn};
    d->vendor = pci_cfg_read16(d, PCI_VENDOR_ID);
    d->device = pci_cfg_read16(d, PCI_DEVICE_ID);
    uint32_t rev_class = pci_cfg_read32(d, PCI_REVISION_ID);
    d->revision = (uint8_t)rev_class;
    d->class_code = rev_class >> 8;
    uint8_t ht = pci_cfg_read8(d, PCI_HEADER_TYPE);
    d->hdr_type = ht & PCI_HEADER_TYPE_MASK;
    d->multifunction = (ht & PCI_HEADER_MULTIFUNCTION) != 0;
    d->irq_pin = pci_cfg_read8(d, PCI_INTERRUPT_PIN);
    d->irq_line = pci_cfg_read8(d, PCI_INTERRUPT_LINE);

    switch (d->hdr_type) {
    case PCI_HEADER_TYPE_NORMAL:
        d->subsys_vendor = pci_cfg_read16(d, PCI_SUBSYSTEM_VENDOR_ID);
        d->subsys_device = pci_cfg_read16(d, PCI_SUBSYSTEM_ID);
        read_bars(d, PCI_NUM_BARS);
        break;
    case PCI_HEADER_TYPE_BRIDGE:
        read_bars(d, PCI_BRIDGE_NUM_BARS);
        d->sec_bus = pci_cfg_read8(d, PCI_SECONDARY_BUS);
        d->sub_bus = pci_cfg_read8(d, PCI_SUBORDINATE_BUS);
        break;
    case PCI_HEADER_TYPE_CARDBUS:
        read_bars(d, PCI_CARDBUS_NUM_BARS);
        d->sec_bus = pci_cfg_read8(d, PCI_CB_SECONDARY_BUS);
        d->sub_bus = pci_cfg_read8(d, PCI_CB_SUBORDINATE_BUS);
        break;
    default:
        klog(LOG_WARN, "pci: " PCI_BDF_FMT ": unknown header type %u, BARs not read", PCI_BDF_ARGS(d),
             d->hdr_type);
        return d;
    }
    read_caps(d);
    return d;
}

/* --- Enumeration --- */

/*
 * A bus waiting to be scanned, with the highest bus number its bridge claims
 * and what INTx routing needs: the slot on the root bus the bus hangs from,
 * and how far bridges below that slot rotate a pin (PCI-PCI Bridge 1.2, 9.1:
 * a bridge passes INTx of its device d as INT((pin - 1 + d) % 4)).
 */
struct bus_todo {
    uint8_t bus, sub;
    bool root;
    uint8_t root_slot; /* meaningless on the root bus, where each device is its own slot */
    uint8_t rotate;
};

struct scan_state {
    struct bus_todo todo[PCI_MAX_BUS]; /* each bus is queued at most once */
    unsigned head, tail;
    uint8_t seen[PCI_MAX_BUS / 8];
    uint8_t last_bus; /* highest bus the access mechanism reaches */
};

static bool bus_seen(const struct scan_state *s, uint8_t bus)
{
    return s->seen[bus / 8] & (1u << (bus % 8));
}

static void bus_queue(struct scan_state *s, const struct bus_todo *t)
{
    s->seen[t->bus / 8] |= (uint8_t)(1u << (t->bus % 8));
    s->todo[s->tail++] = *t;
}

/*
 * Firmware numbers buses depth first (PCI-PCI Bridge 1.2, 3.2.5.3-5): a
 * bridge on bus b leads to bus secondary > b, and everything behind it lies
 * in secondary..subordinate, inside the range of the bridge above. Anything
 * else (an unprogrammed bridge, a cycle, a range that escapes its parent) is
 * reported and not followed, which also bounds the scan to 256 buses.
 */
static void follow_bridge(struct scan_state *s, const struct bus_todo *t, uint8_t dev, uint8_t fn)
{
    uint8_t bus = t->bus, parent_sub = t->sub;
    uint8_t hdr = (uint8_t)cfg_read(bus, dev, fn, PCI_HEADER_TYPE, 1) & PCI_HEADER_TYPE_MASK;
    if (hdr != PCI_HEADER_TYPE_BRIDGE && hdr != PCI_HEADER_TYPE_CARDBUS)
        return;
    uint8_t sec = (uint8_t)cfg_read(bus, dev, fn, PCI_SECONDARY_BUS, 1);
    uint8_t sub = (uint8_t)cfg_read(bus, dev, fn, PCI_SUBORDINATE_BUS, 1);

    if (sec == 0 && sub == 0) {
        klog(LOG_WARN, "pci: %02x:%02x.%x: bridge not configured by firmware, not followed", bus, dev, fn);
        return;
    }
    if (sec <= bus || sec > sub || sub > parent_sub || sec > s->last_bus) {
        klog(LOG_WARN,
             "pci: %02x:%02x.%x: bridge to buses %02x-%02x does not fit behind bus %02x "
             "(limit %02x), not followed",
             bus, dev, fn, sec, sub, bus, parent_sub);
        return;
    }
    if (bus_seen(s, sec)) {
        klog(LOG_WARN,
             "pci: %02x:%02x.%x: bridge to bus %02x, which was already scanned, "
             "not followed",
             bus, dev, fn, sec);
        return;
    }
    struct bus_todo child = {
        .bus = sec,
        .sub = sub,
        .root = false,
        .root_slot = t->root ? dev : t->root_slot,
        .rotate = t->root ? 0 : (uint8_t)((t->rotate + dev) % 4),
    };
    bus_queue(s, &child);
}

/* A vendor ID of all ones is a master abort (no function); 0 is invalid too. */
static bool function_present(uint8_t bus, uint8_t dev, uint8_t fn)
{
    uint16_t vendor = (uint16_t)cfg_read(bus, dev, fn, PCI_VENDOR_ID, 2);
    return vendor != PCI_VENDOR_NONE && vendor != 0;
}

static void scan_bus(struct scan_state *s, const struct bus_todo *t)
{
    for (uint8_t dev = 0; dev < PCI_MAX_DEV; dev++) {
        if (!function_present(t->bus, dev, 0))
            continue;
        /* Functions 1-7 exist only if function 0 says so; single-function
         * devices may answer for every function number (PCI 3.0 6.2.1). */
        uint8_t ht = (uint8_t)cfg_read(t->bus, dev, 0, PCI_HEADER_TYPE, 1);
        uint8_t nfn = (ht & PCI_HEADER_MULTIFUNCTION) ? PCI_MAX_FN : 1;
        for (uint8_t fn = 0; fn < nfn; fn++) {
            if (fn > 0 && !function_present(t->bus, dev, fn))
                continue;
            struct pci_dev *d = add_function(t->bus, dev, fn);
            if (d && d->irq_pin >= 1 && d->irq_pin <= 4) {
                d->intx_slot = t->root ? dev : t->root_slot;
                d->intx_pin = t->root ? d->irq_pin : (uint8_t)((d->irq_pin - 1 + t->rotate + dev) % 4 + 1);
            }
            follow_bridge(s, t, dev, fn);
        }
    }
}

static uint32_t bdf_key(const struct pci_dev *d)
{
    return (uint32_t)d->bus << 8 | (uint32_t)d->dev << 3 | d->fn;
}

/* Breadth-first scanning finds bus 2 before the rest of bus 1 is listed; sort like lspci. */
static void sort_devs(void)
{
    for (int i = 1; i < ndevs; i++) {
        struct pci_dev tmp = devs[i];
        int j = i;
        while (j > 0 && bdf_key(&devs[j - 1]) > bdf_key(&tmp)) {
            devs[j] = devs[j - 1];
            j--;
        }
        devs[j] = tmp;
    }
}

static void enumerate(uint8_t root, uint8_t last)
{
    static struct scan_state s; /* 600 bytes: too much for a boot stack frame */

    s = (struct scan_state){.last_bus = last};
    bus_queue(&s, &(struct bus_todo){.bus = root, .sub = last, .root = true});
    while (s.head < s.tail)
        scan_bus(&s, &s.todo[s.head++]);
    nbuses = (int)s.tail;
    sort_devs();
}

/* --- The boot listing --- */

/* A small line builder, so capabilities share log lines instead of taking one each. */
struct line {
    char buf[120];
    unsigned len;
};

static void line_puts(struct line *l, const char *s)
{
    while (*s && l->len + 1 < sizeof(l->buf))
        l->buf[l->len++] = *s++;
    l->buf[l->len] = '\0';
}

static unsigned str_len(const char *s)
{
    unsigned n = 0;
    while (s[n])
        n++;
    return n;
}

/* Append ", [off] name" (or " [off] name" first), starting a new log line when this one is full. */
static void line_add_cap(struct line *l, uint8_t off, const char *name, bool first)
{
    static const char hex[] = "0123456789abcdef";
    char pos[6] = {'[', hex[off >> 4], hex[off & 15], ']', ' ', '\0'};

    if (!first && l->len + 2 + sizeof(pos) + str_len(name) >= sizeof(l->buf)) {
        klog(LOG_INFO, "%s,", l->buf);
        l->len = 0;
        line_puts(l, "pci:     ");
    } else {
        line_puts(l, first ? " " : ", ");
    }
    line_puts(l, pos);
    line_puts(l, name);
}

/* Split a power-of-two-ish size into a value and the largest exact unit. */
static unsigned long long size_value(uint64_t size, const char **unit)
{
    static const char *const units[] = {"", "K", "M", "G", "T"};
    unsigned u = 0;
    while (u + 1 < sizeof(units) / sizeof(units[0]) && size >= 1024 && size % 1024 == 0) {
        size /= 1024;
        u++;
    }
    *unit = units[u];
    return size;
}

static void list_bar(const struct pci_dev *d, int i)
{
    const struct pci_bar *b = &d->bar[i];
    const char *unit;
    unsigned long long sz = size_value(b->size, &unit);
    char at[24] = "<unassigned>";

    if (b->addr)
        snprintf(at, sizeof(at), "0x%llx", (unsigned long long)b->addr);
    if (b->type == PCI_BAR_IO)
        klog(LOG_INFO, "pci:   BAR%d: I/O ports at %s [size=%llu%s]", i, at, sz, unit);
    else
        klog(LOG_INFO, "pci:   BAR%d: memory at %s (%s, %s) [size=%llu%s]", i, at,
             b->type == PCI_BAR_MEM64 ? "64-bit" : "32-bit",
             b->prefetchable ? "prefetchable" : "non-prefetchable", sz, unit);
}

static void list_dev(const struct pci_dev *d)
{
    klog(LOG_INFO, "pci: " PCI_BDF_FMT " %04x:%04x %s [%04x] (rev %02x)", PCI_BDF_ARGS(d), d->vendor,
         d->device, pci_class_name(d->class_code), (unsigned)(d->class_code >> 8), d->revision);
    for (int i = 0; i < PCI_NUM_BARS; i++)
        if (d->bar[i].type != PCI_BAR_NONE)
            list_bar(d, i);
    if (d->hdr_type == PCI_HEADER_TYPE_BRIDGE || d->hdr_type == PCI_HEADER_TYPE_CARDBUS)
        klog(LOG_INFO, "pci:   bridge: secondary bus %02x, subordinate bus %02x", d->sec_bus, d->sub_bus);
    if (d->ncaps || d->caps_broken) {
        struct line l = {.len = 0};
        line_puts(&l, "pci:   capabilities:");
        for (unsigned i = 0; i < d->ncaps; i++)
            line_add_cap(&l, d->caps[i], pci_cap_name(d->cap_ids[i]), i == 0);
        if (d->caps_broken)
            line_puts(&l, d->ncaps ? ", <list cut: bad pointer>" : " <list cut: bad pointer>");
        klog(LOG_INFO, "%s", l.buf);
    }
    if (d->irq_pin >= 1 && d->irq_pin <= 4)
        klog(LOG_INFO, "pci:   interrupt: pin %c, line %u", 'A' + d->irq_pin - 1, d->irq_line);
}

/* --- Public: init, drivers, iteration --- */

static int init_with(const struct pci_cfg_ops *ops, uint8_t root, uint8_t last)
{
    cfg = ops;
    ndevs = 0;
    nbuses = 0;
    root_bus = root;
    enumerate(root, last);
    /* INTx wiring is chipset specific (irq.h); the host bridge names the chipset. */
    const struct pci_dev *host = pci_get_dev(root, 0, 0);
    chipset = host && host->vendor == 0x8086 && host->device == 0x29c0 ? IRQ_CHIPSET_Q35 : IRQ_CHIPSET_I440FX;
    klog(LOG_INFO, "pci: %d functions on %d buses (config access: %s, %s INTx routing)", ndevs, nbuses,
         cfg->name, chipset == IRQ_CHIPSET_Q35 ? "q35" : "i440fx/PIRQ");
    for (int i = 0; i < ndevs; i++)
        list_dev(&devs[i]);
    return ndevs;
}

int pci_init_ops(const struct pci_cfg_ops *ops)
{
    return init_with(ops, 0, PCI_MAX_BUS - 1);
}

int pci_init(void)
{
    return pci_init_ops(&pci_cfg_portio_ops);
}

int pci_init_ecam(uint64_t base, uint8_t bus_start, uint8_t bus_end)
{
    const struct pci_cfg_ops *ops = pci_cfg_ecam_setup(base, bus_start, bus_end);
    if (!ops) {
        klog(LOG_WARN, "pci: ECAM at 0x%llx (buses %02x-%02x) unusable, using port I/O",
             (unsigned long long)base, bus_start, bus_end);
        return pci_init();
    }
    return init_with(ops, bus_start, bus_end);
}

/* --- Assigning the BARs the firmware left unassigned --- */

struct range {
    uint64_t start, end; /* [start, end) */
};

#define PCI_MAX_RANGES (PCI_MAX_DEVICES * PCI_NUM_BARS)

/* What is taken in one address space: assigned BARs, then ours as we place them. */
struct space {
    struct range used[PCI_MAX_RANGES];
    int n;
    uint64_t cursor, end;
};

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

/* The lowest address >= cursor, aligned to @align, where @size bytes overlap nothing taken. */
static bool space_alloc(struct space *sp, uint64_t size, uint64_t align, uint64_t *out)
{
    uint64_t at = align_up(sp->cursor, align);
    bool moved = true;

    while (moved) {
        moved = false;
        if (at < sp->cursor || at + size < at || at + size > sp->end)
            return false; /* wrapped or past the window */
        for (int i = 0; i < sp->n; i++) {
            if (at < sp->used[i].end && sp->used[i].start < at + size) {
                at = align_up(sp->used[i].end, align);
                moved = true;
            }
        }
    }
    if (sp->n < PCI_MAX_RANGES)
        sp->used[sp->n++] = (struct range){at, at + size};
    *out = at;
    return true;
}

struct bar_ref {
    struct pci_dev *d;
    int i;
};

static void write_bar(struct pci_dev *d, int i, uint64_t addr)
{
    struct pci_bar *b = &d->bar[i];
    uint16_t off = PCI_BAR(i);
    uint16_t cmd = pci_cfg_read16(d, PCI_COMMAND);
    uint32_t lo = pci_cfg_read32(d, off);

    /* Decode off while the address changes: a half-written 64-bit BAR must not decode. */
    pci_cfg_write16(d, PCI_COMMAND, cmd & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
    if (b->type == PCI_BAR_IO) {
        pci_cfg_write32(d, off, (uint32_t)addr | (lo & ~PCI_BAR_IO_MASK));
    } else {
        pci_cfg_write32(d, off, (uint32_t)addr | (lo & ~PCI_BAR_MEM_MASK));
        if (b->type == PCI_BAR_MEM64)
            pci_cfg_write32(d, off + 4, (uint32_t)(addr >> 32));
    }
    pci_cfg_write16(d, PCI_COMMAND, cmd);
}

static uint64_t read_bar_addr(const struct pci_dev *d, int i)
{
    uint16_t off = PCI_BAR(i);
    uint32_t lo = pci_cfg_read32(d, off);

    if (d->bar[i].type == PCI_BAR_IO)
        return lo & PCI_BAR_IO_MASK;
    uint64_t addr = lo & PCI_BAR_MEM_MASK;
    if (d->bar[i].type == PCI_BAR_MEM64)
        addr |= (uint64_t)pci_cfg_read32(d, off + 4) << 32;
    return addr;
}

int pci_assign_unassigned(const struct pci_windows *w)
{
    static struct space mem, io; /* 24 KiB each: not for the boot stack */
    static struct bar_ref todo[PCI_MAX_RANGES];
    int ntodo = 0, assigned = 0;

    mem = (struct space){.cursor = w->mem_start, .end = w->mem_end};
    io = (struct space){.cursor = w->io_start, .end = w->io_end};
    for (int k = 0; k < ndevs; k++) {
        struct pci_dev *d = &devs[k];
        for (int i = 0; i < PCI_NUM_BARS; i++) {
            struct pci_bar *b = &d->bar[i];
            if (b->type == PCI_BAR_NONE || b->size == 0)
                continue;
            struct space *sp = b->type == PCI_BAR_IO ? &io : &mem;
            if (b->addr != 0) {
                if (sp->n < PCI_MAX_RANGES)
                    sp->used[sp->n++] = (struct range){b->addr, b->addr + b->size};
                continue;
            }
            /* A host bridge's BARs are the chipset's business, not ours. */
            if ((d->class_code >> 8) == PCI_CLASS_BRIDGE_HOST)
                continue;
            if (d->bus != root_bus) {
                klog(LOG_WARN, "pci: " PCI_BDF_FMT ": BAR%d unassigned behind a bridge, left so",
                     PCI_BDF_ARGS(d), i);
                continue;
            }
            todo[ntodo++] = (struct bar_ref){d, i};
        }
    }
    /* Largest first: each naturally aligned, they then pack without holes. */
    for (int a = 1; a < ntodo; a++) {
        struct bar_ref t = todo[a];
        int j = a;
        while (j > 0 && todo[j - 1].d->bar[todo[j - 1].i].size < t.d->bar[t.i].size) {
            todo[j] = todo[j - 1];
            j--;
        }
        todo[j] = t;
    }
    for (int k = 0; k < ntodo; k++) {
        struct pci_dev *d = todo[k].d;
        int i = todo[k].i;
        struct pci_bar *b = &d->bar[i];
        bool is_io = b->type == PCI_BAR_IO;
        /* Memory BARs get a page at least, so that no two share a mapping. */
        uint64_t align = is_io || b->size >= 4096 ? b->size : 4096;
        uint64_t addr;

        if (!space_alloc(is_io ? &io : &mem, b->size, align, &addr)) {
            klog(LOG_WARN, "pci: " PCI_BDF_FMT ": no room for BAR%d (%llu bytes of %s space)",
                 PCI_BDF_ARGS(d), i, (unsigned long long)b->size, is_io ? "I/O" : "memory");
            continue;
        }
        write_bar(d, i, addr);
        uint64_t back = read_bar_addr(d, i);
        if (back != addr) {
            klog(LOG_WARN,
                 "pci: " PCI_BDF_FMT ": BAR%d reads back 0x%llx after writing 0x%llx, left unassigned",
                 PCI_BDF_ARGS(d), i, (unsigned long long)back, (unsigned long long)addr);
            write_bar(d, i, 0);
            continue;
        }
        b->addr = addr;
        assigned++;
        const char *unit;
        unsigned long long n = size_value(b->size, &unit);
        klog(LOG_INFO,
             "pci: " PCI_BDF_FMT ": BAR%d assigned: %s 0x%llx [size=%llu%s] (the firmware left it at 0)",
             PCI_BDF_ARGS(d), i, is_io ? "I/O ports at" : "memory at", (unsigned long long)addr, n, unit);
    }
    return assigned;
}

/* Bounds of the .pci_drivers section (linker.ld; tests/unit/pci_drivers.ld on the host). */
extern const struct pci_driver *const __pci_drivers_start[];
extern const struct pci_driver *const __pci_drivers_end[];

static bool id_matches(const struct pci_id *id, const struct pci_dev *d)
{
    return (id->vendor == PCI_ANY_ID || id->vendor == d->vendor) &&
           (id->device == PCI_ANY_ID || id->device == d->device) &&
           ((id->class_code ^ d->class_code) & id->class_mask) == 0;
}

static bool driver_matches(const struct pci_driver *drv, const struct pci_dev *d)
{
    for (const struct pci_id *id = drv->ids; id && id->vendor != 0; id++)
        if (id_matches(id, d))
            return true;
    return false;
}

static bool probe_one(struct pci_dev *d)
{
    for (const struct pci_driver *const *p = __pci_drivers_start; p < __pci_drivers_end; p++) {
        const struct pci_driver *drv = *p;
        if (!drv || !drv->probe || !driver_matches(drv, d))
            continue;
        /* Set before probe so the driver's own calls can see who owns the device. */
        d->driver = drv;
        int err = drv->probe(d);
        if (err == 0) {
            klog(LOG_INFO, "pci: " PCI_BDF_FMT " %04x:%04x claimed by %s", PCI_BDF_ARGS(d), d->vendor,
                 d->device, drv->name);
            return true;
        }
        d->driver = NULL;
        d->drvdata = NULL;
        if (err != -ENODEV)
            klog(LOG_ERR, "pci: " PCI_BDF_FMT " %04x:%04x: %s probe failed (%d)", PCI_BDF_ARGS(d), d->vendor,
                 d->device, drv->name, err);
    }
    return false;
}

int pci_probe_drivers(void)
{
    int claimed = 0;
    for (int i = 0; i < ndevs; i++) {
        struct pci_dev *d = &devs[i];
        if (d->driver) {
            claimed++;
            continue;
        }
        if (probe_one(d))
            claimed++;
        else
            klog(LOG_INFO, "pci: " PCI_BDF_FMT " %04x:%04x %s: no driver", PCI_BDF_ARGS(d), d->vendor,
                 d->device, pci_class_name(d->class_code));
    }
    return claimed;
}

void pci_foreach_dev(void (*fn)(struct pci_dev *dev, void *arg), void *arg)
{
    for (int i = 0; i < ndevs; i++)
        fn(&devs[i], arg);
}

struct pci_dev *pci_get_dev(uint8_t bus, uint8_t dev, uint8_t fn)
{
    for (int i = 0; i < ndevs; i++)
        if (devs[i].bus == bus && devs[i].dev == dev && devs[i].fn == fn)
            return &devs[i];
    return NULL;
}

int pci_dev_count(void)
{
    return ndevs;
}

/* --- Driver helpers --- */

static void command_update(struct pci_dev *d, uint16_t clear, uint16_t set)
{
    uint16_t cmd = pci_cfg_read16(d, PCI_COMMAND);
    uint16_t new_cmd = (uint16_t)((cmd & ~clear) | set);
    if (new_cmd != cmd)
        pci_cfg_write16(d, PCI_COMMAND, new_cmd);
}

int pci_enable_device(struct pci_dev *d)
{
    uint16_t set = 0;
    for (int i = 0; i < PCI_NUM_BARS; i++) {
        if (d->bar[i].type == PCI_BAR_IO)
            set |= PCI_COMMAND_IO;
        else if (d->bar[i].type != PCI_BAR_NONE)
            set |= PCI_COMMAND_MEMORY;
    }
    command_update(d, 0, set);
    return 0;
}

void pci_set_master(struct pci_dev *d)
{
    command_update(d, 0, PCI_COMMAND_MASTER);
}

void *pci_map_bar(struct pci_dev *d, int i)
{
    if (i < 0 || i >= PCI_NUM_BARS)
        return NULL;
    struct pci_bar *b = &d->bar[i];
    if (b->virt)
        return b->virt;
    if (b->type != PCI_BAR_MEM32 && b->type != PCI_BAR_MEM64)
        return NULL;
    if (b->addr == 0) {
        klog(LOG_WARN, "pci: " PCI_BDF_FMT ": BAR%d has no address assigned", PCI_BDF_ARGS(d), i);
        return NULL;
    }
    b->virt = map_mmio(b->addr, (size_t)b->size);
    if (!b->virt)
        klog(LOG_ERR, "pci: " PCI_BDF_FMT ": cannot map BAR%d (0x%llx, %llu bytes)", PCI_BDF_ARGS(d), i,
             (unsigned long long)b->addr, (unsigned long long)b->size);
    return b->virt;
}

int pci_find_capability(const struct pci_dev *d, uint8_t id, int start)
{
    unsigned i = 0;
    if (start) {
        while (i < d->ncaps && d->caps[i] != start)
            i++;
        i++; /* continue after @start; past the end if @start is not in the list */
    }
    for (; i < d->ncaps; i++)
        if (d->cap_ids[i] == id)
            return d->caps[i];
    return 0;
}

/* --- MSI-X (PCI 3.0 6.8.2) --- */

/* Check that @len bytes at (BIR, offset) from register @reg lie inside a memory BAR; map it. */
static uint8_t *msix_region(struct pci_dev *d, uint16_t reg, uint64_t len, const char *what, int *err)
{
    uint32_t v = pci_cfg_read32(d, d->msix_cap + reg);
    unsigned bir = v & PCI_MSIX_BIR_MASK;
    uint64_t off = v & PCI_MSIX_OFFSET_MASK;

    if (bir >= PCI_NUM_BARS || (d->bar[bir].type != PCI_BAR_MEM32 && d->bar[bir].type != PCI_BAR_MEM64) ||
        off + len > d->bar[bir].size) {
        klog(LOG_ERR,
             "pci: " PCI_BDF_FMT ": MSI-X %s (BIR %u, offset 0x%llx) is not inside a "
             "memory BAR",
             PCI_BDF_ARGS(d), what, bir, (unsigned long long)off);
        *err = -EIO;
        return NULL;
    }
    uint8_t *base = pci_map_bar(d, (int)bir);
    if (!base) {
        *err = -ENOMEM;
        return NULL;
    }
    return base + off;
}

static uint8_t *msix_entry(const struct pci_dev *d, unsigned entry)
{
    return d->msix_table + (size_t)entry * PCI_MSIX_ENTRY_SIZE;
}

static void msix_entry_mask(const struct pci_dev *d, unsigned entry, bool mask)
{
    uint8_t *ctrl = msix_entry(d, entry) + PCI_MSIX_ENTRY_CTRL;
    uint32_t v = mmio_read32(ctrl);
    v = mask ? v | PCI_MSIX_ENTRY_CTRL_MASKBIT : v & ~PCI_MSIX_ENTRY_CTRL_MASKBIT;
    mmio_write32(ctrl, v);
}

int pci_msix_enable(struct pci_dev *d, unsigned nvec)
{
    int err = 0;

    if (!d->msix_cap)
        return -ENODEV;
    if (d->msi_enabled || d->msix_enabled)
        return -EBUSY;

    uint16_t ctrl = pci_cfg_read16(d, d->msix_cap + PCI_MSIX_FLAGS);
    unsigned tsize = (ctrl & PCI_MSIX_FLAGS_QSIZE) + 1u;
    if (nvec == 0 || nvec > tsize)
        return -EINVAL;

    uint8_t *table = msix_region(d, PCI_MSIX_TABLE, (uint64_t)tsize * PCI_MSIX_ENTRY_SIZE, "table", &err);
    if (!table)
        return err;
    /* The PBA has one bit per entry, in whole qwords (PCI 3.0 6.8.2.7). */
    const uint8_t *pba = msix_region(d, PCI_MSIX_PBA, (tsize + 63u) / 64u * 8u, "PBA", &err);
    if (!pba)
        return err;
    d->msix_table = table;
    d->msix_pba = pba;
    d->msix_table_size = (uint16_t)tsize;

    /* The CPU reaches the table through memory decode; messages are writes the device masters. */
    command_update(d, 0, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);

    /*
     * Enable with the function mask set: some devices give access to the
     * table only once MSI-X is enabled, and the function mask keeps them
     * from sending anything while entries still hold whatever the firmware
     * left (Linux does the same).
     */
    uint16_t flags = ctrl & (uint16_t)~PCI_MSIX_FLAGS_QSIZE;
    pci_cfg_write16(d, d->msix_cap + PCI_MSIX_FLAGS, flags | PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    for (unsigned e = 0; e < tsize; e++)
        msix_entry_mask(d, e, true);
    /* INTx must stay quiet with MSI-X on (PCI 3.0 6.8.2); the bit makes it explicit. */
    command_update(d, 0, PCI_COMMAND_INTX_DISABLE);
    pci_cfg_write16(d, d->msix_cap + PCI_MSIX_FLAGS,
                    (flags | PCI_MSIX_FLAGS_ENABLE) & (uint16_t)~PCI_MSIX_FLAGS_MASKALL);

    d->msix_nvec = (uint16_t)nvec;
    d->msix_enabled = true;
    klog(LOG_DEBUG, "pci: " PCI_BDF_FMT ": MSI-X on, %u of %u entries", PCI_BDF_ARGS(d), nvec, tsize);
    return 0;
}

int pci_msix_set_vector(struct pci_dev *d, unsigned entry, int vector)
{
    uint64_t addr;
    uint32_t data;

    if (!d->msix_enabled || entry >= d->msix_nvec)
        return -EINVAL;
    irq_msi_compose(vector, &addr, &data);

    uint8_t *e = msix_entry(d, entry);
    /* Address and data may change only while the entry is masked (PCI 3.0 6.8.3.5). */
    msix_entry_mask(d, entry, true);
    mmio_write32(e + PCI_MSIX_ENTRY_ADDR_LO, (uint32_t)addr);
    mmio_write32(e + PCI_MSIX_ENTRY_ADDR_HI, (uint32_t)(addr >> 32));
    mmio_write32(e + PCI_MSIX_ENTRY_DATA, data);
    msix_entry_mask(d, entry, false);
    /* Read back: the posted writes have reached the device when this returns. */
    (void)mmio_read32(e + PCI_MSIX_ENTRY_CTRL);
    return 0;
}

int pci_msix_mask(struct pci_dev *d, unsigned entry, bool mask)
{
    if (!d->msix_enabled || entry >= d->msix_nvec)
        return -EINVAL;
    msix_entry_mask(d, entry, mask);
    (void)mmio_read32(msix_entry(d, entry) + PCI_MSIX_ENTRY_CTRL); /* flush, as above */
    return 0;
}

bool pci_msix_pending(const struct pci_dev *d, unsigned entry)
{
    if (!d->msix_pba || entry >= d->msix_table_size)
        return false;
    uint32_t w = mmio_read32(d->msix_pba + (entry / 32) * 4);
    return (w >> (entry % 32)) & 1;
}

void pci_msix_disable(struct pci_dev *d)
{
    if (!d->msix_enabled)
        return;
    for (unsigned e = 0; e < d->msix_table_size; e++)
        msix_entry_mask(d, e, true);
    uint16_t ctrl = pci_cfg_read16(d, d->msix_cap + PCI_MSIX_FLAGS);
    pci_cfg_write16(d, d->msix_cap + PCI_MSIX_FLAGS,
                    ctrl &
                        (uint16_t) ~(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL | PCI_MSIX_FLAGS_QSIZE));
    command_update(d, PCI_COMMAND_INTX_DISABLE, 0);
    d->msix_enabled = false;
    d->msix_nvec = 0;
}

/* --- MSI (PCI 3.0 6.8.1) --- */

int pci_msi_enable(struct pci_dev *d, int vector)
{
    uint64_t addr;
    uint32_t data;
    uint8_t cap = d->msi_cap;

    if (!cap)
        return -ENODEV;
    if (d->msix_enabled || d->msi_enabled)
        return -EBUSY;
    irq_msi_compose(vector, &addr, &data);

    uint16_t ctrl = pci_cfg_read16(d, cap + PCI_MSI_FLAGS);
    bool is64 = (ctrl & PCI_MSI_FLAGS_64BIT) != 0;
    if (!is64 && (addr >> 32))
        return -EINVAL;

    /* Program the message with MSI off, then enable a single vector (QSIZE = 0). */
    ctrl &= (uint16_t) ~(PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE);
    pci_cfg_write16(d, cap + PCI_MSI_FLAGS, ctrl);
    pci_cfg_write32(d, cap + PCI_MSI_ADDRESS_LO, (uint32_t)addr);
    if (is64) {
        pci_cfg_write32(d, cap + PCI_MSI_ADDRESS_HI, (uint32_t)(addr >> 32));
        pci_cfg_write16(d, cap + PCI_MSI_DATA_64, (uint16_t)data);
    } else {
        pci_cfg_write16(d, cap + PCI_MSI_DATA_32, (uint16_t)data);
    }
    if (ctrl & PCI_MSI_FLAGS_MASKBIT) {
        uint16_t moff = cap + (is64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32);
        pci_cfg_write32(d, moff, pci_cfg_read32(d, moff) & ~1u);
    }
    command_update(d, 0, PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
    pci_cfg_write16(d, cap + PCI_MSI_FLAGS, ctrl | PCI_MSI_FLAGS_ENABLE);
    d->msi_enabled = true;
    return 0;
}

void pci_msi_disable(struct pci_dev *d)
{
    if (!d->msi_enabled)
        return;
    uint16_t ctrl = pci_cfg_read16(d, d->msi_cap + PCI_MSI_FLAGS);
    pci_cfg_write16(d, d->msi_cap + PCI_MSI_FLAGS, ctrl & (uint16_t)~PCI_MSI_FLAGS_ENABLE);
    command_update(d, PCI_COMMAND_INTX_DISABLE, 0);
    d->msi_enabled = false;
}

/* --- INTx --- */

int pci_intx_gsi(const struct pci_dev *d, unsigned *flags)
{
    uint32_t gsi;
    unsigned f;

    if (d->irq_pin < 1 || d->irq_pin > 4)
        return -ENODEV;
    int err = irq_pci_intx_gsi(chipset, d->intx_slot, d->intx_pin, d->irq_line, &gsi, &f);
    if (err)
        return -ENOENT;
    if (flags)
        *flags = f;
    return (int)gsi;
}
