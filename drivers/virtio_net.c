/*
 * virtio-net driver (virtio 1.2 spec 5.1), glued into lwIP as a netif.
 *
 * Its shape follows Linux's drivers/net/virtio_net.c (see docs/ for the
 * function-by-function map):
 *   vnet_probe       ~ virtnet_probe + init_vqs: features, MAC/MTU, queues
 *   vnet_fill_rx     ~ try_fill_recv: post empty buffers to the receive queue
 *   vnet_rx_irq      ~ skb_recv_done: suppress interrupts, schedule the poll
 *   vnet_poll        ~ virtnet_poll: receive with a budget, then re-enable
 *                      interrupts and re-check (virtqueue_napi_complete)
 *   vnet_receive_one ~ receive_buf / receive_mergeable: buffers -> pbuf chain
 *   vnet_linkoutput  ~ start_xmit + xmit_skb: pbuf chain -> descriptor chain
 *   vnet_reclaim_tx  ~ free_old_xmit_skbs
 *
 * No copies on the data path: a received frame is a chain of pbuf_custom
 * pointing into the receive buffers, which go back to the pool (and then to
 * the device) when lwIP frees them; a frame to send is the virtio-net header
 * plus one descriptor per pbuf, the pbufs referenced until the device is done.
 */
#include "drivers/virtio_net.h"
#include "arch/x86_64/dma.h"
#include "arch/x86_64/io.h"
#include "arch/x86_64/timer.h"
#include "drivers/virtio.h"
#include "drivers/virtio_net_regs.h"
#include "drivers/virtio_pci_regs.h"
#include "drivers/virtio_ring.h"
#include "lib/klog.h"
#include "lib/prof.h"
#include "net/lwip_port.h"
#include "lwip/etharp.h"
#include "lwip/ethip6.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/prot/ethernet.h"
#include "lwip/prot/ip.h"
#include "lwip/prot/ip4.h"
#include "lwip/prot/ip6.h"
#include "lwip/snmp.h"
#include "netif/ethernet.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RXQ   0
#define TXQ   1
#define CTRLQ 2

#define RX_BUF_SIZE  2048 /* one buffer per descriptor; mergeable frames span several */
#define RX_MAX_MERGE 64   /* more num_buffers than this is a device bug */
/* The most receive buffers lwIP may hold at once, as a fraction of the pool
 * (docs/budget.md): 1/4 of 512 = 128. Beyond it a frame is copied into lwIP
 * memory and its buffer goes straight back, so the free list plus the ring
 * always hold 3/4 of the pool: the ring (1/2) can always be refilled. */
#define RX_LEND_DIV   4
#define TX_MAX_SEGS   32           /* pbufs in one frame; longer chains are copied */
#define TX_WAIT_NS    500000000ull /* how long a full transmit ring may block a send */
#define CTRL_WAIT_NS  1000000000ull
#define ETH_MAX_FRAME (SIZEOF_ETH_HDR + 4 /* VLAN tag */)

/* lwIP's "check" half of the per-netif checksum flags. */
#define NETIF_CHECK_ALL                                                                                      \
    (NETIF_CHECKSUM_CHECK_IP | NETIF_CHECKSUM_CHECK_UDP | NETIF_CHECKSUM_CHECK_TCP |                         \
     NETIF_CHECKSUM_CHECK_ICMP | NETIF_CHECKSUM_CHECK_ICMP6)

/* One receive buffer: a pbuf_custom whose memory is the DMA buffer. */
struct vnet_rxbuf {
    struct pbuf_custom pc; /* first: lwIP's free callback gets this pointer */
    struct vnet *vn;
    struct vnet_rxbuf *next_free;
    uint8_t *data;
};

/* One frame in the transmit queue: its pbuf chain and its header. */
struct vnet_txslot {
    struct pbuf *p;
    struct vnet_txslot *next_free;
    struct virtio_net_hdr *hdr; /* DMA memory */
};

struct vnet_ctrl_buf {
    struct virtio_net_ctrl_hdr hdr;
    uint8_t data[8];
    uint8_t ack;
};

struct vnet {
    struct virtio_device *vdev;
    struct netif *netif;
    struct vring *vq[3];
    unsigned nvqs;
    unsigned hdr_len;
    bool mrg_rxbuf, csum_tx, guest_csum, has_status;
    unsigned mtu;
    unsigned rx_bufsize;
    uint8_t mac[6];
    bool link_up;

    struct vnet_rxbuf *rxbufs;
    unsigned n_rxbufs;
    struct vnet_rxbuf *rx_free;
    unsigned rx_free_count;
    unsigned rx_lend_max; /* n_rxbufs / RX_LEND_DIV */

    struct vnet_txslot *txslots;
    struct vnet_txslot *tx_free;
    unsigned tx_inflight;
    bool tx_needs_kick;

    struct vnet_ctrl_buf *ctrl;

    /* Set from interrupt handlers, cleared by the main loop. */
    volatile bool rx_pending, tx_pending, config_pending;

    uint64_t wd_last_completed;
    uint64_t wd_stalled_since;
    struct vnet_stats st;
};

static struct vnet *first_vnet;

