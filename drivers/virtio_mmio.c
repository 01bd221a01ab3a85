/*
 * virtio over MMIO (virtio 1.2 spec 4.2): device discovery from the command
 * line, the version 2 register interface (4.2.2, 4.2.3) and the legacy
 * version 1 one (4.2.4), and the device's one interrupt line.
 *
 * The two versions differ only in feature words (v1 has 32 bits), queue
 * addresses (v2: three 64-bit addresses and QueueReady; v1: one page frame
 * number of a ring in the legacy layout, with GuestPageSize and QueueAlign
 * set to 4096 so that the layout is vring's legacy one) and the config
 * generation counter (v2 only). Both let the driver choose the queue size
 * (QueueNum) up to QueueNumMax.
 *
 * Interrupts: one line per device, level-triggered and active high as QEMU
 * raises it (virtio_mmio.c sets it while InterruptStatus is non-zero). The
 * handler reads InterruptStatus and writes the same bits to InterruptACK,
 * which lowers the line (4.2.3.4). A device that keeps the line up without
 * any used-ring progress is masked and polled, as virtio-pci's INTx is.
 */
#include "drivers/virtio_mmio.h"
#include "arch/x86_64/io.h"
#include "arch/x86_64/irq.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/timer.h"
#include "drivers/virtio_mmio_regs.h"
#include "drivers/virtio_pci_regs.h"
#include "drivers/virtio_ring.h"
#include "lib/klog.h"
#include "lib/trace.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VM_MAX_VQS           8
#define VM_DEFAULT_QUEUE_MAX 1024
#define VM_STORM             1000         /* interrupts in a row without used-ring progress */
#define VM_POLL_NS           100000000ull /* then poll this long before trying the line again */

struct vm_vq {
    struct vm_dev *vm;
    struct vring *vr;
    virtio_vq_callback callback;
    void *ctx;
    uint16_t used_seen;
    char name[32];
};

struct vm_dev {
    struct virtio_device vdev;
    struct virtio_mmio_res res;
    uint8_t *base;
    uint32_t version;
    unsigned nvqs;
    struct vm_vq vqs[VM_MAX_VQS];
    int vector; /* the GSI's vector with vm_interrupt attached; 0: none */
    char irq_name[32];
    unsigned idle;
    bool masked;
    uint64_t unmask_at;
};

static struct vm_dev *to_vm(struct virtio_device *vdev)
{
    return vdev->transport;
}

static uint32_t rd(const struct vm_dev *vm, unsigned off)
{
    return mmio_read32(vm->base + off);
}

static void wr(struct vm_dev *vm, unsigned off, uint32_t v)
{
    mmio_write32(vm->base + off, v);
}

/* ------------------------------------------------------------------ parsing */

