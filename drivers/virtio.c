/*
 * Transport-independent virtio device handling (virtio 1.2 spec, 3.1
 * "Device Initialization" and 2.5 "Device Configuration Space").
 */
#include "drivers/virtio.h"
#include "drivers/virtio_pci_regs.h"
#include "drivers/virtio_ring.h"
#include "lib/klog.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

extern const struct virtio_driver *const __virtio_drivers_start[], *const __virtio_drivers_end[];

/* virtio.packed=off on the command line (virtio_set_packed()): never negotiate the packed layout. */
static bool packed_refused;

void virtio_set_packed(const char *word)
{
    packed_refused = word && (!strcmp(word, "off") || !strcmp(word, "0") || !strcmp(word, "no"));
}

static void add_status(struct virtio_device *vdev, uint8_t bits)
{
    vdev->ops->set_status(vdev, vdev->ops->get_status(vdev) | bits);
}

void virtio_fail(struct virtio_device *vdev, const char *why)
{
    klog(LOG_ERR, "%s: %s; marking the device FAILED", vdev->name, why);
    add_status(vdev, VIRTIO_STATUS_FAILED);
}

/* The features both sides have, less each whose dependencies are missing. */
static uint64_t drop_unmet(uint64_t features, const struct virtio_feature_dep *deps, unsigned ndeps)
{
    for (bool changed = true; changed;) {
        changed = false;
        for (unsigned i = 0; i < ndeps; i++) {
            uint64_t bit = 1ull << deps[i].bit;
            if ((features & bit) && (features & deps[i].needs) != deps[i].needs) {
                features &= ~bit;
                changed = true;
            }
        }
    }
    return features;
}

int virtio_negotiate(struct virtio_device *vdev, uint64_t wanted)
{
    return virtio_negotiate_deps(vdev, wanted, NULL, 0);
}

int virtio_negotiate_deps(struct virtio_device *vdev, uint64_t wanted, const struct virtio_feature_dep *deps,
                          unsigned ndeps)
{
    /* 1. Reset: firmware or an option ROM may have used the device already. */
    if (vdev->ops->reset(vdev) < 0) {
        klog(LOG_ERR, "%s: device did not reset", vdev->name);
        return -ENODEV;
    }
    /* 2-3. We have seen it, and we know how to drive it. */
    add_status(vdev, VIRTIO_STATUS_ACKNOWLEDGE);
    add_status(vdev, VIRTIO_STATUS_DRIVER);

    /* 4. Accept the subset of the offered features we understand. */
    vdev->device_features = vdev->ops->get_features(vdev);
    vdev->features = drop_unmet(vdev->device_features & wanted, deps, ndeps);
    bool modern = (vdev->device_features >> VIRTIO_F_VERSION_1) & 1;
    if (modern)
        vdev->features |= 1ull << VIRTIO_F_VERSION_1;
    /* Packed rings exist only in 1.x (2.8); a legacy interface has no way
     * to give the device the three areas of one. */
    if (!modern || packed_refused)
        vdev->features &= ~(1ull << VIRTIO_F_RING_PACKED);
    vdev->ops->set_features(vdev, vdev->features);

    if (modern) {
        /* 5-6. FEATURES_OK, then read it back: a device that does not like
         * the subset clears it, and the driver must not go on (3.1.1). */
        add_status(vdev, VIRTIO_STATUS_FEATURES_OK);
        if (!(vdev->ops->get_status(vdev) & VIRTIO_STATUS_FEATURES_OK)) {
            virtio_fail(vdev, "device refused the features (FEATURES_OK not kept)");
            return -ENOTSUP;
        }
    }
    return 0;
}

int virtio_setup_vqs(struct virtio_device *vdev, unsigned nvqs, const struct virtio_vq_info *info,
                     struct vring **vqs)
{
    /* On failure the transport has undone its part; the driver unwinds and calls virtio_fail(). */
    return vdev->ops->setup_vqs(vdev, nvqs, info, vqs);
}

void virtio_del_vqs(struct virtio_device *vdev)
{
    vdev->ops->del_vqs(vdev);
}

void virtio_poll_irq(struct virtio_device *vdev)
{
    if (vdev->ops->poll_irq)
        vdev->ops->poll_irq(vdev);
}

void virtio_ready(struct virtio_device *vdev)
{
    add_status(vdev, VIRTIO_STATUS_DRIVER_OK);
    klog(LOG_INFO, "%s: DRIVER_OK (status %#x)", vdev->name, vdev->ops->get_status(vdev));
}

void virtio_read_config(struct virtio_device *vdev, unsigned offset, void *buf, unsigned len)
{
    /* A multi-byte field may change while we read it; the generation
     * counter tells (2.5.1). Legacy devices have none: one read. */
    for (int tries = 0; tries < 100; tries++) {
        uint32_t before = vdev->ops->config_generation(vdev);
        vdev->ops->read_config(vdev, offset, buf, len);
        if (vdev->ops->config_generation(vdev) == before)
            return;
    }
    klog(LOG_WARN, "%s: config space kept changing while read", vdev->name);
}

unsigned virtio_next_index(void)
{
    static unsigned next;
    return next++;
}

int virtio_probe_device(struct virtio_device *vdev)
{
    for (const struct virtio_driver *const *d = __virtio_drivers_start; d < __virtio_drivers_end; d++) {
        if ((*d)->device_type == vdev->device_type) {
            klog(LOG_INFO, "%s: device type %u, driver %s, %s transport", vdev->name, vdev->device_type,
                 (*d)->name, vdev->ops->name);
            return (*d)->probe(vdev);
        }
    }
    klog(LOG_INFO, "%s: no driver for virtio device type %u", vdev->name, vdev->device_type);
    return -ENODEV;
}

void virtio_log_features(const struct virtio_device *vdev, const char *const names[64])
{
    char line[400];
    size_t n = 0;
    line[0] = '\0';
    for (unsigned bit = 0; bit < 64 && n < sizeof(line) - 1; bit++) {
        if (!((vdev->features >> bit) & 1))
            continue;
        int w = names && names[bit] ? snprintf(line + n, sizeof(line) - n, " %s", names[bit])
                                    : snprintf(line + n, sizeof(line) - n, " bit%u", bit);
        if (w > 0)
            n += (size_t)w;
    }
    klog(LOG_INFO, "%s: features offered %#llx, negotiated %#llx:%s", vdev->name,
         (unsigned long long)vdev->device_features, (unsigned long long)vdev->features, line);
}

const char *virtio_irq_mode_name(enum virtio_irq_mode mode)
{
    switch (mode) {
    case VIRTIO_IRQ_MSIX_PER_VQ:
        return "MSI-X, one vector per queue";
    case VIRTIO_IRQ_MSIX_SHARED:
        return "MSI-X, one shared vector for the queues";
    case VIRTIO_IRQ_INTX:
        return "INTx (legacy pin through the IO-APIC)";
    default:
        return "none";
    }
}
