/*
 * The MP table (Intel MultiProcessor Specification 1.4, chapter 4): found,
 * checked and read without trusting a length, then translated into the MADT's
 * fields of struct acpi_info. See mptable.h.
 */
#include "arch/x86_64/mptable.h"

#include <errno.h>
#include <string.h>

#include "lib/klog.h"

#ifndef HOST_TEST
#include "arch/x86_64/ioapic.h"
#endif

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16;
}

static bool fp_valid(const uint8_t *p)
{
    return memcmp(p, "_MP_", 4) == 0 && p[MP_FP_LENGTH] == 1 && acpi_checksum_ok(p, MP_FP_SIZE);
}

static uint64_t scan(acpi_map_fn map, uint64_t start, size_t len)
{
    const uint8_t *a = map(start, len);
    if (!a)
        return 0;
    for (size_t off = 0; off + MP_FP_SIZE <= len; off += 16)
        if (fp_valid(a + off))
            return start + off;
    return 0;
}

uint64_t mptable_find(acpi_map_fn map)
{
    const uint8_t *bda = map(0x40e, 8);
    /* qboot leaves the BIOS data area zeroed: then base memory is taken as
     * 640 KiB, whose last KiB (0x9FC00) is where qboot and SeaBIOS put it. */
    uint64_t ebda = 0, base_kib = 640;
    if (bda) {
        ebda = (uint64_t)rd16(bda) << 4;
        /* 40:13 is the base memory size in KiB (0x413 - 0x40e = 5). */
        uint64_t kib = rd16(bda + 5);
        if (kib >= 512 && kib <= 640)
            base_kib = kib;
    }
    uint64_t fp = 0;
    if (ebda >= 0x80000 && ebda + 1024 <= 0xa0000)
        fp = scan(map, ebda, 1024);
    if (!fp)
        fp = scan(map, base_kib * 1024 - 1024, 1024);
    if (!fp)
        fp = scan(map, 0xf0000, 0x10000);
    return fp;
}

static void copy_id(char *dst, const uint8_t *src, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        dst[len++] = (src[i] >= 0x20 && src[i] <= 0x7e) ? (char)src[i] : '?';
    while (len && dst[len - 1] == ' ')
        len--;
    dst[len] = 0;
}

static void add_irq(struct mptable_info *mp, const uint8_t *e, bool lint)
{
    struct mptable_irq irq = {
        .type = e[1], .flags = rd16(e + 2), .bus = e[4], .irq = e[5], .apic = e[6], .pin = e[7]};
    if (lint) {
        if (mp->n_lints < MPTABLE_MAX_LINTS)
            mp->lints[mp->n_lints++] = irq;
        else
            mp->bad_entries++;
    } else {
        if (mp->n_irqs < MPTABLE_MAX_IRQS)
            mp->irqs[mp->n_irqs++] = irq;
        else
            mp->bad_entries++;
    }
}

/*
 * The base entries: walked by the base table's length, as Linux's
 * smp_read_mpc() does, not by the entry count, which qboot leaves at 0. A
 * count that disagrees is logged; nothing is read past @len.
 */
static void parse_entries(struct mptable_info *mp, const uint8_t *t, size_t len, unsigned count)
{
    size_t off = MP_CT_HEADER_SIZE;
    unsigned seen = 0;
    for (; off < len; seen++) {
        const uint8_t *e = t + off;
        size_t size = e[0] == MP_ENTRY_PROCESSOR ? MP_PROCESSOR_SIZE : MP_OTHER_SIZE;
        if (e[0] > MP_ENTRY_LINT) {
            klog(LOG_WARN, "mptable: entry %u has unknown type %u at offset %lu: the rest is not read", seen,
                 e[0], (unsigned long)off);
            mp->bad_entries++;
            return;
        }
        if (off + size > len) {
            klog(LOG_WARN, "mptable: entry %u (type %u) at offset %lu runs past the table's %lu bytes", seen,
                 e[0], (unsigned long)off, (unsigned long)len);
            mp->bad_entries++;
            return;
        }
        switch (e[0]) {
        case MP_ENTRY_PROCESSOR:
            if (mp->n_cpus < MPTABLE_MAX_CPUS) {
                mp->cpus[mp->n_cpus].apic_id = e[1];
                mp->cpus[mp->n_cpus].flags = e[3];
                mp->n_cpus++;
            } else
                mp->bad_entries++;
            break;
        case MP_ENTRY_BUS:
            if (mp->n_buses < MPTABLE_MAX_BUSES) {
                mp->buses[mp->n_buses].id = e[1];
                mp->buses[mp->n_buses].isa = memcmp(e + 2, "ISA   ", 6) == 0;
                mp->n_buses++;
            } else
                mp->bad_entries++;
            break;
        case MP_ENTRY_IOAPIC:
            if (mp->n_ioapics < MPTABLE_MAX_IOAPIC) {
                mp->ioapics[mp->n_ioapics].id = e[1];
                mp->ioapics[mp->n_ioapics].flags = e[3];
                mp->ioapics[mp->n_ioapics].addr = rd32(e + 4);
                mp->n_ioapics++;
            } else
                mp->bad_entries++;
            break;
        case MP_ENTRY_IOINT:
            add_irq(mp, e, false);
            break;
        default:
            add_irq(mp, e, true);
            break;
        }
        off += size;
    }
    mp->n_entries = seen;
    if (seen != count)
        klog(LOG_INFO, "mptable: the header counts %u entries, its %lu bytes hold %u: read by length", count,
             (unsigned long)len, seen);
}

