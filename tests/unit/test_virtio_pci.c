/*
 * Host tests of the virtio PCI transport's interrupt and queue set-up and
 * tear-down (drivers/virtio_pci.c, virtio 1.2 spec 4.1.4.8 legacy interface,
 * 4.1.5.1.2 MSI-X vectors): the real transport, the real virtio-net driver on
 * top of it (with lwIP for the host), and the real interrupt API
 * (arch/x86_64/irq.c), whose vector table the tests read back.
 *
 * The device is a fake legacy virtio-net function: its registers are I/O
 * ports (io.h's inb/outb are the functions below, HOST_FAKE_PORTIO), its
 * queue size is fixed by the test, and it can refuse MSI-X vectors or keep
 * its ISR set. The PCI layer below the transport is a handful of doubles.
 * DMA memory comes from a 64 MiB arena whose "physical" addresses start at
 * 1 MiB, because the legacy interface can only reach 44 bits.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/dma.h"
#include "arch/x86_64/io.h"
#include "arch/x86_64/ioapic.h"
#include "arch/x86_64/irq.h"
#include "arch/x86_64/lapic.h"
#include "arch/x86_64/mptable.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/pic.h"
#include "arch/x86_64/timer.h"
#include "drivers/pci.h"
#include "drivers/virtio.h"
#include "drivers/virtio_net.h"
#include "drivers/virtio_net_regs.h"
#include "drivers/virtio_pci_regs.h"
#include "drivers/virtio_ring.h"
#include "drivers/vring.h"
#include "lib/klog.h"

#define IOBASE  0xc000
#define GSI     11
#define STORM   1000 /* VP_INTX_STORM */
#define POLL_NS 100000000ull

/* ---------------------------------------------------------------- time, log, lwIP port */

static uint64_t fake_ns;

uint64_t clock_ns(void)
{
    fake_ns += 1000000; /* every read moves time on by 1 ms */
    return fake_ns;
}

static uint32_t fake_rand(void)
{
    static uint32_t x = 4321;
    x = x * 1103515245u + 12345u;
    return x;
}

/* The driver's random MAC source (arch/x86_64/cpu.h). */
bool cpu_seed64(uint64_t *out)
{
    *out = (uint64_t)fake_rand() << 32 | fake_rand();
    return false;
}

