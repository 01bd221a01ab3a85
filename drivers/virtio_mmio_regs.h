/*
 * Virtio over MMIO: the register layout (virtio 1.2 spec 4.2.2 "MMIO Device
 * Register Layout", and 4.2.4 "Legacy interface" for version 1).
 *
 * One device is one window of at least 0x100 bytes of registers followed by
 * its device-specific configuration at 0x100. All registers are 32 bits wide,
 * little-endian, and must be accessed with 32-bit reads and writes; only the
 * configuration space may be read at the width of its fields (4.2.2.2).
 * Offsets are byte offsets into the window; width and access follow in the
 * trailing comment (ro/wo/rw for the driver). Registers marked v2 exist only
 * in version 2 (modern), those marked v1 only in version 1 (legacy).
 *
 * This header includes only <stdint.h> and <stddef.h>.
 */
#ifndef DRIVERS_VIRTIO_MMIO_REGS_H
#define DRIVERS_VIRTIO_MMIO_REGS_H

#include <stddef.h>
#include <stdint.h>

/* clang-format off */
#define VIRTIO_MMIO_MAGIC_VALUE         0x000 /* 32 ro: 0x74726976, "virt" */
#define   VIRTIO_MMIO_MAGIC               0x74726976u
#define VIRTIO_MMIO_VERSION             0x004 /* 32 ro: 1 legacy, 2 modern */
#define   VIRTIO_MMIO_VERSION_LEGACY      1
#define   VIRTIO_MMIO_VERSION_MODERN      2
#define VIRTIO_MMIO_DEVICE_ID           0x008 /* 32 ro: virtio device ID (5); 0 = no device here */
#define VIRTIO_MMIO_VENDOR_ID           0x00c /* 32 ro */
#define VIRTIO_MMIO_DEVICE_FEATURES     0x010 /* 32 ro: 32 feature bits, chosen by ..._SEL */
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014 /* 32 wo: 0 bits 0-31, 1 bits 32-63 */
#define VIRTIO_MMIO_DRIVER_FEATURES     0x020 /* 32 wo */
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024 /* 32 wo */
#define VIRTIO_MMIO_GUEST_PAGE_SIZE     0x028 /* 32 wo, v1: the unit of QUEUE_PFN */
#define VIRTIO_MMIO_QUEUE_SEL           0x030 /* 32 wo: the queue the QUEUE_* registers mean */
#define VIRTIO_MMIO_QUEUE_NUM_MAX       0x034 /* 32 ro: its largest size; 0 = no such queue */
#define VIRTIO_MMIO_QUEUE_NUM           0x038 /* 32 wo: the size the driver chose */
#define VIRTIO_MMIO_QUEUE_ALIGN         0x03c /* 32 wo, v1: alignment of the used ring */
#define VIRTIO_MMIO_QUEUE_PFN           0x040 /* 32 rw, v1: ring address / GUEST_PAGE_SIZE; 0 = off */
#define VIRTIO_MMIO_QUEUE_READY         0x044 /* 32 rw, v2: 1 = the queue is live */
#define VIRTIO_MMIO_QUEUE_NOTIFY        0x050 /* 32 wo: queue index: new buffers */
#define VIRTIO_MMIO_INTERRUPT_STATUS    0x060 /* 32 ro: why the line is raised */
#define   VIRTIO_MMIO_INT_VRING           0x1 /* a used ring was updated */
#define   VIRTIO_MMIO_INT_CONFIG          0x2 /* the configuration changed */
#define VIRTIO_MMIO_INTERRUPT_ACK       0x064 /* 32 wo: the bits handled; lowers the line */
#define VIRTIO_MMIO_STATUS              0x070 /* 32 rw: VIRTIO_STATUS_*; 0 resets */
#define VIRTIO_MMIO_QUEUE_DESC_LOW      0x080 /* 32 wo, v2: descriptor area, guest-physical */
#define VIRTIO_MMIO_QUEUE_DESC_HIGH     0x084 /* 32 wo, v2 */
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW    0x090 /* 32 wo, v2: available ring */
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH   0x094 /* 32 wo, v2 */
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW    0x0a0 /* 32 wo, v2: used ring */
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH   0x0a4 /* 32 wo, v2 */
#define VIRTIO_MMIO_CONFIG_GENERATION   0x0fc /* 32 ro, v2: changes when the config changes */
#define VIRTIO_MMIO_CONFIG              0x100 /* device-specific configuration starts here */
/* clang-format on */

