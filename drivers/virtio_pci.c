/*
 * virtio over PCI (virtio 1.2 spec 4.1): the modern interface (4.1.4), the
 * legacy interface (4.1.4.8), and interrupts in the order Linux's
 * vp_find_vqs tries them:
 *
 *   1. MSI-X, one vector per queue plus one for config changes;
 *   2. MSI-X, one vector shared by all queues plus one for config changes;
 *   3. INTx: the legacy pin, level-triggered through the IO-APIC, possibly
 *      shared with other devices; reading the ISR acknowledges it.
 *
 * After writing a vector number into msix_config or queue_msix_vector, the
 * driver reads it back: VIRTIO_MSI_NO_VECTOR means the device could not
 * allocate it, and the next mode is tried (4.1.5.1.2.1).
 */
#include "drivers/virtio_pci.h"
#include "arch/x86_64/io.h"
#include "arch/x86_64/irq.h"
#include "arch/x86_64/timer.h"
#include "drivers/pci.h"
#include "drivers/virtio_pci_regs.h"
#include "drivers/virtio_ring.h"
#include "lib/klog.h"
#include "lib/trace.h"
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VP_MAX_VQS           8
#define VP_DEFAULT_QUEUE_MAX 1024
/*
 * A level-triggered line whose ISR stays non-zero re-enters the handler as
 * soon as it sends the EOI, and the main loop never runs. After this many
 * INTx interrupts in a row during which no queue's used index moved (a real
 * notification always follows a used-ring update), the GSI is masked and the
 * queues are polled from the main loop for VP_INTX_POLL_NS, then the line is
 * tried again (Linux's note_interrupt() + irqpoll, on a smaller scale).
 */
#define VP_INTX_STORM   1000
#define VP_INTX_POLL_NS 100000000ull

struct vp_vq {
    struct vp_dev *vp;
    struct vring *vr;
    uint16_t index;
    virtio_vq_callback callback;
    void *ctx;
    void *notify_addr;       /* modern: the doorbell in the notify BAR region */
    int msix_entry;          /* -1: none */
    int vector;              /* its own MSI-X vector with vp_vq_interrupt attached; 0: none */
    uint16_t intx_used_seen; /* used->idx at the last INTx interrupt (storm detection) */
    char irq_name[32];
};

struct vp_dev {
    struct virtio_device vdev;
    struct pci_dev *pci;
    bool modern;
    /* modern: the structures the vendor capabilities point at */
    uint8_t *common;
    uint8_t *isr;
    uint8_t *device_cfg;
    uint32_t device_cfg_len;
    uint8_t *notify_base;
    uint32_t notify_len;
    uint32_t notify_mult;
    /* legacy: I/O port base (BAR 0) */
    uint16_t io;
    bool msix_on;
    unsigned nvqs;
    struct vp_vq vqs[VP_MAX_VQS];
    char config_irq_name[32];
    char queues_irq_name[32]; /* the shared MSI-X vector */
    /* Vectors with one of our handlers attached, detached by vp_del_vqs(); 0: none
     * (0-31 are exceptions, never handed out). */
    int config_vector; /* MSI-X entry 0, vp_config_interrupt */
    int queues_vector; /* MSI-X shared entry 1, vp_all_vqs_interrupt */
    int intx_vector;   /* the GSI's vector, vp_intx_interrupt */
    uint32_t intx_gsi;
    /* INTx storm bounding (VP_INTX_STORM). */
    unsigned intx_idle;      /* consecutive INTx interrupts without used-ring progress */
    bool intx_masked;        /* the GSI is masked; vp_poll_irq() does the handler's work */
    uint64_t intx_unmask_at; /* clock_ns() when the line is tried again */
};

static enum virtio_irq_mode first_mode = VIRTIO_IRQ_MSIX_PER_VQ;

void virtio_pci_force_irq_mode(enum virtio_irq_mode mode)
{
    first_mode = mode;
}

static struct vp_dev *to_vp(struct virtio_device *vdev)
{
    return vdev->transport;
}

/* ------------------------------------------------------------------ modern */

#define COMMON(vp, field) ((vp)->common + offsetof(struct virtio_pci_common_cfg, field))

static uint8_t modern_get_status(struct virtio_device *vdev)
{
    return mmio_read8(COMMON(to_vp(vdev), device_status));
}

static void modern_set_status(struct virtio_device *vdev, uint8_t status)
{
    mmio_write8(COMMON(to_vp(vdev), device_status), status);
}

