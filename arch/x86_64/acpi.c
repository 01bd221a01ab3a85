/*
 * ACPI static table parser (ACPI 6.5 chapter 5.2; PCI Firmware 3.2 4.1.2 for
 * MCFG; IA-PC HPET 1.0a 3.2.4), plus the two fixed-hardware actions we need:
 * reset through the FADT reset register and S5 through PM1x_CNT.
 *
 * Nothing here trusts firmware: a table is used only after its header was
 * mapped, its length is sane and fully mapped, and its checksum is 0; every
 * sub-structure is checked against the table's end before it is read, and a
 * sub-structure with a length below 2 stops the walk (a zero length would
 * otherwise loop forever). Fields are read byte by byte, since the tables are
 * packed and most multi-byte fields are unaligned.
 */
#include "arch/x86_64/acpi.h"

#include <errno.h>
#include <string.h>

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/io.h"
#include "arch/x86_64/paging.h"
#include "lib/klog.h"

/* Larger than any real table (big DSDTs are a few hundred KiB): a length
 * above this is corruption, not a table. */
#define ACPI_MAX_TABLE_LEN (16u << 20)

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void rd_gas(struct acpi_gas *g, const uint8_t *p)
{
    g->space_id = p[0];
    g->bit_width = p[1];
    g->bit_offset = p[2];
    g->access_size = p[3];
    g->address = rd64(p + 4);
}

bool acpi_checksum_ok(const void *p, size_t len)
{
    const uint8_t *b = p;
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + b[i]);
    return sum == 0;
}

/* The ACPI 1.0 part needs 20 bytes; the 2.0 part is checked only if @avail covers it. */
static bool rsdp_check(const uint8_t *p, size_t avail, bool *xsdt_ok)
{
    *xsdt_ok = false;
    if (avail < ACPI_RSDP_V1_SIZE || memcmp(p, "RSD PTR ", 8) != 0)
        return false;
    if (!acpi_checksum_ok(p, ACPI_RSDP_V1_SIZE))
        return false;
    if (p[ACPI_RSDP_REVISION] >= 2 && avail >= ACPI_RSDP_V2_SIZE) {
        uint32_t len = rd32(p + ACPI_RSDP_LENGTH);
        *xsdt_ok = len >= ACPI_RSDP_V2_SIZE && len <= avail && acpi_checksum_ok(p, len) &&
                   rd64(p + ACPI_RSDP_XSDT) != 0;
    }
    return true;
}

bool acpi_rsdp_valid(const void *rsdp, bool *xsdt_ok)
{
    /* A boot loader's copy: ACPI 2.0 RSDPs are 36 bytes; a longer "length"
     * is not something we read past. */
    return rsdp_check(rsdp, ACPI_RSDP_V2_SIZE, xsdt_ok);
}

static const uint8_t *scan_area(acpi_map_fn map, uint64_t start, size_t len, bool *xsdt_ok)
{
    const uint8_t *a = map(start, len);
    if (!a)
        return NULL;
    for (size_t off = 0; off + ACPI_RSDP_V1_SIZE <= len; off += 16)
        if (rsdp_check(a + off, len - off, xsdt_ok))
            return a + off;
    return NULL;
}

static const uint8_t *scan_rsdp(acpi_map_fn map, bool *xsdt_ok)
{
    /* ACPI 6.5 5.2.5.1: the EBDA segment is the word at 40:0E. */
    const uint8_t *bda = map(0x40e, 2);
    if (bda) {
        uint64_t ebda = (uint64_t)rd16(bda) << 4;
        if (ebda >= 0x80000 && ebda + 1024 <= 0xa0000) {
            const uint8_t *r = scan_area(map, ebda, 1024, xsdt_ok);
            if (r)
                return r;
        }
    }
    return scan_area(map, 0xe0000, 0x20000, xsdt_ok);
}

const void *acpi_scan_rsdp(acpi_map_fn map)
{
    bool x;
    return scan_rsdp(map, &x);
}

/*
 * Map and validate the table at @phys. @sig (or NULL for any) is the expected
 * signature. Return: the table with *lenp set, or NULL (logged, counted).
 */
static const uint8_t *map_table(struct acpi_info *info, acpi_map_fn map, uint64_t phys, const char *sig,
                                uint32_t *lenp)
{
    const uint8_t *h = map(phys, ACPI_HDR_SIZE);
    if (!h) {
        klog(LOG_WARN, "acpi: table at 0x%llx: cannot map its header, skipped", (unsigned long long)phys);
        info->bad_tables++;
        return NULL;
    }
    char name[5];
    memcpy(name, h, 4);
    name[4] = 0;
    for (int i = 0; i < 4; i++)
        if (name[i] < 0x20 || name[i] > 0x7e)
            name[i] = '?';
    if (sig && memcmp(h, sig, 4) != 0) {
        klog(LOG_WARN, "acpi: table at 0x%llx: signature '%s', expected '%s', skipped",
             (unsigned long long)phys, name, sig);
        info->bad_tables++;
        return NULL;
    }
    uint32_t len = rd32(h + ACPI_HDR_LENGTH);
    if (len < ACPI_HDR_SIZE || len > ACPI_MAX_TABLE_LEN) {
        klog(LOG_WARN, "acpi: %s at 0x%llx: bad length %u, skipped", name, (unsigned long long)phys, len);
        info->bad_tables++;
        return NULL;
    }
    const uint8_t *t = map(phys, len);
    if (!t) {
        klog(LOG_WARN, "acpi: %s at 0x%llx: cannot map %u bytes, skipped", name, (unsigned long long)phys,
             len);
        info->bad_tables++;
        return NULL;
    }
    if (!acpi_checksum_ok(t, len)) {
        klog(LOG_WARN, "acpi: %s at 0x%llx: bad checksum, skipped", name, (unsigned long long)phys);
        info->bad_tables++;
        return NULL;
    }
    *lenp = len;
    return t;
}