/* The legacy interface's page size and used-ring alignment: the vring legacy layout's 4096. */
#define VIRTIO_MMIO_LEGACY_PAGE  4096u
#define VIRTIO_MMIO_LEGACY_ALIGN 4096u

/* The smallest window a device can live in: the registers up to the config space. */
#define VIRTIO_MMIO_MIN_SIZE 0x100u

/* The same layout as a structure, to check the offsets against the spec's table. */
struct virtio_mmio_regs {
    uint32_t magic, version, device_id, vendor_id;             /* 0x00 */
    uint32_t device_features, device_features_sel, pad0[2];    /* 0x10 */
    uint32_t driver_features, driver_features_sel;             /* 0x20 */
    uint32_t guest_page_size, pad1;                            /* 0x28 */
    uint32_t queue_sel, queue_num_max, queue_num, queue_align; /* 0x30 */
    uint32_t queue_pfn, queue_ready, pad2[2];                  /* 0x40 */
    uint32_t queue_notify, pad3[3];                            /* 0x50 */
    uint32_t interrupt_status, interrupt_ack, pad4[2];         /* 0x60 */
    uint32_t status, pad5[3];                                  /* 0x70 */
    uint32_t queue_desc_low, queue_desc_high, pad6[2];         /* 0x80 */
    uint32_t queue_driver_low, queue_driver_high, pad7[2];     /* 0x90 */
    uint32_t queue_device_low, queue_device_high, pad8[21];    /* 0xa0 */
    uint32_t config_generation;                                /* 0xfc */
    uint8_t config[];                                          /* 0x100 */
};
_Static_assert(offsetof(struct virtio_mmio_regs, device_features_sel) == VIRTIO_MMIO_DEVICE_FEATURES_SEL,
               "virtio 4.2.2");
_Static_assert(offsetof(struct virtio_mmio_regs, guest_page_size) == VIRTIO_MMIO_GUEST_PAGE_SIZE,
               "virtio 4.2.4");
_Static_assert(offsetof(struct virtio_mmio_regs, queue_align) == VIRTIO_MMIO_QUEUE_ALIGN, "virtio 4.2.4");
_Static_assert(offsetof(struct virtio_mmio_regs, queue_pfn) == VIRTIO_MMIO_QUEUE_PFN, "virtio 4.2.4");
_Static_assert(offsetof(struct virtio_mmio_regs, queue_ready) == VIRTIO_MMIO_QUEUE_READY, "virtio 4.2.2");
_Static_assert(offsetof(struct virtio_mmio_regs, queue_notify) == VIRTIO_MMIO_QUEUE_NOTIFY, "virtio 4.2.2");
_Static_assert(offsetof(struct virtio_mmio_regs, interrupt_ack) == VIRTIO_MMIO_INTERRUPT_ACK, "virtio 4.2.2");
_Static_assert(offsetof(struct virtio_mmio_regs, status) == VIRTIO_MMIO_STATUS, "virtio 4.2.2");
_Static_assert(offsetof(struct virtio_mmio_regs, queue_driver_high) == VIRTIO_MMIO_QUEUE_DRIVER_HIGH,
               "virtio 4.2.2");
_Static_assert(offsetof(struct virtio_mmio_regs, queue_device_high) == VIRTIO_MMIO_QUEUE_DEVICE_HIGH,
               "virtio 4.2.2");
_Static_assert(offsetof(struct virtio_mmio_regs, config_generation) == VIRTIO_MMIO_CONFIG_GENERATION,
               "virtio 4.2.2");
_Static_assert(offsetof(struct virtio_mmio_regs, config) == VIRTIO_MMIO_CONFIG, "virtio 4.2.2");

#endif