static int modern_reset(struct virtio_device *vdev)
{
    struct vp_dev *vp = to_vp(vdev);
    mmio_write8(COMMON(vp, device_status), 0);
    /* The reset is done when the device reads back 0 (4.1.4.3.2). */
    for (int i = 0; i < 1000000; i++) {
        if (mmio_read8(COMMON(vp, device_status)) == 0)
            return 0;
        cpu_relax();
    }
    return -ETIMEDOUT;
}

static uint64_t modern_get_features(struct virtio_device *vdev)
{
    struct vp_dev *vp = to_vp(vdev);
    mmio_write32(COMMON(vp, device_feature_select), 0);
    uint64_t lo = mmio_read32(COMMON(vp, device_feature));
    mmio_write32(COMMON(vp, device_feature_select), 1);
    uint64_t hi = mmio_read32(COMMON(vp, device_feature));
    return (hi << 32) | lo;
}

static void modern_set_features(struct virtio_device *vdev, uint64_t features)
{
    struct vp_dev *vp = to_vp(vdev);
    mmio_write32(COMMON(vp, driver_feature_select), 0);
    mmio_write32(COMMON(vp, driver_feature), (uint32_t)features);
    mmio_write32(COMMON(vp, driver_feature_select), 1);
    mmio_write32(COMMON(vp, driver_feature), (uint32_t)(features >> 32));
}

static void modern_read_config(struct virtio_device *vdev, unsigned offset, void *buf, unsigned len)
{
    struct vp_dev *vp = to_vp(vdev);
    uint8_t *out = buf;
    if (!vp->device_cfg || offset + len > vp->device_cfg_len || offset + len < offset) {
        memset(buf, 0, len);
        return;
    }
    /* Fields are read with their natural width (4.1.3.1). */
    if (len == 4 && !(offset & 3)) {
        uint32_t v = mmio_read32(vp->device_cfg + offset);
        memcpy(out, &v, 4);
    } else if (len == 2 && !(offset & 1)) {
        uint16_t v = mmio_read16(vp->device_cfg + offset);
        memcpy(out, &v, 2);
    } else {
        for (unsigned i = 0; i < len; i++)
            out[i] = mmio_read8(vp->device_cfg + offset + i);
    }
}

static void modern_write_config(struct virtio_device *vdev, unsigned offset, const void *buf, unsigned len)
{
    struct vp_dev *vp = to_vp(vdev);
    const uint8_t *in = buf;
    if (!vp->device_cfg || offset + len > vp->device_cfg_len || offset + len < offset)
        return;
    for (unsigned i = 0; i < len; i++)
        mmio_write8(vp->device_cfg + offset + i, in[i]);
}

static uint32_t modern_config_generation(struct virtio_device *vdev)
{
    return mmio_read8(COMMON(to_vp(vdev), config_generation));
}

static unsigned modern_queue_max(struct virtio_device *vdev, unsigned index)
{
    struct vp_dev *vp = to_vp(vdev);
    if (index >= mmio_read16(COMMON(vp, num_queues)))
        return 0;
    mmio_write16(COMMON(vp, queue_select), (uint16_t)index);
    return mmio_read16(COMMON(vp, queue_size));
}

/* ------------------------------------------------------------------ legacy */

static uint8_t legacy_get_status(struct virtio_device *vdev)
{
    return inb(to_vp(vdev)->io + VIRTIO_PCI_LEGACY_STATUS);
}

static void legacy_set_status(struct virtio_device *vdev, uint8_t status)
{
    outb(to_vp(vdev)->io + VIRTIO_PCI_LEGACY_STATUS, status);
}

static int legacy_reset(struct virtio_device *vdev)
{
    struct vp_dev *vp = to_vp(vdev);
    outb(vp->io + VIRTIO_PCI_LEGACY_STATUS, 0);
    /* Legacy devices reset synchronously; the read flushes the write. */
    return inb(vp->io + VIRTIO_PCI_LEGACY_STATUS) == 0 ? 0 : -ETIMEDOUT;
}

static uint64_t legacy_get_features(struct virtio_device *vdev)
{
    return inl(to_vp(vdev)->io + VIRTIO_PCI_LEGACY_HOST_FEATURES);
}

static void legacy_set_features(struct virtio_device *vdev, uint64_t features)
{
    outl(to_vp(vdev)->io + VIRTIO_PCI_LEGACY_GUEST_FEATURES, (uint32_t)features);
}

/* Where device config starts: it moves when MSI-X is on (4.1.4.8). */
static uint16_t legacy_config_base(const struct vp_dev *vp)
{
    return vp->io + (vp->msix_on ? VIRTIO_PCI_LEGACY_CONFIG_OFF(true) : VIRTIO_PCI_LEGACY_CONFIG_OFF(false));
}