/* arch/x86_64/trap.h: the driver panics on a receive buffer released twice. */
void panic(const char *fmt, ...)
{
    char msg[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fail_msg("panic: %s", msg);
    abort();
}

int klog_ratelimit(struct klog_ratelimit *rl)
{
    (void)rl;
    return 1;
}

#define LOG_KEEP 128
static char log_lines[LOG_KEEP][512];
static unsigned log_total;

void vklog(int level, const char *fmt, va_list ap)
{
    vsnprintf(log_lines[log_total % LOG_KEEP], sizeof(log_lines[0]), fmt, ap);
    if (getenv("VDEV_KLOG"))
        fprintf(stderr, "klog[%d]: %s\n", level, log_lines[log_total % LOG_KEEP]);
    log_total++;
}

void klog(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vklog(level, fmt, ap);
    va_end(ap);
}

void klog_set_level(int level)
{
    (void)level;
}

static unsigned log_count(unsigned since, const char *needle)
{
    unsigned oldest = log_total > LOG_KEEP ? log_total - LOG_KEEP : 0, n = 0;
    for (unsigned i = since > oldest ? since : oldest; i < log_total; i++)
        if (strstr(log_lines[i % LOG_KEEP], needle))
            n++;
    return n;
}

/* ---------------------------------------------------------------- DMA arena */

#define ARENA_SIZE (64u << 20)
#define ARENA_PHYS 0x100000ull
#define OTHER_PHYS 0x5a00000000000000ull /* anything else: recognisable, never identity */
static uint8_t *arena;
static size_t arena_used;
static long dma_outstanding;
static size_t dma_fail_above; /* dma_alloc fails for larger sizes (0: never) */

uint64_t virt_to_phys(const void *v)
{
    const uint8_t *p = v;
    if (p >= arena && p < arena + ARENA_SIZE)
        return ARENA_PHYS + (uint64_t)(p - arena);
    return (uint64_t)(uintptr_t)v + OTHER_PHYS;
}

void *phys_to_virt(uint64_t phys)
{
    if (phys >= ARENA_PHYS && phys < ARENA_PHYS + ARENA_SIZE)
        return arena + (phys - ARENA_PHYS);
    return (void *)(uintptr_t)(phys - OTHER_PHYS);
}

void *dma_alloc(size_t size, uint64_t *phys)
{
    size_t rounded = (size + 4095) & ~(size_t)4095;
    if (size == 0 || (dma_fail_above && size > dma_fail_above) || rounded > ARENA_SIZE - arena_used)
        return NULL;
    uint8_t *v = arena + arena_used;
    arena_used += rounded; /* a bump allocator: freed blocks are not reused */
    memset(v, 0, rounded);
    *phys = virt_to_phys(v);
    dma_outstanding++;
    return v;
}

/* Poisoned: a driver that reads a byte the device did not write sees 0xa5. */
void *dma_alloc_uninit(size_t size, uint64_t *phys)
{
    void *v = dma_alloc(size, phys);

    if (v)
        memset(v, 0xa5, (size + 4095) & ~(size_t)4095);
    return v;
}

void dma_free(void *virt, size_t size)
{
    (void)size;
    if (virt)
        dma_outstanding--;
}

size_t dma_free_bytes(void)
{
    return ARENA_SIZE - arena_used;
}

/* ---------------------------------------------------------------- CPU, LAPIC, IO-APIC, ACPI doubles */

static struct acpi_info acpi;
static bool gsi_masked[256];
static int gsi_routed_vector[256];
static unsigned eois;

const struct acpi_info *acpi_get(void)
{
    return &acpi;
}
int acpi_init(const void *rsdp)
{
    (void)rsdp;
    return 0;
}
uint64_t cpu_irq_save(void)
{
    return 0;
}
void cpu_irq_restore(uint64_t flags)
{
    (void)flags;
}
void cpu_irq_enable(void) {}
void cpu_irq_disable(void) {}
void cpu_init(void) {}
void pic_disable(void) {}
int lapic_init(void)
{
    return 0;
}
uint32_t lapic_id(void)
{
    return 0;
}
uint32_t lapic_read(uint32_t reg)
{
    (void)reg;
    return 0;
}
void lapic_eoi(void)
{
    eois++;
}
void lapic_park_others(void) {}
bool lapic_error_irq(void *ctx)
{
    (void)ctx;
    return true;
}
uint64_t lapic_error_count(void)
{
    return 0;
}
/* irq.c's interrupts_init() asks for the MP table without a MADT; not reached here. */
int mptable_init(void)
{
    return -ENOENT;
}

int ioapic_init(void)
{
    return 0;
}
int ioapic_route(uint32_t gsi, uint8_t vector, unsigned flags, uint32_t dest)
{
    (void)flags, (void)dest;
    gsi_routed_vector[gsi] = vector;
    gsi_masked[gsi] = false;
    return 0;
}
int ioapic_mask(uint32_t gsi, bool masked)
{
    gsi_masked[gsi] = masked;
    return 0;
}
int timer_init(void)
{
    return 0;
}

/* ---------------------------------------------------------------- the fake legacy device */

static struct {
    uint32_t host_features, guest_features;
    uint16_t qsel;
    uint16_t qnum[3];
    uint32_t pfn[3];
    uint8_t status;
    uint8_t isr;
    bool isr_stuck; /* reading the ISR does not clear it */
    bool msix_on;
    bool refuse_queue_vectors; /* MSIX_QUEUE reads back NO_VECTOR */
    uint16_t msix_config, msix_queue[3];
    uint8_t config[8]; /* MAC, status */
    unsigned resets;
    unsigned notifies;
} dev;

static void dev_reset(void)
{
    dev.guest_features = 0;
    memset(dev.pfn, 0, sizeof(dev.pfn));
    dev.status = 0;
    if (!dev.isr_stuck)
        dev.isr = 0;
    dev.msix_config = VIRTIO_MSI_NO_VECTOR;
    for (int i = 0; i < 3; i++)
        dev.msix_queue[i] = VIRTIO_MSI_NO_VECTOR;
    dev.resets++;
}

static unsigned dev_reg(uint16_t port)
{
    assert_true(port >= IOBASE && port < IOBASE + 64);
    return port - IOBASE;
}

static unsigned cfg_off(void)
{
    return VIRTIO_PCI_LEGACY_CONFIG_OFF(dev.msix_on);
}

uint8_t inb(uint16_t port)
{
    unsigned r = dev_reg(port);
    if (r == VIRTIO_PCI_LEGACY_STATUS)
        return dev.status;
    if (r == VIRTIO_PCI_LEGACY_ISR) {
        uint8_t v = dev.isr;
        if (!dev.isr_stuck)
            dev.isr = 0;
        return v;
    }
    if (r >= cfg_off() && r < cfg_off() + sizeof(dev.config))
        return dev.config[r - cfg_off()];
    return 0;
}

uint16_t inw(uint16_t port)
{
    unsigned r = dev_reg(port);
    switch (r) {
    case VIRTIO_PCI_LEGACY_QUEUE_NUM:
        return dev.qsel < 3 ? dev.qnum[dev.qsel] : 0;
    case VIRTIO_PCI_LEGACY_QUEUE_SEL:
        return dev.qsel;
    case VIRTIO_PCI_LEGACY_MSIX_CONFIG:
        return dev.msix_config;
    case VIRTIO_PCI_LEGACY_MSIX_QUEUE:
        return dev.qsel < 3 ? dev.msix_queue[dev.qsel] : VIRTIO_MSI_NO_VECTOR;
    }
    return (uint16_t)(inb(port) | inb((uint16_t)(port + 1)) << 8);
}

uint32_t inl(uint16_t port)
{
    unsigned r = dev_reg(port);
    if (r == VIRTIO_PCI_LEGACY_HOST_FEATURES)
        return dev.host_features;
    if (r == VIRTIO_PCI_LEGACY_QUEUE_PFN)
        return dev.qsel < 3 ? dev.pfn[dev.qsel] : 0;
    return 0;
}

void outb(uint16_t port, uint8_t v)
{
    unsigned r = dev_reg(port);
    if (r == VIRTIO_PCI_LEGACY_STATUS) {
        if (v == 0)
            dev_reset();
        else
            dev.status = v;
    }
}

void outw(uint16_t port, uint16_t v)
{
    switch (dev_reg(port)) {
    case VIRTIO_PCI_LEGACY_QUEUE_SEL:
        dev.qsel = v;
        break;
    case VIRTIO_PCI_LEGACY_QUEUE_NOTIFY:
        dev.notifies++;
        break;
    case VIRTIO_PCI_LEGACY_MSIX_CONFIG:
        dev.msix_config = v;
        break;
    case VIRTIO_PCI_LEGACY_MSIX_QUEUE:
        if (dev.qsel < 3)
            dev.msix_queue[dev.qsel] = dev.refuse_queue_vectors ? VIRTIO_MSI_NO_VECTOR : v;
        break;
    }
}

void outl(uint16_t port, uint32_t v)
{
    switch (dev_reg(port)) {
    case VIRTIO_PCI_LEGACY_GUEST_FEATURES:
        dev.guest_features = v;
        break;
    case VIRTIO_PCI_LEGACY_QUEUE_PFN:
        if (dev.qsel < 3)
            dev.pfn[dev.qsel] = v;
        break;
    }
}

/* ---------------------------------------------------------------- PCI doubles */

static bool msix_available;

int pci_enable_device(struct pci_dev *d)
{
    (void)d;
    return 0;
}
void pci_set_master(struct pci_dev *d)
{
    (void)d;
}
void *pci_map_bar(struct pci_dev *d, int bar)
{
    (void)d, (void)bar;
    return NULL;
}
int pci_find_capability(const struct pci_dev *d, uint8_t id, int start)
{
    (void)d, (void)id, (void)start;
    return 0; /* no vendor capabilities: the legacy interface */
}
uint8_t pci_cfg_read8(const struct pci_dev *d, uint16_t off)
{
    (void)d, (void)off;
    return 0;
}
uint32_t pci_cfg_read32(const struct pci_dev *d, uint16_t off)
{
    (void)d, (void)off;
    return 0;
}
int pci_msix_enable(struct pci_dev *d, unsigned nvec)
{
    (void)nvec;
    if (!msix_available)
        return -ENODEV;
    d->msix_enabled = true;
    dev.msix_on = true;
    return 0;
}
int pci_msix_set_vector(struct pci_dev *d, unsigned entry, int vector)
{
    (void)d, (void)entry, (void)vector;
    return 0;
}
void pci_msix_disable(struct pci_dev *d)
{
    d->msix_enabled = false;
    dev.msix_on = false;
}
int pci_intx_gsi(const struct pci_dev *d, unsigned *flags)
{
    (void)d;
    if (flags)
        *flags = IRQ_TRIGGER_LEVEL;
    return GSI;
}

/* ---------------------------------------------------------------- fixture */

extern const struct pci_driver *const __pci_drivers_start[], *const __pci_drivers_end[];

static struct pci_dev pdevs[16];
static unsigned n_pdevs;

/* Driver-visible vector state, summed over the driver vectors. */
static unsigned handlers_attached(void)
{
    unsigned n = 0;
    for (int v = IRQ_VECTOR_FIRST; v <= IRQ_VECTOR_LAST; v++)
        n += irq_handler_count(v);
    return n;
}

static unsigned vectors_allocated(void)
{
    unsigned n = 0;
    for (int v = IRQ_VECTOR_FIRST; v <= IRQ_VECTOR_LAST; v++)
        n += irq_vector_allocated(v);
    return n;
}

/* A new legacy virtio-net device with queues of @qnum entries, probed by the transport;
 * @refuse_queue_vectors: it reads back NO_VECTOR for every queue's MSI-X vector. */
static int probe_legacy(unsigned qnum, bool refuse_queue_vectors, struct pci_dev **out)
{
    const struct pci_driver *drv = NULL;
    for (const struct pci_driver *const *d = __pci_drivers_start; d < __pci_drivers_end; d++)
        if (!strcmp((*d)->name, "virtio-pci"))
            drv = *d;
    assert_non_null(drv);
    assert_true(n_pdevs < 16);

    memset(&dev, 0, sizeof(dev));
    dev_reset();
    dev.resets = 0;
    dev.refuse_queue_vectors = refuse_queue_vectors;
    dev.host_features =
        (1u << VIRTIO_NET_F_MAC) | (1u << VIRTIO_NET_F_STATUS) | (1u << VIRTIO_NET_F_MRG_RXBUF);
    for (int i = 0; i < 2; i++)
        dev.qnum[i] = (uint16_t)qnum;
    memcpy(dev.config, "\x52\x54\x00\x12\x34\x57", 6);
    dev.config[VIRTIO_NET_CFG_STATUS] = VIRTIO_NET_S_LINK_UP;

    struct pci_dev *p = &pdevs[n_pdevs++];
    memset(p, 0, sizeof(*p));
    p->vendor = VIRTIO_PCI_VENDOR_ID;
    p->device = VIRTIO_PCI_DEVICE_ID_NET_LEGACY;
    p->subsys_device = VIRTIO_ID_NET;
    p->irq_pin = 1;
    p->bar[0].type = PCI_BAR_IO;
    p->bar[0].addr = IOBASE;
    p->bar[0].size = 64;
    *out = p;
    return drv->probe(p);
}

static struct vnet *vnet_of(struct pci_dev *p)
{
    /* struct vp_dev starts with its struct virtio_device. */
    struct virtio_device *vdev = p->drvdata;
    return vdev->priv;
}

/* ---------------------------------------------------------------- tests */

/*
 * A legacy device whose queues have 32768 entries (the receive pool alone
 * would be 128 MiB, twice this machine's DMA arena): its size cannot be
 * changed, so it is refused with a clear line, before any ring or vector is
 * taken. Before the fix the rings were built, the INTx handler attached, the
 * buffers failed, and the handler stayed attached on freed memory.
 */
static void test_legacy_huge_queue_refused(void **unused)
{
    (void)unused;
    unsigned h0 = handlers_attached(), v0 = vectors_allocated(), since = log_total;
    long dma0 = dma_outstanding;
    struct pci_dev *p;

    int rc = probe_legacy(32768, false, &p);
    assert_int_equal(rc, -E2BIG);
    assert_int_equal(log_count(since, "fixed size 32768 is more than the driver can afford"), 1);
    assert_int_equal(handlers_attached(), h0);
    assert_int_equal(vectors_allocated(), v0);
    assert_int_equal(dma_outstanding, dma0);
    assert_int_equal(dev.status, VIRTIO_STATUS_FAILED); /* reset, then told */
    assert_null(((struct virtio_device *)p->drvdata)->priv);
}

/*
 * The receive pool cannot be allocated after the queues and the INTx handler
 * are set up: the probe unwinds the transport too, so the GSI is masked and
 * its vector has no handler, and an interrupt on it reaches nobody.
 */
static void test_probe_failure_detaches_intx(void **unused)
{
    (void)unused;
    unsigned h0 = handlers_attached(), v0 = vectors_allocated();
    long dma0 = dma_outstanding;
    struct pci_dev *p;

    dma_fail_above = 512 * 1024; /* rings of 256 fit, 2 x 256 x 2048 bytes of buffers do not */
    int rc = probe_legacy(256, false, &p);
    dma_fail_above = 0;
    assert_int_equal(rc, -ENOMEM);
    int vec = gsi_routed_vector[GSI];
    assert_true(vec >= IRQ_VECTOR_FIRST);
    assert_int_equal(handlers_attached(), h0);
    assert_int_equal(vectors_allocated(), v0);
    assert_int_equal(irq_handler_count(vec), 0);
    assert_true(gsi_masked[GSI]);
    assert_int_equal(dma_outstanding, dma0);
    assert_int_equal(dev.status, VIRTIO_STATUS_FAILED);
    uint64_t unexpected = irq_unexpected_count();
    dev.isr = 1;
    irq_dispatch((uint8_t)vec); /* the device raises its line anyway */
    assert_int_equal(irq_unexpected_count(), unexpected + 1);
}

/*
 * MSI-X is there but the device refuses every queue vector (reads back
 * NO_VECTOR): the per-queue and the shared attempt each fail after taking
 * vectors, and INTx is used. Before the fix the four MSI-X vectors of the
 * failed attempts kept their handlers.
 */
static void test_failed_msix_attempts_give_vectors_back(void **unused)
{
    (void)unused;
    unsigned h0 = handlers_attached(), v0 = vectors_allocated();
    struct pci_dev *p;

    msix_available = true;
    int rc = probe_legacy(256, true, &p);
    msix_available = false;
    assert_int_equal(rc, 0);
    struct virtio_device *vdev = p->drvdata;
    assert_int_equal(vdev->irq_mode, VIRTIO_IRQ_INTX);
    /* Only the INTx handler is left (the GSI's vector may be an old one). */
    assert_int_equal(handlers_attached(), h0 + 1);
    assert_true(vectors_allocated() <= v0 + 1);
}

/*
 * A level-triggered line whose ISR never clears: the handler is entered again
 * at every EOI. After VP_INTX_STORM interrupts without used-ring progress the
 * GSI is masked (logged once, counted), the driver polls (vnet_has_work says
 * so) for 100 ms, then the line is unmasked; a storm that goes on is bounded
 * again. Interrupts that come with progress are never taken for a storm.
 * Before the fix the handler ran for as long as the device kept the line up.
 */
static void test_intx_storm_bounded(void **unused)
{
    (void)unused;
    struct pci_dev *p;
    unsigned since = log_total;

    assert_int_equal(probe_legacy(256, false, &p), 0);
    struct virtio_device *vdev = p->drvdata;
    struct vnet *vn = vnet_of(p);
    assert_int_equal(vdev->irq_mode, VIRTIO_IRQ_INTX);
    int vec = gsi_routed_vector[GSI];
    assert_false(gsi_masked[GSI]);
    while (vnet_poll(vn, 64))
        ;

    /* A busy device: every interrupt follows a used-ring update. */
    struct vring_addrs a;
    vring_get_addrs(vnet_queue(vn, 1), &a);
    struct vring_used *used = phys_to_virt(a.device);
    uint16_t idx0 = used->idx;
    for (int i = 0; i < 3 * STORM; i++) {
        used->idx++;
        dev.isr = VIRTIO_PCI_ISR_QUEUE;
        irq_dispatch((uint8_t)vec);
    }
    used->idx = idx0;
    assert_false(gsi_masked[GSI]);
    assert_int_equal(vdev->irq_storms, 0);

    /* A stuck ISR. */
    dev.isr = VIRTIO_PCI_ISR_QUEUE;
    dev.isr_stuck = true;
    unsigned n = 0;
    while (!gsi_masked[GSI] && n < 100000) {
        irq_dispatch((uint8_t)vec);
        n++;
    }
    assert_true(n <= STORM + 1);
    assert_true(gsi_masked[GSI]);
    assert_int_equal(vdev->irq_storms, 1);
    assert_int_equal(log_count(since, "INTx storm"), 1);
    struct vnet_stats st;
    vnet_get_stats(vn, &st);
    assert_int_equal(st.irq_storms, 1);

    /* Masked: the main loop polls, and after 100 ms the line is tried again. */
    uint64_t t0 = fake_ns;
    unsigned polls = 0;
    while (vnet_has_work(vn) && vdev->irq_polled && polls < 100000) {
        vnet_poll(vn, 64);
        polls++;
    }
    assert_false(vdev->irq_polled);
    assert_false(gsi_masked[GSI]);
    assert_true(fake_ns - t0 >= POLL_NS);

    /* Still stuck: bounded again, not logged again. */
    n = 0;
    while (!gsi_masked[GSI] && n < 100000) {
        irq_dispatch((uint8_t)vec);
        n++;
    }
    assert_true(n <= STORM + 1);
    assert_int_equal(vdev->irq_storms, 2);
    assert_int_equal(log_count(since, "INTx storm"), 1);

    /* The device gets well: after the poll period, interrupts flow again. */
    dev.isr_stuck = false;
    dev.isr = 0;
    while (vdev->irq_polled)
        vnet_poll(vn, 64);
    assert_false(gsi_masked[GSI]);
}

static int group_setup(void **unused)
{
    (void)unused;
    arena =
        mmap(NULL, ARENA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    assert_true(arena != MAP_FAILED);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_legacy_huge_queue_refused),
        cmocka_unit_test(test_probe_failure_detaches_intx),
        /* Devices are never removed and the fake has one register set: the
         * storm test must be the only live device on the line. */
        cmocka_unit_test(test_intx_storm_bounded),
        cmocka_unit_test(test_failed_msix_attempts_give_vectors_back),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