/* A number in C notation (0x.., 0.., decimal), at most @end; NULL if none or too large. */
static const char *parse_num(const char *s, const char *end, uint64_t *out)
{
    unsigned base = 10;
    uint64_t v = 0;
    const char *start;

    if (s < end && *s == '0') {
        base = 8;
        if (s + 1 < end && (s[1] == 'x' || s[1] == 'X')) {
            base = 16;
            s += 2;
        }
    }
    start = s;
    for (; s < end; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (*s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else if (*s >= 'A' && *s <= 'F')
            d = (unsigned)(*s - 'A' + 10);
        else
            break;
        if (d >= base)
            break;
        if (v > (UINT64_MAX - d) / base)
            return NULL;
        v = v * base + d;
    }
    if (s == start) /* "0x" with no digits; a lone "0" is an octal digit */
        return NULL;
    *out = v;
    return s;
}

int virtio_mmio_parse_device(const char *s, size_t len, struct virtio_mmio_res *out)
{
    const char *end = s + len;
    uint64_t size, base, irq, id;

    /* <size>[KMG] (Linux's memparse) */
    s = parse_num(s, end, &size);
    if (!s)
        return -EINVAL;
    if (s < end && (*s == 'K' || *s == 'k' || *s == 'M' || *s == 'm' || *s == 'G' || *s == 'g')) {
        unsigned shift = (*s == 'K' || *s == 'k') ? 10 : (*s == 'M' || *s == 'm') ? 20 : 30;
        if (size > (UINT64_MAX >> shift))
            return -EINVAL;
        size <<= shift;
        s++;
    }
    /* @<base>:<irq> */
    if (s >= end || *s++ != '@')
        return -EINVAL;
    s = parse_num(s, end, &base);
    if (!s || s >= end || *s++ != ':')
        return -EINVAL;
    s = parse_num(s, end, &irq);
    if (!s)
        return -EINVAL;
    /* [:<id>]: Linux's platform device id; not needed here. */
    if (s < end && *s == ':') {
        s = parse_num(s + 1, end, &id);
        if (!s)
            return -EINVAL;
    }
    if (s != end)
        return -EINVAL;
    if (size < VIRTIO_MMIO_MIN_SIZE || size > VIRTIO_MMIO_MAX_SIZE || base == 0 || base + size < base ||
        irq > 255)
        return -EINVAL;
    *out = (struct virtio_mmio_res){
        .base = base, .size = size, .gsi = (uint32_t)irq, .irq_flags = IRQ_TRIGGER_LEVEL};
    return 0;
}

unsigned virtio_mmio_parse_cmdline(const char *cmdline, struct virtio_mmio_res *out, unsigned max)
{
    static const char key[] = "virtio_mmio.device=";
    unsigned n = 0;
    const char *p = cmdline;

    while (p && *p) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *w = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        size_t wl = (size_t)(p - w);
        if (wl < sizeof(key) - 1 || memcmp(w, key, sizeof(key) - 1) != 0)
            continue;
        const char *v = w + sizeof(key) - 1;
        struct virtio_mmio_res r;
        if (virtio_mmio_parse_device(v, wl - (sizeof(key) - 1), &r) < 0) {
            klog(LOG_WARN, "virtio-mmio: ignoring malformed '%.*s'", (int)wl, w);
            continue;
        }
        if (n == max) {
            klog(LOG_WARN, "virtio-mmio: more than %u devices on the command line; ignoring the rest", max);
            break;
        }
        out[n++] = r;
    }
    return n;
}

/* ------------------------------------------------------------------ registers */

static uint8_t vm_get_status(struct virtio_device *vdev)
{
    return (uint8_t)rd(to_vm(vdev), VIRTIO_MMIO_STATUS);
}

static void vm_set_status(struct virtio_device *vdev, uint8_t status)
{
    wr(to_vm(vdev), VIRTIO_MMIO_STATUS, status);
}

static int vm_reset(struct virtio_device *vdev)
{
    struct vm_dev *vm = to_vm(vdev);
    wr(vm, VIRTIO_MMIO_STATUS, 0);
    /* Done when the device reads back 0 (4.2.3.1: the driver waits for it). */
    for (int i = 0; i < 1000000; i++) {
        if (rd(vm, VIRTIO_MMIO_STATUS) == 0)
            return 0;
        cpu_relax();
    }
    return -ETIMEDOUT;
}