/* Minimal length of each MADT entry type we understand (ACPI 6.5 5.2.12). */
static unsigned madt_min_len(uint8_t type)
{
    switch (type) {
    case ACPI_MADT_LAPIC:
        return 8;
    case ACPI_MADT_IOAPIC:
        return 12;
    case ACPI_MADT_ISO:
        return 10;
    case ACPI_MADT_NMI_SRC:
        return 8;
    case ACPI_MADT_LAPIC_NMI:
        return 6;
    case ACPI_MADT_LAPIC_ADDR_OVR:
        return 12;
    case ACPI_MADT_X2APIC:
        return 16;
    case ACPI_MADT_X2APIC_NMI:
        return 12;
    default:
        return 2; /* unknown types are skipped by their length */
    }
}

static void madt_add_cpu(struct acpi_info *info, uint32_t apic_id, uint32_t uid, uint32_t flags, bool x2)
{
    if (info->n_cpus >= ACPI_MAX_CPUS) {
        info->madt_bad_entries++;
        return;
    }
    struct acpi_cpu *c = &info->cpus[info->n_cpus++];
    c->apic_id = apic_id;
    c->acpi_uid = uid;
    c->flags = flags;
    c->x2apic = x2;
}

static void madt_add_nmi(struct acpi_info *info, uint32_t uid, uint16_t flags, uint8_t lint)
{
    if (info->n_lapic_nmis >= ACPI_MAX_LAPIC_NMIS) {
        info->madt_bad_entries++;
        return;
    }
    struct acpi_lapic_nmi *n = &info->lapic_nmis[info->n_lapic_nmis++];
    n->acpi_uid = uid;
    n->flags = flags;
    n->lint = lint;
}

int acpi_parse_madt(struct acpi_info *info, const uint8_t *tbl, size_t len)
{
    if (len < ACPI_MADT_ENTRIES) {
        klog(LOG_WARN, "acpi: MADT too short (%lu bytes), ignored", (unsigned long)len);
        return -EINVAL;
    }
    info->have_madt = true;
    info->lapic_addr = rd32(tbl + ACPI_MADT_LAPIC_ADDR);
    info->madt_flags = rd32(tbl + ACPI_MADT_FLAGS);

    size_t off = ACPI_MADT_ENTRIES;
    while (off + 2 <= len) {
        const uint8_t *e = tbl + off;
        uint8_t type = e[0], elen = e[1];
        if (elen < 2) {
            /* Cannot advance past it: everything after it is unreachable. */
            klog(LOG_WARN, "acpi: MADT entry type %u at offset %lu has length %u, rest ignored", type,
                 (unsigned long)off, elen);
            info->madt_bad_entries++;
            return 0;
        }
        if (elen > len - off) {
            klog(LOG_WARN,
                 "acpi: MADT entry type %u at offset %lu (length %u) runs past the table end "
                 "(%lu), rest ignored",
                 type, (unsigned long)off, elen, (unsigned long)len);
            info->madt_bad_entries++;
            return 0;
        }
        off += elen;
        if (elen < madt_min_len(type)) {
            klog(LOG_WARN, "acpi: MADT entry type %u at offset %lu too short (%u), skipped", type,
                 (unsigned long)(off - elen), elen);
            info->madt_bad_entries++;
            continue;
        }
        switch (type) {
        case ACPI_MADT_LAPIC:
            madt_add_cpu(info, e[3], e[2], rd32(e + 4), false);
            break;
        case ACPI_MADT_X2APIC:
            madt_add_cpu(info, rd32(e + 4), rd32(e + 12), rd32(e + 8), true);
            break;
        case ACPI_MADT_IOAPIC:
            if (info->n_ioapics >= ACPI_MAX_IOAPICS) {
                info->madt_bad_entries++;
                break;
            }
            info->ioapics[info->n_ioapics].id = e[2];
            info->ioapics[info->n_ioapics].addr = rd32(e + 4);
            info->ioapics[info->n_ioapics].gsi_base = rd32(e + 8);
            info->n_ioapics++;
            break;
        case ACPI_MADT_ISO:
            if (info->n_overrides >= ACPI_MAX_OVERRIDES) {
                info->madt_bad_entries++;
                break;
            }
            info->overrides[info->n_overrides].bus = e[2];
            info->overrides[info->n_overrides].source = e[3];
            info->overrides[info->n_overrides].gsi = rd32(e + 4);
            info->overrides[info->n_overrides].flags = rd16(e + 8);
            info->n_overrides++;
            break;
        case ACPI_MADT_NMI_SRC:
            if (info->n_nmi_sources >= ACPI_MAX_NMI_SOURCES) {
                info->madt_bad_entries++;
                break;
            }
            info->nmi_sources[info->n_nmi_sources].flags = rd16(e + 2);
            info->nmi_sources[info->n_nmi_sources].gsi = rd32(e + 4);
            info->n_nmi_sources++;
            break;
        case ACPI_MADT_LAPIC_NMI:
            madt_add_nmi(info, e[2], rd16(e + 3), e[5]);
            break;
        case ACPI_MADT_X2APIC_NMI:
            madt_add_nmi(info, rd32(e + 4), rd16(e + 2), e[8]);
            break;
        case ACPI_MADT_LAPIC_ADDR_OVR:
            info->lapic_addr = rd64(e + 4);
            break;
        default:
            break;
        }
    }
    if (off != len)
        klog(LOG_WARN, "acpi: MADT has %lu trailing bytes", (unsigned long)(len - off));
    return 0;
}