static void legacy_read_config(struct virtio_device *vdev, unsigned offset, void *buf, unsigned len)
{
    struct vp_dev *vp = to_vp(vdev);
    uint8_t *out = buf;
    uint32_t io_size = (uint32_t)vp->pci->bar[0].size;
    uint16_t base = legacy_config_base(vp);
    for (unsigned i = 0; i < len; i++)
        out[i] = (base - vp->io) + offset + i < io_size ? inb(base + offset + i) : 0;
}

static void legacy_write_config(struct virtio_device *vdev, unsigned offset, const void *buf, unsigned len)
{
    struct vp_dev *vp = to_vp(vdev);
    const uint8_t *in = buf;
    uint32_t io_size = (uint32_t)vp->pci->bar[0].size;
    uint16_t base = legacy_config_base(vp);
    for (unsigned i = 0; i < len; i++)
        if ((base - vp->io) + offset + i < io_size)
            outb(base + offset + i, in[i]);
}

static uint32_t legacy_config_generation(struct virtio_device *vdev)
{
    (void)vdev;
    return 0; /* legacy devices have no generation counter */
}

static unsigned legacy_queue_max(struct virtio_device *vdev, unsigned index)
{
    struct vp_dev *vp = to_vp(vdev);
    outw(vp->io + VIRTIO_PCI_LEGACY_QUEUE_SEL, (uint16_t)index);
    return inw(vp->io + VIRTIO_PCI_LEGACY_QUEUE_NUM);
}

/* ------------------------------------------------------------------ interrupts */

/* Notify callback for vring: ring the queue's doorbell (4.1.4.4 / 4.1.4.8). */
static void vp_notify(void *ctx, unsigned index)
{
    struct vp_vq *vq = ctx;
    if (vq->vp->modern)
        mmio_write16(vq->notify_addr, (uint16_t)index);
    else
        outw(vq->vp->io + VIRTIO_PCI_LEGACY_QUEUE_NOTIFY, (uint16_t)index);
}

/* trace=virtq: which queue an interrupt was for, and where the used ring stands. */
static void __attribute__((noinline, cold)) trace_vq_interrupt(struct vp_vq *vq, bool work)
{
    struct vring_state st;

    /* On a shared vector only the queues with something to collect are worth a line. */
    if (!work && vq->vp->vdev.irq_mode != VIRTIO_IRQ_MSIX_PER_VQ)
        return;
    vring_get_state(vq->vr, &st);
    trace_line("virtq %s: interrupt vector=%d used_idx=%u last_used=%u%s", vq->irq_name, irq_current_vector(),
               st.used_idx, st.last_used_idx, work ? "" : " (nothing new)");
}

/* One queue's interrupt: like Linux's vring_interrupt(). */
static bool vp_vq_interrupt(void *ctx)
{
    struct vp_vq *vq = ctx;
    if (!vq->vr)
        return false;
    bool work = vring_interrupt(vq->vr);
    if (trace_on(TRACE_VIRTQ))
        trace_vq_interrupt(vq, work);
    if (!work)
        return false;
    if (vq->callback)
        vq->callback(vq->vr, vq->ctx);
    return true;
}

static bool vp_config_interrupt(void *ctx)
{
    struct vp_dev *vp = ctx;
    if (trace_on(TRACE_VIRTQ))
        trace_line("virtq %s: config interrupt vector=%d", vp->vdev.name, irq_current_vector());
    vp->vdev.config_interrupts++;
    if (vp->vdev.config_changed)
        vp->vdev.config_changed(&vp->vdev, vp->vdev.config_ctx);
    return true;
}

/* The shared MSI-X vector: any queue may have work (vp_vring_interrupt). */
static bool vp_all_vqs_interrupt(void *ctx)
{
    struct vp_dev *vp = ctx;
    bool any = false;
    for (unsigned i = 0; i < vp->nvqs; i++)
        any |= vp_vq_interrupt(&vp->vqs[i]);
    return any;
}

/* Did any queue's used index move since the last INTx interrupt? */
static bool vp_intx_progress(struct vp_dev *vp)
{
    bool moved = false;
    for (unsigned i = 0; i < vp->nvqs; i++) {
        struct vp_vq *vq = &vp->vqs[i];
        struct vring_state st;
        if (!vq->vr)
            continue;
        vring_get_state(vq->vr, &st);
        moved |= st.used_idx != vq->intx_used_seen;
        vq->intx_used_seen = st.used_idx;
    }
    return moved;
}

