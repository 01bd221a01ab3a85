/*
 * PCI configuration space layout: PCI Local Bus Specification 3.0, ch. 6
 * ("Configuration Space"), PCI-to-PCI Bridge Architecture Specification 1.2,
 * ch. 3.2 (type 1 header), and PCI 3.0 6.8 (MSI and MSI-X capabilities).
 *
 * Offsets are byte offsets into a function's configuration space; the width
 * and access of each register follow in the trailing comment (ro, rw, rw1c:
 * write 1 to clear). This header includes only <stdint.h> so host tests and
 * fake configuration spaces can use it.
 */
#ifndef DRIVERS_PCI_REGS_H
#define DRIVERS_PCI_REGS_H

#include <stdint.h>

/* Geometry (PCI 3.0 3.2.2.3.2): 256 buses, 32 devices, 8 functions. */
#define PCI_MAX_BUS      256
#define PCI_MAX_DEV      32
#define PCI_MAX_FN       8
#define PCI_CFG_SIZE     256  /* conventional configuration space */
#define PCI_CFG_SIZE_EXT 4096 /* PCI Express extended space (ECAM only) */

/* --- Header common to all types (PCI 3.0 6.1, figure 6-1) --- */
#define PCI_VENDOR_ID            0x00 /* 16 ro; 0xFFFF: no function here */
#define PCI_VENDOR_NONE          0xFFFF
#define PCI_DEVICE_ID            0x02   /* 16 ro */
#define PCI_COMMAND              0x04   /* 16 rw (PCI 3.0 6.2.2) */
#define PCI_COMMAND_IO           0x0001 /* respond to I/O space accesses */
#define PCI_COMMAND_MEMORY       0x0002 /* respond to memory space accesses */
#define PCI_COMMAND_MASTER       0x0004 /* may initiate bus cycles (DMA, MSI writes) */
#define PCI_COMMAND_PARITY       0x0040
#define PCI_COMMAND_SERR         0x0100
#define PCI_COMMAND_INTX_DISABLE 0x0400 /* do not assert INTx# (PCI 3.0 6.2.2, bit 10) */
#define PCI_STATUS               0x06   /* 16 ro + rw1c (PCI 3.0 6.2.3) */
#define PCI_STATUS_INTX          0x0008 /* ro: INTx# asserted */
#define PCI_STATUS_CAP_LIST      0x0010 /* ro: capabilities pointer valid */
#define PCI_REVISION_ID          0x08   /* 8 ro */
#define PCI_CLASS_PROG           0x09   /* 8 ro: programming interface */
#define PCI_CLASS_SUB            0x0A   /* 8 ro */
#define PCI_CLASS_BASE           0x0B   /* 8 ro */
#define PCI_CACHE_LINE_SIZE      0x0C   /* 8 rw */
#define PCI_LATENCY_TIMER        0x0D   /* 8 rw */
#define PCI_HEADER_TYPE          0x0E   /* 8 ro */
#define PCI_HEADER_TYPE_MASK     0x7F
#define PCI_HEADER_TYPE_NORMAL   0    /* type 0: endpoint */
#define PCI_HEADER_TYPE_BRIDGE   1    /* type 1: PCI-to-PCI bridge */
#define PCI_HEADER_TYPE_CARDBUS  2    /* type 2: CardBus bridge */
#define PCI_HEADER_MULTIFUNCTION 0x80 /* bit 7: functions 1-7 may exist */
#define PCI_BIST                 0x0F /* 8 rw */

/* --- Type 0 header (PCI 3.0 6.1) --- */
#define PCI_BAR0                0x10 /* 32 rw: BARs 0-5 at 0x10, 0x14, ... 0x24 */
#define PCI_BAR(i)              (PCI_BAR0 + 4 * (i))
#define PCI_NUM_BARS            6
#define PCI_CARDBUS_CIS         0x28 /* 32 ro */
#define PCI_SUBSYSTEM_VENDOR_ID 0x2C /* 16 ro */
#define PCI_SUBSYSTEM_ID        0x2E /* 16 ro */
#define PCI_ROM_ADDRESS         0x30 /* 32 rw */
#define PCI_CAPABILITY_LIST     0x34 /* 8 ro: offset of the first capability (types 0 and 1) */
#define PCI_INTERRUPT_LINE      0x3C /* 8 rw: written by firmware, ISA IRQ on PCs (PCI 3.0 6.2.4) */
#define PCI_INTERRUPT_PIN       0x3D /* 8 ro: 0 none, 1-4 INTA#-INTD# */
#define PCI_MIN_GNT             0x3E /* 8 ro */
#define PCI_MAX_LAT             0x3F /* 8 ro */

