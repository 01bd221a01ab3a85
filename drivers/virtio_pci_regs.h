/*
 * Virtio over PCI: register layouts (virtio 1.2 spec 4.1 "Virtio Over PCI
 * Bus"), the device status field (2.1) and the transport-independent feature
 * bits (6 "Reserved Feature Bits").
 *
 * A modern (1.x) device describes where its register blocks live with
 * vendor-specific PCI capabilities (4.1.4): one each for the common
 * configuration, the notification doorbells, the ISR byte and the
 * device-specific configuration, each naming a BAR and an offset in it.
 * A legacy (0.9.5) or transitional device also has the old fixed layout at
 * the start of I/O BAR 0 (4.1.4.9).
 *
 * Offsets are byte offsets into their block; width and access follow in the
 * trailing comment (ro/rw for the driver). All fields are little-endian
 * (4.1.3). Read and write them only through the mmio_read and mmio_write
 * helpers (or inb, outw, ...) of arch/x86_64/io.h, at their natural width
 * (4.1.3.1): the structs below document the layout and are checked against
 * the offsets, they are not for dereferencing.
 *
 * This header includes only <stdint.h> and <stddef.h>.
 */
#ifndef DRIVERS_VIRTIO_PCI_REGS_H
#define DRIVERS_VIRTIO_PCI_REGS_H

#include <stddef.h>
#include <stdint.h>

typedef uint16_t le16;
typedef uint32_t le32;
typedef uint64_t le64;

/* --- PCI identity (4.1.2) --- */
#define VIRTIO_PCI_VENDOR_ID              0x1AF4
#define VIRTIO_PCI_DEVICE_ID_MODERN_BASE  0x1040 /* + virtio device ID (5): 0x1041 is net */
#define VIRTIO_PCI_DEVICE_ID_MODERN_LAST  0x107F
#define VIRTIO_PCI_DEVICE_ID_LEGACY_FIRST 0x1000 /* transitional range, revision 0 */
#define VIRTIO_PCI_DEVICE_ID_LEGACY_LAST  0x103F
#define VIRTIO_PCI_DEVICE_ID_NET_LEGACY   0x1000
#define VIRTIO_PCI_DEVICE_ID_NET          0x1041
#define VIRTIO_ID_NET                     1 /* virtio device ID of a network card (5) */

/* --- Device status field (2.1), written in the order of 3.1.1 --- */
#define VIRTIO_STATUS_ACKNOWLEDGE        0x01 /* the OS noticed the device */
#define VIRTIO_STATUS_DRIVER             0x02 /* the OS has a driver for it */
#define VIRTIO_STATUS_DRIVER_OK          0x04 /* the driver is ready: queues live */
#define VIRTIO_STATUS_FEATURES_OK        0x08 /* feature negotiation done (1.x only) */
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 0x40 /* the device hit an error it cannot recover */
#define VIRTIO_STATUS_FAILED             0x80 /* the driver gave up on the device */

/* --- Feature bits not specific to a device type (6) --- */
#define VIRTIO_F_NOTIFY_ON_EMPTY   24 /* legacy: interrupt when the avail ring runs empty */
#define VIRTIO_F_ANY_LAYOUT        27 /* legacy: no assumptions about framing (2.7.4.3) */
#define VIRTIO_F_INDIRECT_DESC     28 /* = VIRTIO_RING_F_INDIRECT_DESC in virtio_ring.h */
#define VIRTIO_F_EVENT_IDX         29 /* = VIRTIO_RING_F_EVENT_IDX in virtio_ring.h */
#define VIRTIO_F_VERSION_1         32 /* a 1.x device; without it, the legacy interface */
#define VIRTIO_F_ACCESS_PLATFORM   33 /* DMA goes through a platform IOMMU */
#define VIRTIO_F_RING_PACKED       34 /* packed virtqueues (2.8), drivers/vring_packed.c */
#define VIRTIO_F_IN_ORDER          35
#define VIRTIO_F_ORDER_PLATFORM    36
#define VIRTIO_F_SR_IOV            37
#define VIRTIO_F_NOTIFICATION_DATA 38
#define VIRTIO_F_NOTIF_CONFIG_DATA 39
#define VIRTIO_F_RING_RESET        40