static void vp_intx_storm(struct vp_dev *vp)
{
    vp->intx_masked = true;
    vp->intx_unmask_at = clock_ns() + VP_INTX_POLL_NS;
    irq_mask_gsi(vp->intx_gsi, true);
    vp->vdev.irq_storms++;
    vp->vdev.irq_polled = true;
    if (vp->vdev.irq_storms == 1)
        klog(LOG_WARN,
             "%s: INTx storm: %u interrupts in a row with ISR set and no used-ring progress; GSI %u masked, "
             "polling for %llu ms at a time (counted in irq_storms, logged once)",
             vp->vdev.name, VP_INTX_STORM, vp->intx_gsi, VP_INTX_POLL_NS / 1000000ull);
}

/* INTx: the ISR says why, and reading it lowers the line (4.1.4.5). */
static bool vp_intx_interrupt(void *ctx)
{
    struct vp_dev *vp = ctx;
    uint8_t isr = vp->modern ? mmio_read8(vp->isr) : inb(vp->io + VIRTIO_PCI_LEGACY_ISR);
    if (!isr)
        return false; /* another device on a shared line */
    if (isr & VIRTIO_PCI_ISR_CONFIG)
        vp_config_interrupt(vp);
    if (isr & VIRTIO_PCI_ISR_QUEUE)
        vp_all_vqs_interrupt(vp);
    if (vp_intx_progress(vp))
        vp->intx_idle = 0;
    else if (!vp->intx_masked && ++vp->intx_idle >= VP_INTX_STORM)
        vp_intx_storm(vp);
    return true;
}

/* While the line is masked: its handlers' work (ours and any sharer's), from the main loop. */
static void vp_poll_irq(struct virtio_device *vdev)
{
    struct vp_dev *vp = to_vp(vdev);
    if (!vp->intx_masked)
        return;
    irq_poll(vp->intx_vector);
    if (clock_ns() >= vp->intx_unmask_at) {
        vp->intx_masked = false;
        vp->intx_idle = 0;
        vdev->irq_polled = false;
        irq_mask_gsi(vp->intx_gsi, false);
    }
}

/* Write an MSI-X entry number into the device and check it stuck. */
static bool vp_set_config_vector(struct vp_dev *vp, uint16_t entry)
{
    if (vp->modern) {
        mmio_write16(COMMON(vp, config_msix_vector), entry);
        return mmio_read16(COMMON(vp, config_msix_vector)) == entry;
    }
    outw(vp->io + VIRTIO_PCI_LEGACY_MSIX_CONFIG, entry);
    return inw(vp->io + VIRTIO_PCI_LEGACY_MSIX_CONFIG) == entry;
}

/* Same for the selected queue. */
static bool vp_set_queue_vector(struct vp_dev *vp, uint16_t entry)
{
    if (vp->modern) {
        mmio_write16(COMMON(vp, queue_msix_vector), entry);
        return mmio_read16(COMMON(vp, queue_msix_vector)) == entry;
    }
    outw(vp->io + VIRTIO_PCI_LEGACY_MSIX_QUEUE, entry);
    return inw(vp->io + VIRTIO_PCI_LEGACY_MSIX_QUEUE) == entry;
}

/* A CPU vector for MSI-X table entry @entry, with @fn as its handler. */
static int vp_msix_vector(struct vp_dev *vp, unsigned entry, const char *name, irq_handler_t fn, void *ctx)
{
    int vector = irq_alloc_vector();
    if (vector < 0)
        return vector;
    int err = irq_attach(vector, name, fn, ctx);
    if (err < 0) {
        irq_free_vector(vector);
        return err;
    }
    err = pci_msix_set_vector(vp->pci, entry, vector);
    if (err < 0) {
        irq_detach(vector, fn, ctx); /* frees the vector too */
        return err;
    }
    return vector;
}

/* Detach every handler vp_try_setup() attached; their vectors go back. */
static void vp_detach_irqs(struct vp_dev *vp)
{
    if (vp->config_vector)
        irq_detach(vp->config_vector, vp_config_interrupt, vp);
    if (vp->queues_vector)
        irq_detach(vp->queues_vector, vp_all_vqs_interrupt, vp);
    if (vp->intx_vector) {
        if (vp->intx_masked) /* our storm must not silence the other sharers */
            irq_mask_gsi(vp->intx_gsi, false);
        irq_detach(vp->intx_vector, vp_intx_interrupt, vp); /* the last sharer masks the GSI */
    }
    vp->config_vector = vp->queues_vector = vp->intx_vector = 0;
    for (unsigned i = 0; i < vp->nvqs; i++) {
        struct vp_vq *vq = &vp->vqs[i];
        if (vq->vector)
            irq_detach(vq->vector, vp_vq_interrupt, vq);
        vq->vector = 0;
    }
    vp->vdev.irq_polled = false;
    vp->intx_masked = false;
    vp->intx_idle = 0;
}

/* ------------------------------------------------------------------ queues */