/* Base Address Register bits (PCI 3.0 6.2.5.1) */
#define PCI_BAR_SPACE_IO      0x01        /* bit 0: 1 = I/O space */
#define PCI_BAR_IO_MASK       0xFFFFFFFCu /* I/O: address in bits 31:2 */
#define PCI_BAR_MEM_TYPE_MASK 0x06        /* memory: bits 2:1 */
#define PCI_BAR_MEM_TYPE_32   0x00        /*   anywhere in 32-bit space */
#define PCI_BAR_MEM_TYPE_1M   0x02        /*   below 1 MiB (legacy, PCI 2.x) */
#define PCI_BAR_MEM_TYPE_64   0x04        /*   anywhere in 64-bit space: uses the next BAR too */
#define PCI_BAR_MEM_PREFETCH  0x08        /* bit 3: prefetchable */
#define PCI_BAR_MEM_MASK      0xFFFFFFF0u /* memory: address in bits 31:4 */

/* --- Type 1 header: PCI-to-PCI bridge (PCI-PCI Bridge Arch 1.2, 3.2) --- */
#define PCI_BRIDGE_NUM_BARS   2
#define PCI_PRIMARY_BUS       0x18 /* 8 rw */
#define PCI_SECONDARY_BUS     0x19 /* 8 rw: bus directly behind the bridge */
#define PCI_SUBORDINATE_BUS   0x1A /* 8 rw: highest bus number behind the bridge */
#define PCI_SEC_LATENCY_TIMER 0x1B /* 8 rw */
#define PCI_IO_BASE           0x1C /* 8 rw */
#define PCI_IO_LIMIT          0x1D /* 8 rw */
#define PCI_SEC_STATUS        0x1E /* 16 rw1c */
#define PCI_MEMORY_BASE       0x20 /* 16 rw */
#define PCI_MEMORY_LIMIT      0x22 /* 16 rw */
#define PCI_PREF_MEMORY_BASE  0x24 /* 16 rw */
#define PCI_PREF_MEMORY_LIMIT 0x26 /* 16 rw */
#define PCI_BRIDGE_CONTROL    0x3E /* 16 rw */

/* --- Type 2 header: CardBus bridge (PC Card Standard 8.0, vol. 10) --- */
#define PCI_CARDBUS_NUM_BARS   1    /* socket/ExCA registers */
#define PCI_CB_CAPABILITY_LIST 0x14 /* 8 ro */
#define PCI_CB_SECONDARY_BUS   0x19 /* 8 rw */
#define PCI_CB_SUBORDINATE_BUS 0x1A /* 8 rw */

/* --- Capability list (PCI 3.0 6.7) --- */
#define PCI_CAP_ID      0x00 /* 8 ro, relative to the capability */
#define PCI_CAP_NEXT    0x01 /* 8 ro: 0 ends the list; bits 1:0 reserved (00) */
#define PCI_CAP_PTR_MIN 0x40 /* capabilities live after the 64-byte header */
#define PCI_CAP_PTR_MAX 0xFC /* ... and start at a dword inside the 256 bytes */