int mptable_parse(struct mptable_info *mp, uint64_t fp_phys, acpi_map_fn map)
{
    memset(mp, 0, sizeof(*mp));
    const uint8_t *fp = map(fp_phys, MP_FP_SIZE);
    if (!fp)
        return -EFAULT;
    if (!fp_valid(fp)) {
        klog(LOG_WARN, "mptable: no valid floating pointer at 0x%llx", (unsigned long long)fp_phys);
        return -EINVAL;
    }
    mp->fp_addr = fp_phys;
    mp->spec_rev = fp[MP_FP_SPEC_REV];
    mp->default_cfg = fp[MP_FP_FEATURE1];
    mp->imcr = (fp[MP_FP_FEATURE2] & MP_FP_IMCRP) != 0;
    uint32_t phys = rd32(fp + MP_FP_PHYSADDR);
    if (mp->default_cfg)
        return 0; /* chapter 5: the configuration is implied, no table is read */
    if (phys == 0) {
        klog(LOG_WARN,
             "mptable: floating pointer at 0x%llx names neither a table nor a default configuration",
             (unsigned long long)fp_phys);
        return -EINVAL;
    }
    const uint8_t *h = map(phys, MP_CT_HEADER_SIZE);
    if (!h)
        return -EFAULT;
    uint16_t len = rd16(h + MP_CT_BASE_LENGTH);
    if (memcmp(h, "PCMP", 4) != 0 || len < MP_CT_HEADER_SIZE) {
        klog(LOG_WARN, "mptable: no configuration table at 0x%x (signature or length %u bad)", phys, len);
        return -EINVAL;
    }
    const uint8_t *t = map(phys, len);
    if (!t)
        return -EFAULT;
    if (!acpi_checksum_ok(t, len)) {
        klog(LOG_WARN, "mptable: configuration table at 0x%x: bad checksum over its %u bytes", phys, len);
        return -EINVAL;
    }
    mp->have_table = true;
    mp->table_addr = phys;
    copy_id(mp->oem, t + MP_CT_OEM_ID, 8);
    copy_id(mp->product, t + MP_CT_PRODUCT_ID, 12);
    mp->lapic_addr = rd32(t + MP_CT_LAPIC_ADDR);
    parse_entries(mp, t, len, rd16(t + MP_CT_ENTRY_COUNT));
    return 0;
}

static bool bus_is_isa(const struct mptable_info *mp, uint8_t id)
{
    for (unsigned i = 0; i < mp->n_buses; i++)
        if (mp->buses[i].id == id)
            return mp->buses[i].isa;
    return false;
}

