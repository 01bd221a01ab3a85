/*
 * A device model for the host tests of drivers/vring_packed.c: the device
 * side of one packed virtqueue (virtio 1.2 spec 2.8), played the way QEMU's
 * hw/virtio/virtio.c plays it (virtqueue_packed_pop, virtqueue_packed_fill,
 * virtio_notify with vring_packed_need_event), working only on what the driver
 * wrote into shared memory, at the addresses a transport would have been given.
 *
 * Like vdev_model.c it is an oracle written from the spec, sharing nothing
 * with drivers/virtio_ring.h (pdev_model.c poisons its packed names): its
 * descriptor layout, flag bits, event structure and event test are its own.
 *
 * It checks the driver: every chain it pops must be well formed (AVAIL/USED
 * as the device's wrap counter expects, readable before writable, INDIRECT
 * only when negotiated and never with NEXT or nested, a table a whole number
 * of descriptors, addresses that went through virt_to_phys(), a buffer id not
 * already held by the device). Violations count in .errors.
 *
 * It misbehaves on demand (pdev_push_raw) for the hostile-device tests.
 * The platform doubles (virt_to_phys, dma_alloc, klog) are vdev_model.c's.
 */
#ifndef TESTS_UNIT_PDEV_MODEL_H
#define TESTS_UNIT_PDEV_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/vring.h" /* struct vring_addrs */
#include "vdev_model.h"    /* struct vdev_seg, the platform doubles */

/* 2.8.13: addr (le64), len (le32), id (le16), flags (le16). */
struct pdev_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t id;
    uint16_t flags;
};
#define PDEV_DESC_NEXT     0x1
#define PDEV_DESC_WRITE    0x2
#define PDEV_DESC_INDIRECT 0x4
#define PDEV_DESC_AVAIL    0x80   /* 1 << 7 */
#define PDEV_DESC_USED     0x8000 /* 1 << 15 */

/* 2.8.14: off_wrap (le16: offset bits 0-14, wrap bit 15), flags (le16). */
struct pdev_event {
    uint16_t off_wrap;
    uint16_t flags;
};
#define PDEV_EVENT_ENABLE  0
#define PDEV_EVENT_DISABLE 1
#define PDEV_EVENT_DESC    2

#define PDEV_MAX_SEGS 64
#define PDEV_MAX_IDS  2048

/* One popped chain. */
struct pdev_elem {
    uint16_t id;
    uint16_t ndesc; /* ring descriptors it took */
    bool indirect;
    unsigned n_out, n_in;
    struct vdev_seg out[PDEV_MAX_SEGS];
    struct vdev_seg in[PDEV_MAX_SEGS];
    uint32_t in_len;
};

typedef void (*pdev_irq_fn)(void *ctx);

struct pdev_model {
    unsigned num;
    bool event_idx, indirect;
    struct pdev_desc *ring;
    struct pdev_event *driver; /* the driver's event suppression (driver area) */
    struct pdev_event *device; /* ours (device area) */

    unsigned next_avail; /* position of the next chain to pop */
    bool avail_wrap;
    unsigned next_used; /* position of the next used descriptor to write */
    bool used_wrap;
    uint64_t used_total;      /* descriptors marked used, ever (free-running) */
    uint64_t signalled_total; /* used_total at the last interrupt decision */
    unsigned inuse;
    bool held[PDEV_MAX_IDS]; /* buffer ids popped and not yet pushed */

    pdev_irq_fn irq;
    void *irq_ctx;
    unsigned long irqs, irqs_suppressed, kicks;
    unsigned errors;
    char last_error[200];
};

void pdev_init(struct pdev_model *m, const struct vring_addrs *addrs, unsigned num, uint64_t features,
               pdev_irq_fn irq, void *irq_ctx);
/* A vring_notify_fn: the driver's doorbell. */
void pdev_kick(void *ctx, unsigned index);
/* Is a chain available at next_avail? */
bool pdev_avail(const struct pdev_model *m);
/* Take the next available chain. Return: 1, 0 if none, -EPROTO for a malformed one (counted). */
int pdev_pop(struct pdev_model *m, struct pdev_elem *e);
/* Copy @len bytes into @e's writable segments; returns bytes copied. */
uint32_t pdev_write(const struct pdev_elem *e, const void *data, uint32_t len);
/* Write the used descriptor for @e (id, @len, then AVAIL = USED = our wrap) and skip its length. */
void pdev_push(struct pdev_model *m, const struct pdev_elem *e, uint32_t len);
/* Interrupt the driver unless its event suppression says not to. Return: raised. */
bool pdev_notify(struct pdev_model *m);
/* Our request for kicks (device area): ENABLE, DISABLE, or DESC at the next chain we would pop. */
void pdev_set_notification(struct pdev_model *m, uint16_t flags);
/* Set the device area to anything. */
void pdev_set_device_event(struct pdev_model *m, uint16_t off_wrap, uint16_t flags);
/* Pop up to @max, fill each writable part with a pattern, push with len = writable bytes, notify. */
unsigned pdev_process(struct pdev_model *m, unsigned max);

/* Misbehave: write a used descriptor with any id, len and flags at next_used, skip @skip positions. */
void pdev_push_raw(struct pdev_model *m, uint16_t id, uint32_t len, uint16_t flags, unsigned skip);
/* The flags a used descriptor must carry now (AVAIL = USED = our used wrap counter). */
uint16_t pdev_used_flags(const struct pdev_model *m);

#endif