static const char *const feature_names[64] = {
    [VIRTIO_NET_F_CSUM] = "CSUM",
    [VIRTIO_NET_F_GUEST_CSUM] = "GUEST_CSUM",
    [VIRTIO_NET_F_MTU] = "MTU",
    [VIRTIO_NET_F_MAC] = "MAC",
    [VIRTIO_NET_F_MRG_RXBUF] = "MRG_RXBUF",
    [VIRTIO_NET_F_STATUS] = "STATUS",
    [VIRTIO_NET_F_CTRL_VQ] = "CTRL_VQ",
    [VIRTIO_NET_F_CTRL_RX] = "CTRL_RX",
    [VIRTIO_NET_F_GUEST_ANNOUNCE] = "GUEST_ANNOUNCE",
    [VIRTIO_F_ANY_LAYOUT] = "ANY_LAYOUT",
    [VIRTIO_RING_F_INDIRECT_DESC] = "INDIRECT_DESC",
    [VIRTIO_RING_F_EVENT_IDX] = "EVENT_IDX",
    [VIRTIO_F_VERSION_1] = "VERSION_1",
};

static struct klog_ratelimit rx_drop_rl = KLOG_RATELIMIT_INIT(1000, 5);
static struct klog_ratelimit tx_rl = KLOG_RATELIMIT_INIT(5000, 2);

struct vnet *vnet_first(void)
{
    return first_vnet;
}

/* ------------------------------------------------------------------ checksums */

/* Ones'-complement sum of @len bytes of @p from @off (RFC 1071), across pbufs. */
static uint32_t csum_pbuf(const struct pbuf *p, unsigned off, unsigned len)
{
    uint32_t sum = 0;
    bool odd = false; /* the next byte is the low half of a 16-bit word */
    for (; p && len; p = p->next) {
        if (off >= p->len) {
            off -= p->len;
            continue;
        }
        const uint8_t *b = (const uint8_t *)p->payload + off;
        unsigned n = p->len - off < len ? p->len - off : len;
        for (unsigned i = 0; i < n; i++) {
            sum += odd ? b[i] : (uint32_t)b[i] << 8;
            odd = !odd;
        }
        len -= n;
        off = 0;
    }
    return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xFFFF) + (sum >> 16);
    return (uint16_t)sum;
}

/* Store a 16-bit big-endian value at @off, even across a pbuf boundary. */
static void pbuf_put_be16(struct pbuf *p, unsigned off, uint16_t v)
{
    pbuf_put_at(p, (u16_t)off, (u8_t)(v >> 8));
    pbuf_put_at(p, (u16_t)(off + 1), (u8_t)v);
}

/*
 * Finish a partial checksum (NEEDS_CSUM): the field at @start + @offset
 * already holds the pseudo-header sum; sum everything from @start to the end
 * and store the complement there (5.1.6.2, the driver side of what the device
 * would have done). Return: false if the offsets lie outside the frame.
 */
static bool csum_offsets_ok(const struct pbuf *p, unsigned start, unsigned offset)
{
    return start < p->tot_len && offset + 2 <= p->tot_len - start;
}

static bool csum_complete(struct pbuf *p, unsigned start, unsigned offset)
{
    if (!csum_offsets_ok(p, start, offset))
        return false;
    uint16_t sum = csum_fold(csum_pbuf(p, start, p->tot_len - start));
    pbuf_put_be16(p, start + offset, (uint16_t)~sum);
    return true;
}

/*
 * Prepare a frame for checksum offload: find the TCP header, put the
 * pseudo-header sum in its checksum field and say where it is (5.1.6.2).
 * lwIP left the field zero (NETIF_CHECKSUM_GEN_TCP is off on this netif).
 * Return: true if the header now asks the device for the checksum.
 */
static bool tx_csum_setup(struct pbuf *p, struct virtio_net_hdr *hdr)
{
    uint8_t eth[SIZEOF_ETH_HDR];
    if (pbuf_copy_partial(p, eth, sizeof(eth), 0) != sizeof(eth))
        return false;
    uint16_t type = (uint16_t)(eth[12] << 8 | eth[13]);
    unsigned l3 = SIZEOF_ETH_HDR, l4, l4_len, proto;
    uint32_t sum = 0;

    if (type == ETHTYPE_IP) {
        uint8_t ip[20];
        if (pbuf_copy_partial(p, ip, sizeof(ip), (u16_t)l3) != sizeof(ip))
            return false;
        unsigned ihl = (ip[0] & 0xF) * 4u, tot = (unsigned)(ip[2] << 8 | ip[3]);
        if ((ip[6] & 0x3F) || ip[7]) /* a fragment: no L4 header to offload */
            return false;
        if (ihl < 20 || tot < ihl || l3 + tot > p->tot_len)
            return false;
        proto = ip[9];
        l4 = l3 + ihl;
        l4_len = tot - ihl;
        sum = csum_pbuf(p, l3 + 12, 8) + proto + l4_len; /* src, dst, protocol, length */
    } else if (type == ETHTYPE_IPV6) {
        uint8_t ip6[40];
        if (pbuf_copy_partial(p, ip6, sizeof(ip6), (u16_t)l3) != sizeof(ip6))
            return false;
        proto = ip6[6]; /* only frames without extension headers */
        l4 = l3 + 40;
        l4_len = (unsigned)(ip6[4] << 8 | ip6[5]);
        if (l4 + l4_len > p->tot_len)
            return false;
        sum = csum_pbuf(p, l3 + 8, 32) + proto + l4_len;
    } else {
        return false;
    }
    /* Only TCP: lwIP never fragments a TCP segment, so the whole segment is
     * here. UDP datagrams can be fragmented, and a fragment cannot be
     * checksummed alone, so lwIP keeps computing UDP checksums itself. */
    const unsigned field = 16; /* TCP checksum offset (RFC 9293 3.1) */
    if (proto != IP_PROTO_TCP)
        return false;
    if (field + 2 > l4_len)
        return false;
    pbuf_put_be16(p, l4 + field, csum_fold(sum));
    hdr->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    hdr->csum_start = (uint16_t)l4;
    hdr->csum_offset = (uint16_t)field;
    return true;
}

