/*
 * virtio-net wire layout (virtio 1.2 spec, 5.1): feature bits, the device
 * configuration, the per-packet header and control-queue commands.
 * Includes only <stdint.h>/<stddef.h>, for the host tests.
 */
#ifndef DRIVERS_VIRTIO_NET_REGS_H
#define DRIVERS_VIRTIO_NET_REGS_H

#include <stddef.h>
#include <stdint.h>

/* clang-format off */
/* Feature bits (5.1.3). */
#define VIRTIO_NET_F_CSUM 0            /* device completes partial checksums we send */
#define VIRTIO_NET_F_GUEST_CSUM 1      /* device may hand us partial / validated checksums */
#define VIRTIO_NET_F_CTRL_GUEST_OFFLOADS 2
#define VIRTIO_NET_F_MTU 3             /* config.mtu is valid */
#define VIRTIO_NET_F_MAC 5             /* config.mac is valid */
#define VIRTIO_NET_F_GUEST_TSO4 7      /* device may hand us TCP/IPv4 frames of up to 64 KiB (GSO) */
#define VIRTIO_NET_F_GUEST_TSO6 8      /* ... and TCP/IPv6 */
#define VIRTIO_NET_F_GUEST_ECN 9       /* ... with ECN (CWR) set: not offered (docs/rx.md) */
#define VIRTIO_NET_F_GUEST_UFO 10      /* never offered: UDP datagrams of 64 KiB */
#define VIRTIO_NET_F_HOST_TSO4 11      /* device cuts TCP/IPv4 frames we send (needs CSUM) */
#define VIRTIO_NET_F_HOST_TSO6 12      /* ... TCP/IPv6 */
#define VIRTIO_NET_F_MRG_RXBUF 15      /* a frame may span several receive buffers */
#define VIRTIO_NET_F_STATUS 16         /* config.status is valid (link state) */
#define VIRTIO_NET_F_CTRL_VQ 17        /* there is a control queue */
#define VIRTIO_NET_F_CTRL_RX 18        /* ...that takes promiscuous/all-multicast commands */
#define VIRTIO_NET_F_CTRL_VLAN 19
#define VIRTIO_NET_F_GUEST_ANNOUNCE 21 /* the device asks us to announce ourselves (migration) */
#define VIRTIO_NET_F_MQ 22
#define VIRTIO_NET_F_CTRL_MAC_ADDR 23

/* Device configuration (5.1.4). */
#define VIRTIO_NET_CFG_MAC 0        /* u8[6] */
#define VIRTIO_NET_CFG_STATUS 6     /* le16 */
#define   VIRTIO_NET_S_LINK_UP 1
#define   VIRTIO_NET_S_ANNOUNCE 2
#define VIRTIO_NET_CFG_MAX_VQ_PAIRS 8 /* le16 */
#define VIRTIO_NET_CFG_MTU 10       /* le16 */

/* The header in front of every frame, both ways (5.1.6). */
struct virtio_net_hdr {
    uint8_t flags;
    uint8_t gso_type;
    uint16_t hdr_len;
    uint16_t gso_size;
    uint16_t csum_start;  /* checksum from this offset to the end... */
    uint16_t csum_offset; /* ...stored this far after csum_start */
    uint16_t num_buffers; /* receive, with MRG_RXBUF or VERSION_1: buffers this frame spans */
};
_Static_assert(sizeof(struct virtio_net_hdr) == 12, "virtio 5.1.6");
/* Legacy devices without MRG_RXBUF use the header without num_buffers. */
#define VIRTIO_NET_HDR_LEGACY_LEN 10

#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1 /* csum_start/csum_offset are valid: complete the checksum */
#define VIRTIO_NET_HDR_F_DATA_VALID 2 /* receive: the checksum was verified */
#define VIRTIO_NET_HDR_GSO_NONE 0
#define VIRTIO_NET_HDR_GSO_TCPV4 1    /* gso_type: a TCP/IPv4 segment longer than gso_size */
#define VIRTIO_NET_HDR_GSO_UDP 3
#define VIRTIO_NET_HDR_GSO_TCPV6 4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#define VIRTIO_NET_HDR_GSO_ECN 0x80   /* or-ed in: the segment has CWR set */

/* Control queue (5.1.6.5). */
struct virtio_net_ctrl_hdr {
    uint8_t class;
    uint8_t cmd;
};
#define VIRTIO_NET_CTRL_RX 0
#define   VIRTIO_NET_CTRL_RX_PROMISC 0
#define   VIRTIO_NET_CTRL_RX_ALLMULTI 1
#define VIRTIO_NET_CTRL_ANNOUNCE 3
#define   VIRTIO_NET_CTRL_ANNOUNCE_ACK 0
#define VIRTIO_NET_OK 0
#define VIRTIO_NET_ERR 1

/* clang-format on */
#endif