unsigned mptable_to_madt(const struct mptable_info *mp, struct acpi_info *out,
                         unsigned (*ioapic_pins)(uint32_t addr))
{
    out->lapic_addr = mp->lapic_addr;
    out->madt_flags = ACPI_MADT_PCAT_COMPAT; /* MP 1.4 3.6.2: every MP PC has the 8259s */
    out->n_cpus = 0;
    for (unsigned i = 0; i < mp->n_cpus && out->n_cpus < ACPI_MAX_CPUS; i++) {
        struct acpi_cpu *c = &out->cpus[out->n_cpus++];
        c->apic_id = mp->cpus[i].apic_id;
        c->acpi_uid = mp->cpus[i].apic_id;
        c->flags = (mp->cpus[i].flags & MP_CPU_ENABLED) ? ACPI_LAPIC_ENABLED : 0;
        c->x2apic = false;
    }
    out->n_ioapics = 0;
    uint32_t gsi = 0;
    for (unsigned i = 0; i < mp->n_ioapics && out->n_ioapics < ACPI_MAX_IOAPICS; i++) {
        if (!(mp->ioapics[i].flags & MP_IOAPIC_ENABLED))
            continue;
        unsigned pins = ioapic_pins(mp->ioapics[i].addr);
        if (pins == 0)
            continue;
        struct acpi_ioapic *io = &out->ioapics[out->n_ioapics++];
        io->id = mp->ioapics[i].id;
        io->addr = mp->ioapics[i].addr;
        io->gsi_base = gsi;
        gsi += pins;
    }
    out->n_overrides = 0;
    for (unsigned i = 0; i < mp->n_irqs; i++) {
        const struct mptable_irq *q = &mp->irqs[i];
        if (q->type != MP_INT_INT || !bus_is_isa(mp, q->bus) || q->irq >= 16)
            continue;
        const struct acpi_ioapic *io = NULL;
        for (unsigned k = 0; k < out->n_ioapics && !io; k++)
            if (q->apic == MP_ALL_APICS || out->ioapics[k].id == q->apic)
                io = &out->ioapics[k];
        if (!io)
            continue;
        uint32_t to = io->gsi_base + q->pin;
        if (to == q->irq && q->flags == 0)
            continue; /* what ISA IRQ n means without an override */
        if (out->n_overrides < ACPI_MAX_OVERRIDES)
            out->overrides[out->n_overrides++] =
                (struct acpi_override){.bus = 0, .source = q->irq, .gsi = to, .flags = q->flags};
    }
    out->n_nmi_sources = 0;
    out->n_lapic_nmis = 0;
    for (unsigned i = 0; i < mp->n_lints; i++) {
        const struct mptable_irq *q = &mp->lints[i];
        if (q->type != MP_INT_NMI || q->pin > 1 || out->n_lapic_nmis >= ACPI_MAX_LAPIC_NMIS)
            continue;
        out->lapic_nmis[out->n_lapic_nmis++] =
            (struct acpi_lapic_nmi){.acpi_uid = q->apic, .flags = q->flags, .lint = q->pin};
    }
    return out->n_ioapics;
}

#ifndef HOST_TEST

static struct mptable_info mp_info;
static struct acpi_info mp_madt;

int mptable_init(void)
{
    uint64_t fp = mptable_find(acpi_map_phys);
    if (!fp) {
        klog(LOG_WARN, "mptable: no MP table either (EBDA, base memory's last KiB, 0xF0000-0xFFFFF)");
        return -ENOENT;
    }
    int rc = mptable_parse(&mp_info, fp, acpi_map_phys);
    if (rc < 0)
        return rc;
    const struct mptable_info *mp = &mp_info;
    if (mp->default_cfg) {
        /* Chapter 5's configurations are two CPUs and one IO-APIC at the
         * standard addresses: what the fixed defaults already assume. */
        klog(LOG_INFO, "mptable: MP 1.%u floating pointer at 0x%llx: default configuration %u (no table)",
             mp->spec_rev, (unsigned long long)fp, mp->default_cfg);
        return -ENOENT;
    }
    klog(LOG_INFO,
         "mptable: MP 1.%u table at 0x%llx (floating pointer 0x%llx), OEM '%s' product '%s', "
         "local APIC at 0x%x%s",
         mp->spec_rev, (unsigned long long)mp->table_addr, (unsigned long long)fp, mp->oem, mp->product,
         mp->lapic_addr, mp->imcr ? ", IMCR (PIC mode)" : "");
    unsigned isa = 0;
    for (unsigned i = 0; i < mp->n_irqs; i++)
        isa += mp->irqs[i].type == MP_INT_INT && bus_is_isa(mp, mp->irqs[i].bus);
    for (unsigned i = 0; i < mp->n_cpus; i++)
        klog(LOG_INFO, "mptable:   cpu apic id %u%s%s", mp->cpus[i].apic_id,
             (mp->cpus[i].flags & MP_CPU_ENABLED) ? "" : " (disabled)",
             (mp->cpus[i].flags & MP_CPU_BSP) ? " (boot CPU)" : "");
    for (unsigned i = 0; i < mp->n_ioapics; i++)
        klog(LOG_INFO, "mptable:   IO-APIC id %u at 0x%x%s", mp->ioapics[i].id, mp->ioapics[i].addr,
             (mp->ioapics[i].flags & MP_IOAPIC_ENABLED) ? "" : " (disabled)");
    klog(LOG_INFO, "mptable:   %u buses, %u IO interrupt entries (%u ISA), %u local interrupt entries",
         mp->n_buses, mp->n_irqs, isa, mp->n_lints);
    if (mp->bad_entries)
        klog(LOG_WARN, "mptable:   %u entries skipped", mp->bad_entries);
    mptable_to_madt(mp, &mp_madt, ioapic_pins_at);
    for (unsigned i = 0; i < mp_madt.n_overrides; i++)
        klog(LOG_INFO, "mptable:   ISA IRQ %u -> GSI %u, flags 0x%x", mp_madt.overrides[i].source,
             mp_madt.overrides[i].gsi, mp_madt.overrides[i].flags);
    acpi_use_mp_madt(&mp_madt);
    return 0;
}

#endif