int acpi_parse_mcfg(struct acpi_info *info, const uint8_t *tbl, size_t len)
{
    if (len < ACPI_MCFG_ENTRIES) {
        klog(LOG_WARN, "acpi: MCFG too short (%lu bytes), ignored", (unsigned long)len);
        return -EINVAL;
    }
    size_t n = (len - ACPI_MCFG_ENTRIES) / ACPI_MCFG_ENTRY_SIZE;
    if ((len - ACPI_MCFG_ENTRIES) % ACPI_MCFG_ENTRY_SIZE)
        klog(LOG_WARN, "acpi: MCFG length %lu is not 44 + 16*n, partial entry ignored", (unsigned long)len);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *e = tbl + ACPI_MCFG_ENTRIES + i * ACPI_MCFG_ENTRY_SIZE;
        uint8_t start = e[10], end = e[11];
        if (end < start) {
            klog(LOG_WARN, "acpi: MCFG entry %lu: bus range %u-%u reversed, skipped", (unsigned long)i, start,
                 end);
            continue;
        }
        if (info->n_mcfg >= ACPI_MAX_MCFG)
            break;
        struct acpi_mcfg_entry *m = &info->mcfg[info->n_mcfg++];
        m->base = rd64(e);
        m->segment = rd16(e + 8);
        m->bus_start = start;
        m->bus_end = end;
    }
    return 0;
}

int acpi_parse_hpet(struct acpi_info *info, const uint8_t *tbl, size_t len)
{
    if (len < ACPI_HPET_BASE + ACPI_GAS_SIZE) {
        klog(LOG_WARN, "acpi: HPET too short (%lu bytes), ignored", (unsigned long)len);
        return -EINVAL;
    }
    struct acpi_gas g;
    rd_gas(&g, tbl + ACPI_HPET_BASE);
    if (g.space_id == ACPI_GAS_SPACE_MEMORY)
        info->hpet_addr = g.address;
    return 0;
}

/* A legacy FADT I/O port block as a GAS, so both forms are accessed alike. */
static void io_gas(struct acpi_gas *g, uint32_t port, unsigned bytes)
{
    memset(g, 0, sizeof(*g));
    if (!port)
        return;
    g->space_id = ACPI_GAS_SPACE_IO;
    g->bit_width = (uint8_t)(bytes * 8);
    g->address = port;
}