/* --- Vendor-specific capability pointing at a register block (4.1.4) --- */
struct virtio_pci_cap {
    uint8_t cap_vndr; /* ro: PCI_CAP_ID_VNDR (0x09) */
    uint8_t cap_next; /* ro: next capability */
    uint8_t cap_len;  /* ro: length of this capability, extra data included */
    uint8_t cfg_type; /* ro: VIRTIO_PCI_CAP_*_CFG */
    uint8_t bar;      /* ro: BAR 0-5 holding the block; other values: ignore the cap */
    uint8_t id;       /* ro: distinguishes several caps of one type (e.g. shared memory) */
    uint8_t padding[2];
    le32 offset; /* ro: where the block starts in the BAR */
    le32 length; /* ro: its length in bytes */
};
/* Bit values stay indented under their register (hence no clang-format here). */
/* clang-format off */
#define VIRTIO_PCI_CAP_VNDR             0  /* 8 ro */
#define VIRTIO_PCI_CAP_NEXT             1  /* 8 ro */
#define VIRTIO_PCI_CAP_LEN              2  /* 8 ro */
#define VIRTIO_PCI_CAP_CFG_TYPE         3  /* 8 ro */
#define  VIRTIO_PCI_CAP_COMMON_CFG         1  /* struct virtio_pci_common_cfg */
#define  VIRTIO_PCI_CAP_NOTIFY_CFG         2  /* doorbells; cap is a virtio_pci_notify_cap */
#define  VIRTIO_PCI_CAP_ISR_CFG            3  /* one ISR status byte */
#define  VIRTIO_PCI_CAP_DEVICE_CFG         4  /* device-specific configuration (virtio-net: MAC...) */
#define  VIRTIO_PCI_CAP_PCI_CFG            5  /* config-space window onto the BARs */
#define  VIRTIO_PCI_CAP_SHARED_MEMORY_CFG  8
#define  VIRTIO_PCI_CAP_VENDOR_CFG         9
#define VIRTIO_PCI_CAP_BAR              4  /* 8 ro */
#define VIRTIO_PCI_CAP_ID               5  /* 8 ro */
#define VIRTIO_PCI_CAP_OFFSET           8  /* 32 ro */
#define VIRTIO_PCI_CAP_LENGTH           12 /* 32 ro */
/* clang-format on */

_Static_assert(sizeof(struct virtio_pci_cap) == 16, "virtio 4.1.4");
_Static_assert(offsetof(struct virtio_pci_cap, cfg_type) == VIRTIO_PCI_CAP_CFG_TYPE, "virtio 4.1.4");
_Static_assert(offsetof(struct virtio_pci_cap, bar) == VIRTIO_PCI_CAP_BAR, "virtio 4.1.4");
_Static_assert(offsetof(struct virtio_pci_cap, id) == VIRTIO_PCI_CAP_ID, "virtio 4.1.4");
_Static_assert(offsetof(struct virtio_pci_cap, offset) == VIRTIO_PCI_CAP_OFFSET, "virtio 4.1.4");
_Static_assert(offsetof(struct virtio_pci_cap, length) == VIRTIO_PCI_CAP_LENGTH, "virtio 4.1.4");

/*
 * The notification capability carries one more field (4.1.4.4): queue q's
 * doorbell is at cap.offset + queue_notify_off(q) * notify_off_multiplier in
 * the BAR; the driver writes the queue index there as a 16-bit value. A
 * multiplier of 0 means one doorbell shared by all queues.
 */
struct virtio_pci_notify_cap {
    struct virtio_pci_cap cap;
    le32 notify_off_multiplier; /* ro */
};
#define VIRTIO_PCI_NOTIFY_CAP_MULT 16 /* 32 ro */

_Static_assert(offsetof(struct virtio_pci_notify_cap, notify_off_multiplier) == VIRTIO_PCI_NOTIFY_CAP_MULT,
               "virtio 4.1.4.4");

/* The PCI configuration access capability (4.1.4.8): cap.bar/offset/length are rw. */
struct virtio_pci_cfg_cap {
    struct virtio_pci_cap cap;
    uint8_t pci_cfg_data[4]; /* rw: window onto cap.length bytes at cap.offset of cap.bar */
};
#define VIRTIO_PCI_CFG_CAP_DATA 16 /* 8/16/32 rw */

_Static_assert(offsetof(struct virtio_pci_cfg_cap, pci_cfg_data) == VIRTIO_PCI_CFG_CAP_DATA,
               "virtio 4.1.4.8");

/*
 * --- Common configuration block (4.1.4.3) ---
 * The queue_* fields describe the queue chosen by queue_select. 64-bit fields
 * are written as two 32-bit halves, low first (4.1.3).
 */
