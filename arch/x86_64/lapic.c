/*
 * Local APIC of the boot CPU (Intel SDM vol. 3 chapter 11 "APIC": 11.4
 * "Local APIC", 11.5 "Handling Local Interrupts", 11.8.5 "EOI", 11.9
 * "Spurious Interrupt", 11.12 "x2APIC").
 *
 * xAPIC registers are 32-bit MMIO at the base in IA32_APIC_BASE, mapped
 * uncached with map_mmio(); in x2APIC mode each is an MSR. The x2APIC mode is
 * preferred when offered because it needs no mapping and its EOI is a single
 * WRMSR; both keep the 8-bit destination addressing the IO-APIC and MSI use
 * for APIC ids below 255, which is all a uniprocessor kernel needs.
 */
#include "arch/x86_64/lapic.h"

#include <errno.h>

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/io.h"
#include "arch/x86_64/irq.h"
#include "arch/x86_64/paging.h"
#include "lib/klog.h"

static void *lapic_mmio;
static bool x2apic;
static uint64_t error_count;

bool lapic_is_x2apic(void)
{
    return x2apic;
}

uint32_t lapic_read(uint32_t reg)
{
    if (x2apic)
        return (uint32_t)rdmsr(MSR_X2APIC_BASE + (reg >> 4));
    return mmio_read32((uint8_t *)lapic_mmio + reg);
}

void lapic_write(uint32_t reg, uint32_t v)
{
    if (x2apic)
        wrmsr(MSR_X2APIC_BASE + (reg >> 4), v);
    else
        mmio_write32((uint8_t *)lapic_mmio + reg, v);
}

uint32_t lapic_id(void)
{
    if (x2apic)
        return lapic_read(LAPIC_ID);
    return lapic_read(LAPIC_ID) >> 24;
}

void lapic_eoi(void)
{
    lapic_write(LAPIC_EOI, 0);
}

bool lapic_vector_pending(uint8_t vector)
{
    return (lapic_read(LAPIC_IRR + 0x10 * (vector / 32)) >> (vector % 32)) & 1;
}

uint32_t lapic_esr(void)
{
    lapic_write(LAPIC_ESR, 0);
    return lapic_read(LAPIC_ESR);
}

uint64_t lapic_error_count(void)
{
    return error_count;
}

bool lapic_error_irq(void *ctx)
{
    (void)ctx;
    uint32_t esr = lapic_esr();
    error_count++;
    /* An error storm must not flood the serial console. */
    if (error_count <= 10 || (error_count & (error_count - 1)) == 0)
        klog(LOG_WARN, "lapic: error interrupt #%llu, ESR 0x%x%s%s%s", (unsigned long long)error_count, esr,
             (esr & LAPIC_ESR_SEND_ILLEGAL_VECTOR) ? " send-illegal-vector" : "",
             (esr & LAPIC_ESR_RECV_ILLEGAL_VECTOR) ? " receive-illegal-vector" : "",
             (esr & LAPIC_ESR_ILLEGAL_REG) ? " illegal-register" : "");
    return true;
}

void lapic_timer_mode(uint32_t mode, uint8_t vector, bool masked)
{
    lapic_write(LAPIC_TIMER_DIV, LAPIC_TIMER_DIV_16);
    lapic_write(LAPIC_LVT_TIMER, mode | vector | (masked ? LAPIC_LVT_MASKED : 0));
    /* SDM 11.5.4.1: in xAPIC mode the MMIO write that selects TSC-deadline
     * mode must be globally visible before a later WRMSR to IA32_TSC_DEADLINE,
     * which is not ordered with it; MFENCE orders them. */
    if (mode == LAPIC_TIMER_TSC_DEADLINE && !x2apic)
        __asm__ volatile("mfence" ::: "memory");
}

void lapic_timer_start(uint32_t count)
{
    lapic_write(LAPIC_TIMER_INIT, count);
}

uint32_t lapic_timer_current(void)
{
    return lapic_read(LAPIC_TIMER_CUR);
}

void lapic_timer_deadline(uint64_t tsc)
{
    wrmsr(MSR_IA32_TSC_DEADLINE, tsc);
}

void lapic_park_others(void)
{
    /* SDM 11.6.1 and the MP spec B.4: INIT assert then de-assert, all
     * excluding self. x2APIC has no delivery-status bit and no de-assert. */
    if (x2apic) {
        wrmsr(MSR_X2APIC_BASE + (LAPIC_ICR_LO >> 4),
              LAPIC_ICR_ALL_BUT_SELF | LAPIC_ICR_LEVEL | LAPIC_ICR_ASSERT | LAPIC_ICR_DM_INIT);
        return;
    }
    lapic_write(LAPIC_ICR_HI, 0);
    lapic_write(LAPIC_ICR_LO,
                LAPIC_ICR_ALL_BUT_SELF | LAPIC_ICR_LEVEL | LAPIC_ICR_ASSERT | LAPIC_ICR_DM_INIT);
    for (int i = 0; i < 100000 && (lapic_read(LAPIC_ICR_LO) & LAPIC_ICR_PENDING); i++)
        cpu_relax();
    lapic_write(LAPIC_ICR_LO, LAPIC_ICR_ALL_BUT_SELF | LAPIC_ICR_LEVEL | LAPIC_ICR_DM_INIT);
    for (int i = 0; i < 100000 && (lapic_read(LAPIC_ICR_LO) & LAPIC_ICR_PENDING); i++)
        cpu_relax();
}