static void vp_del_vqs(struct virtio_device *vdev)
{
    struct vp_dev *vp = to_vp(vdev);
    /* The device must not touch the rings any more: reset it first; then no
     * handler may run on them: detach before they are freed. */
    vdev->ops->reset(vdev);
    vp_detach_irqs(vp);
    for (unsigned i = 0; i < vp->nvqs; i++) {
        struct vp_vq *vq = &vp->vqs[i];
        if (vq->vr) {
            while (vring_detach_unused(vq->vr))
                ;
            vring_destroy(vq->vr);
        }
        memset(vq, 0, sizeof(*vq));
    }
    vp->nvqs = 0;
    if (vp->msix_on) {
        pci_msix_disable(vp->pci);
        vp->msix_on = false;
    }
    vdev->irq_mode = VIRTIO_IRQ_NONE;
}

/* Create queue @i and program it into the device (not yet enabled). */
static int vp_setup_vq(struct vp_dev *vp, unsigned i, const struct virtio_vq_info *info)
{
    struct virtio_device *vdev = &vp->vdev;
    struct vp_vq *vq = &vp->vqs[i];
    unsigned max = vdev->ops->queue_max(vdev, i);
    unsigned num;

    if (max == 0) {
        klog(LOG_ERR, "%s: queue %u (%s) does not exist", vdev->name, i, info->name);
        return -ENOENT;
    }
    if (vp->modern) {
        /* Modern devices let the driver pick a smaller size (queue_size is
         * writable, 4.1.4.3): never more than the driver can afford. */
        num = info->num ? info->num : VP_DEFAULT_QUEUE_MAX;
        if (num > max)
            num = max;
        if (info->max_num && num > info->max_num)
            num = info->max_num;
        while (num & (num - 1)) /* split rings need a power of two */
            num &= num - 1;
    } else {
        num = max; /* the legacy interface has no way to change it */
        if (info->max_num && num > info->max_num) {
            klog(LOG_ERR,
                 "%s: queue %u (%s): the legacy device's fixed size %u is more than the driver can afford "
                 "(%u entries); legacy queues cannot be made smaller: refusing the device",
                 vdev->name, i, info->name, num, info->max_num);
            return -E2BIG;
        }
    }
    if (num > VRING_MAX_NUM || (num & (num - 1))) {
        klog(LOG_ERR, "%s: queue %u: unusable size %u", vdev->name, i, num);
        return -EINVAL;
    }

    vq->vp = vp;
    vq->index = (uint16_t)i;
    vq->callback = info->callback;
    vq->ctx = info->ctx;
    vq->msix_entry = -1;
    snprintf(vq->irq_name, sizeof(vq->irq_name), "%s.%s", vdev->name, info->name);
    struct vring_config cfg = {
        .index = i,
        .num = num,
        .legacy = !vp->modern,
        .features = vdev->features,
        .notify = vp_notify,
        .notify_ctx = vq,
        .name = vq->irq_name,
    };
    vq->vr = vring_create(&cfg);
    if (!vq->vr) {
        klog(LOG_ERR, "%s: no memory for queue %u (%u entries)", vdev->name, i, num);
        return -ENOMEM;
    }
    struct vring_addrs a;
    vring_get_addrs(vq->vr, &a);

    if (vp->modern) {
        mmio_write16(COMMON(vp, queue_select), (uint16_t)i);
        mmio_write16(COMMON(vp, queue_size), (uint16_t)num);
        /* 64-bit fields as two 32-bit halves, low first (4.1.3.1). */
        mmio_write32(COMMON(vp, queue_desc), (uint32_t)a.desc);
        mmio_write32(COMMON(vp, queue_desc) + 4, (uint32_t)(a.desc >> 32));
        mmio_write32(COMMON(vp, queue_driver), (uint32_t)a.driver);
        mmio_write32(COMMON(vp, queue_driver) + 4, (uint32_t)(a.driver >> 32));
        mmio_write32(COMMON(vp, queue_device), (uint32_t)a.device);
        mmio_write32(COMMON(vp, queue_device) + 4, (uint32_t)(a.device >> 32));
        uint64_t off = (uint64_t)mmio_read16(COMMON(vp, queue_notify_off)) * vp->notify_mult;
        if (off + 2 > vp->notify_len) {
            klog(LOG_ERR, "%s: queue %u: notify offset %#llx outside the notify region", vdev->name, i,
                 (unsigned long long)off);
            return -EIO;
        }
        vq->notify_addr = vp->notify_base + off;
    } else {
        outw(vp->io + VIRTIO_PCI_LEGACY_QUEUE_SEL, (uint16_t)i);
        if (a.desc >> (32 + VIRTIO_PCI_LEGACY_QUEUE_ADDR_SHIFT)) {
            klog(LOG_ERR, "%s: queue %u above the legacy interface's 44-bit reach", vdev->name, i);
            return -EIO;
        }
        outl(vp->io + VIRTIO_PCI_LEGACY_QUEUE_PFN, (uint32_t)(a.desc >> VIRTIO_PCI_LEGACY_QUEUE_ADDR_SHIFT));
    }
    return 0;
}