int acpi_parse_fadt(struct acpi_info *info, const uint8_t *tbl, size_t len)
{
    /* 116 bytes is the ACPI 1.0 FADT; everything after that is optional. */
    if (len < ACPI_FADT_RESET_REG) {
        klog(LOG_WARN, "acpi: FADT too short (%lu bytes), ignored", (unsigned long)len);
        return -EINVAL;
    }
    info->have_fadt = true;
    info->fadt_revision = tbl[ACPI_HDR_REVISION];
    info->fadt_flags = rd32(tbl + ACPI_FADT_FLAGS);
    info->sci_irq = rd16(tbl + ACPI_FADT_SCI_INT);
    info->smi_cmd = rd32(tbl + ACPI_FADT_SMI_CMD);
    info->acpi_enable = tbl[ACPI_FADT_ACPI_ENABLE];
    /* IAPC_BOOT_ARCH was reserved before ACPI 2.0 (FADT revision 3). */
    info->boot_arch = info->fadt_revision >= 3 ? rd16(tbl + ACPI_FADT_IAPC_BOOT_ARCH) : 0;
    unsigned cnt_len = tbl[ACPI_FADT_PM1_CNT_LEN] ? tbl[ACPI_FADT_PM1_CNT_LEN] : 2;
    io_gas(&info->pm1a_cnt, rd32(tbl + ACPI_FADT_PM1A_CNT_BLK), cnt_len);
    io_gas(&info->pm1b_cnt, rd32(tbl + ACPI_FADT_PM1B_CNT_BLK), cnt_len);
    if (tbl[ACPI_FADT_PM_TMR_LEN] >= 4)
        io_gas(&info->pm_tmr, rd32(tbl + ACPI_FADT_PM_TMR_BLK), 4);
    info->pm_tmr_32bit = (info->fadt_flags & ACPI_FADT_TMR_VAL_EXT) != 0;
    info->dsdt_addr = rd32(tbl + ACPI_FADT_DSDT);

    if (len >= ACPI_FADT_RESET_VALUE + 1) {
        rd_gas(&info->reset_reg, tbl + ACPI_FADT_RESET_REG);
        info->reset_value = tbl[ACPI_FADT_RESET_VALUE];
    }
    /* The X_ fields supersede the 32-bit ones when non-zero (5.2.9). */
    if (len >= ACPI_FADT_X_DSDT + 8 && rd64(tbl + ACPI_FADT_X_DSDT))
        info->dsdt_addr = rd64(tbl + ACPI_FADT_X_DSDT);
    struct acpi_gas g;
    if (len >= ACPI_FADT_X_PM1A_CNT_BLK + ACPI_GAS_SIZE) {
        rd_gas(&g, tbl + ACPI_FADT_X_PM1A_CNT_BLK);
        if (g.address)
            info->pm1a_cnt = g;
    }
    if (len >= ACPI_FADT_X_PM1B_CNT_BLK + ACPI_GAS_SIZE) {
        rd_gas(&g, tbl + ACPI_FADT_X_PM1B_CNT_BLK);
        if (g.address)
            info->pm1b_cnt = g;
    }
    if (len >= ACPI_FADT_X_PM_TMR_BLK + ACPI_GAS_SIZE) {
        rd_gas(&g, tbl + ACPI_FADT_X_PM_TMR_BLK);
        if (g.address)
            info->pm_tmr = g;
    }
    if (len >= ACPI_FADT_SLEEP_CONTROL + ACPI_GAS_SIZE)
        rd_gas(&info->sleep_control, tbl + ACPI_FADT_SLEEP_CONTROL);
    if (len >= ACPI_FADT_SLEEP_STATUS + ACPI_GAS_SIZE)
        rd_gas(&info->sleep_status, tbl + ACPI_FADT_SLEEP_STATUS);
    return 0;
}

/*
 * One AML integer data object (ACPI 6.5 20.2.3): ZeroOp, OneOp, or a
 * Byte/Word/DWord/QWord prefix and its constant. Return: bytes used, 0 if none.
 */
static size_t aml_integer(const uint8_t *p, size_t avail, uint64_t *v)
{
    if (avail < 1)
        return 0;
    size_t n;
    switch (p[0]) {
    case 0x00:
        *v = 0;
        return 1; /* ZeroOp */
    case 0x01:
        *v = 1;
        return 1; /* OneOp */
    case 0x0a:
        n = 1;
        break; /* BytePrefix */
    case 0x0b:
        n = 2;
        break; /* WordPrefix */
    case 0x0c:
        n = 4;
        break; /* DWordPrefix */
    case 0x0e:
        n = 8;
        break; /* QWordPrefix */
    default:
        return 0;
    }
    if (avail < 1 + n)
        return 0;
    *v = 0;
    for (size_t i = 0; i < n; i++)
        *v |= (uint64_t)p[1 + i] << (8 * i);
    return 1 + n;
}

bool acpi_aml_find_s5(const uint8_t *aml, size_t len, uint8_t *a, uint8_t *b)
{
    for (size_t i = 1; i + 4 <= len; i++) {
        if (memcmp(aml + i, "_S5_", 4) != 0)
            continue;
        /* DefName := NameOp NameString: NameOp (0x08), optionally a root prefix '\'. */
        size_t j = i - 1;
        if (aml[j] == '\\') {
            if (j == 0)
                continue;
            j--;
        }
        if (aml[j] != 0x08)
            continue;
        size_t p = i + 4;
        if (p >= len || aml[p] != 0x12) /* PackageOp */
            continue;
        p++;
        if (p >= len)
            continue;
        /* PkgLength (20.2.4): bits 7-6 of the lead byte count the bytes that
         * follow; the length counts from the lead byte to the package's end,
         * which must lie inside the table. */
        size_t nbytes = aml[p] >> 6, pkglen;
        if (p + 1 + nbytes > len)
            continue;
        if (nbytes == 0) {
            pkglen = aml[p] & 0x3f;
        } else {
            pkglen = aml[p] & 0x0f;
            for (size_t k = 0; k < nbytes; k++)
                pkglen |= (size_t)aml[p + 1 + k] << (4 + 8 * k);
        }
        if (pkglen < 1 + nbytes + 1 || pkglen > len - p)
            continue;
        size_t end = p + pkglen;
        p += 1 + nbytes;
        unsigned nelem = aml[p++];
        uint64_t va, vb = 0;
        size_t used = aml_integer(aml + p, end - p, &va);
        if (nelem < 1 || !used)
            continue;
        p += used;
        if (nelem >= 2) {
            if (!aml_integer(aml + p, end - p, &vb))
                continue;
        } else {
            /* Some old firmware packs both values in one integer (a in bits 0-7, b in 8-15). */
            vb = va >> 8;
        }
        *a = (uint8_t)(va & 7);
        *b = (uint8_t)(vb & 7);
        return true;
    }
    return false;
}

