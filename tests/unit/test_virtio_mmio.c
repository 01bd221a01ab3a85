/*
 * Host tests of the virtio-mmio transport (drivers/virtio_mmio.c, virtio 1.2
 * spec 4.2): the real transport and the real transport-independent core
 * (drivers/virtio.c, drivers/vring.c) against a fake register file, with a
 * small fake virtio driver on top (device type 1, two queues).
 *
 * The fake device is a window of registers with the semantics of 4.2.2 and
 * 4.2.4 (feature words chosen by the select registers, per-queue registers
 * chosen by QueueSel, InterruptStatus cleared by InterruptACK, a config
 * generation counter); io.h's mmio_read32/... are the functions below
 * (HOST_FAKE_MMIO) and map_mmio() hands out the window. Every write to
 * Status is recorded so the tests can check the sequence of 3.1.1.
 *
 * Also: the virtio_mmio.device= parser (QEMU microvm's and Firecracker's forms).
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

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/dma.h"
#include "arch/x86_64/io.h"
#include "arch/x86_64/irq.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/timer.h"
#include "drivers/virtio.h"
#include "drivers/virtio_mmio.h"
#include "drivers/virtio_mmio_regs.h"
#include "drivers/virtio_pci_regs.h"
#include "drivers/vring.h"
#include "lib/klog.h"

#define WIN_PHYS 0xfeb00e00ull
#define WIN_SIZE 0x200u
#define GSI      12

/* ---------------------------------------------------------------- log, time */

static char last_log[512];
static unsigned log_total;

void klog(int level, const char *fmt, ...)
{
    va_list ap;
    (void)level;
    va_start(ap, fmt);
    vsnprintf(last_log, sizeof(last_log), fmt, ap);
    va_end(ap);
    if (getenv("VDEV_KLOG"))
        fprintf(stderr, "klog: %s\n", last_log);
    log_total++;
}

int klog_ratelimit(struct klog_ratelimit *rl)
{
    (void)rl;
    return 1;
}

static uint64_t fake_ns;
uint64_t clock_ns(void)
{
    return fake_ns += 1000000;
}

/* ---------------------------------------------------------------- DMA arena (low "physical" addresses) */

#define ARENA_SIZE (16u << 20)
#define ARENA_PHYS 0x100000ull
static uint8_t *arena;
static size_t arena_used;
static long dma_outstanding;

uint64_t virt_to_phys(const void *v)
{
    const uint8_t *p = v;
    assert_true(p >= arena && p < arena + ARENA_SIZE);
    return ARENA_PHYS + (uint64_t)(p - arena);
}

void *phys_to_virt(uint64_t phys)
{
    return arena + (phys - ARENA_PHYS);
}