/* One attempt at queues + interrupts in @mode; on failure everything is undone. */
static int vp_try_setup(struct vp_dev *vp, unsigned nvqs, const struct virtio_vq_info *info,
                        enum virtio_irq_mode mode)
{
    struct virtio_device *vdev = &vp->vdev;
    unsigned with_cb = 0;
    int err;

    for (unsigned i = 0; i < nvqs; i++)
        with_cb += info[i].callback != NULL;

    if (mode == VIRTIO_IRQ_MSIX_PER_VQ || mode == VIRTIO_IRQ_MSIX_SHARED) {
        unsigned nvec = mode == VIRTIO_IRQ_MSIX_PER_VQ ? 1 + with_cb : 2;
        err = pci_msix_enable(vp->pci, nvec);
        if (err < 0)
            return err;
        vp->msix_on = true;
        /* Entry 0: configuration changes. */
        snprintf(vp->config_irq_name, sizeof(vp->config_irq_name), "%s.config", vdev->name);
        err = vp_msix_vector(vp, 0, vp->config_irq_name, vp_config_interrupt, vp);
        if (err < 0)
            goto fail;
        vp->config_vector = err;
        if (!vp_set_config_vector(vp, 0)) {
            err = -EBUSY;
            goto fail;
        }
        if (mode == VIRTIO_IRQ_MSIX_SHARED) {
            snprintf(vp->queues_irq_name, sizeof(vp->queues_irq_name), "%s.queues", vdev->name);
            err = vp_msix_vector(vp, 1, vp->queues_irq_name, vp_all_vqs_interrupt, vp);
            if (err < 0)
                goto fail;
            vp->queues_vector = err;
        }
    }

    vp->nvqs = nvqs;
    unsigned entry = 1;
    for (unsigned i = 0; i < nvqs; i++) {
        err = vp_setup_vq(vp, i, &info[i]);
        if (err < 0)
            goto fail;
        if (mode == VIRTIO_IRQ_MSIX_PER_VQ || mode == VIRTIO_IRQ_MSIX_SHARED) {
            uint16_t e = VIRTIO_MSI_NO_VECTOR;
            if (info[i].callback) {
                if (mode == VIRTIO_IRQ_MSIX_PER_VQ) {
                    err = vp_msix_vector(vp, entry, vp->vqs[i].irq_name, vp_vq_interrupt, &vp->vqs[i]);
                    if (err < 0)
                        goto fail;
                    vp->vqs[i].vector = err;
                    e = (uint16_t)entry++;
                } else {
                    e = 1;
                }
            }
            if (!vp_set_queue_vector(vp, e)) {
                err = -EBUSY;
                goto fail;
            }
            vp->vqs[i].msix_entry = e == VIRTIO_MSI_NO_VECTOR ? -1 : e;
        }
    }

    if (mode == VIRTIO_IRQ_INTX) {
        unsigned flags;
        int gsi = pci_intx_gsi(vp->pci, &flags);
        if (gsi < 0) {
            klog(LOG_ERR, "%s: INTx pin cannot be routed (%d)", vdev->name, gsi);
            err = gsi;
            goto fail;
        }
        snprintf(vp->config_irq_name, sizeof(vp->config_irq_name), "%s.intx", vdev->name);
        err = irq_request_gsi((uint32_t)gsi, flags, vp->config_irq_name, vp_intx_interrupt, vp);
        if (err < 0)
            goto fail;
        vp->intx_vector = err;
        vp->intx_gsi = (uint32_t)gsi;
        klog(LOG_INFO, "%s: INTx pin %c -> GSI %d (%s, active %s) -> vector %d", vdev->name,
             'A' + vp->pci->irq_pin - 1, gsi, (flags & IRQ_TRIGGER_LEVEL) ? "level" : "edge",
             (flags & IRQ_POLARITY_LOW) ? "low" : "high", err);
    }

    /* Queues go live last: after this only a reset takes them back (4.1.4.3.2). */
    if (vp->modern) {
        for (unsigned i = 0; i < nvqs; i++) {
            mmio_write16(COMMON(vp, queue_select), (uint16_t)i);
            mmio_write16(COMMON(vp, queue_enable), 1);
        }
    }
    vdev->irq_mode = mode;
    return 0;

fail:
    vp_del_vqs(vdev);
    /* vp_del_vqs() reset the device: redo the status dance up to FEATURES_OK. */
    if (virtio_negotiate(vdev, vdev->features) < 0)
        return -EIO;
    return err;
}