static uint64_t vm_get_features(struct virtio_device *vdev)
{
    struct vm_dev *vm = to_vm(vdev);
    wr(vm, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    uint64_t lo = rd(vm, VIRTIO_MMIO_DEVICE_FEATURES);
    if (vm->version == VIRTIO_MMIO_VERSION_LEGACY)
        return lo; /* legacy devices have 32 feature bits (4.2.4) */
    wr(vm, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    uint64_t hi = rd(vm, VIRTIO_MMIO_DEVICE_FEATURES);
    return hi << 32 | lo;
}

static void vm_set_features(struct virtio_device *vdev, uint64_t features)
{
    struct vm_dev *vm = to_vm(vdev);
    wr(vm, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    wr(vm, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
    if (vm->version == VIRTIO_MMIO_VERSION_LEGACY)
        return;
    wr(vm, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    wr(vm, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
}

/* Device config lies between 0x100 and the end of the window; outside it reads as 0. */
static bool vm_config_ok(const struct vm_dev *vm, unsigned offset, unsigned len)
{
    uint64_t end = (uint64_t)VIRTIO_MMIO_CONFIG + offset + len;
    return end <= vm->res.size;
}

static void vm_read_config(struct virtio_device *vdev, unsigned offset, void *buf, unsigned len)
{
    struct vm_dev *vm = to_vm(vdev);
    uint8_t *out = buf;
    uint8_t *cfg = vm->base + VIRTIO_MMIO_CONFIG;
    if (!vm_config_ok(vm, offset, len)) {
        memset(buf, 0, len);
        return;
    }
    /* Modern: fields at their natural width (4.2.2.2); legacy: bytes are fine. */
    if (len == 4 && !(offset & 3)) {
        uint32_t v = mmio_read32(cfg + offset);
        memcpy(out, &v, 4);
    } else if (len == 2 && !(offset & 1)) {
        uint16_t v = mmio_read16(cfg + offset);
        memcpy(out, &v, 2);
    } else {
        for (unsigned i = 0; i < len; i++)
            out[i] = mmio_read8(cfg + offset + i);
    }
}

static void vm_write_config(struct virtio_device *vdev, unsigned offset, const void *buf, unsigned len)
{
    struct vm_dev *vm = to_vm(vdev);
    const uint8_t *in = buf;
    if (!vm_config_ok(vm, offset, len))
        return;
    for (unsigned i = 0; i < len; i++)
        mmio_write8(vm->base + VIRTIO_MMIO_CONFIG + offset + i, in[i]);
}

static uint32_t vm_config_generation(struct virtio_device *vdev)
{
    struct vm_dev *vm = to_vm(vdev);
    return vm->version == VIRTIO_MMIO_VERSION_LEGACY ? 0 : rd(vm, VIRTIO_MMIO_CONFIG_GENERATION);
}

static unsigned vm_queue_max(struct virtio_device *vdev, unsigned index)
{
    struct vm_dev *vm = to_vm(vdev);
    wr(vm, VIRTIO_MMIO_QUEUE_SEL, index);
    return rd(vm, VIRTIO_MMIO_QUEUE_NUM_MAX);
}

/* ------------------------------------------------------------------ interrupts */

static void vm_notify(void *ctx, unsigned index)
{
    struct vm_vq *vq = ctx;
    wr(vq->vm, VIRTIO_MMIO_QUEUE_NOTIFY, index);
}

static bool vm_progress(struct vm_dev *vm)
{
    bool moved = false;
    for (unsigned i = 0; i < vm->nvqs; i++) {
        struct vring_state st;
        if (!vm->vqs[i].vr)
            continue;
        vring_get_state(vm->vqs[i].vr, &st);
        moved |= st.used_idx != vm->vqs[i].used_seen;
        vm->vqs[i].used_seen = st.used_idx;
    }
    return moved;
}

static bool vm_interrupt(void *ctx)
{
    struct vm_dev *vm = ctx;
    uint32_t isr = rd(vm, VIRTIO_MMIO_INTERRUPT_STATUS);
    if (!isr)
        return false;
    /* Acknowledge first: an update after this raises the line again. */
    wr(vm, VIRTIO_MMIO_INTERRUPT_ACK, isr & (VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG));
    if (trace_on(TRACE_VIRTQ))
        trace_line("virtq %s: interrupt vector=%d status=%#x", vm->vdev.name, irq_current_vector(), isr);
    if (isr & VIRTIO_MMIO_INT_CONFIG) {
        vm->vdev.config_interrupts++;
        if (vm->vdev.config_changed)
            vm->vdev.config_changed(&vm->vdev, vm->vdev.config_ctx);
    }
    if (isr & VIRTIO_MMIO_INT_VRING) {
        for (unsigned i = 0; i < vm->nvqs; i++) {
            struct vm_vq *vq = &vm->vqs[i];
            if (vq->vr && vring_interrupt(vq->vr) && vq->callback)
                vq->callback(vq->vr, vq->ctx);
        }
    }
    if (vm_progress(vm) || (isr & VIRTIO_MMIO_INT_CONFIG)) {
        vm->idle = 0;
    } else if (!vm->masked && ++vm->idle >= VM_STORM) {
        vm->masked = true;
        vm->unmask_at = clock_ns() + VM_POLL_NS;
        irq_mask_gsi(vm->res.gsi, true);
        vm->vdev.irq_storms++;
        vm->vdev.irq_polled = true;
        if (vm->vdev.irq_storms == 1)
            klog(LOG_WARN,
                 "%s: interrupt storm: %u interrupts in a row with no used-ring progress; GSI %u masked, "
                 "polling for %llu ms at a time (counted in irq_storms, logged once)",
                 vm->vdev.name, VM_STORM, vm->res.gsi, VM_POLL_NS / 1000000ull);
    }
    return true;
}

static void vm_poll_irq(struct virtio_device *vdev)
{
    struct vm_dev *vm = to_vm(vdev);
    if (!vm->masked)
        return;
    irq_poll(vm->vector);
    if (clock_ns() >= vm->unmask_at) {
        vm->masked = false;
        vm->idle = 0;
        vdev->irq_polled = false;
        irq_mask_gsi(vm->res.gsi, false);
    }
}

/* ------------------------------------------------------------------ queues */

static void vm_del_vqs(struct virtio_device *vdev)
{
    struct vm_dev *vm = to_vm(vdev);
    /* The device lets go of the rings first, then no handler may run on them. */
    vdev->ops->reset(vdev);
    if (vm->vector) {
        if (vm->masked)
            irq_mask_gsi(vm->res.gsi, false);
        irq_detach(vm->vector, vm_interrupt, vm);
    }
    vm->vector = 0;
    vm->masked = false;
    vm->idle = 0;
    vdev->irq_polled = false;
    for (unsigned i = 0; i < vm->nvqs; i++) {
        struct vm_vq *vq = &vm->vqs[i];
        if (vq->vr) {
            while (vring_detach_unused(vq->vr))
                ;
            vring_destroy(vq->vr);
        }
        memset(vq, 0, sizeof(*vq));
    }
    vm->nvqs = 0;
    vdev->irq_mode = VIRTIO_IRQ_NONE;
}

static int vm_setup_vq(struct vm_dev *vm, unsigned i, const struct virtio_vq_info *info)
{
    struct virtio_device *vdev = &vm->vdev;
    struct vm_vq *vq = &vm->vqs[i];
    bool legacy = vm->version == VIRTIO_MMIO_VERSION_LEGACY;

    wr(vm, VIRTIO_MMIO_QUEUE_SEL, i);
    /* A queue already in use was not reset: the device is not behaving. */
    if (rd(vm, legacy ? VIRTIO_MMIO_QUEUE_PFN : VIRTIO_MMIO_QUEUE_READY)) {
        klog(LOG_ERR, "%s: queue %u (%s) is live before set-up", vdev->name, i, info->name);
        return -EIO;
    }
    uint32_t max = rd(vm, VIRTIO_MMIO_QUEUE_NUM_MAX);
    if (max == 0) {
        klog(LOG_ERR, "%s: queue %u (%s) does not exist", vdev->name, i, info->name);
        return -ENOENT;
    }
    /* Both versions let the driver choose the size (QueueNum), up to QueueNumMax. */
    uint32_t num = info->num ? info->num : VM_DEFAULT_QUEUE_MAX;
    if (num > max)
        num = max;
    if (info->max_num && num > info->max_num)
        num = info->max_num;
    if (num > VRING_MAX_NUM)
        num = VRING_MAX_NUM;
    while (num & (num - 1)) /* split rings need a power of two */
        num &= num - 1;

    vq->vm = vm;
    vq->callback = info->callback;
    vq->ctx = info->ctx;
    snprintf(vq->name, sizeof(vq->name), "%s.%s", vdev->name, info->name);
    struct vring_config cfg = {
        .index = i,
        .num = num,
        .legacy = legacy,
        .features = vdev->features,
        .notify = vm_notify,
        .notify_ctx = vq,
        .name = vq->name,
    };
    vq->vr = vring_create(&cfg);
    if (!vq->vr) {
        klog(LOG_ERR, "%s: no memory for queue %u (%u entries)", vdev->name, i, num);
        return -ENOMEM;
    }
    struct vring_addrs a;
    vring_get_addrs(vq->vr, &a);

    wr(vm, VIRTIO_MMIO_QUEUE_NUM, num);
    if (legacy) {
        /* 4.2.4: one page frame number; the used ring at QueueAlign in the legacy layout. */
        if (a.desc % VIRTIO_MMIO_LEGACY_PAGE || a.desc / VIRTIO_MMIO_LEGACY_PAGE > UINT32_MAX) {
            klog(LOG_ERR, "%s: queue %u out of the legacy interface's reach (%#llx)", vdev->name, i,
                 (unsigned long long)a.desc);
            return -EIO;
        }
        wr(vm, VIRTIO_MMIO_QUEUE_ALIGN, VIRTIO_MMIO_LEGACY_ALIGN);
        wr(vm, VIRTIO_MMIO_QUEUE_PFN, (uint32_t)(a.desc / VIRTIO_MMIO_LEGACY_PAGE));
    } else {
        wr(vm, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)a.desc);
        wr(vm, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(a.desc >> 32));
        wr(vm, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)a.driver);
        wr(vm, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(a.driver >> 32));
        wr(vm, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)a.device);
        wr(vm, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(a.device >> 32));
    }
    return 0;
}

static int vm_setup_vqs(struct virtio_device *vdev, unsigned nvqs, const struct virtio_vq_info *info,
                        struct vring **vqs)
{
    struct vm_dev *vm = to_vm(vdev);
    int err;

    if (nvqs > VM_MAX_VQS)
        return -EINVAL;
    /* A version 2 device must offer VERSION_1 (4.2.3.1.1); without it the
     * queue layout and header sizes would be guesses. */
    if (vm->version == VIRTIO_MMIO_VERSION_MODERN && !virtio_has_feature(vdev, VIRTIO_F_VERSION_1)) {
        klog(LOG_ERR, "%s: version 2 device without VERSION_1", vdev->name);
        return -EIO;
    }
    vm->nvqs = nvqs;
    for (unsigned i = 0; i < nvqs; i++) {
        err = vm_setup_vq(vm, i, &info[i]);
        if (err < 0)
            goto fail;
    }
    snprintf(vm->irq_name, sizeof(vm->irq_name), "%s.irq", vdev->name);
    err = irq_request_gsi(vm->res.gsi, vm->res.irq_flags, vm->irq_name, vm_interrupt, vm);
    if (err < 0) {
        klog(LOG_ERR, "%s: GSI %u cannot be routed (%d)", vdev->name, vm->res.gsi, err);
        goto fail;
    }
    vm->vector = err;
    /* Queues go live last (modern: QueueReady; legacy: the PFN write did it). */
    if (vm->version == VIRTIO_MMIO_VERSION_MODERN) {
        for (unsigned i = 0; i < nvqs; i++) {
            wr(vm, VIRTIO_MMIO_QUEUE_SEL, i);
            wr(vm, VIRTIO_MMIO_QUEUE_READY, 1);
        }
    }
    vdev->irq_mode = VIRTIO_IRQ_INTX;
    klog(LOG_INFO, "%s: %u queues, interrupts by GSI %u (%s, active %s) -> vector %d", vdev->name, nvqs,
         vm->res.gsi, (vm->res.irq_flags & IRQ_TRIGGER_LEVEL) ? "level" : "edge",
         (vm->res.irq_flags & IRQ_POLARITY_LOW) ? "low" : "high", vm->vector);
    for (unsigned i = 0; i < nvqs; i++)
        vqs[i] = vm->vqs[i].vr;
    return 0;

fail:
    vm_del_vqs(vdev);
    /* vm_del_vqs() reset the device: redo the status dance up to FEATURES_OK. */
    if (virtio_negotiate(vdev, vdev->features) < 0)
        return -EIO;
    return err;
}

static const struct virtio_transport_ops vm_modern_ops = {
    .name = "virtio-mmio v2",
    .get_status = vm_get_status,
    .set_status = vm_set_status,
    .reset = vm_reset,
    .get_features = vm_get_features,
    .set_features = vm_set_features,
    .read_config = vm_read_config,
    .write_config = vm_write_config,
    .config_generation = vm_config_generation,
    .setup_vqs = vm_setup_vqs,
    .del_vqs = vm_del_vqs,
    .queue_max = vm_queue_max,
    .poll_irq = vm_poll_irq,
};

static const struct virtio_transport_ops vm_legacy_ops = {
    .name = "virtio-mmio v1 (legacy)",
    .get_status = vm_get_status,
    .set_status = vm_set_status,
    .reset = vm_reset,
    .get_features = vm_get_features,
    .set_features = vm_set_features,
    .read_config = vm_read_config,
    .write_config = vm_write_config,
    .config_generation = vm_config_generation,
    .setup_vqs = vm_setup_vqs,
    .del_vqs = vm_del_vqs,
    .queue_max = vm_queue_max,
    .poll_irq = vm_poll_irq,
};

/* ------------------------------------------------------------------ probe */

int virtio_mmio_probe(const struct virtio_mmio_res *res)
{
    uint8_t *base = map_mmio(res->base, (size_t)res->size);
    if (!base) {
        klog(LOG_ERR, "virtio-mmio: cannot map %#llx+%#llx", (unsigned long long)res->base,
             (unsigned long long)res->size);
        return -ENOMEM;
    }
    uint32_t magic = mmio_read32(base + VIRTIO_MMIO_MAGIC_VALUE);
    uint32_t version = mmio_read32(base + VIRTIO_MMIO_VERSION);
    uint32_t type = mmio_read32(base + VIRTIO_MMIO_DEVICE_ID);
    if (magic != VIRTIO_MMIO_MAGIC) {
        klog(LOG_WARN, "virtio-mmio: %#llx: magic %#x, not a virtio device", (unsigned long long)res->base,
             magic);
        return -EIO;
    }
    if (version != VIRTIO_MMIO_VERSION_LEGACY && version != VIRTIO_MMIO_VERSION_MODERN) {
        klog(LOG_WARN, "virtio-mmio: %#llx: unknown version %u", (unsigned long long)res->base, version);
        return -EIO;
    }
    if (type == 0) /* a transport with nothing plugged in (4.2.3.1.1) */
        return -ENODEV;

    struct vm_dev *vm = calloc(1, sizeof(*vm));
    if (!vm)
        return -ENOMEM;
    vm->res = *res;
    vm->base = base;
    vm->version = version;
    vm->vdev.transport = vm;
    vm->vdev.device_type = type;
    vm->vdev.ops = version == VIRTIO_MMIO_VERSION_MODERN ? &vm_modern_ops : &vm_legacy_ops;
    snprintf(vm->vdev.name, sizeof(vm->vdev.name), "virtio%u", virtio_next_index());
    /* The legacy interface counts queue addresses in pages of this size (4.2.4). */
    if (version == VIRTIO_MMIO_VERSION_LEGACY)
        wr(vm, VIRTIO_MMIO_GUEST_PAGE_SIZE, VIRTIO_MMIO_LEGACY_PAGE);
    klog(LOG_INFO, "%s: virtio-mmio at %#llx (%llu bytes), GSI %u, version %u, device %u, vendor %#x",
         vm->vdev.name, (unsigned long long)res->base, (unsigned long long)res->size, res->gsi, version, type,
         rd(vm, VIRTIO_MMIO_VENDOR_ID));
    int err = virtio_probe_device(&vm->vdev);
    if (err < 0) {
        if (err != -ENODEV)
            klog(LOG_ERR, "%s: driver probe failed (%d)", vm->vdev.name, err);
        /* The driver gave the device back (reset, FAILED): nothing refers to vm now. */
        free(vm);
    }
    return err;
}

unsigned virtio_mmio_probe_all(const char *cmdline)
{
    struct virtio_mmio_res res[VIRTIO_MMIO_MAX_DEVICES];
    unsigned n = virtio_mmio_parse_cmdline(cmdline, res, VIRTIO_MMIO_MAX_DEVICES), ok = 0;
    for (unsigned i = 0; i < n; i++)
        ok += virtio_mmio_probe(&res[i]) == 0;
    return ok;
}