void *dma_alloc(size_t size, uint64_t *phys)
{
    size_t rounded = (size + 4095) & ~(size_t)4095;
    if (size == 0 || rounded > ARENA_SIZE - arena_used)
        return NULL;
    uint8_t *v = arena + arena_used;
    arena_used += rounded;
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

/* ---------------------------------------------------------------- interrupts */

static irq_handler_t gsi_fn;
static void *gsi_ctx;
static uint32_t gsi_requested = ~0u;
static unsigned gsi_flags;
static bool gsi_masked;

int irq_request_gsi(uint32_t gsi, unsigned flags, const char *name, irq_handler_t fn, void *ctx)
{
    (void)name;
    gsi_requested = gsi;
    gsi_flags = flags;
    gsi_fn = fn;
    gsi_ctx = ctx;
    return 48;
}

int irq_detach(int vector, irq_handler_t fn, void *ctx)
{
    assert_int_equal(vector, 48);
    assert_ptr_equal(fn, gsi_fn);
    assert_ptr_equal(ctx, gsi_ctx);
    gsi_fn = NULL;
    return 0;
}

int irq_mask_gsi(uint32_t gsi, bool masked)
{
    (void)gsi;
    gsi_masked = masked;
    return 0;
}

bool irq_poll(int vector)
{
    (void)vector;
    return gsi_fn && gsi_fn(gsi_ctx);
}

int irq_current_vector(void)
{
    return 48;
}

/* virtio_mmio_probe_all() looks for a DSDT only when the command line names no device. */
static unsigned acpi_get_calls;
const struct acpi_info *acpi_get(void)
{
    acpi_get_calls++;
    return NULL;
}

/* ---------------------------------------------------------------- the fake device */

#define NQ 4
struct fake_queue {
    uint32_t num_max, num, align, pfn, ready;
    uint64_t desc, driver, device;
};

static struct fake {
    uint32_t magic, version, device_id;
    uint64_t dev_features;
    uint32_t dev_sel, drv_sel;
    uint64_t drv_features;
    bool drv_hi_written;
    uint32_t status;
    uint32_t status_writes[16];
    unsigned n_status;
    bool refuse_features_ok;
    uint32_t page_size;
    uint32_t queue_sel;
    struct fake_queue q[NQ];
    uint32_t isr, acked;
    unsigned notifies[NQ];
    uint8_t config[64];
    uint32_t generation;
    unsigned gen_bump_reads; /* the generation changes on this many reads (a config update racing) */
    unsigned gen_reads;
    unsigned bad_width;      /* register accesses that were not 32 bits wide */
    bool reset_keeps_queues; /* a broken device: its queues stay live across a reset */
} dev;
static uint8_t window[WIN_SIZE];
static unsigned map_calls;

void *map_mmio(uint64_t phys, size_t len)
{
    assert_int_equal(phys, WIN_PHYS);
    assert_int_equal(len, WIN_SIZE);
    map_calls++;
    return window;
}

static unsigned off_of(const void *a)
{
    const uint8_t *p = a;
    assert_true(p >= window && p < window + WIN_SIZE);
    return (unsigned)(p - window);
}

static struct fake_queue *selq(void)
{
    return dev.queue_sel < NQ ? &dev.q[dev.queue_sel] : NULL;
}

uint32_t mmio_read32(const void *a)
{
    unsigned off = off_of(a);
    struct fake_queue *q = selq();
    if (off >= VIRTIO_MMIO_CONFIG) {
        uint32_t v;
        memcpy(&v, dev.config + off - VIRTIO_MMIO_CONFIG, 4);
        return v;
    }
    switch (off) {
    case VIRTIO_MMIO_MAGIC_VALUE:
        return dev.magic;
    case VIRTIO_MMIO_VERSION:
        return dev.version;
    case VIRTIO_MMIO_DEVICE_ID:
        return dev.device_id;
    case VIRTIO_MMIO_VENDOR_ID:
        return 0x554d4551; /* "QEMU" */
    case VIRTIO_MMIO_DEVICE_FEATURES:
        return dev.dev_sel == 0   ? (uint32_t)dev.dev_features
               : dev.dev_sel == 1 ? (uint32_t)(dev.dev_features >> 32)
                                  : 0;
    case VIRTIO_MMIO_QUEUE_NUM_MAX:
        return q ? q->num_max : 0;
    case VIRTIO_MMIO_QUEUE_PFN:
        return q ? q->pfn : 0;
    case VIRTIO_MMIO_QUEUE_READY:
        return q ? q->ready : 0;
    case VIRTIO_MMIO_INTERRUPT_STATUS:
        return dev.isr;
    case VIRTIO_MMIO_STATUS:
        return dev.status;
    case VIRTIO_MMIO_CONFIG_GENERATION:
        dev.gen_reads++;
        if (dev.gen_bump_reads) {
            dev.gen_bump_reads--;
            dev.generation++;
        }
        return dev.generation;
    default:
        fail_msg("read of write-only or unknown register %#x", off);
        return 0;
    }
}

void mmio_write32(void *a, uint32_t v)
{
    unsigned off = off_of(a);
    struct fake_queue *q = selq();
    switch (off) {
    case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
        dev.dev_sel = v;
        break;
    case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
        dev.drv_sel = v;
        break;
    case VIRTIO_MMIO_DRIVER_FEATURES:
        if (dev.drv_sel == 0)
            dev.drv_features = (dev.drv_features & ~0xffffffffull) | v;
        else if (dev.drv_sel == 1) {
            dev.drv_features = (dev.drv_features & 0xffffffffull) | (uint64_t)v << 32;
            dev.drv_hi_written = true;
        }
        break;
    case VIRTIO_MMIO_GUEST_PAGE_SIZE:
        dev.page_size = v;
        break;
    case VIRTIO_MMIO_QUEUE_SEL:
        dev.queue_sel = v;
        break;
    case VIRTIO_MMIO_QUEUE_NUM:
        assert_non_null(q);
        assert_true(v <= q->num_max);
        q->num = v;
        break;
    case VIRTIO_MMIO_QUEUE_ALIGN:
        assert_non_null(q);
        q->align = v;
        break;
    case VIRTIO_MMIO_QUEUE_PFN:
        assert_non_null(q);
        q->pfn = v;
        break;
    case VIRTIO_MMIO_QUEUE_READY:
        assert_non_null(q);
        q->ready = v;
        break;
    case VIRTIO_MMIO_QUEUE_NOTIFY:
        assert_true(v < NQ);
        dev.notifies[v]++;
        break;
    case VIRTIO_MMIO_INTERRUPT_ACK:
        dev.acked |= v;
        dev.isr &= ~v;
        break;
    case VIRTIO_MMIO_STATUS:
        if (dev.n_status < 16)
            dev.status_writes[dev.n_status++] = v;
        if (v == 0) {
            dev.status = 0;
            for (unsigned i = 0; i < NQ && !dev.reset_keeps_queues; i++)
                dev.q[i].pfn = dev.q[i].ready = 0;
        } else {
            dev.status = v;
            if (dev.refuse_features_ok)
                dev.status &= ~(uint32_t)VIRTIO_STATUS_FEATURES_OK;
        }
        break;
#define Q64(LOW, field)                                                                                      \
    case LOW:                                                                                                \
        assert_non_null(q);                                                                                  \
        q->field = (q->field & ~0xffffffffull) | v;                                                          \
        break;                                                                                               \
    case LOW + 4:                                                                                            \
        assert_non_null(q);                                                                                  \
        q->field = (q->field & 0xffffffffull) | (uint64_t)v << 32;                                           \
        break;
        Q64(VIRTIO_MMIO_QUEUE_DESC_LOW, desc)
        Q64(VIRTIO_MMIO_QUEUE_DRIVER_LOW, driver)
        Q64(VIRTIO_MMIO_QUEUE_DEVICE_LOW, device)
    default:
        fail_msg("write of read-only or unknown register %#x", off);
    }
}

/* Only the config space may be accessed at other widths (4.2.2.2). */
uint8_t mmio_read8(const void *a)
{
    unsigned off = off_of(a);
    if (off < VIRTIO_MMIO_CONFIG)
        dev.bad_width++;
    return dev.config[off - VIRTIO_MMIO_CONFIG];
}
uint16_t mmio_read16(const void *a)
{
    unsigned off = off_of(a);
    uint16_t v;
    if (off < VIRTIO_MMIO_CONFIG)
        dev.bad_width++;
    memcpy(&v, dev.config + off - VIRTIO_MMIO_CONFIG, 2);
    return v;
}
uint64_t mmio_read64(const void *a)
{
    (void)a;
    dev.bad_width++;
    return 0;
}
void mmio_write8(void *a, uint8_t v)
{
    unsigned off = off_of(a);
    if (off < VIRTIO_MMIO_CONFIG)
        dev.bad_width++;
    else
        dev.config[off - VIRTIO_MMIO_CONFIG] = v;
}
void mmio_write16(void *a, uint16_t v)
{
    (void)a;
    (void)v;
    dev.bad_width++;
}
void mmio_write64(void *a, uint64_t v)
{
    (void)a;
    (void)v;
    dev.bad_width++;
}

/* ---------------------------------------------------------------- a fake driver */

#define F_WANTED (1ull << 5)
#define F_OTHER  (1ull << 40)
static unsigned drv_probes, rx_callbacks;
static int drv_result;
static struct vring *drv_vqs[2];
static struct virtio_device *drv_vdev;
static uint32_t drv_cfg_word;

static void rx_cb(struct vring *vr, void *ctx)
{
    (void)vr;
    (void)ctx;
    rx_callbacks++;
}

static int fake_probe(struct virtio_device *vdev)
{
    drv_probes++;
    drv_vdev = vdev;
    int err = virtio_negotiate(vdev, F_WANTED | F_OTHER);
    if (err < 0)
        return drv_result = err;
    virtio_read_config(vdev, 4, &drv_cfg_word, 4);
    struct virtio_vq_info info[2] = {{"rx0", 0, rx_cb, NULL, 0}, {"tx0", 64, NULL, NULL, 0}};
    err = virtio_setup_vqs(vdev, 2, info, drv_vqs);
    if (err < 0) {
        virtio_fail(vdev, "queues");
        return drv_result = err;
    }
    virtio_ready(vdev);
    return drv_result = 0;
}

static const struct virtio_driver fake_driver = {"fake", 1, fake_probe};
VIRTIO_DRIVER(fake_driver);

static const struct virtio_mmio_res res = {WIN_PHYS, WIN_SIZE, GSI, IRQ_TRIGGER_LEVEL};

static int setup(void **state)
{
    (void)state;
    if (!arena)
        arena = aligned_alloc(4096, ARENA_SIZE);
    arena_used = 0;
    memset(&dev, 0, sizeof(dev));
    dev.magic = VIRTIO_MMIO_MAGIC;
    dev.version = 2;
    dev.device_id = 1;
    dev.dev_features = F_WANTED | (1ull << VIRTIO_F_VERSION_1) | (1ull << 7);
    dev.q[0].num_max = dev.q[1].num_max = 256;
    dev.config[4] = 0x78;
    dev.config[5] = 0x56;
    drv_probes = rx_callbacks = map_calls = 0;
    drv_result = 1;
    drv_vdev = NULL;
    gsi_fn = NULL;
    gsi_requested = ~0u;
    gsi_masked = false;
    return 0;
}

static void teardown_vqs(void)
{
    if (drv_vdev && drv_result == 0)
        virtio_del_vqs(drv_vdev);
    assert_null(gsi_fn); /* detached */
    assert_int_equal(dma_outstanding, 0);
    free(drv_vdev ? drv_vdev->transport : NULL);
}

/* ---------------------------------------------------------------- tests */

static void test_modern_status_features_queues(void **state)
{
    (void)state;
    assert_int_equal(virtio_mmio_probe(&res), 0);
    assert_int_equal(drv_probes, 1);
    /* 3.1.1: reset, ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK. */
    uint32_t want[] = {0, 1, 3, 0xb, 0xf};
    assert_int_equal(dev.n_status, 5);
    assert_memory_equal(dev.status_writes, want, sizeof(want));
    /* What we asked for and the device offers, plus VERSION_1; not bit 7, not bit 40. */
    assert_true(dev.drv_hi_written);
    assert_int_equal(dev.drv_features, F_WANTED | (1ull << VIRTIO_F_VERSION_1));
    assert_int_equal(drv_vdev->features, dev.drv_features);
    assert_string_equal(drv_vdev->ops->name, "virtio-mmio v2");
    assert_int_equal(drv_cfg_word, 0x5678);
    /* Queues: sizes chosen by the driver, addresses as vring gives them, live. */
    assert_int_equal(dev.q[0].num, 256);
    assert_int_equal(dev.q[1].num, 64);
    for (int i = 0; i < 2; i++) {
        struct vring_addrs a;
        vring_get_addrs(drv_vqs[i], &a);
        assert_int_equal(dev.q[i].desc, a.desc);
        assert_int_equal(dev.q[i].driver, a.driver);
        assert_int_equal(dev.q[i].device, a.device);
        assert_int_equal(dev.q[i].ready, 1);
        assert_int_equal(dev.q[i].pfn, 0);
    }
    assert_int_equal(dev.page_size, 0); /* a legacy-only register, untouched */
    assert_int_equal(gsi_requested, GSI);
    assert_int_equal(gsi_flags, IRQ_TRIGGER_LEVEL);
    assert_int_equal(drv_vdev->irq_mode, VIRTIO_IRQ_INTX);
    /* A kick rings QueueNotify with the queue's index. */
    vring_notify(drv_vqs[1]);
    assert_int_equal(dev.notifies[1], 1);
    assert_int_equal(dev.bad_width, 0);
    teardown_vqs();
    assert_int_equal(dev.status, 0); /* del_vqs reset it */
}

static void test_legacy_page_size_pfn_and_32bit_features(void **state)
{
    (void)state;
    dev.version = 1;
    dev.dev_features = F_WANTED | (1ull << 7) | F_OTHER; /* bit 40 is invisible to a legacy driver */
    dev.generation = 5;
    dev.gen_bump_reads = 100; /* legacy has no generation register: must not be read */
    assert_int_equal(virtio_mmio_probe(&res), 0);
    uint32_t want[] = {0, 1, 3, 0x7}; /* no FEATURES_OK in legacy */
    assert_int_equal(dev.n_status, 4);
    assert_memory_equal(dev.status_writes, want, sizeof(want));
    assert_false(dev.drv_hi_written);
    assert_int_equal(dev.drv_features, F_WANTED);
    assert_int_equal(drv_vdev->device_features, F_WANTED | (1ull << 7));
    assert_int_equal(drv_vdev->features, F_WANTED);
    assert_int_equal(dev.gen_reads, 0);
    assert_int_equal(dev.page_size, 4096);
    assert_string_equal(drv_vdev->ops->name, "virtio-mmio v1 (legacy)");
    for (int i = 0; i < 2; i++) {
        struct vring_addrs a;
        vring_get_addrs(drv_vqs[i], &a);
        assert_int_equal(dev.q[i].align, 4096);
        assert_int_equal((uint64_t)dev.q[i].pfn * 4096, a.desc);
        assert_int_equal(dev.q[i].ready, 0); /* a v2-only register */
        assert_int_equal(dev.q[i].desc, 0);
        /* The legacy layout: the used ring at the first 4096 boundary after the avail ring. */
        assert_int_equal(a.device % 4096, 0);
        assert_true(a.device > a.driver);
    }
    assert_int_equal(dev.q[0].num, 256);
    teardown_vqs();
}

static void test_features_ok_refused(void **state)
{
    (void)state;
    dev.refuse_features_ok = true;
    assert_int_equal(virtio_mmio_probe(&res), -ENOTSUP);
    assert_true(dev.status & VIRTIO_STATUS_FAILED);
    assert_null(gsi_fn);
    assert_int_equal(dma_outstanding, 0);
}

static void test_modern_without_version_1_refused(void **state)
{
    (void)state;
    dev.dev_features = F_WANTED;
    assert_int_equal(virtio_mmio_probe(&res), -EIO);
    assert_true(dev.status & VIRTIO_STATUS_FAILED);
    assert_null(gsi_fn);
    assert_int_equal(dma_outstanding, 0);
}

static void test_bad_magic_version_and_empty_slot(void **state)
{
    (void)state;
    dev.magic = 0x12345678;
    assert_int_equal(virtio_mmio_probe(&res), -EIO);
    dev.magic = VIRTIO_MMIO_MAGIC;
    dev.version = 3;
    assert_int_equal(virtio_mmio_probe(&res), -EIO);
    dev.version = 0;
    assert_int_equal(virtio_mmio_probe(&res), -EIO);
    dev.version = 2;
    dev.device_id = 0; /* a transport with no device behind it: skipped silently */
    unsigned logged = log_total;
    assert_int_equal(virtio_mmio_probe(&res), -ENODEV);
    assert_int_equal(log_total, logged);
    dev.device_id = 42; /* a device no driver takes */
    assert_int_equal(virtio_mmio_probe(&res), -ENODEV);
    assert_int_equal(drv_probes, 0);
    assert_int_equal(dev.n_status, 0); /* never touched */
}

static void test_queue_bounds(void **state)
{
    (void)state;
    /* A queue the device does not have: refused, everything undone. */
    dev.q[1].num_max = 0;
    assert_int_equal(virtio_mmio_probe(&res), -ENOENT);
    assert_true(dev.status & VIRTIO_STATUS_FAILED);
    assert_int_equal(dma_outstanding, 0);
    assert_null(gsi_fn);
    /* A huge or odd maximum: the driver picks a power of two within VRING_MAX_NUM. */
    setup(NULL);
    dev.q[0].num_max = 0xffffffffu;
    dev.q[1].num_max = 100;
    assert_int_equal(virtio_mmio_probe(&res), 0);
    assert_int_equal(dev.q[0].num, 1024);
    assert_int_equal(dev.q[1].num, 64);
    teardown_vqs();
    /* A queue still live after the reset (a device that ignored it): refused, in both versions. */
    for (uint32_t v = 1; v <= 2; v++) {
        setup(NULL);
        dev.version = v;
        dev.reset_keeps_queues = true;
        if (v == 1)
            dev.q[1].pfn = 0x1234;
        else
            dev.q[1].ready = 1;
        assert_int_equal(virtio_mmio_probe(&res), -EIO);
        assert_true(dev.status & VIRTIO_STATUS_FAILED);
        assert_int_equal(dma_outstanding, 0);
        assert_null(gsi_fn);
    }
}

static void test_config_generation_retry(void **state)
{
    (void)state;
    dev.gen_bump_reads = 3; /* the config changes under the first reads */
    assert_int_equal(virtio_mmio_probe(&res), 0);
    assert_int_equal(drv_cfg_word, 0x5678);
    assert_true(dev.gen_reads >= 4); /* read again until two generations matched */
    teardown_vqs();
}

static void test_interrupt_status_acked(void **state)
{
    (void)state;
    assert_int_equal(virtio_mmio_probe(&res), 0);
    assert_non_null(gsi_fn);
    /* Nothing pending: not ours. */
    assert_false(gsi_fn(gsi_ctx));
    /* A config change: acked, counted. */
    dev.isr = VIRTIO_MMIO_INT_CONFIG;
    assert_true(gsi_fn(gsi_ctx));
    assert_int_equal(dev.acked, VIRTIO_MMIO_INT_CONFIG);
    assert_int_equal(dev.isr, 0);
    assert_int_equal(drv_vdev->config_interrupts, 1);
    /* A device that keeps the line up with nothing new: masked after the bound, then polled. */
    for (int i = 0; i < 1000; i++) {
        dev.isr = VIRTIO_MMIO_INT_VRING;
        assert_true(gsi_fn(gsi_ctx));
    }
    assert_true(gsi_masked);
    assert_true(drv_vdev->irq_polled);
    assert_int_equal(drv_vdev->irq_storms, 1);
    for (int i = 0; i < 200 && drv_vdev->irq_polled; i++)
        virtio_poll_irq(drv_vdev);
    assert_false(drv_vdev->irq_polled);
    assert_false(gsi_masked);
    teardown_vqs();
}

static void test_parse_device_forms(void **state)
{
    (void)state;
    struct virtio_mmio_res r;
    const char *w = "512@0xfeb00e00:12";
    assert_int_equal(virtio_mmio_parse_device(w, strlen(w), &r), 0);
    assert_int_equal(r.base, 0xfeb00e00);
    assert_int_equal(r.size, 512);
    assert_int_equal(r.gsi, 12);
    assert_int_equal(r.irq_flags, IRQ_TRIGGER_LEVEL);
    w = "4K@0xd0000000:5"; /* Firecracker */
    assert_int_equal(virtio_mmio_parse_device(w, strlen(w), &r), 0);
    assert_int_equal(r.base, 0xd0000000);
    assert_int_equal(r.size, 4096);
    assert_int_equal(r.gsi, 5);
    w = "1k@4096:47:3"; /* decimal base, Linux's optional id */
    assert_int_equal(virtio_mmio_parse_device(w, strlen(w), &r), 0);
    assert_int_equal(r.base, 4096);
    assert_int_equal(r.size, 1024);
    assert_int_equal(r.gsi, 47);
    const char *bad[] = {"",
                         "512",
                         "@0x1000:5",
                         "512@0x1000",
                         "512@0x1000:",
                         "512@:5",
                         "0x@0x1000:5",
                         "16@0x1000:5",                /* smaller than the registers */
                         "2M@0x1000:5",                /* larger than any device needs */
                         "512@0:5",                    /* no base */
                         "512@0xffffffffffffff00:5",   /* wraps */
                         "512@0x1000:256",             /* no such GSI */
                         "512@0x1000:5x",              /* trailing junk */
                         "512@0x1000:5:",              /* empty id */
                         "99999999999999999999@0x1:5", /* overflows */
                         "16777216T@0x1000:5"};
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(virtio_mmio_parse_device(bad[i], strlen(bad[i]), &r), -EINVAL);
    /* Not NUL-terminated: only @len bytes count. */
    w = "512@0x1000:5 log=debug";
    assert_int_equal(virtio_mmio_parse_device(w, 12, &r), 0);
    assert_int_equal(r.gsi, 5);
}

static void test_parse_cmdline(void **state)
{
    (void)state;
    struct virtio_mmio_res r[4];
    const char *cl = "/kernel.elf log=debug virtio_mmio.device=512@0xfeb00e00:12 virtio_mmio.devicex=1 "
                     "virtio_mmio.device=junk  virtio_mmio.device=4K@0xd0000000:5\tip=1.2.3.4/24";
    unsigned before = log_total;
    assert_int_equal(virtio_mmio_parse_cmdline(cl, r, 4), 2);
    assert_int_equal(r[0].base, 0xfeb00e00);
    assert_int_equal(r[1].base, 0xd0000000);
    assert_int_equal(log_total, before + 1); /* the malformed one, logged */
    assert_int_equal(virtio_mmio_parse_cmdline(cl, r, 1), 1);
    assert_int_equal(virtio_mmio_parse_cmdline("", r, 4), 0);
    assert_int_equal(virtio_mmio_parse_cmdline(NULL, r, 4), 0);
    assert_int_equal(virtio_mmio_parse_cmdline("log=debug", r, 4), 0);
}

/* One Device the way QEMU 7.2's microvm writes it (hw/i386/acpi-microvm.c; bytes read
 * back from a running -M microvm's DSDT): _HID "LNRO0005", _UID, _CCA, then _CRS
 * with Memory32Fixed(0xfeb02e00, 0x200) and Interrupt(Level, ActiveHigh) {47}. */
static const uint8_t qemu_dev[] = {
    0x5b, 0x82, 0x42, 0x04, 'V',  'R',  '2',  '3', /* Device (VR23) */
    0x08, '_',  'H',  'I',  'D',  0x0d, 'L',  'N',  'R',  'O',  '0',  '0',  '0', '5', 0x00, /* _HID */
    0x08, '_',  'U',  'I',  'D',  0x0a, 0x17,                                               /* _UID 23 */
    0x08, '_',  'C',  'C',  'A',  0x01,                                                     /* _CCA One */
    0x08, '_',  'C',  'R',  'S',  0x11, 0x1a, 0x0a, 0x17,                   /* _CRS Buffer(23) */
    0x86, 0x09, 0x00, 0x01, 0x00, 0x2e, 0xb0, 0xfe, 0x00, 0x02, 0x00, 0x00, /* Memory32Fixed */
    0x89, 0x06, 0x00, 0x01, 0x01, 0x2f, 0x00, 0x00, 0x00,                   /* Interrupt {47} */
    0x79, 0x00,                                                             /* EndTag */
};

static void test_dsdt_scan(void **state)
{
    (void)state;
    struct virtio_mmio_res r[4];
    uint8_t aml[512];
    size_t n = 0;

    /* Something before, the device, a second device with an edge, active-low line, something after. */
    memset(aml, 0x5c, sizeof(aml));
    n = 16;
    memcpy(aml + n, qemu_dev, sizeof(qemu_dev));
    n += sizeof(qemu_dev);
    memcpy(aml + n, qemu_dev, sizeof(qemu_dev));
    size_t second = n;
    aml[second + 50] = 0x00;                         /* base 0xfeb00000 */
    aml[second + 60] = 0x01 | (1u << 1) | (1u << 2); /* consumer, edge, active low */
    aml[second + 62] = 5;                            /* GSI 5 */
    n += sizeof(qemu_dev);
    assert_int_equal(virtio_mmio_scan_dsdt(aml, n + 8, r, 4), 2);
    assert_int_equal(r[0].base, 0xfeb02e00);
    assert_int_equal(r[0].size, 0x200);
    assert_int_equal(r[0].gsi, 47);
    assert_int_equal(r[0].irq_flags, IRQ_TRIGGER_LEVEL);
    assert_int_equal(r[1].base, 0xfeb00000);
    assert_int_equal(r[1].gsi, 5);
    assert_int_equal(r[1].irq_flags, IRQ_POLARITY_LOW);
    assert_int_equal(virtio_mmio_scan_dsdt(aml, n, r, 1), 1);

    /* Cut anywhere inside the device: never read past the end, never a device. */
    for (size_t cut = 16; cut < 16 + sizeof(qemu_dev); cut++)
        assert_int_equal(virtio_mmio_scan_dsdt(aml, cut, r, 4), 0);

    /* Lengths that point outside: the Buffer's PkgLength, its size, a descriptor's length. */
    uint8_t bad[sizeof(qemu_dev)];
    const struct {
        size_t off;
        uint8_t v;
    } breaks[] = {
        {42, 0x3f}, /* PkgLength past the end */
        {42, 0x7f}, /* a two-byte PkgLength with reserved bits set */
        {44, 0x40}, /* BufferSize past the package */
        {46, 0xff}, /* Memory32Fixed length past the buffer */
        {58, 0xff}, /* Extended Interrupt length past the buffer */
        {61, 0x00}, /* no interrupt in the list */
        {54, 0x00}, /* window length 0 */
        {45, 0x87}, /* not a Memory32Fixed: no memory resource */
        {41, 0x12}, /* not a Buffer */
    };
    for (unsigned i = 0; i < sizeof(breaks) / sizeof(breaks[0]); i++) {
        memcpy(bad, qemu_dev, sizeof(bad));
        bad[breaks[i].off] = breaks[i].v;
        assert_int_equal(virtio_mmio_scan_dsdt(bad, sizeof(bad), r, 4), 0);
    }
    /* A _HID that is not LNRO0005, and no DSDT at all. */
    memcpy(bad, qemu_dev, sizeof(bad));
    bad[21] = '6';
    assert_int_equal(virtio_mmio_scan_dsdt(bad, sizeof(bad), r, 4), 0);
    assert_int_equal(virtio_mmio_scan_dsdt(NULL, 0, r, 4), 0);
}

static void test_probe_all_prefers_cmdline(void **state)
{
    (void)state;
    acpi_get_calls = 0;
    assert_int_equal(virtio_mmio_probe_all("virtio_mmio.device=512@0xfeb00e00:12"), 1);
    assert_int_equal(acpi_get_calls, 0);
    assert_int_equal(map_calls, 1);
    teardown_vqs();
    assert_int_equal(virtio_mmio_probe_all("log=debug"), 0);
    assert_int_equal(acpi_get_calls, 1); /* and no DSDT here: nothing */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_modern_status_features_queues, setup),
        cmocka_unit_test_setup(test_legacy_page_size_pfn_and_32bit_features, setup),
        cmocka_unit_test_setup(test_features_ok_refused, setup),
        cmocka_unit_test_setup(test_modern_without_version_1_refused, setup),
        cmocka_unit_test_setup(test_bad_magic_version_and_empty_slot, setup),
        cmocka_unit_test_setup(test_queue_bounds, setup),
        cmocka_unit_test_setup(test_config_generation_retry, setup),
        cmocka_unit_test_setup(test_interrupt_status_acked, setup),
        cmocka_unit_test_setup(test_parse_device_forms, setup),
        cmocka_unit_test_setup(test_parse_cmdline, setup),
        cmocka_unit_test_setup(test_dsdt_scan, setup),
        cmocka_unit_test_setup(test_probe_all_prefers_cmdline, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
