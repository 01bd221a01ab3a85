/*
 * The virtio device model a driver sees (virtio 1.2 spec, 2 and 3), the same
 * whatever the transport: feature bits, the status sequence, device config
 * space, virtqueues with a callback each, and a config-change callback.
 *
 * A transport (virtio_pci.c, modern or legacy; virtio-mmio could be added)
 * fills in a struct virtio_device with its ops and hands it to the virtio
 * driver registered for the device type (VIRTIO_DRIVER()).
 *
 * Initialisation, as spec 3.1.1 numbers it, is done by the driver's probe:
 *   virtio_negotiate(vdev, wanted)  steps 1-6: reset, ACKNOWLEDGE, DRIVER,
 *                                   features, FEATURES_OK and its check
 *   virtio_setup_vqs(...)           step 7: queues and interrupts
 *   (device-specific setup)         step 7: e.g. fill the receive ring
 *   virtio_ready(vdev)              step 8: DRIVER_OK
 * On any failure the driver calls virtio_fail(), which sets FAILED.
 */
#ifndef DRIVERS_VIRTIO_H
#define DRIVERS_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/vring.h"

struct virtio_device;

/* Called in interrupt context when queue @vr may have used buffers. */
typedef void (*virtio_vq_callback)(struct vring *vr, void *ctx);

struct virtio_vq_info {
    const char *name;            /* for logs and the interrupt table, e.g. "rx0" */
    unsigned num;                /* wanted size; 0 = the device's maximum (capped at 1024) */
    virtio_vq_callback callback; /* NULL: the driver polls this queue */
    void *ctx;
    /* The most entries the driver can afford (its buffers per entry), 0: no
     * limit. A modern device is given at most this size; a legacy device,
     * whose size is fixed, is refused (-E2BIG) when its size is larger. */
    unsigned max_num;
};

/* How the device's interrupts arrive (the order vp_find_vqs tries them in). */
enum virtio_irq_mode {
    VIRTIO_IRQ_NONE = 0,
    VIRTIO_IRQ_MSIX_PER_VQ, /* one MSI-X vector per queue, one for config */
    VIRTIO_IRQ_MSIX_SHARED, /* one MSI-X vector for all queues, one for config */
    VIRTIO_IRQ_INTX,        /* the legacy pin through the IO-APIC, ISR read to ack */
};

/* The transport's side. */
struct virtio_transport_ops {
    const char *name; /* "modern" or "legacy" */
    uint8_t (*get_status)(struct virtio_device *vdev);
    void (*set_status)(struct virtio_device *vdev, uint8_t status);
    /* Write 0 to the status and wait for the device to finish resetting. */
    int (*reset)(struct virtio_device *vdev);
    uint64_t (*get_features)(struct virtio_device *vdev);
    void (*set_features)(struct virtio_device *vdev, uint64_t features);
    /* Device-specific config, little-endian (modern) or guest-endian (legacy). */
    void (*read_config)(struct virtio_device *vdev, unsigned offset, void *buf, unsigned len);
    void (*write_config)(struct virtio_device *vdev, unsigned offset, const void *buf, unsigned len);
    uint32_t (*config_generation)(struct virtio_device *vdev);
    int (*setup_vqs)(struct virtio_device *vdev, unsigned nvqs, const struct virtio_vq_info *info,
                     struct vring **vqs);
    void (*del_vqs)(struct virtio_device *vdev);
    /* Maximum queue size of queue @index, 0 if the queue does not exist. */
    unsigned (*queue_max)(struct virtio_device *vdev, unsigned index);
    /* While irq_polled: do the interrupt handler's work (main loop). May be NULL. */
    void (*poll_irq)(struct virtio_device *vdev);
};

struct virtio_device {
    const struct virtio_transport_ops *ops;
    uint32_t device_type;     /* VIRTIO_ID_* */
    char name[24];            /* e.g. "virtio0" */
    uint64_t device_features; /* what the device offers */
    uint64_t features;        /* what was negotiated */
    enum virtio_irq_mode irq_mode;
    /* Interrupt context: the device's config changed (e.g. link status). */
    void (*config_changed)(struct virtio_device *vdev, void *ctx);
    void *config_ctx;
    uint64_t config_interrupts;
    /* The transport masked a storming interrupt line and wants the driver to
     * call virtio_poll_irq() from its poll until it clears this. */
    volatile bool irq_polled;
    uint64_t irq_storms; /* times that happened */
    void *transport;     /* the transport's private state */
    void *priv;          /* the driver's */
};