struct virtio_pci_common_cfg {
    /* About the whole device. */
    le32 device_feature_select; /* rw: 0 selects feature bits 0-31, 1 bits 32-63 */
    le32 device_feature;        /* ro: offered features, the selected half */
    le32 driver_feature_select; /* rw */
    le32 driver_feature;        /* rw: accepted features, the selected half */
    le16 config_msix_vector;    /* rw: MSI-X entry for config changes, or VIRTIO_MSI_NO_VECTOR */
    le16 num_queues;            /* ro */
    uint8_t device_status;      /* rw: VIRTIO_STATUS_*; writing 0 resets the device */
    uint8_t config_generation;  /* ro: changes when the device config changes */
    /* About the queue chosen by queue_select. */
    le16 queue_select;      /* rw */
    le16 queue_size;        /* rw: max size on reset (0: no such queue); may be lowered */
    le16 queue_msix_vector; /* rw: read back to check (VIRTIO_MSI_NO_VECTOR: refused) */
    le16 queue_enable;      /* rw: write 1 once the queue is set up; never write 0 */
    le16 queue_notify_off;  /* ro: doorbell index, see virtio_pci_notify_cap */
    le64 queue_desc;        /* rw: descriptor area, guest-physical */
    le64 queue_driver;      /* rw: driver area (available ring) */
    le64 queue_device;      /* rw: device area (used ring) */
    le16 queue_notify_data; /* ro: only with VIRTIO_F_NOTIF_CONFIG_DATA */
    le16 queue_reset;       /* rw: only with VIRTIO_F_RING_RESET */
};
#define VIRTIO_PCI_COMMON_DFSELECT      0  /* 32 rw */
#define VIRTIO_PCI_COMMON_DF            4  /* 32 ro */
#define VIRTIO_PCI_COMMON_GFSELECT      8  /* 32 rw */
#define VIRTIO_PCI_COMMON_GF            12 /* 32 rw */
#define VIRTIO_PCI_COMMON_MSIX          16 /* 16 rw */
#define VIRTIO_PCI_COMMON_NUMQ          18 /* 16 ro */
#define VIRTIO_PCI_COMMON_STATUS        20 /* 8 rw */
#define VIRTIO_PCI_COMMON_CFGGENERATION 21 /* 8 ro */
#define VIRTIO_PCI_COMMON_Q_SELECT      22 /* 16 rw */
#define VIRTIO_PCI_COMMON_Q_SIZE        24 /* 16 rw */
#define VIRTIO_PCI_COMMON_Q_MSIX        26 /* 16 rw */
#define VIRTIO_PCI_COMMON_Q_ENABLE      28 /* 16 rw */
#define VIRTIO_PCI_COMMON_Q_NOFF        30 /* 16 ro */
#define VIRTIO_PCI_COMMON_Q_DESCLO      32 /* 32 rw */
#define VIRTIO_PCI_COMMON_Q_DESCHI      36 /* 32 rw */
#define VIRTIO_PCI_COMMON_Q_AVAILLO     40 /* 32 rw: queue_driver */
#define VIRTIO_PCI_COMMON_Q_AVAILHI     44 /* 32 rw */
#define VIRTIO_PCI_COMMON_Q_USEDLO      48 /* 32 rw: queue_device */
#define VIRTIO_PCI_COMMON_Q_USEDHI      52 /* 32 rw */
#define VIRTIO_PCI_COMMON_Q_NDATA       56 /* 16 ro */
#define VIRTIO_PCI_COMMON_Q_RESET       58 /* 16 rw */
#define VIRTIO_PCI_COMMON_SIZE          60 /* bytes up to queue_reset; length may be larger */