/* ------------------------------------------------------------------ receive */

/* lwIP is done with a received pbuf: the buffer goes back to the pool. */
static void vnet_rxbuf_free(struct pbuf *p)
{
    struct vnet_rxbuf *b = (struct vnet_rxbuf *)p;
    struct vnet *vn = b->vn;
    b->next_free = vn->rx_free;
    vn->rx_free = b;
    vn->rx_free_count++;
}

/* try_fill_recv: post free buffers until the ring or the pool is empty. */
static void vnet_fill_rx(struct vnet *vn)
{
    struct vring *rx = vn->vq[RXQ];
    unsigned added = 0;
    while (vn->rx_free && vring_num_free(rx) > 0) {
        struct vnet_rxbuf *b = vn->rx_free;
        struct vring_seg seg = {b->data, vn->rx_bufsize};
        if (vring_add(rx, &seg, 0, 1, b) < 0)
            break;
        vn->rx_free = b->next_free;
        vn->rx_free_count--;
        added++;
    }
    if (added) {
        vn->st.rx_refills++;
        vring_kick(rx);
    } else if (!vn->rx_free) {
        vn->st.rx_refill_empty++;
    }
}

static void rx_drop(uint64_t *counter, const char *why, struct pbuf *chain)
{
    (*counter)++;
    if (klog_ratelimit(&rx_drop_rl))
        klog(LOG_WARN, "virtio-net: dropped a received frame: %s", why);
    if (chain)
        pbuf_free(chain);
}

/* Buffers lwIP holds: neither free nor posted to the device (one descriptor each). */
static unsigned vnet_rx_lent(const struct vnet *vn)
{
    struct vring *rx = vn->vq[RXQ];
    return vn->n_rxbufs - vn->rx_free_count - (vring_num(rx) - vring_num_free(rx));
}

/* Wrap one used buffer as a pbuf of @len bytes starting at @skip. */
static struct pbuf *rxbuf_pbuf(struct vnet *vn, struct vnet_rxbuf *b, unsigned skip, unsigned len)
{
    b->pc.custom_free_function = vnet_rxbuf_free;
    return pbuf_alloced_custom(PBUF_RAW, (u16_t)len, PBUF_REF, &b->pc, b->data + skip,
                               (u16_t)(vn->rx_bufsize - skip));
}