/* The LVT value for an NMI on LINTn with the MADT's MPS INTI flags. */
static uint32_t nmi_lvt(uint16_t inti)
{
    uint32_t v = LAPIC_LVT_DM_NMI;
    /* SDM 11.5.1: NMI delivery is always edge-triggered; only polarity applies. */
    if ((inti & ACPI_INTI_POLARITY_MASK) == ACPI_INTI_POLARITY_LOW)
        v |= LAPIC_LVT_ACTIVE_LOW;
    return v;
}

int lapic_init(void)
{
    const struct cpu_info *ci = cpu_get_info();
    const struct acpi_info *ai = acpi_get();
    if (!ci->apic) {
        klog(LOG_ERR, "lapic: CPU has no local APIC");
        return -ENODEV;
    }
    uint64_t base = rdmsr(MSR_IA32_APIC_BASE);
    uint64_t phys = base & APIC_BASE_ADDR_MASK;
    if (ai->have_madt && ai->lapic_addr != phys)
        klog(LOG_WARN, "lapic: MADT says 0x%llx, IA32_APIC_BASE says 0x%llx; using the MSR",
             (unsigned long long)ai->lapic_addr, (unsigned long long)phys);
    if (ci->x2apic) {
        /* SDM 11.12.5: xAPIC -> x2APIC is the legal transition (EN must already be set). */
        if (!(base & APIC_BASE_ENABLE)) {
            base |= APIC_BASE_ENABLE;
            wrmsr(MSR_IA32_APIC_BASE, base);
        }
        wrmsr(MSR_IA32_APIC_BASE, base | APIC_BASE_X2APIC);
        x2apic = true;
    } else {
        lapic_mmio = map_mmio(phys, 4096);
        if (!lapic_mmio) {
            klog(LOG_ERR, "lapic: cannot map 0x%llx", (unsigned long long)phys);
            return -ENODEV;
        }
        if (!(base & APIC_BASE_ENABLE))
            wrmsr(MSR_IA32_APIC_BASE, base | APIC_BASE_ENABLE);
    }

    uint32_t ver = lapic_read(LAPIC_VERSION);
    unsigned max_lvt = (ver >> 16) & 0xff;

    lapic_write(LAPIC_TPR, 0); /* accept every priority class */
    lapic_write(LAPIC_LVT_TIMER, LAPIC_LVT_MASKED | IRQ_VECTOR_LAPIC_TIMER);
    if (max_lvt >= 4)
        lapic_write(LAPIC_LVT_PERF, LAPIC_LVT_MASKED);
    if (max_lvt >= 5)
        lapic_write(LAPIC_LVT_THERMAL, LAPIC_LVT_MASKED);
    if (max_lvt >= 6)
        lapic_write(LAPIC_LVT_CMCI, LAPIC_LVT_MASKED);

    /* LINT0 carries the 8259s' ExtINT in virtual-wire mode: masked, since
     * the 8259s are. LINT1 is wired to NMI on PCs; the MADT's local APIC NMI
     * entries say which pin and polarity, for all CPUs (uid 0xff/0xffffffff)
     * or ours. */
    uint32_t lint[2] = {LAPIC_LVT_MASKED, LAPIC_LVT_MASKED};
    uint32_t my_id = x2apic ? lapic_read(LAPIC_ID) : lapic_read(LAPIC_ID) >> 24;
    uint32_t my_uid = 0xffffffff;
    for (unsigned i = 0; i < ai->n_cpus; i++)
        if (ai->cpus[i].apic_id == my_id)
            my_uid = ai->cpus[i].acpi_uid;
    bool any_nmi = false;
    for (unsigned i = 0; i < ai->n_lapic_nmis; i++) {
        const struct acpi_lapic_nmi *n = &ai->lapic_nmis[i];
        bool all = n->acpi_uid == 0xff || n->acpi_uid == 0xffffffff;
        if ((all || n->acpi_uid == my_uid) && n->lint <= 1) {
            lint[n->lint] = nmi_lvt(n->flags);
            any_nmi = true;
        }
    }
    if (!any_nmi)
        lint[1] = LAPIC_LVT_DM_NMI; /* the PC convention (MP spec 5.1) */
    lapic_write(LAPIC_LVT_LINT0, lint[0]);
    lapic_write(LAPIC_LVT_LINT1, lint[1]);

    lapic_write(LAPIC_LVT_ERROR, IRQ_VECTOR_LAPIC_ERROR);
    /* SDM 11.5.3: back-to-back writes clear errors collected before now. */
    lapic_write(LAPIC_ESR, 0);
    lapic_write(LAPIC_ESR, 0);

    /* Software-enable last, with the spurious vector (SDM 11.9: its low 4 bits
     * were hardwired to 1 on old parts; 0xff works everywhere). */
    lapic_write(LAPIC_SVR, LAPIC_SVR_ENABLE | IRQ_VECTOR_SPURIOUS);
    /* Nothing can be in service yet unless firmware left something behind. */
    lapic_eoi();

    klog(LOG_INFO, "lapic: %s mode, APIC id %u, version 0x%x, %u LVT entries, LINT0 %s, LINT1 %s",
         x2apic ? "x2APIC (MSR)" : "xAPIC (MMIO)", my_id, ver & 0xff, max_lvt + 1,
         (lint[0] & LAPIC_LVT_MASKED) ? "masked" : "NMI", (lint[1] & LAPIC_LVT_MASKED) ? "masked" : "NMI");
    if (!x2apic)
        klog(LOG_INFO, "lapic: registers at 0x%llx", (unsigned long long)phys);
    return 0;
}
