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
#include "arch/x86_64/acpi.h"
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

/* ------------------------------------------------------------------ the DSDT's LNRO0005 devices */

/* AML (ACPI 6.4, 20.2) and resource descriptor (6.4.3) bytes the scanner knows. */
#define AML_NAME_OP         0x08
#define AML_STRING          0x0d
#define AML_BUFFER_OP       0x11
#define AML_BYTE_CONST      0x0a
#define AML_WORD_CONST      0x0b
#define AML_DWORD_CONST     0x0c
#define RES_END_TAG         0x79 /* small item 0xF, length 1 */
#define RES_MEMORY32_FIX    0x86 /* large item: info, base u32, length u32 */
#define RES_EXT_IRQ         0x89 /* large item: flags, count, count x u32 */
#define RES_EXT_IRQ_EDGE    (1u << 1)
#define RES_EXT_IRQ_ACT_LOW (1u << 2)
/* How far after a _HID the device's _CRS may be: QEMU's is ~20 bytes on. */
#define DSDT_CRS_WINDOW 256

static uint32_t le32_at(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A PkgLength (20.2.4) at @p, at most @end: its value, and *@used its bytes; 0 if malformed. */
static uint32_t aml_pkglen(const uint8_t *p, const uint8_t *end, unsigned *used)
{
    if (p >= end)
        return 0;
    unsigned extra = p[0] >> 6;
    if (p + 1 + extra > end || (extra && (p[0] & 0x30)))
        return 0;
    uint32_t v = extra ? p[0] & 0x0f : p[0] & 0x3f;
    for (unsigned i = 0; i < extra; i++)
        v |= (uint32_t)p[1 + i] << (4 + 8 * i);
    *used = 1 + extra;
    return v;
}

/* The resources of one Buffer at @p (right after "_CRS"); 0 and *@out when both were found. */
static int dsdt_parse_crs(const uint8_t *p, const uint8_t *end, struct virtio_mmio_res *out)
{
    unsigned used;
    bool have_mem = false, have_irq = false;

    if (p >= end || *p++ != AML_BUFFER_OP)
        return -EINVAL;
    uint32_t pkg = aml_pkglen(p, end, &used);
    if (!pkg || pkg < used || (size_t)(end - p) < pkg)
        return -EINVAL;
    const uint8_t *pkg_end = p + pkg;
    p += used;
    /* BufferSize: an integer constant. */
    uint32_t size;
    if (p + 2 <= pkg_end && p[0] == AML_BYTE_CONST) {
        size = p[1];
        p += 2;
    } else if (p + 3 <= pkg_end && p[0] == AML_WORD_CONST) {
        size = (uint32_t)p[1] | (uint32_t)p[2] << 8;
        p += 3;
    } else if (p + 5 <= pkg_end && p[0] == AML_DWORD_CONST) {
        size = le32_at(p + 1);
        p += 5;
    } else {
        return -EINVAL;
    }
    if (size > (size_t)(pkg_end - p))
        return -EINVAL;
    const uint8_t *res_end = p + size;
    while (p < res_end) {
        uint8_t tag = *p;
        if (tag == RES_END_TAG)
            break;
        if (!(tag & 0x80)) { /* a small item we do not need: skip it */
            p += 1 + (tag & 7);
            continue;
        }
        if (p + 3 > res_end)
            return -EINVAL;
        uint32_t len = (uint32_t)p[1] | (uint32_t)p[2] << 8;
        const uint8_t *body = p + 3;
        if (len > (size_t)(res_end - body))
            return -EINVAL;
        if (tag == RES_MEMORY32_FIX && len >= 9 && !have_mem) {
            out->base = le32_at(body + 1);
            out->size = le32_at(body + 5);
            have_mem = true;
        } else if (tag == RES_EXT_IRQ && len >= 6 && body[1] >= 1 && !have_irq) {
            out->gsi = le32_at(body + 2);
            out->irq_flags = (body[0] & RES_EXT_IRQ_EDGE ? 0 : IRQ_TRIGGER_LEVEL) |
                             (body[0] & RES_EXT_IRQ_ACT_LOW ? IRQ_POLARITY_LOW : 0);
            have_irq = true;
        }
        p = body + len;
    }
    if (!have_mem || !have_irq)
        return -ENOENT;
    if (out->size < VIRTIO_MMIO_MIN_SIZE || out->size > VIRTIO_MMIO_MAX_SIZE || out->base == 0 ||
        out->gsi > 255)
        return -EINVAL;
    return 0;
}

unsigned virtio_mmio_scan_dsdt(const uint8_t *aml, size_t len, struct virtio_mmio_res *out, unsigned max)
{
    static const uint8_t hid[] = {AML_STRING, 'L', 'N', 'R', 'O', '0', '0', '0', '5', 0};
    static const uint8_t crs[] = {AML_NAME_OP, '_', 'C', 'R', 'S'};
    const uint8_t *end = aml + len;
    unsigned n = 0;

    for (const uint8_t *p = aml; p + sizeof(hid) <= end && n < max; p++) {
        if (memcmp(p, hid, sizeof(hid)) != 0)
            continue;
        /* This device's _CRS: the first one after its _HID, before the next device's _HID. */
        const uint8_t *q = p + sizeof(hid);
        const uint8_t *limit = (size_t)(end - q) > DSDT_CRS_WINDOW ? q + DSDT_CRS_WINDOW : end;
        for (; q + sizeof(crs) <= limit; q++) {
            if (memcmp(q, hid, sizeof(hid)) == 0) {
                q = limit;
                break;
            }
            if (memcmp(q, crs, sizeof(crs)) == 0)
                break;
        }
        struct virtio_mmio_res r = {0};
        if (q + sizeof(crs) > limit || dsdt_parse_crs(q + sizeof(crs), end, &r) < 0) {
            klog(LOG_WARN, "virtio-mmio: DSDT: LNRO0005 device at offset %#zx without a usable _CRS",
                 (size_t)(p - aml));
            continue;
        }
        out[n++] = r;
    }
    return n;
}

/* The DSDT, mapped and checked (signature, length, checksum), or NULL. */
static const uint8_t *dsdt_map(uint32_t *len_out)
{
    const struct acpi_info *ai = acpi_get();
    if (!ai || !ai->have_fadt || !ai->dsdt_addr)
        return NULL;
    const uint8_t *h = map_mmio(ai->dsdt_addr, 36);
    if (!h || memcmp(h, "DSDT", 4) != 0)
        return NULL;
    uint32_t len = le32_at(h + 4);
    if (len < 36 || len > VIRTIO_MMIO_MAX_SIZE)
        return NULL;
    const uint8_t *t = map_mmio(ai->dsdt_addr, len);
    if (!t)
        return NULL;
    uint8_t sum = 0;
    for (uint32_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + t[i]);
    if (sum != 0) {
        klog(LOG_WARN, "virtio-mmio: DSDT checksum wrong; not looking for devices in it");
        return NULL;
    }
    *len_out = len;
    return t;
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
    const char *from = "the command line";
    uint32_t len;
    const uint8_t *dsdt;

    /* The command line wins (the monitor said it explicitly); else ACPI's devices. */
    if (n == 0 && (dsdt = dsdt_map(&len)) != NULL) {
        n = virtio_mmio_scan_dsdt(dsdt + 36, len - 36, res, VIRTIO_MMIO_MAX_DEVICES);
        from = "the DSDT (LNRO0005)";
    }
    if (n)
        klog(LOG_INFO, "virtio-mmio: %u device%s from %s", n, n == 1 ? "" : "s", from);
    for (unsigned i = 0; i < n; i++)
        ok += virtio_mmio_probe(&res[i]) == 0;
    return ok;
}