/* receive_buf: the next frame from the used ring into lwIP. Return: false when none. */
static bool vnet_receive_one(struct vnet *vn)
{
    struct vring *rx = vn->vq[RXQ];
    uint32_t len;
    struct vnet_rxbuf *b = vring_get_used(rx, &len);
    if (!b)
        return false;

    if (len < vn->hdr_len + SIZEOF_ETH_HDR || len > vn->rx_bufsize) {
        struct pbuf *p = rxbuf_pbuf(vn, b, 0, 0);
        rx_drop(&vn->st.rx_drop_short, "shorter than the headers", p);
        return true;
    }
    struct virtio_net_hdr hdr;
    memset(&hdr, 0, sizeof(hdr));
    memcpy(&hdr, b->data, vn->hdr_len);
    unsigned nbufs = vn->mrg_rxbuf ? hdr.num_buffers : 1;

    struct pbuf *head = rxbuf_pbuf(vn, b, vn->hdr_len, len - vn->hdr_len);
    if (nbufs == 0 || nbufs > RX_MAX_MERGE) {
        rx_drop(&vn->st.rx_drop_bad_merge, "bad num_buffers", head);
        return true;
    }
    /* Mergeable buffers: the rest of the frame is in the next used buffers.
     * The length is added up in 32 bits: lwIP's tot_len is 16 bits and
     * would wrap on a frame the device made too long. */
    uint32_t total = len - vn->hdr_len;
    for (unsigned i = 1; i < nbufs; i++) {
        struct vnet_rxbuf *nb = vring_get_used(rx, &len);
        if (!nb) {
            rx_drop(&vn->st.rx_drop_bad_merge, "merge buffers missing", head);
            return true;
        }
        if (len == 0 || len > vn->rx_bufsize || total + len > vn->mtu + ETH_MAX_FRAME) {
            /* Take back every buffer of the frame, then drop it. */
            pbuf_cat(head, rxbuf_pbuf(vn, nb, 0, 0));
            for (unsigned j = i + 1; j < nbufs; j++) {
                struct vnet_rxbuf *rest = vring_get_used(rx, &len);
                if (!rest)
                    break;
                pbuf_cat(head, rxbuf_pbuf(vn, rest, 0, 0));
            }
            rx_drop(len > vn->rx_bufsize || len == 0 ? &vn->st.rx_drop_bad_merge : &vn->st.rx_drop_oversize,
                    "bad merge buffer length or frame longer than the MTU", head);
            return true;
        }
        total += len;
        pbuf_cat(head, rxbuf_pbuf(vn, nb, 0, len));
    }
    if (nbufs > 1)
        vn->st.rx_merged++;
    if (total > vn->mtu + ETH_MAX_FRAME) {
        rx_drop(&vn->st.rx_drop_oversize, "longer than the MTU", head);
        return true;
    }

    /*
     * Checksums (5.1.6.4). NEEDS_CSUM: the frame never crossed a wire (a
     * sender on the host left the checksum to "hardware"), so its data is
     * as good as verified; Linux marks it CHECKSUM_PARTIAL and checks
     * nothing. TCP data ends with us, so a TCP checksum (the field 16 bytes
     * into the header) is left unfinished: summing every received byte was
     * a whole pass over the payload per frame. Anything else is finished, as
     * the device would have done, because lwIP may reuse the field (an ICMP
     * echo reply adjusts the request's checksum). DATA_VALID: trusted.
     */
    bool l4_ok = false;
    if (vn->guest_csum && (hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
        bool tcp = hdr.csum_offset == 16;
        if (tcp ? !csum_offsets_ok(head, hdr.csum_start, hdr.csum_offset)
                : !csum_complete(head, hdr.csum_start, hdr.csum_offset)) {
            rx_drop(&vn->st.rx_drop_short, "checksum offsets outside the frame", head);
            return true;
        }
        if (tcp)
            vn->st.rx_csum_partial++;
        else
            vn->st.rx_csum_completed++;
        l4_ok = true;
    } else if (vn->guest_csum && (hdr.flags & VIRTIO_NET_HDR_F_DATA_VALID)) {
        vn->st.rx_csum_valid++;
        l4_ok = true;
    }
    /* lwIP checks checksums per netif; input is synchronous, so set the
     * flags for this one frame. The IP header checksum is always checked. */
    struct netif *nif = vn->netif;
    uint16_t flags = nif->chksum_flags | NETIF_CHECK_ALL;
    if (l4_ok)
        flags &= (uint16_t) ~(NETIF_CHECKSUM_CHECK_TCP | NETIF_CHECKSUM_CHECK_UDP);
    NETIF_SET_CHECKSUM_CTRL(nif, flags);

    /* Receive buffers belong to the NIC: if lwIP already holds its share
     * (out-of-order queues, reassembly, anything an app has not taken),
     * this frame may be held too, so it goes into lwIP's own memory and its
     * buffers go back to the pool now. If lwIP has no memory for the copy,
     * the frame is dropped (TCP retransmits), never the ring. */
    if (vnet_rx_lent(vn) > vn->rx_lend_max) {
        struct pbuf *copy = pbuf_alloc(PBUF_RAW, head->tot_len, PBUF_RAM);
        if (!copy) {
            rx_drop(&vn->st.rx_drop_copy_nomem, "no lwIP memory to copy it out of the receive pool", head);
            return true;
        }
        pbuf_copy(copy, head);
        pbuf_free(head);
        head = copy;
        vn->st.rx_copied++;
    }

    vn->st.rx_packets++;
    vn->st.rx_bytes += head->tot_len;
    if (nif->input(head, nif) != ERR_OK)
        rx_drop(&vn->st.rx_drop_nomem, "lwIP refused it", head);
    return true;
}

/* ------------------------------------------------------------------ transmit */

/* free_old_xmit_skbs: take back what the device has sent. */
static void vnet_reclaim_tx(struct vnet *vn)
{
    uint32_t len;
    struct vnet_txslot *s;
    while ((s = vring_get_used(vn->vq[TXQ], &len)) != NULL) {
        pbuf_free(s->p);
        s->p = NULL;
        s->next_free = vn->tx_free;
        vn->tx_free = s;
        vn->tx_inflight--;
        vn->st.tx_completed++;
    }
}

static void vnet_kick_tx(struct vnet *vn)
{
    if (vn->tx_needs_kick) {
        uint64_t t0 = cycles_now();
        vring_kick(vn->vq[TXQ]);
        vn->tx_needs_kick = false;
        prof_add(PROF_TX_KICK, cycles_now() - t0);
    }
}

/* A full ring waits for the device instead of dropping (bounded); room for
 * a chain of @nsegs, whose cost changes as indirect tables come back. */
static bool vnet_wait_tx_room(struct vnet *vn, unsigned nsegs)
{
    uint64_t deadline = clock_ns() + TX_WAIT_NS;
    vn->st.tx_ring_full_waits++;
    vn->tx_needs_kick = true;
    vnet_kick_tx(vn);
    do {
        vnet_reclaim_tx(vn);
        if (vn->tx_free && vring_num_free(vn->vq[TXQ]) >= vring_add_cost(vn->vq[TXQ], nsegs))
            return true;
        if (vring_is_broken(vn->vq[TXQ]))
            return false;
        cpu_relax();
    } while (clock_ns() < deadline);
    return false;
}

/* start_xmit + xmit_skb: lwIP's linkoutput. */
static err_t vnet_linkoutput(struct netif *netif, struct pbuf *p)
{
    struct vnet *vn = netif->state;
    struct vring *tx = vn->vq[TXQ];
    struct vring_seg segs[1 + TX_MAX_SEGS];
    struct pbuf *copy = NULL;
    unsigned n = 0;

    vnet_reclaim_tx(vn);

    for (struct pbuf *q = p; q; q = q->next)
        n += q->len != 0;
    if (n > TX_MAX_SEGS) {
        /* Rare (lwIP's chains are short): one copy rather than failing. */
        copy = pbuf_clone(PBUF_RAW, PBUF_RAM, p);
        if (!copy) {
            vn->st.tx_drop_too_many_segs++;
            return ERR_MEM;
        }
        p = copy;
        n = 1;
    }
    /* The header and n pbufs: one slot in an indirect table, else 1 + n. */
    unsigned descs = vring_add_cost(tx, n + 1);
    if ((!vn->tx_free || vring_num_free(tx) < descs) && !vnet_wait_tx_room(vn, n + 1)) {
        vn->st.tx_drop_ring_full++;
        if (klog_ratelimit(&tx_rl))
            klog(LOG_WARN, "virtio-net: transmit ring stayed full for %llu ms; frame dropped",
                 TX_WAIT_NS / 1000000ull);
        if (copy)
            pbuf_free(copy);
        return ERR_MEM;
    }

    struct vnet_txslot *s = vn->tx_free;
    memset(s->hdr, 0, sizeof(*s->hdr));
    if (vn->csum_tx && tx_csum_setup(p, s->hdr))
        vn->st.tx_csum_offload++;
    segs[0].addr = s->hdr;
    segs[0].len = vn->hdr_len;
    unsigned k = 1;
    for (struct pbuf *q = p; q; q = q->next) {
        if (q->len == 0)
            continue;
        segs[k].addr = q->payload;
        segs[k].len = q->len;
        k++;
    }
    int err = vring_add(tx, segs, k, 0, s);
    if (err < 0) {
        if (copy)
            pbuf_free(copy);
        vn->st.tx_drop_ring_full++;
        return err == -EIO ? ERR_IF : ERR_MEM;
    }
    vn->tx_free = s->next_free;
    if (!copy)
        pbuf_ref(p); /* the device reads it until vnet_reclaim_tx() */
    s->p = p;
    vn->tx_inflight++;
    vn->st.tx_packets++;
    vn->st.tx_bytes += p->tot_len;
    vn->st.tx_segments += k - 1;
    vn->tx_needs_kick = true;
    /* One kick per batch: the main loop kicks after lwIP is done; a nearly
     * full ring is kicked now so the device can start draining it. */
    if (vring_num_free(tx) < vring_num(tx) / 4)
        vnet_kick_tx(vn);
    return ERR_OK;
}

/* ------------------------------------------------------------------ control queue */

static int vnet_ctrl_cmd(struct vnet *vn, uint8_t class, uint8_t cmd, const void *data, unsigned len)
{
    struct vring *cq = vn->vq[CTRLQ];
    if (!cq || len > sizeof(vn->ctrl->data))
        return -ENOTSUP;
    vn->ctrl->hdr.class = class;
    vn->ctrl->hdr.cmd = cmd;
    memcpy(vn->ctrl->data, data, len);
    vn->ctrl->ack = 0xFF;
    struct vring_seg segs[3] = {
        {&vn->ctrl->hdr, sizeof(vn->ctrl->hdr)},
        {vn->ctrl->data, len},
        {&vn->ctrl->ack, 1},
    };
    unsigned nout = len ? 2 : 1;
    if (!len)
        segs[1] = segs[2];
    if (vring_add(cq, segs, nout, 1, vn->ctrl) < 0)
        return -EIO;
    vring_kick(cq);
    /* The control queue is synchronous, as in Linux's virtnet_send_command. */
    uint64_t deadline = clock_ns() + CTRL_WAIT_NS;
    uint32_t used_len;
    while (!vring_get_used(cq, &used_len)) {
        if (clock_ns() > deadline || vring_is_broken(cq)) {
            klog(LOG_WARN, "virtio-net: control command %u.%u got no answer", class, cmd);
            vn->st.ctrl_err++;
            return -ETIMEDOUT;
        }
        cpu_relax();
    }
    if (vn->ctrl->ack != VIRTIO_NET_OK) {
        vn->st.ctrl_err++;
        return -EIO;
    }
    vn->st.ctrl_ok++;
    return 0;
}

/* ------------------------------------------------------------------ link and config */

static bool vnet_read_link(struct vnet *vn, uint16_t *status)
{
    if (!vn->has_status) {
        *status = VIRTIO_NET_S_LINK_UP;
        return true;
    }
    virtio_read_config(vn->vdev, VIRTIO_NET_CFG_STATUS, status, 2);
    return (*status & VIRTIO_NET_S_LINK_UP) != 0;
}

/* virtnet_config_changed_work: runs in the main loop, lwIP may be called. */
static void vnet_config_work(struct vnet *vn)
{
    uint16_t status;
    bool up = vnet_read_link(vn, &status);
    if (up != vn->link_up) {
        vn->link_up = up;
        vn->st.link_changes++;
        klog(LOG_INFO, "virtio-net: link %s", up ? "up" : "down");
        if (vn->netif) {
            if (up)
                netif_set_link_up(vn->netif); /* also announces: gratuitous ARP, IPv6 MLD/NS */
            else
                netif_set_link_down(vn->netif);
        }
    }
    if ((status & VIRTIO_NET_S_ANNOUNCE) && virtio_has_feature(vn->vdev, VIRTIO_NET_F_GUEST_ANNOUNCE)) {
        vn->st.announces++;
        if (vn->netif && netif_is_up(vn->netif) && netif_is_link_up(vn->netif))
            etharp_gratuitous(vn->netif);
        vnet_ctrl_cmd(vn, VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK, NULL, 0);
        klog(LOG_INFO, "virtio-net: announced ourselves at the device's request");
    }
}

/* ------------------------------------------------------------------ interrupts and poll */

/* skb_recv_done: no more interrupts until the poll has drained the ring. */
static void vnet_rx_irq(struct vring *vr, void *ctx)
{
    struct vnet *vn = ctx;
    vring_disable_cb(vr);
    vn->rx_pending = true;
}

static void vnet_tx_irq(struct vring *vr, void *ctx)
{
    struct vnet *vn = ctx;
    vring_disable_cb(vr);
    vn->tx_pending = true;
}

static void vnet_config_irq(struct virtio_device *vdev, void *ctx)
{
    (void)vdev;
    struct vnet *vn = ctx;
    vn->config_pending = true;
}

void vnet_flush(struct vnet *vn)
{
    vnet_kick_tx(vn);
}

bool vnet_has_work(const struct vnet *vn)
{
    return vn->rx_pending || vn->tx_pending || vn->config_pending || vn->tx_needs_kick;
}

bool vnet_poll(struct vnet *vn, unsigned budget)
{
    struct vring *rx = vn->vq[RXQ], *tx = vn->vq[TXQ];
    unsigned done = 0;

    vn->st.rx_polls++;
    vn->rx_pending = false;
    vn->tx_pending = false;
    if (vn->config_pending) {
        vn->config_pending = false;
        vnet_config_work(vn);
    }
    while (done < budget && vnet_receive_one(vn))
        done++;
    /* Refill when half the ring is empty: fewer, larger batches. */
    if (vring_num_free(rx) >= vring_num(rx) / 2)
        vnet_fill_rx(vn);
    vnet_reclaim_tx(vn);
    vnet_kick_tx(vn);

    if (done == budget) {
        vn->st.rx_budget_exhausted++;
        return true;
    }
    /* virtqueue_napi_complete: re-enable, then look once more, because a
     * buffer used between our last look and the enable raised no interrupt. */
    unsigned last = vring_enable_cb_prepare(rx);
    if (vring_poll(rx, last)) {
        vring_disable_cb(rx);
        return true;
    }
    /* Transmit completions only matter while something is in flight;
     * ask to hear about them late (3/4 done), as Linux does for tx. */
    if (vn->tx_inflight && !vring_enable_cb_delayed(tx)) {
        vring_disable_cb(tx);
        return true;
    }
    return false;
}

void vnet_watchdog(struct vnet *vn)
{
    uint64_t now = clock_ns();
    if (vn->tx_inflight == 0 || vn->st.tx_completed != vn->wd_last_completed) {
        vn->wd_last_completed = vn->st.tx_completed;
        vn->wd_stalled_since = now;
        return;
    }
    if (now - vn->wd_stalled_since < 1000000000ull)
        return;
    /* The device has held buffers for a second with no completion: maybe a
     * notification was lost. Kick again and say what the ring looks like,
     * so the log tells a lost kick (device's used idx stuck) from a driver
     * bug (used idx moved but we did not reclaim). */
    struct vring_state s;
    vring_get_state(vn->vq[TXQ], &s);
    vn->st.tx_watchdog_kicks++;
    if (klog_ratelimit(&tx_rl))
        klog(LOG_WARN,
             "virtio-net: tx watchdog: %u frames in flight for 1 s; avail %u used %u last seen %u, kicks "
             "%llu: "
             "re-kicking",
             s.in_flight, s.avail_idx, s.used_idx, s.last_used_idx,
             (unsigned long long)vn->st.tx_watchdog_kicks);
    vring_notify(vn->vq[TXQ]);
    vn->wd_stalled_since = now;
}

/* ------------------------------------------------------------------ netif */

static err_t vnet_netif_init(struct netif *netif)
{
    struct vnet *vn = netif->state;
    netif->name[0] = 'e';
    netif->name[1] = 'n';
    netif->hwaddr_len = ETH_HWADDR_LEN;
    memcpy(netif->hwaddr, vn->mac, ETH_HWADDR_LEN);
    netif->mtu = (u16_t)vn->mtu;
    netif->mtu6 = (u16_t)vn->mtu;
    netif->flags =
        NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_IGMP | NETIF_FLAG_MLD6;
    netif->output = etharp_output;
    netif->output_ip6 = ethip6_output;
    netif->linkoutput = vnet_linkoutput;
    /* With CSUM, the device completes the TCP checksums we send (UDP: see tx_csum_setup). */
    uint16_t flags = NETIF_CHECKSUM_ENABLE_ALL;
    if (vn->csum_tx)
        flags &= (uint16_t)~NETIF_CHECKSUM_GEN_TCP;
    NETIF_SET_CHECKSUM_CTRL(netif, flags);
    return ERR_OK;
}

int vnet_netif_add(struct vnet *vn, struct netif *netif)
{
    vn->netif = netif;
    if (!netif_add(netif, NULL, NULL, NULL, vn, vnet_netif_init, ethernet_input))
        return -EIO;
    if (vn->link_up)
        netif_set_link_up(netif);
    return 0;
}

/* ------------------------------------------------------------------ probe */

static int vnet_alloc_buffers(struct vnet *vn)
{
    /* Twice the ring: buffers lent to lwIP (queued TCP data, reassembly)
     * must not leave the ring empty. */
    unsigned num = vring_num(vn->vq[RXQ]);
    vn->n_rxbufs = 2 * num;
    vn->rxbufs = calloc(vn->n_rxbufs, sizeof(*vn->rxbufs));
    uint64_t phys;
    uint8_t *mem = dma_alloc((size_t)vn->n_rxbufs * vn->rx_bufsize, &phys);
    if (!vn->rxbufs || !mem)
        return -ENOMEM;
    for (unsigned i = 0; i < vn->n_rxbufs; i++) {
        struct vnet_rxbuf *b = &vn->rxbufs[i];
        b->vn = vn;
        b->data = mem + (size_t)i * vn->rx_bufsize;
        b->next_free = vn->rx_free;
        vn->rx_free = b;
    }
    vn->rx_free_count = vn->n_rxbufs;
    vn->rx_lend_max = vn->n_rxbufs / RX_LEND_DIV;

    unsigned tnum = vring_num(vn->vq[TXQ]);
    vn->txslots = calloc(tnum, sizeof(*vn->txslots));
    struct virtio_net_hdr *hdrs = dma_alloc(tnum * sizeof(*hdrs), &phys);
    if (!vn->txslots || !hdrs)
        return -ENOMEM;
    for (unsigned i = 0; i < tnum; i++) {
        vn->txslots[i].hdr = &hdrs[i];
        vn->txslots[i].next_free = vn->tx_free;
        vn->tx_free = &vn->txslots[i];
    }
    if (vn->vq[CTRLQ]) {
        vn->ctrl = dma_alloc(sizeof(*vn->ctrl), &phys);
        if (!vn->ctrl)
            return -ENOMEM;
    }
    return 0;
}

static int vnet_probe(struct virtio_device *vdev)
{
    const uint64_t wanted =
        (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_STATUS) | (1ull << VIRTIO_NET_F_MRG_RXBUF) |
        (1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_GUEST_CSUM) | (1ull << VIRTIO_NET_F_MTU) |
        (1ull << VIRTIO_NET_F_CTRL_VQ) | (1ull << VIRTIO_NET_F_CTRL_RX) |
        (1ull << VIRTIO_NET_F_GUEST_ANNOUNCE) | (1ull << VIRTIO_RING_F_INDIRECT_DESC) |
        (1ull << VIRTIO_RING_F_EVENT_IDX) | (1ull << VIRTIO_F_ANY_LAYOUT) | (1ull << VIRTIO_F_VERSION_1);
    int err;

    struct vnet *vn = calloc(1, sizeof(*vn));
    if (!vn)
        return -ENOMEM;
    vn->vdev = vdev;
    vdev->priv = vn;

    err = virtio_negotiate(vdev, wanted);
    if (err < 0)
        goto fail;
    virtio_log_features(vdev, feature_names);

    vn->mrg_rxbuf = virtio_has_feature(vdev, VIRTIO_NET_F_MRG_RXBUF);
    /* The header has num_buffers with MRG_RXBUF or in 1.x (5.1.6). */
    vn->hdr_len = vn->mrg_rxbuf || virtio_has_feature(vdev, VIRTIO_F_VERSION_1)
                      ? sizeof(struct virtio_net_hdr)
                      : VIRTIO_NET_HDR_LEGACY_LEN;
    vn->csum_tx = virtio_has_feature(vdev, VIRTIO_NET_F_CSUM);
    vn->guest_csum = virtio_has_feature(vdev, VIRTIO_NET_F_GUEST_CSUM);
    vn->has_status = virtio_has_feature(vdev, VIRTIO_NET_F_STATUS);

    if (virtio_has_feature(vdev, VIRTIO_NET_F_MAC)) {
        virtio_read_config(vdev, VIRTIO_NET_CFG_MAC, vn->mac, 6);
    } else {
        /* A random locally administered unicast address (IEEE 802 bit 1 set, bit 0 clear). */
        for (int i = 0; i < 6; i++)
            vn->mac[i] = (uint8_t)(lwip_port_rand() >> 8);
        vn->mac[0] = (uint8_t)((vn->mac[0] & 0xFE) | 0x02);
        klog(LOG_INFO, "virtio-net: device has no MAC; using a random one");
    }
    vn->mtu = 1500;
    if (virtio_has_feature(vdev, VIRTIO_NET_F_MTU)) {
        uint16_t mtu;
        virtio_read_config(vdev, VIRTIO_NET_CFG_MTU, &mtu, 2);
        if (mtu >= 68 && mtu <= 1500)
            vn->mtu = mtu;
        else
            klog(LOG_INFO, "virtio-net: device MTU %u; using %u", mtu, vn->mtu);
    }
    /* Without mergeable buffers every buffer must hold a whole frame. */
    vn->rx_bufsize = RX_BUF_SIZE;

    struct virtio_vq_info info[3] = {
        {"rx0", 0, vnet_rx_irq, vn},
        {"tx0", 0, vnet_tx_irq, vn},
        {"ctrl", 64, NULL, NULL},
    };
    vn->nvqs = virtio_has_feature(vdev, VIRTIO_NET_F_CTRL_VQ) ? 3 : 2;
    vdev->config_changed = vnet_config_irq;
    vdev->config_ctx = vn;
    err = virtio_setup_vqs(vdev, vn->nvqs, info, vn->vq);
    if (err < 0)
        goto fail;
    err = vnet_alloc_buffers(vn);
    if (err < 0) {
        virtio_fail(vdev, "out of memory for buffers");
        goto fail;
    }
    /* Buffers may be posted before DRIVER_OK, but the device is notified only after. */
    vring_disable_cb(vn->vq[TXQ]);
    virtio_ready(vdev);
    vnet_fill_rx(vn);

    if (virtio_has_feature(vdev, VIRTIO_NET_F_CTRL_RX)) {
        /* Out of promiscuous mode (QEMU starts in it), but take all
         * multicast: IPv6 neighbour discovery needs solicited-node groups. */
        uint8_t off = 0, on = 1;
        if (vnet_ctrl_cmd(vn, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &off, 1) == 0 &&
            vnet_ctrl_cmd(vn, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, &on, 1) == 0)
            klog(LOG_INFO, "virtio-net: receive filter: promiscuous off, all-multicast on");
    }
    uint16_t status;
    vn->link_up = vnet_read_link(vn, &status);
    klog(LOG_INFO,
         "virtio-net: MAC %02x:%02x:%02x:%02x:%02x:%02x, MTU %u, rx %u x %u-byte buffers%s, tx ring %u, "
         "header %u bytes, link %s",
         vn->mac[0], vn->mac[1], vn->mac[2], vn->mac[3], vn->mac[4], vn->mac[5], vn->mtu,
         vring_num(vn->vq[RXQ]), vn->rx_bufsize, vn->mrg_rxbuf ? " (mergeable)" : "", vring_num(vn->vq[TXQ]),
         vn->hdr_len, vn->link_up ? "up" : "down");
    if (!first_vnet)
        first_vnet = vn;
    return 0;

fail:
    vdev->priv = NULL;
    free(vn);
    return err;
}

static const struct virtio_driver vnet_driver = {
    .name = "virtio-net",
    .device_type = VIRTIO_ID_NET,
    .probe = vnet_probe,
};
VIRTIO_DRIVER(vnet_driver);

/* ------------------------------------------------------------------ stats */

void vnet_get_stats(const struct vnet *vn, struct vnet_stats *st)
{
    *st = vn->st;
    st->rx_pool_total = vn->n_rxbufs;
    st->rx_pool_free = vn->rx_free_count;
    st->rx_lent = vnet_rx_lent(vn);
    st->rx_posted = vn->n_rxbufs - vn->rx_free_count - st->rx_lent;
    st->rx_lend_max = vn->rx_lend_max;
}

unsigned vnet_num_queues(const struct vnet *vn)
{
    return vn->nvqs;
}

struct vring *vnet_queue(const struct vnet *vn, unsigned i)
{
    return i < vn->nvqs ? vn->vq[i] : NULL;
}

const char *vnet_queue_name(unsigned i)
{
    static const char *const names[] = {"rx0", "tx0", "ctrl"};
    return i < 3 ? names[i] : "?";
}

void vnet_dump(const struct vnet *vn)
{
    const struct vnet_stats *s = &vn->st;
    klog(LOG_INFO,
         "virtio-net: rx %llu pkts %llu bytes (merged %llu, csum partial %llu completed %llu valid %llu), "
         "drops: short %llu oversize %llu merge %llu nomem %llu copy-nomem %llu; copied %llu (lent %u, max "
         "%u); "
         "refills %llu (pool empty %llu), pool free %u/%u",
         (unsigned long long)s->rx_packets, (unsigned long long)s->rx_bytes, (unsigned long long)s->rx_merged,
         (unsigned long long)s->rx_csum_partial, (unsigned long long)s->rx_csum_completed,
         (unsigned long long)s->rx_csum_valid, (unsigned long long)s->rx_drop_short,
         (unsigned long long)s->rx_drop_oversize, (unsigned long long)s->rx_drop_bad_merge,
         (unsigned long long)s->rx_drop_nomem, (unsigned long long)s->rx_drop_copy_nomem,
         (unsigned long long)s->rx_copied, vnet_rx_lent(vn), vn->rx_lend_max,
         (unsigned long long)s->rx_refills, (unsigned long long)s->rx_refill_empty, vn->rx_free_count,
         vn->n_rxbufs);
    klog(LOG_INFO,
         "virtio-net: tx %llu pkts %llu bytes %llu segs (csum offload %llu), completed %llu, in flight %u, "
         "ring-full waits %llu drops %llu, watchdog kicks %llu",
         (unsigned long long)s->tx_packets, (unsigned long long)s->tx_bytes,
         (unsigned long long)s->tx_segments, (unsigned long long)s->tx_csum_offload,
         (unsigned long long)s->tx_completed, vn->tx_inflight, (unsigned long long)s->tx_ring_full_waits,
         (unsigned long long)s->tx_drop_ring_full, (unsigned long long)s->tx_watchdog_kicks);
    for (unsigned i = 0; i < vn->nvqs; i++) {
        struct vring_stats vs;
        struct vring_state st;
        vring_get_stats(vn->vq[i], &vs);
        vring_get_state(vn->vq[i], &st);
        klog(LOG_INFO,
             "virtio-net: %s: size %u free %u in flight %u avail %u used %u/%u, added %llu used %llu "
             "kicks %llu (suppressed %llu) irqs %llu (suppressed %llu) full %llu%s",
             vnet_queue_name(i), st.num, st.num_free, st.in_flight, st.avail_idx, st.last_used_idx,
             st.used_idx, (unsigned long long)vs.added, (unsigned long long)vs.used,
             (unsigned long long)vs.kicks, (unsigned long long)vs.kicks_suppressed,
             (unsigned long long)vs.interrupts, (unsigned long long)vs.interrupts_suppressed,
             (unsigned long long)vs.ring_full, st.broken ? " BROKEN" : "");
    }
}