#define VIRTIO_PCI_COMMON_ASSERT(field, off)                                                                 \
    _Static_assert(offsetof(struct virtio_pci_common_cfg, field) == (off), "virtio 4.1.4.3: " #field)
VIRTIO_PCI_COMMON_ASSERT(device_feature_select, VIRTIO_PCI_COMMON_DFSELECT);
VIRTIO_PCI_COMMON_ASSERT(device_feature, VIRTIO_PCI_COMMON_DF);
VIRTIO_PCI_COMMON_ASSERT(driver_feature_select, VIRTIO_PCI_COMMON_GFSELECT);
VIRTIO_PCI_COMMON_ASSERT(driver_feature, VIRTIO_PCI_COMMON_GF);
VIRTIO_PCI_COMMON_ASSERT(config_msix_vector, VIRTIO_PCI_COMMON_MSIX);
VIRTIO_PCI_COMMON_ASSERT(num_queues, VIRTIO_PCI_COMMON_NUMQ);
VIRTIO_PCI_COMMON_ASSERT(device_status, VIRTIO_PCI_COMMON_STATUS);
VIRTIO_PCI_COMMON_ASSERT(config_generation, VIRTIO_PCI_COMMON_CFGGENERATION);
VIRTIO_PCI_COMMON_ASSERT(queue_select, VIRTIO_PCI_COMMON_Q_SELECT);
VIRTIO_PCI_COMMON_ASSERT(queue_size, VIRTIO_PCI_COMMON_Q_SIZE);
VIRTIO_PCI_COMMON_ASSERT(queue_msix_vector, VIRTIO_PCI_COMMON_Q_MSIX);
VIRTIO_PCI_COMMON_ASSERT(queue_enable, VIRTIO_PCI_COMMON_Q_ENABLE);
VIRTIO_PCI_COMMON_ASSERT(queue_notify_off, VIRTIO_PCI_COMMON_Q_NOFF);
VIRTIO_PCI_COMMON_ASSERT(queue_desc, VIRTIO_PCI_COMMON_Q_DESCLO);
VIRTIO_PCI_COMMON_ASSERT(queue_driver, VIRTIO_PCI_COMMON_Q_AVAILLO);
VIRTIO_PCI_COMMON_ASSERT(queue_device, VIRTIO_PCI_COMMON_Q_USEDLO);
VIRTIO_PCI_COMMON_ASSERT(queue_notify_data, VIRTIO_PCI_COMMON_Q_NDATA);
VIRTIO_PCI_COMMON_ASSERT(queue_reset, VIRTIO_PCI_COMMON_Q_RESET);
/* (sizeof is 64: the compiler pads the struct to its le64 alignment.) */
_Static_assert(offsetof(struct virtio_pci_common_cfg, queue_reset) + sizeof(le16) == VIRTIO_PCI_COMMON_SIZE,
               "virtio 4.1.4.3");
#undef VIRTIO_PCI_COMMON_ASSERT

/* --- ISR status byte (4.1.4.5): reading it clears it and deasserts INTx --- */
#define VIRTIO_PCI_ISR_QUEUE  0x1 /* a used buffer notification (any queue) */
#define VIRTIO_PCI_ISR_CONFIG 0x2 /* the device configuration changed */

/* MSI-X "no vector" for config_msix_vector / queue_msix_vector (4.1.5.1.2). */
#define VIRTIO_MSI_NO_VECTOR 0xFFFF

/*
 * --- Legacy interface: I/O BAR 0 of a legacy or transitional device (4.1.4.9) ---
 * Only feature bits 0-31 exist here; the queue's memory is one block in the
 * legacy layout of virtio_ring.h (vring_legacy_size()), given to the device as
 * a page frame number of 4096-byte pages.
 */
/* clang-format off */
#define VIRTIO_PCI_LEGACY_HOST_FEATURES  0  /* 32 ro: device features 0-31 */
#define VIRTIO_PCI_LEGACY_GUEST_FEATURES 4  /* 32 rw: driver features 0-31 */
#define VIRTIO_PCI_LEGACY_QUEUE_PFN      8  /* 32 rw: queue address >> 12; 0 releases it */
#define  VIRTIO_PCI_LEGACY_QUEUE_ADDR_SHIFT 12
#define VIRTIO_PCI_LEGACY_QUEUE_NUM      12 /* 16 ro: queue size (fixed by the device) */
#define VIRTIO_PCI_LEGACY_QUEUE_SEL      14 /* 16 rw */
#define VIRTIO_PCI_LEGACY_QUEUE_NOTIFY   16 /* 16 rw: write a queue index to kick it */
#define VIRTIO_PCI_LEGACY_STATUS         18 /* 8 rw: VIRTIO_STATUS_* (no FEATURES_OK) */
#define VIRTIO_PCI_LEGACY_ISR            19 /* 8 ro, read clears: VIRTIO_PCI_ISR_* */
/* These two exist only while MSI-X is enabled in the PCI capability... */
#define VIRTIO_PCI_LEGACY_MSIX_CONFIG    20 /* 16 rw */
#define VIRTIO_PCI_LEGACY_MSIX_QUEUE     22 /* 16 rw: for the queue in QUEUE_SEL */
/* ...and the device-specific configuration moves behind them when it is. */
#define VIRTIO_PCI_LEGACY_CONFIG_OFF(msix_enabled) ((msix_enabled) ? 24 : 20)
#define VIRTIO_PCI_LEGACY_VRING_ALIGN    4096 /* = VRING_LEGACY_ALIGN */
/* clang-format on */

#endif