/* Capability IDs (PCI Code and ID Assignment Specification 1.11, ch. 2) */
#define PCI_CAP_ID_PM     0x01 /* Power Management */
#define PCI_CAP_ID_AGP    0x02
#define PCI_CAP_ID_VPD    0x03 /* Vital Product Data */
#define PCI_CAP_ID_SLOTID 0x04
#define PCI_CAP_ID_MSI    0x05
#define PCI_CAP_ID_CHSWP  0x06 /* CompactPCI hot swap */
#define PCI_CAP_ID_PCIX   0x07
#define PCI_CAP_ID_HT     0x08 /* HyperTransport */
#define PCI_CAP_ID_VNDR   0x09 /* vendor specific (virtio uses these) */
#define PCI_CAP_ID_DBG    0x0A /* debug port */
#define PCI_CAP_ID_CCRC   0x0B /* CompactPCI central resource control */
#define PCI_CAP_ID_SHPC   0x0C /* standard hot-plug controller */
#define PCI_CAP_ID_SSVID  0x0D /* bridge subsystem vendor/device ID */
#define PCI_CAP_ID_AGP3   0x0E /* AGP 8x */
#define PCI_CAP_ID_SECDEV 0x0F /* secure device */
#define PCI_CAP_ID_EXP    0x10 /* PCI Express */
#define PCI_CAP_ID_MSIX   0x11
#define PCI_CAP_ID_SATA   0x12 /* SATA data/index configuration */
#define PCI_CAP_ID_AF     0x13 /* advanced features */
#define PCI_CAP_ID_EA     0x14 /* enhanced allocation */
#define PCI_CAP_ID_FPB    0x15 /* flattening portal bridge */

/* MSI capability (PCI 3.0 6.8.1): layout depends on the 64-bit bit. */
#define PCI_MSI_FLAGS         0x02 /* 16 rw: message control */
#define PCI_MSI_FLAGS_ENABLE  0x0001
#define PCI_MSI_FLAGS_QMASK   0x000E /* ro: log2 of vectors requested */
#define PCI_MSI_FLAGS_QSIZE   0x0070 /* rw: log2 of vectors allocated */
#define PCI_MSI_FLAGS_64BIT   0x0080 /* ro: address is 64 bits wide */
#define PCI_MSI_FLAGS_MASKBIT 0x0100 /* ro: per-vector masking capable */
#define PCI_MSI_ADDRESS_LO    0x04   /* 32 rw */
#define PCI_MSI_ADDRESS_HI    0x08   /* 32 rw, 64-bit layout only */
#define PCI_MSI_DATA_32       0x08   /* 16 rw, 32-bit layout */
#define PCI_MSI_DATA_64       0x0C   /* 16 rw, 64-bit layout */
#define PCI_MSI_MASK_32       0x0C   /* 32 rw, 32-bit layout with MASKBIT */
#define PCI_MSI_MASK_64       0x10   /* 32 rw, 64-bit layout with MASKBIT */

/* MSI-X capability (PCI 3.0 6.8.2). */
#define PCI_MSIX_FLAGS         0x02   /* 16 rw: message control */
#define PCI_MSIX_FLAGS_QSIZE   0x07FF /* ro: table size - 1 */
#define PCI_MSIX_FLAGS_MASKALL 0x4000 /* rw: function mask (all vectors) */
#define PCI_MSIX_FLAGS_ENABLE  0x8000 /* rw */
#define PCI_MSIX_TABLE         0x04   /* 32 ro: table offset (31:3) | BIR (2:0) */
#define PCI_MSIX_PBA           0x08   /* 32 ro: PBA offset (31:3) | BIR (2:0) */
#define PCI_MSIX_BIR_MASK      0x7u
#define PCI_MSIX_OFFSET_MASK   0xFFFFFFF8u

/* MSI-X table entry in memory space (PCI 3.0 6.8.2.6-9): 16 bytes each. */
#define PCI_MSIX_ENTRY_SIZE         16
#define PCI_MSIX_ENTRY_ADDR_LO      0x0 /* 32 rw */
#define PCI_MSIX_ENTRY_ADDR_HI      0x4 /* 32 rw */
#define PCI_MSIX_ENTRY_DATA         0x8 /* 32 rw */
#define PCI_MSIX_ENTRY_CTRL         0xC /* 32 rw */
#define PCI_MSIX_ENTRY_CTRL_MASKBIT 0x1

/* Class codes (PCI Code and ID Assignment 1.11, ch. 1): base << 8 | sub. */
#define PCI_CLASS_STORAGE_SCSI     0x0100
#define PCI_CLASS_STORAGE_IDE      0x0101
#define PCI_CLASS_STORAGE_SATA     0x0106
#define PCI_CLASS_STORAGE_NVM      0x0108
#define PCI_CLASS_NETWORK_ETHERNET 0x0200
#define PCI_CLASS_DISPLAY_VGA      0x0300
#define PCI_CLASS_BRIDGE_HOST      0x0600
#define PCI_CLASS_BRIDGE_ISA       0x0601
#define PCI_CLASS_BRIDGE_PCI       0x0604

#endif