static bool sig_is(const uint8_t *t, const char *sig)
{
    return memcmp(t, sig, 4) == 0;
}

int acpi_parse(struct acpi_info *info, const void *rsdp_in, acpi_map_fn map)
{
    memset(info, 0, sizeof(*info));
    const uint8_t *rsdp = rsdp_in;
    bool xsdt_ok;
    if (rsdp && !acpi_rsdp_valid(rsdp, &xsdt_ok)) {
        klog(LOG_WARN, "acpi: RSDP from the boot loader is invalid, scanning the BIOS areas");
        rsdp = NULL;
    }
    if (!rsdp) {
        rsdp = scan_rsdp(map, &xsdt_ok);
        if (!rsdp) {
            klog(LOG_ERR, "acpi: no RSDP found");
            return -ENOENT;
        }
    }
    info->rsdp_revision = rsdp[ACPI_RSDP_REVISION];
    memcpy(info->oem_id, rsdp + ACPI_RSDP_OEMID, 6);
    info->oem_id[6] = 0;

    /* Prefer the XSDT (64-bit entries); fall back to the RSDT if it is broken. */
    const uint8_t *root = NULL;
    uint32_t root_len = 0;
    unsigned esize = 0;
    if (xsdt_ok) {
        root = map_table(info, map, rd64(rsdp + ACPI_RSDP_XSDT), "XSDT", &root_len);
        esize = 8;
        info->xsdt = root != NULL;
    }
    if (!root && rd32(rsdp + ACPI_RSDP_RSDT)) {
        root = map_table(info, map, rd32(rsdp + ACPI_RSDP_RSDT), "RSDT", &root_len);
        esize = 4;
    }
    if (!root) {
        klog(LOG_ERR, "acpi: neither XSDT nor RSDT is valid");
        return -EINVAL;
    }

    uint64_t ssdts[ACPI_MAX_SSDTS];
    unsigned n_ssdts = 0;
    bool have_mcfg = false, have_hpet = false;
    unsigned n = (root_len - ACPI_HDR_SIZE) / esize;
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *ep = root + ACPI_HDR_SIZE + (size_t)i * esize;
        uint64_t phys = esize == 8 ? rd64(ep) : rd32(ep);
        if (!phys)
            continue;
        uint32_t len;
        const uint8_t *t = map_table(info, map, phys, NULL, &len);
        if (!t)
            continue;
        /* Take the first valid table of each kind; a second one is ignored. */
        if (sig_is(t, "APIC") && !info->have_madt) {
            acpi_parse_madt(info, t, len);
        } else if (sig_is(t, "FACP") && !info->have_fadt) {
            acpi_parse_fadt(info, t, len);
        } else if (sig_is(t, "MCFG") && !have_mcfg) {
            have_mcfg = acpi_parse_mcfg(info, t, len) == 0;
        } else if (sig_is(t, "HPET") && !have_hpet) {
            have_hpet = acpi_parse_hpet(info, t, len) == 0;
        } else if (sig_is(t, "SSDT") && n_ssdts < ACPI_MAX_SSDTS) {
            ssdts[n_ssdts++] = phys;
        }
    }

    /* \_S5 lives in the DSDT on QEMU and most firmware, in an SSDT on some. */
    if (info->have_fadt && info->dsdt_addr) {
        uint32_t len;
        const uint8_t *d = map_table(info, map, info->dsdt_addr, "DSDT", &len);
        if (d)
            info->have_s5 =
                acpi_aml_find_s5(d + ACPI_HDR_SIZE, len - ACPI_HDR_SIZE, &info->slp_typa, &info->slp_typb);
    }
    for (unsigned i = 0; i < n_ssdts && !info->have_s5; i++) {
        uint32_t len;
        const uint8_t *s = map_table(info, map, ssdts[i], "SSDT", &len);
        if (s)
            info->have_s5 =
                acpi_aml_find_s5(s + ACPI_HDR_SIZE, len - ACPI_HDR_SIZE, &info->slp_typa, &info->slp_typb);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Kernel side                                                               */

static struct acpi_info acpi_info;

/*
 * Firmware puts the tables in RAM or ACPI memory, which the kernel's paging
 * identity-maps (cacheable), so phys_to_virt() is the normal path. Page 0
 * holds the BIOS data area (the EBDA pointer) but is left unmapped to catch
 * NULL dereferences, and tables above 4 GiB or outside the identity map need
 * a mapping of their own: map_mmio() (uncached, fine for a few reads).
 */
const void *acpi_map_phys(uint64_t phys, size_t len)
{
    if (phys >= PAGE_SIZE && phys + len <= (1ull << 32) && phys + len > phys) {
        const void *v = phys_to_virt(phys);
        if (v && phys_to_virt(phys + len - 1))
            return v;
    }
    return map_mmio(phys, len);
}

static const char *inti_polarity(uint16_t f)
{
    switch (f & ACPI_INTI_POLARITY_MASK) {
    case ACPI_INTI_POLARITY_HIGH:
        return "high";
    case ACPI_INTI_POLARITY_LOW:
        return "low";
    case ACPI_INTI_POLARITY_CONFORMS:
        return "conforms";
    default:
        return "reserved";
    }
}

static const char *inti_trigger(uint16_t f)
{
    switch (f & ACPI_INTI_TRIGGER_MASK) {
    case ACPI_INTI_TRIGGER_EDGE:
        return "edge";
    case ACPI_INTI_TRIGGER_LEVEL:
        return "level";
    case ACPI_INTI_TRIGGER_CONFORMS:
        return "conforms";
    default:
        return "reserved";
    }
}

static void acpi_log_summary(const struct acpi_info *in)
{
    klog(LOG_INFO, "acpi: RSDP rev %u OEM '%s', tables from the %s%s", in->rsdp_revision, in->oem_id,
         in->xsdt ? "XSDT" : "RSDT", in->bad_tables ? " (some tables rejected)" : "");
    if (in->have_madt) {
        unsigned enabled = 0;
        for (unsigned i = 0; i < in->n_cpus; i++)
            if (in->cpus[i].flags & ACPI_LAPIC_ENABLED)
                enabled++;
        klog(LOG_INFO, "acpi: MADT: local APIC at 0x%llx, %u CPUs (%u enabled), %s",
             (unsigned long long)in->lapic_addr, in->n_cpus, enabled,
             (in->madt_flags & ACPI_MADT_PCAT_COMPAT) ? "8259s present" : "no 8259s");
        for (unsigned i = 0; i < in->n_cpus; i++)
            klog(LOG_INFO, "acpi:   cpu uid %u apic id %u%s%s", in->cpus[i].acpi_uid, in->cpus[i].apic_id,
                 (in->cpus[i].flags & ACPI_LAPIC_ENABLED) ? "" : " (disabled)",
                 in->cpus[i].x2apic ? " x2apic" : "");
        for (unsigned i = 0; i < in->n_ioapics; i++)
            klog(LOG_INFO, "acpi:   IO-APIC id %u at 0x%x, GSI base %u", in->ioapics[i].id,
                 in->ioapics[i].addr, in->ioapics[i].gsi_base);
        for (unsigned i = 0; i < in->n_overrides; i++)
            klog(LOG_INFO, "acpi:   override: bus %u IRQ %u -> GSI %u, %s, polarity %s", in->overrides[i].bus,
                 in->overrides[i].source, in->overrides[i].gsi, inti_trigger(in->overrides[i].flags),
                 inti_polarity(in->overrides[i].flags));
        for (unsigned i = 0; i < in->n_nmi_sources; i++)
            klog(LOG_INFO, "acpi:   NMI source: GSI %u", in->nmi_sources[i].gsi);
        for (unsigned i = 0; i < in->n_lapic_nmis; i++)
            klog(LOG_INFO, "acpi:   local APIC NMI: cpu uid 0x%x LINT%u, %s, polarity %s",
                 in->lapic_nmis[i].acpi_uid, in->lapic_nmis[i].lint, inti_trigger(in->lapic_nmis[i].flags),
                 inti_polarity(in->lapic_nmis[i].flags));
        if (in->madt_bad_entries)
            klog(LOG_WARN, "acpi:   %u MADT entries skipped", in->madt_bad_entries);
    } else {
        klog(LOG_WARN, "acpi: no MADT");
    }
    if (in->have_fadt) {
        klog(LOG_INFO, "acpi: FADT rev %u: SCI IRQ %u, PM timer %s 0x%llx (%u bits), PM1a_CNT 0x%llx%s",
             in->fadt_revision, in->sci_irq, in->pm_tmr.space_id == ACPI_GAS_SPACE_IO ? "port" : "mem",
             (unsigned long long)in->pm_tmr.address, in->pm_tmr_32bit ? 32 : 24,
             (unsigned long long)in->pm1a_cnt.address,
             (in->fadt_flags & ACPI_FADT_HW_REDUCED) ? ", hardware-reduced" : "");
        if ((in->fadt_flags & ACPI_FADT_RESET_REG_SUP) && in->reset_reg.address)
            klog(LOG_INFO, "acpi: reset register: %s 0x%llx, value 0x%x",
                 in->reset_reg.space_id == ACPI_GAS_SPACE_IO ? "port" : "address",
                 (unsigned long long)in->reset_reg.address, in->reset_value);
        else
            klog(LOG_INFO, "acpi: no reset register (reset through port 0xcf9 and the 8042)");
        if (in->have_s5)
            klog(LOG_INFO, "acpi: \\_S5: SLP_TYPa %u, SLP_TYPb %u", in->slp_typa, in->slp_typb);
        else
            klog(LOG_WARN, "acpi: no \\_S5 object: no ACPI power-off");
    } else
        klog(LOG_WARN, "acpi: no FADT");
    for (unsigned i = 0; i < in->n_mcfg; i++)
        klog(LOG_INFO, "acpi: MCFG: segment %u buses %u-%u ECAM at 0x%llx", in->mcfg[i].segment,
             in->mcfg[i].bus_start, in->mcfg[i].bus_end, (unsigned long long)in->mcfg[i].base);
    if (in->hpet_addr)
        klog(LOG_INFO, "acpi: HPET at 0x%llx", (unsigned long long)in->hpet_addr);
}

int acpi_init(const void *rsdp_from_bootloader)
{
    int rc = acpi_parse(&acpi_info, rsdp_from_bootloader, acpi_map_phys);
    if (rc < 0) {
        memset(&acpi_info, 0, sizeof(acpi_info));
        return rc;
    }
    acpi_log_summary(&acpi_info);
    return 0;
}

const struct acpi_info *acpi_get(void)
{
    return &acpi_info;
}

void acpi_use_mp_madt(const struct acpi_info *m)
{
    struct acpi_info *a = &acpi_info;
    a->lapic_addr = m->lapic_addr;
    a->madt_flags = m->madt_flags;
    a->n_cpus = m->n_cpus;
    memcpy(a->cpus, m->cpus, sizeof(a->cpus));
    a->n_ioapics = m->n_ioapics;
    memcpy(a->ioapics, m->ioapics, sizeof(a->ioapics));
    a->n_overrides = m->n_overrides;
    memcpy(a->overrides, m->overrides, sizeof(a->overrides));
    a->n_nmi_sources = m->n_nmi_sources;
    memcpy(a->nmi_sources, m->nmi_sources, sizeof(a->nmi_sources));
    a->n_lapic_nmis = m->n_lapic_nmis;
    memcpy(a->lapic_nmis, m->lapic_nmis, sizeof(a->lapic_nmis));
    a->mp_table = true;
}

int acpi_mcfg(uint64_t *base, uint8_t *bus_start, uint8_t *bus_end)
{
    for (unsigned i = 0; i < acpi_info.n_mcfg; i++) {
        const struct acpi_mcfg_entry *m = &acpi_info.mcfg[i];
        if (m->segment != 0)
            continue;
        *base = m->base;
        *bus_start = m->bus_start;
        *bus_end = m->bus_end;
        return 0;
    }
    return -ENODEV;
}

/* Access width of a GAS in bytes: access_size if given, else bit_width, else @dflt. */
static unsigned gas_bytes(const struct acpi_gas *g, unsigned dflt)
{
    if (g->access_size >= 1 && g->access_size <= 4)
        return 1u << (g->access_size - 1);
    switch (g->bit_width) {
    case 8:
        return 1;
    case 16:
        return 2;
    case 32:
        return 4;
    case 64:
        return 8;
    default:
        return dflt;
    }
}

static uint64_t gas_read(const struct acpi_gas *g, unsigned dflt)
{
    unsigned w = gas_bytes(g, dflt);
    if (g->space_id == ACPI_GAS_SPACE_IO) {
        uint16_t port = (uint16_t)g->address;
        return w == 1 ? inb(port) : w == 2 ? inw(port) : inl(port);
    }
    if (g->space_id == ACPI_GAS_SPACE_MEMORY) {
        void *p = map_mmio(g->address, w);
        if (!p)
            return 0;
        return w == 1 ? mmio_read8(p) : w == 2 ? mmio_read16(p) : w == 4 ? mmio_read32(p) : mmio_read64(p);
    }
    return 0;
}

static void gas_write(const struct acpi_gas *g, uint64_t v, unsigned dflt)
{
    unsigned w = gas_bytes(g, dflt);
    if (g->space_id == ACPI_GAS_SPACE_IO) {
        uint16_t port = (uint16_t)g->address;
        if (w == 1)
            outb(port, (uint8_t)v);
        else if (w == 2)
            outw(port, (uint16_t)v);
        else
            outl(port, (uint32_t)v);
    } else if (g->space_id == ACPI_GAS_SPACE_MEMORY) {
        void *p = map_mmio(g->address, w);
        if (!p)
            return;
        if (w == 1)
            mmio_write8(p, (uint8_t)v);
        else if (w == 2)
            mmio_write16(p, (uint16_t)v);
        else if (w == 4)
            mmio_write32(p, (uint32_t)v);
        else
            mmio_write64(p, v);
    } else if (g->space_id == ACPI_GAS_SPACE_PCI) {
        /* 5.2.3.2: bus 0 of segment 0; device in bits 47-32, function in
         * 31-16, register in 15-0. Config mechanism #1 (PCI 3.0 3.2.2.3.2). */
        uint32_t dev = (uint32_t)(g->address >> 32) & 0x1f;
        uint32_t fn = (uint32_t)(g->address >> 16) & 0x7;
        uint32_t reg = (uint32_t)g->address & 0xff;
        outl(0xcf8, 0x80000000u | dev << 11 | fn << 8 | (reg & 0xfc));
        outb((uint16_t)(0xcfc + (reg & 3)), (uint8_t)v);
    }
}

static const void *pm_tmr_mmio;

unsigned acpi_pm_timer_bits(void)
{
    if (!acpi_info.pm_tmr.address)
        return 0;
    return acpi_info.pm_tmr_32bit ? 32 : 24;
}

uint32_t acpi_pm_timer_read(void)
{
    const struct acpi_gas *g = &acpi_info.pm_tmr;
    if (g->space_id == ACPI_GAS_SPACE_IO && g->address)
        return inl((uint16_t)g->address);
    if (g->space_id == ACPI_GAS_SPACE_MEMORY && g->address) {
        if (!pm_tmr_mmio)
            pm_tmr_mmio = map_mmio(g->address, 4);
        return pm_tmr_mmio ? mmio_read32(pm_tmr_mmio) : 0;
    }
    return 0;
}

/* About @us microseconds, with nothing but port 0x80 (works before any timer is calibrated). */
static void short_delay(unsigned us)
{
    for (unsigned i = 0; i < us; i++)
        io_wait();
}

void acpi_reset(void)
{
    const struct acpi_info *in = &acpi_info;
    cpu_irq_disable();
    /* 4.8.3.6: the reset register is usable only if RESET_REG_SUP says so. */
    if (in->have_fadt && (in->fadt_flags & ACPI_FADT_RESET_REG_SUP) && in->reset_reg.address) {
        klog(LOG_INFO, "acpi: reset through the FADT reset register");
        gas_write(&in->reset_reg, in->reset_value, 1);
        short_delay(50000);
    }
    /* PIIX/ICH reset control register: hard reset (bit 1) with a 0->1 edge on bit 2. */
    outb(0xcf9, 0x02);
    short_delay(10);
    outb(0xcf9, 0x06);
    short_delay(50000);
    /* The 8042's pulse-reset-line command (0xFE), once its input buffer is empty. */
    for (int i = 0; i < 10000 && (inb(0x64) & 0x02); i++)
        io_wait();
    outb(0x64, 0xfe);
    short_delay(50000);
    cpu_triple_fault();
}

void acpi_poweroff(void)
{
    const struct acpi_info *in = &acpi_info;
    if (in->have_fadt && in->have_s5 && !in->pm1a_cnt.address && in->sleep_control.address) {
        /* Hardware-reduced ACPI (4.1, 4.8.3.7): one 8-bit sleep control
         * register instead of the PM1 blocks; SLP_TYPa is the value. */
        cpu_irq_disable();
        klog(LOG_INFO, "acpi: entering S5 through the sleep control register (SLP_TYP=%u)", in->slp_typa);
        gas_write(&in->sleep_control,
                  (uint64_t)((in->slp_typa << ACPI_SLEEP_CTL_SLP_TYP_SHIFT) & ACPI_SLEEP_CTL_SLP_TYP_MASK) |
                      ACPI_SLEEP_CTL_SLP_EN,
                  1);
        short_delay(100000);
        klog(LOG_ERR, "acpi: still running after S5");
        return;
    }
    if (!in->have_fadt || !in->have_s5 || !in->pm1a_cnt.address) {
        klog(LOG_ERR, "acpi: cannot power off: %s",
             !in->have_fadt ? "no FADT"
             : !in->have_s5 ? "no \\_S5 object"
                            : "no PM1a_CNT nor sleep control register");
        return;
    }
    cpu_irq_disable();
    /* 16.3.1: in legacy mode, ask the firmware to switch to ACPI mode first
     * (SCI_EN set). QEMU honours SLP_EN either way; real chipsets may not. */
    if (in->smi_cmd && in->acpi_enable && !(gas_read(&in->pm1a_cnt, 2) & ACPI_PM1_SCI_EN)) {
        outb((uint16_t)in->smi_cmd, in->acpi_enable);
        for (int i = 0; i < 300 && !(gas_read(&in->pm1a_cnt, 2) & ACPI_PM1_SCI_EN); i++)
            short_delay(1000);
    }
    klog(LOG_INFO, "acpi: entering S5 (SLP_TYPa=%u SLP_TYPb=%u)", in->slp_typa, in->slp_typb);
    /* 7.4.2 / 16.1.7: write SLP_TYPa to PM1a_CNT and SLP_TYPb to PM1b_CNT,
     * each with SLP_EN; the b block is optional. */
    uint64_t a = gas_read(&in->pm1a_cnt, 2) & ~(uint64_t)(ACPI_PM1_SLP_TYP_MASK | ACPI_PM1_SLP_EN);
    uint64_t b = 0;
    if (in->pm1b_cnt.address)
        b = gas_read(&in->pm1b_cnt, 2) & ~(uint64_t)(ACPI_PM1_SLP_TYP_MASK | ACPI_PM1_SLP_EN);
    a |= (uint64_t)in->slp_typa << ACPI_PM1_SLP_TYP_SHIFT | ACPI_PM1_SLP_EN;
    b |= (uint64_t)in->slp_typb << ACPI_PM1_SLP_TYP_SHIFT | ACPI_PM1_SLP_EN;
    gas_write(&in->pm1a_cnt, a, 2);
    if (in->pm1b_cnt.address)
        gas_write(&in->pm1b_cnt, b, 2);
    short_delay(100000);
    klog(LOG_ERR, "acpi: still running after S5");
}