static int vp_setup_vqs(struct virtio_device *vdev, unsigned nvqs, const struct virtio_vq_info *info,
                        struct vring **vqs)
{
    struct vp_dev *vp = to_vp(vdev);
    static const enum virtio_irq_mode order[] = {VIRTIO_IRQ_MSIX_PER_VQ, VIRTIO_IRQ_MSIX_SHARED,
                                                 VIRTIO_IRQ_INTX};
    int err = -ENODEV;

    if (nvqs > VP_MAX_VQS)
        return -EINVAL;
    for (unsigned m = 0; m < sizeof(order) / sizeof(order[0]); m++) {
        if (order[m] < first_mode)
            continue;
        err = vp_try_setup(vp, nvqs, info, order[m]);
        if (err == 0) {
            klog(LOG_INFO, "%s: %u queues, interrupts by %s", vdev->name, nvqs,
                 virtio_irq_mode_name(vdev->irq_mode));
            for (unsigned i = 0; i < nvqs; i++)
                vqs[i] = vp->vqs[i].vr;
            return 0;
        }
        if (err == -EIO || err == -E2BIG) /* the same in every mode */
            break;
        klog(LOG_INFO, "%s: %s not available (%d), trying the next mode", vdev->name,
             virtio_irq_mode_name(order[m]), err);
    }
    return err;
}

static const struct virtio_transport_ops modern_ops = {
    .name = "modern",
    .get_status = modern_get_status,
    .set_status = modern_set_status,
    .reset = modern_reset,
    .get_features = modern_get_features,
    .set_features = modern_set_features,
    .read_config = modern_read_config,
    .write_config = modern_write_config,
    .config_generation = modern_config_generation,
    .setup_vqs = vp_setup_vqs,
    .del_vqs = vp_del_vqs,
    .queue_max = modern_queue_max,
    .poll_irq = vp_poll_irq,
};

static const struct virtio_transport_ops legacy_ops = {
    .name = "legacy",
    .get_status = legacy_get_status,
    .set_status = legacy_set_status,
    .reset = legacy_reset,
    .get_features = legacy_get_features,
    .set_features = legacy_set_features,
    .read_config = legacy_read_config,
    .write_config = legacy_write_config,
    .config_generation = legacy_config_generation,
    .setup_vqs = vp_setup_vqs,
    .del_vqs = vp_del_vqs,
    .queue_max = legacy_queue_max,
    .poll_irq = vp_poll_irq,
};

/* ------------------------------------------------------------------ probe */

/*
 * Map the structure a virtio vendor capability describes (4.1.4): only
 * memory BARs, and only when offset + length lies inside the BAR.
 */
static uint8_t *vp_map_cap(struct vp_dev *vp, int cap, uint32_t *len_out)
{
    struct pci_dev *d = vp->pci;
    uint8_t bar = pci_cfg_read8(d, (uint16_t)(cap + offsetof(struct virtio_pci_cap, bar)));
    uint32_t off = pci_cfg_read32(d, (uint16_t)(cap + offsetof(struct virtio_pci_cap, offset)));
    uint32_t len = pci_cfg_read32(d, (uint16_t)(cap + offsetof(struct virtio_pci_cap, length)));

    if (bar >= PCI_NUM_BARS || (d->bar[bar].type != PCI_BAR_MEM32 && d->bar[bar].type != PCI_BAR_MEM64))
        return NULL;
    if ((uint64_t)off + len > d->bar[bar].size || len == 0) {
        klog(LOG_WARN, "%s: capability at %#x points outside BAR%u", vp->vdev.name, cap, bar);
        return NULL;
    }
    uint8_t *base = pci_map_bar(d, bar);
    if (!base)
        return NULL;
    if (len_out)
        *len_out = len;
    return base + off;
}