struct virtio_driver {
    const char *name;
    uint32_t device_type;
    int (*probe)(struct virtio_device *vdev);
};

/* Register a virtio driver: a pointer in section .virtio_drivers (linker.ld). */
#define VIRTIO_DRIVER(drv)                                                                                   \
    static const struct virtio_driver *const virtio_driver_ptr_##drv                                         \
        __attribute__((used, section(".virtio_drivers"), aligned(sizeof(void *)))) = &(drv)

static inline bool virtio_has_feature(const struct virtio_device *vdev, unsigned bit)
{
    return (vdev->features >> bit) & 1;
}

/**
 * virtio_negotiate() - steps 1-6 of spec 3.1.1: reset, ACKNOWLEDGE, DRIVER,
 * accept the features in @wanted that the device offers (plus VERSION_1 on
 * the modern transport; RING_PACKED only with VERSION_1 and unless
 * virtio_set_packed() refused it), FEATURES_OK, and check the device kept it.
 * Return: 0, -ENODEV if the device would not reset, -ENOTSUP if the device
 * refused the features (FEATURES_OK not kept). FAILED is set on error.
 */
int virtio_negotiate(struct virtio_device *vdev, uint64_t wanted);

/* A feature a driver may accept only together with others (e.g. virtio-net's
 * HOST_TSO4 needs CSUM, spec 5.1.3.1): a device that offers it without them
 * does not get it. */
struct virtio_feature_dep {
    unsigned bit;
    uint64_t needs; /* feature bits */
};

/**
 * virtio_negotiate_deps() - virtio_negotiate(), and of the features both
 * sides have, drop each whose @deps are not all there (until none changes).
 */
int virtio_negotiate_deps(struct virtio_device *vdev, uint64_t wanted, const struct virtio_feature_dep *deps,
                          unsigned ndeps);

/**
 * virtio_set_packed() - the value of the virtio.packed= command-line word:
 * "off" (or "0", "no") makes virtio_negotiate() refuse VIRTIO_F_RING_PACKED
 * even where the device and driver both want it (for comparisons); NULL or
 * anything else leaves it to the driver. Call before any device is probed.
 */
void virtio_set_packed(const char *word);

/** virtio_setup_vqs() - create @nvqs queues and their interrupts (see virtio_pci.c). */
int virtio_setup_vqs(struct virtio_device *vdev, unsigned nvqs, const struct virtio_vq_info *info,
                     struct vring **vqs);

/** virtio_ready() - step 8: DRIVER_OK. The device may use the queues from now on. */
void virtio_ready(struct virtio_device *vdev);

/**
 * virtio_del_vqs() - undo virtio_setup_vqs(): reset the device (it stops
 * using the rings), detach the interrupt handlers and give their vectors
 * back, free the rings. Buffers still posted are the driver's to free.
 */
void virtio_del_vqs(struct virtio_device *vdev);

/** virtio_poll_irq() - while vdev->irq_polled: run the transport's interrupt work now. */
void virtio_poll_irq(struct virtio_device *vdev);

/** virtio_fail() - log @why, set FAILED: the driver gives up on the device. */
void virtio_fail(struct virtio_device *vdev, const char *why);

/**
 * virtio_read_config() - read @len bytes of device config at @offset,
 * consistently: retried while config_generation changes under us (2.5.1).
 */
void virtio_read_config(struct virtio_device *vdev, unsigned offset, void *buf, unsigned len);

/** virtio_next_index() - the N of the next device's "virtioN" name, shared by every transport. */
unsigned virtio_next_index(void);

/** virtio_probe_device() - called by a transport: find the driver for @vdev's type and probe. */
int virtio_probe_device(struct virtio_device *vdev);

/** virtio_feature_names() - "VERSION_1 MAC STATUS ..." for the log; @names maps bit -> name. */
void virtio_log_features(const struct virtio_device *vdev, const char *const names[64]);

/** virtio_irq_mode_name() - "MSI-X per queue", "MSI-X shared", "INTx". */
const char *virtio_irq_mode_name(enum virtio_irq_mode mode);

#endif