static bool vp_find_modern(struct vp_dev *vp)
{
    struct pci_dev *d = vp->pci;
    int common = 0, notify = 0, isr = 0, device = 0;

    /* The first capability of each type is the one to use (4.1.4.1). */
    for (int pos = pci_find_capability(d, PCI_CAP_ID_VNDR, 0); pos;
         pos = pci_find_capability(d, PCI_CAP_ID_VNDR, pos)) {
        uint8_t len = pci_cfg_read8(d, (uint16_t)(pos + offsetof(struct virtio_pci_cap, cap_len)));
        uint8_t type = pci_cfg_read8(d, (uint16_t)(pos + offsetof(struct virtio_pci_cap, cfg_type)));
        if (len < sizeof(struct virtio_pci_cap))
            continue;
        /* "The first one the driver can use" (4.1.4.1): we map memory BARs
         * only, so skip e.g. the notify structure modern-pio-notify puts in
         * an I/O BAR ahead of the memory one. */
        uint8_t bar = pci_cfg_read8(d, (uint16_t)(pos + offsetof(struct virtio_pci_cap, bar)));
        if (bar >= PCI_NUM_BARS || (d->bar[bar].type != PCI_BAR_MEM32 && d->bar[bar].type != PCI_BAR_MEM64))
            continue;
        if (type == VIRTIO_PCI_CAP_COMMON_CFG && !common)
            common = pos;
        else if (type == VIRTIO_PCI_CAP_NOTIFY_CFG && !notify && len >= VIRTIO_PCI_NOTIFY_CAP_MULT + 4)
            notify = pos;
        else if (type == VIRTIO_PCI_CAP_ISR_CFG && !isr)
            isr = pos;
        else if (type == VIRTIO_PCI_CAP_DEVICE_CFG && !device)
            device = pos;
    }
    if (!common || !notify || !isr)
        return false;

    uint32_t common_len = 0, isr_len = 0;
    vp->common = vp_map_cap(vp, common, &common_len);
    vp->notify_base = vp_map_cap(vp, notify, &vp->notify_len);
    vp->isr = vp_map_cap(vp, isr, &isr_len);
    if (device)
        vp->device_cfg = vp_map_cap(vp, device, &vp->device_cfg_len);
    vp->notify_mult = pci_cfg_read32(d, (uint16_t)(notify + VIRTIO_PCI_NOTIFY_CAP_MULT));
    if (!vp->common || common_len < sizeof(struct virtio_pci_common_cfg) || !vp->notify_base || !vp->isr) {
        klog(LOG_WARN, "%s: modern capabilities present but unusable", vp->vdev.name);
        return false;
    }
    return true;
}

static int virtio_pci_probe(struct pci_dev *d)
{
    uint32_t type;

    if (d->device >= VIRTIO_PCI_DEVICE_ID_MODERN_BASE && d->device <= VIRTIO_PCI_DEVICE_ID_MODERN_LAST)
        type = d->device - VIRTIO_PCI_DEVICE_ID_MODERN_BASE;
    else if (d->device >= VIRTIO_PCI_DEVICE_ID_LEGACY_FIRST && d->device <= VIRTIO_PCI_DEVICE_ID_LEGACY_LAST)
        type = d->subsys_device; /* transitional devices say their type here (4.1.2.1) */
    else
        return -ENODEV;

    struct vp_dev *vp = calloc(1, sizeof(*vp));
    if (!vp)
        return -ENOMEM;
    vp->pci = d;
    vp->vdev.transport = vp;
    vp->vdev.device_type = type;
    snprintf(vp->vdev.name, sizeof(vp->vdev.name), "virtio%u", virtio_next_index());

    pci_enable_device(d);
    pci_set_master(d);

    /* A transitional device offers both interfaces: prefer the modern one. */
    if (vp_find_modern(vp)) {
        vp->modern = true;
        vp->vdev.ops = &modern_ops;
    } else if (d->bar[0].type == PCI_BAR_IO && d->bar[0].size >= VIRTIO_PCI_LEGACY_CONFIG_OFF(false) &&
               d->device <= VIRTIO_PCI_DEVICE_ID_LEGACY_LAST) {
        vp->io = (uint16_t)d->bar[0].addr;
        vp->vdev.ops = &legacy_ops;
    } else {
        klog(LOG_ERR, "virtio: " PCI_BDF_FMT ": neither a modern nor a legacy interface", PCI_BDF_ARGS(d));
        free(vp);
        return -ENODEV;
    }
    d->drvdata = vp;
    klog(LOG_INFO, "%s: " PCI_BDF_FMT " %04x:%04x, %s interface%s", vp->vdev.name, PCI_BDF_ARGS(d), d->vendor,
         d->device, vp->vdev.ops->name, vp->modern ? "" : " (I/O BAR 0)");
    int err = virtio_probe_device(&vp->vdev);
    if (err < 0 && err != -ENODEV)
        klog(LOG_ERR, "%s: driver probe failed (%d)", vp->vdev.name, err);
    return err;
}

static const struct pci_id virtio_pci_ids[] = {
    PCI_ID_DEVICE(VIRTIO_PCI_VENDOR_ID, PCI_ANY_ID),
    {0, 0, 0, 0},
};

static const struct pci_driver virtio_pci_driver = {
    .name = "virtio-pci",
    .ids = virtio_pci_ids,
    .probe = virtio_pci_probe,
};
PCI_DRIVER(virtio_pci_driver);
