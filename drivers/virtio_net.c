/*
 * virtio-net driver (virtio 1.2 spec 5.1), offered to the stack through the
 * NIC interface (drivers/nic.h), which knows no lwIP: net/ethif.c makes the
 * lwIP netif of it.
 *
 * Its shape follows Linux's drivers/net/virtio_net.c (see docs/ for the
 * function-by-function map):
 *   vnet_probe       ~ virtnet_probe + init_vqs: features, MAC/MTU, queues
 *   vnet_fill_rx     ~ try_fill_recv: post empty buffers to the receive queue
 *   vnet_rx_irq      ~ skb_recv_done: suppress interrupts, schedule the poll
 *   vnet_poll        ~ virtnet_poll: receive with a budget, then re-enable
 *                      interrupts and re-check (virtqueue_napi_complete)
 *   vnet_receive_one ~ receive_buf / receive_mergeable: buffers -> nic_rx_frame
 *   vnet_xmit        ~ start_xmit + xmit_skb: nic_tx_frame -> descriptor chain
 *   vnet_reclaim_tx  ~ free_old_xmit_skbs
 *
 * No copies on the data path: a received frame is handed up as fragments
 * lying in the receive buffers, which go back to the pool (and then to the
 * device) when the stack releases them; a frame to send is the virtio-net
 * header plus one descriptor per segment the stack gave, its memory the
 * stack's until the device is done (up->tx_done).
 */
#include "drivers/virtio_net.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/dma.h"
#include "arch/x86_64/io.h"
#include "arch/x86_64/timer.h"
#include "arch/x86_64/trap.h"
#include "drivers/nic.h"
#include "drivers/virtio.h"
#include "drivers/virtio_net_regs.h"
#include "drivers/virtio_pci_regs.h"
#include "drivers/virtio_ring.h"
#include "lib/json.h"
#include "lib/klog.h"
#include "lib/prof.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RXQ   0
#define TXQ   1
#define CTRLQ 2

#define RX_BUF_SIZE 2048 /* one buffer per descriptor; mergeable frames span several */
/* More num_buffers than this is a device bug, whatever was negotiated. */
#define RX_MAX_MERGE NIC_RX_MAX_FRAGS
/* The num_buffers cap (vn->rx_max_merge) is what the largest frame fills
 * (5.1.6.3.2: every buffer but the last is used in full) plus this many, for
 * a device that leaves some short. */
#define RX_MERGE_SLACK 2
/* The most receive buffers the stack may hold at once, as a fraction of the
 * pool (docs/budget.md): 1/4 of 512 = 128. Beyond it a frame is copied into
 * the stack's memory and its buffer goes straight back, so the free list plus the ring
 * always hold 3/4 of the pool: the ring (1/2) can always be refilled. */
#define RX_LEND_DIV     4
#define TX_MAX_SEGS     NIC_TX_MAX_SEGS /* segments of one frame; the stack copies longer chains */
#define TX_WAIT_NS      500000000ull    /* how long a full transmit ring may block a send */
#define CTRL_WAIT_NS    1000000000ull
#define ANNOUNCE_MIN_NS 1000000000ull  /* announce requests handled at most once a second */
#define RESETS_MAX      3              /* device resets allowed within RESET_WINDOW_NS */
#define TX_REKICKS_MAX  3              /* re-kicks with no completion before the reset */
#define RESET_WINDOW_NS 60000000000ull /* a minute */
#define ETH_HDR_LEN     14
#define ETH_MAX_FRAME   (ETH_HDR_LEN + 4 /* VLAN tag */)

/* One receive buffer (DMA memory); its index in vn->rxbufs is its id in the NIC interface. */
struct vnet_rxbuf {
    struct vnet_rxbuf *next_free;
    uint8_t *data;
    bool lent; /* the stack holds it (nic_rx_frame.lend) until vnet_rx_release() */
};

/* One frame in the transmit queue: the stack's cookie for it and its header. */
struct vnet_txslot {
    void *cookie;
    uint64_t seq; /* vn->tx_submitted when it was added: see vnet_tx_progress() */
    struct vnet_txslot *next_free;
    struct vnet_txslot *older, *newer; /* the in-flight list, in submission order */
    struct virtio_net_hdr *hdr;        /* DMA memory */
};

struct vnet_ctrl_buf {
    struct virtio_net_ctrl_hdr hdr;
    uint8_t data[8];
    uint8_t ack;
};

struct vnet {
    struct nic nic; /* what the stack sees (drivers/nic.h) */
    struct virtio_device *vdev;
    struct nic_upper up; /* the stack's callbacks, from vnet_attach() */
    bool attached;
    struct vring *vq[3];
    unsigned nvqs;
    unsigned hdr_len;
    bool mrg_rxbuf, csum_tx, guest_csum, has_status;
    bool tso4, tso6;             /* HOST_TSO4/6: the device cuts large TCP frames we send */
    bool guest_tso4, guest_tso6; /* large receive: GSO frames of up to NIC_RX_MAX_GSO bytes */
    unsigned mtu;
    unsigned rx_bufsize;
    unsigned rx_max_frame; /* the longest frame accepted: NIC_RX_MAX_GSO with GUEST_TSO*, else the MTU's */
    unsigned rx_max_merge; /* the most buffers one frame may span (num_buffers) */
    uint8_t mac[6];
    bool link_up;

    struct vnet_rxbuf *rxbufs;
    unsigned n_rxbufs;
    struct vnet_rxbuf *rx_free;
    unsigned rx_free_count;
    unsigned rx_lend_max;    /* n_rxbufs / RX_LEND_DIV */
    struct nic_rx_frame rxf; /* the frame vnet_receive_one() is taking apart */

    struct vnet_txslot *txslots;
    struct vnet_txslot *tx_free;
    unsigned tx_inflight;
    uint64_t tx_submitted;                     /* frames ever added to the ring (the next one's seq) */
    struct vnet_txslot *tx_oldest, *tx_newest; /* in flight, oldest first */
    bool tx_needs_kick;

    /* The one control buffer. Only one command is ever in flight: a command
     * the device does not answer in CTRL_WAIT_NS leaves the buffer the
     * device's, so the control queue is marked broken (vnet_ctrl_cmd). */
    struct vnet_ctrl_buf *ctrl;

    /* DMA blocks, for vnet_free_buffers(). */
    uint8_t *rx_mem;
    size_t rx_mem_size;
    struct virtio_net_hdr *tx_hdrs;
    size_t tx_hdrs_size;

    uint64_t last_announce_ns;
    bool announced, announce_deferred;

    /* Set from interrupt handlers, cleared by the main loop. */
    volatile bool rx_pending, tx_pending, config_pending;

    /* Recovery (vnet_recover): the features and queues to create again, the
     * times of the last RESETS_MAX resets, and whether we gave up. */
    uint64_t wanted;
    struct virtio_vq_info vq_info[3];
    uint64_t reset_ns[RESETS_MAX];
    unsigned nresets;
    bool dead;

    uint64_t wd_last_completed;
    uint64_t wd_stalled_since;
    unsigned wd_rekicks; /* re-kicks since the last transmit completion */
    struct vnet_stats st;
};

/* Features we take only with others (5.1.3.1): the device cuts a frame only
 * if it also completes the checksum of each segment; large receive only with
 * GUEST_CSUM, and only with MRG_RXBUF: without mergeable buffers a 64 KiB
 * frame would need 64 KiB buffers posted (Linux's "big packets" mode, which
 * we do not implement). */
static const struct virtio_feature_dep feature_deps[] = {
    {VIRTIO_NET_F_HOST_TSO4, 1ull << VIRTIO_NET_F_CSUM},
    {VIRTIO_NET_F_HOST_TSO6, 1ull << VIRTIO_NET_F_CSUM},
    {VIRTIO_NET_F_GUEST_TSO4, (1ull << VIRTIO_NET_F_GUEST_CSUM) | (1ull << VIRTIO_NET_F_MRG_RXBUF)},
    {VIRTIO_NET_F_GUEST_TSO6, (1ull << VIRTIO_NET_F_GUEST_CSUM) | (1ull << VIRTIO_NET_F_MRG_RXBUF)},
};
#define N_FEATURE_DEPS (sizeof(feature_deps) / sizeof(feature_deps[0]))

static const char *const feature_names[64] = {
    [VIRTIO_NET_F_CSUM] = "CSUM",
    [VIRTIO_NET_F_GUEST_CSUM] = "GUEST_CSUM",
    [VIRTIO_NET_F_MTU] = "MTU",
    [VIRTIO_NET_F_GUEST_TSO4] = "GUEST_TSO4",
    [VIRTIO_NET_F_GUEST_TSO6] = "GUEST_TSO6",
    [VIRTIO_NET_F_MAC] = "MAC",
    [VIRTIO_NET_F_HOST_TSO4] = "HOST_TSO4",
    [VIRTIO_NET_F_HOST_TSO6] = "HOST_TSO6",
    [VIRTIO_NET_F_MRG_RXBUF] = "MRG_RXBUF",
    [VIRTIO_NET_F_STATUS] = "STATUS",
    [VIRTIO_NET_F_CTRL_VQ] = "CTRL_VQ",
    [VIRTIO_NET_F_CTRL_RX] = "CTRL_RX",
    [VIRTIO_NET_F_GUEST_ANNOUNCE] = "GUEST_ANNOUNCE",
    [VIRTIO_F_ANY_LAYOUT] = "ANY_LAYOUT",
    [VIRTIO_RING_F_INDIRECT_DESC] = "INDIRECT_DESC",
    [VIRTIO_RING_F_EVENT_IDX] = "EVENT_IDX",
    [VIRTIO_F_VERSION_1] = "VERSION_1",
    [VIRTIO_F_RING_PACKED] = "RING_PACKED",
};

static struct klog_ratelimit rx_drop_rl = KLOG_RATELIMIT_INIT(1000, 5);
static struct klog_ratelimit tx_rl = KLOG_RATELIMIT_INIT(5000, 2);

/* ------------------------------------------------------------------ receive */

/* A receive buffer goes back to the free list (from the stack or from a drop). */
static void rxbuf_put(struct vnet *vn, struct vnet_rxbuf *b)
{
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

/* Buffers the stack holds: neither free nor posted to the device (one descriptor each). */
static unsigned vnet_rx_lent(const struct vnet *vn)
{
    struct vring *rx = vn->vq[RXQ];
    unsigned posted = rx ? vring_num(rx) - vring_num_free(rx) : 0; /* no queues: a reset failed */
    return vn->n_rxbufs - vn->rx_free_count - posted;
}

/* Every buffer of the frame being taken apart goes straight back. */
static void rx_drop(struct vnet *vn, uint64_t *counter, const char *why)
{
    struct nic_rx_frame *f = &vn->rxf;
    (*counter)++;
    if (klog_ratelimit(&rx_drop_rl))
        klog(LOG_WARN, "virtio-net: dropped a received frame: %s", why);
    for (unsigned i = 0; i < f->nfrags; i++)
        rxbuf_put(vn, &vn->rxbufs[f->frag[i].id]);
    f->nfrags = 0;
}

/* Append used buffer @b to the frame: @len bytes from @skip. */
static void rx_frag(struct vnet *vn, struct vnet_rxbuf *b, unsigned skip, unsigned len)
{
    struct nic_rx_frame *f = &vn->rxf;
    f->frag[f->nfrags++] = (struct nic_rx_frag){
        .data = b->data + skip,
        .len = len,
        .room = vn->rx_bufsize - skip,
        .id = (unsigned)(b - vn->rxbufs),
    };
    f->len += len;
}

/* receive_buf: the next frame from the used ring up to the stack. Return: false when none. */
static bool vnet_receive_one(struct vnet *vn)
{
    struct vring *rx = vn->vq[RXQ];
    struct nic_rx_frame *f = &vn->rxf;
    uint32_t len;
    struct vnet_rxbuf *b = vring_get_used(rx, &len);
    if (!b)
        return false;

    f->nfrags = 0;
    f->len = 0;
    if (len < vn->hdr_len + ETH_HDR_LEN || len > vn->rx_bufsize) {
        rx_frag(vn, b, 0, 0);
        rx_drop(vn, &vn->st.rx_drop_short, "shorter than the headers");
        return true;
    }
    struct virtio_net_hdr hdr;
    memset(&hdr, 0, sizeof(hdr));
    memcpy(&hdr, b->data, vn->hdr_len);
    unsigned nbufs = vn->mrg_rxbuf ? hdr.num_buffers : 1;

    rx_frag(vn, b, vn->hdr_len, len - vn->hdr_len);
    if (nbufs == 0 || nbufs > vn->rx_max_merge) {
        rx_drop(vn, &vn->st.rx_drop_bad_merge, "bad num_buffers");
        return true;
    }
    /* Mergeable buffers: the rest of the frame is in the next used buffers.
     * The length is added up in 32 bits, and bounded by the longest frame
     * negotiated (a GSO frame's with GUEST_TSO*) before the frame goes
     * anywhere: a device can say any length. */
    for (unsigned i = 1; i < nbufs; i++) {
        struct vnet_rxbuf *nb = vring_get_used(rx, &len);
        if (!nb) {
            rx_drop(vn, &vn->st.rx_drop_bad_merge, "merge buffers missing");
            return true;
        }
        if (len == 0 || len > vn->rx_bufsize || f->len + len > vn->rx_max_frame) {
            /* Take back every buffer of the frame, then drop it. */
            bool bad = len > vn->rx_bufsize || len == 0;
            rx_frag(vn, nb, 0, 0);
            for (unsigned j = i + 1; j < nbufs; j++) {
                struct vnet_rxbuf *rest = vring_get_used(rx, &len);
                if (!rest)
                    break;
                rx_frag(vn, rest, 0, 0);
            }
            rx_drop(vn, bad ? &vn->st.rx_drop_bad_merge : &vn->st.rx_drop_oversize,
                    "bad merge buffer length or frame longer than the MTU");
            return true;
        }
        rx_frag(vn, nb, 0, len);
    }
    if (nbufs > 1)
        vn->st.rx_merged++;
    if (f->len > vn->rx_max_frame) {
        rx_drop(vn, &vn->st.rx_drop_oversize, "longer than the MTU");
        return true;
    }

    /* Checksums (5.1.6.4): only passed on, as Linux's virtio_net sets
     * ip_summed; what they mean for a protocol is the stack's business
     * (net/ethif.c). The offsets are the device's word: checked here. */
    f->csum = NIC_RX_CSUM_NONE;
    if (vn->guest_csum && (hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
        if (hdr.csum_start >= f->len || hdr.csum_offset + 2u > f->len - hdr.csum_start) {
            rx_drop(vn, &vn->st.rx_drop_short, "checksum offsets outside the frame");
            return true;
        }
        f->csum = NIC_RX_CSUM_PARTIAL;
        f->csum_start = hdr.csum_start;
        f->csum_offset = hdr.csum_offset;
        vn->st.rx_csum_partial++;
    } else if (vn->guest_csum && (hdr.flags & VIRTIO_NET_HDR_F_DATA_VALID)) {
        f->csum = NIC_RX_CSUM_VALID;
        vn->st.rx_csum_valid++;
    }

    /* Large receive (5.1.6.4, Linux's virtio_net_hdr_to_skb): a GSO type
     * says the frame is one TCP segment the host did not cut to our MTU. Only
     * the types we negotiated (no ECN, no UDP), with the segment size it was
     * cut from and a checksum the device vouches for; whether it really is
     * TCP of that family is the stack's to check (net/ethif.c). Without one,
     * the frame is an ordinary one, no longer than the MTU. */
    f->gso = NIC_RX_GSO_NONE;
    f->gso_size = 0;
    if (hdr.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
        if (hdr.gso_type == VIRTIO_NET_HDR_GSO_TCPV4 && vn->guest_tso4) {
            f->gso = NIC_RX_GSO_TCPV4;
        } else if (hdr.gso_type == VIRTIO_NET_HDR_GSO_TCPV6 && vn->guest_tso6) {
            f->gso = NIC_RX_GSO_TCPV6;
        } else {
            rx_drop(vn, &vn->st.rx_drop_bad_gso, "a GSO type not negotiated");
            return true;
        }
        if (hdr.gso_size == 0 || f->csum == NIC_RX_CSUM_NONE) {
            rx_drop(vn, &vn->st.rx_drop_bad_gso, "a GSO frame without segment size or checksum offload");
            return true;
        }
        f->gso_size = hdr.gso_size;
    } else if (f->len > vn->mtu + ETH_MAX_FRAME) {
        rx_drop(vn, &vn->st.rx_drop_oversize, "longer than the MTU");
        return true;
    }

    if (!vn->attached) {
        rx_drop(vn, &vn->st.rx_drop_nomem, "no stack attached yet");
        return true;
    }
    /* Receive buffers belong to the NIC: if the stack already holds its
     * share (out-of-order queues, reassembly, anything an app has not
     * taken), this frame may be held too, so the stack must copy it and its
     * buffers come back now. If it has no memory for the copy, the frame is
     * dropped (TCP retransmits), never the ring. */
    f->lend = vnet_rx_lent(vn) <= vn->rx_lend_max; /* this frame's buffers included */
    vn->st.rx_packets++;
    vn->st.rx_bytes += f->len;
    if (f->gso != NIC_RX_GSO_NONE) {
        vn->st.rx_gso_packets++;
        vn->st.rx_gso_bytes += f->len;
    }
    if (f->lend)
        for (unsigned i = 0; i < f->nfrags; i++)
            vn->rxbufs[f->frag[i].id].lent = true;
    int r = vn->up.rx(vn->up.ctx, f);
    if (f->lend) {
        if (r == NIC_RX_DROP_NOMEM)
            vn->st.rx_drop_nomem++;
        return true; /* the buffers are the stack's now */
    }
    for (unsigned i = 0; i < f->nfrags; i++)
        rxbuf_put(vn, &vn->rxbufs[f->frag[i].id]);
    if (r == 0)
        vn->st.rx_copied++;
    else if (r == NIC_RX_DROP_NOMEM)
        vn->st.rx_drop_copy_nomem++;
    return true;
}

void vnet_rx_release(struct vnet *vn, unsigned id)
{
    /* Our own stack's bug, not the device's: a buffer given back twice, or
     * one never lent, would be posted twice and corrupt the pool. */
    if (id >= vn->n_rxbufs || !vn->rxbufs[id].lent)
        panic("virtio-net: receive buffer %u released but not lent (pool of %u)", id, vn->n_rxbufs);
    vn->rxbufs[id].lent = false;
    rxbuf_put(vn, &vn->rxbufs[id]);
}

/* ------------------------------------------------------------------ transmit */

/* free_old_xmit_skbs: take back what the device has sent. */
static void vnet_reclaim_tx(struct vnet *vn)
{
    uint32_t len;
    struct vnet_txslot *s;
    while ((s = vring_get_used(vn->vq[TXQ], &len)) != NULL) {
        void *cookie = s->cookie;
        s->cookie = NULL;
        /* Off the in-flight list (completions may come out of order). */
        *(s->older ? &s->older->newer : &vn->tx_oldest) = s->newer;
        *(s->newer ? &s->newer->older : &vn->tx_newest) = s->older;
        s->next_free = vn->tx_free;
        vn->tx_free = s;
        vn->tx_inflight--;
        vn->st.tx_completed++;
        vn->up.tx_done(vn->up.ctx, cookie);
    }
}

void vnet_tx_progress(struct vnet *vn, uint64_t *submitted, uint64_t *oldest)
{
    if (!vn->dead)
        vnet_reclaim_tx(vn);
    /* The in-flight list is in submission order whatever order the device
     * completes in, so its head is the oldest frame still out. */
    *submitted = vn->tx_submitted;
    *oldest = vn->tx_oldest ? vn->tx_oldest->seq : vn->tx_submitted;
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

/* start_xmit + xmit_skb: the header and one descriptor per segment. */
int vnet_xmit(struct vnet *vn, const struct nic_tx_frame *f)
{
    struct vring *tx = vn->vq[TXQ];
    struct vring_seg segs[1 + TX_MAX_SEGS];
    unsigned n = f->nsegs;

    if (vn->dead)
        return -EIO;
    vnet_reclaim_tx(vn);
    if (n == 0 || n > TX_MAX_SEGS) {
        vn->st.tx_drop_too_many_segs++;
        return -EMSGSIZE;
    }
    if (f->csum_partial &&
        (!vn->csum_tx || f->csum_start >= f->len || f->csum_offset + 2u > f->len - f->csum_start))
        return -EINVAL;
    /* A frame the device is to cut must carry the partial checksum, its
     * headers, and at least one payload byte beyond them (5.1.6.2.1). */
    uint8_t gso = VIRTIO_NET_HDR_GSO_NONE;
    if (f->gso_type != NIC_GSO_NONE) {
        bool ok = f->gso_type == NIC_GSO_TCPV4 ? vn->tso4 : f->gso_type == NIC_GSO_TCPV6 && vn->tso6;
        if (!ok || !f->csum_partial || f->gso_size == 0 || f->hdr_len <= f->csum_start ||
            f->hdr_len >= f->len || f->len > NIC_GSO_MAX_LEN) {
            vn->st.tx_drop_bad_gso++;
            return -EINVAL;
        }
        gso = f->gso_type == NIC_GSO_TCPV4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
    }
    /* The header and n segments: one slot in an indirect table, else 1 + n. */
    unsigned descs = vring_add_cost(tx, n + 1);
    if ((!vn->tx_free || vring_num_free(tx) < descs) && !vnet_wait_tx_room(vn, n + 1)) {
        vn->st.tx_drop_ring_full++;
        if (vring_is_broken(tx))
            return -EIO;
        if (klog_ratelimit(&tx_rl))
            klog(LOG_WARN, "virtio-net: transmit ring stayed full for %llu ms; frame dropped",
                 TX_WAIT_NS / 1000000ull);
        return -ENOSPC;
    }

    struct vnet_txslot *s = vn->tx_free;
    memset(s->hdr, 0, sizeof(*s->hdr));
    if (f->csum_partial) {
        s->hdr->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        s->hdr->csum_start = f->csum_start;
        s->hdr->csum_offset = f->csum_offset;
        vn->st.tx_csum_offload++;
    }
    if (gso != VIRTIO_NET_HDR_GSO_NONE) {
        s->hdr->gso_type = gso;
        s->hdr->hdr_len = f->hdr_len; /* how much of the frame each segment copies */
        s->hdr->gso_size = f->gso_size;
    }
    segs[0].addr = s->hdr;
    segs[0].len = vn->hdr_len;
    for (unsigned i = 0; i < n; i++) {
        segs[1 + i].addr = (void *)(uintptr_t)f->seg[i].data; /* the device only reads it */
        segs[1 + i].len = f->seg[i].len;
    }
    int err = vring_add(tx, segs, 1 + n, 0, s);
    if (err < 0) {
        vn->st.tx_drop_ring_full++;
        return err == -EIO ? -EIO : -ENOSPC;
    }
    vn->tx_free = s->next_free;
    s->seq = vn->tx_submitted++;
    s->older = vn->tx_newest;
    s->newer = NULL;
    *(vn->tx_newest ? &vn->tx_newest->newer : &vn->tx_oldest) = s;
    vn->tx_newest = s;
    s->cookie = f->cookie; /* the stack keeps the memory until vnet_reclaim_tx() */
    vn->tx_inflight++;
    vn->st.tx_packets++;
    vn->st.tx_bytes += f->len;
    vn->st.tx_segments += n;
    if (gso != VIRTIO_NET_HDR_GSO_NONE) {
        vn->st.tx_gso_frames++;
        vn->st.tx_gso_bytes += f->len;
    }
    vn->tx_needs_kick = true;
    /* One kick per batch: the main loop kicks after the stack is done; a
     * nearly full ring is kicked now so the device can start draining it. */
    if (vring_num_free(tx) < vring_num(tx) / 4)
        vnet_kick_tx(vn);
    return 0;
}

/* ------------------------------------------------------------------ control queue */

/*
 * virtnet_send_command: one command, synchronously (QEMU answers within the
 * kick). A command that gets no answer in CTRL_WAIT_NS is still the device's:
 * it may write the ack (or read the buffer) at any later time. Reusing the
 * buffer would let the next command's bytes be read as the old one's, and
 * take the old completion as the new answer; a buffer per command would keep
 * the queue usable, but needs a pool, matching late answers to their
 * commands, and freeing only on completion, all for a device that already
 * failed to answer once. So the queue is marked broken instead (logged once):
 * further commands fail at once with -EIO, the buffer is never touched
 * again, and only a device reset (issue 21's recovery) gives both back.
 */
static int vnet_ctrl_cmd(struct vnet *vn, uint8_t class, uint8_t cmd, const void *data, unsigned len)
{
    struct vring *cq = vn->vq[CTRLQ];
    if (!cq || len > sizeof(vn->ctrl->data))
        return -ENOTSUP;
    if (vring_is_broken(cq)) {
        vn->st.ctrl_err++;
        return -EIO;
    }
    vn->ctrl->hdr.class = class;
    vn->ctrl->hdr.cmd = cmd;
    if (len) /* memcpy from NULL is undefined even for 0 bytes */
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
    void *done;
    while (!(done = vring_get_used(cq, &used_len))) {
        if (clock_ns() > deadline || vring_is_broken(cq)) {
            vn->st.ctrl_err++;
            vn->st.ctrl_timeouts++;
            if (vring_mark_broken(cq))
                klog(LOG_WARN,
                     "virtio-net: control command %u.%u got no answer in %llu ms; the device keeps its "
                     "buffer, so the control queue is marked broken: no further commands until a reset",
                     class, cmd, CTRL_WAIT_NS / 1000000ull);
            return -ETIMEDOUT;
        }
        cpu_relax();
    }
    /* The device may still write the buffer it just gave back (a broken
     * device): read the ack once. */
    uint8_t ack = __atomic_load_n(&vn->ctrl->ack, __ATOMIC_RELAXED);
    if (done != vn->ctrl || used_len < 1 || ack != VIRTIO_NET_OK) {
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

/* virtnet_config_changed_work: runs in the main loop, the stack may be called. */
static void vnet_config_work(struct vnet *vn)
{
    uint16_t status;
    bool up = vnet_read_link(vn, &status);
    if (up != vn->link_up) {
        vn->link_up = up;
        vn->st.link_changes++;
        klog(LOG_INFO, "virtio-net: link %s", up ? "up" : "down");
        vn->nic.link_up = up;
        if (vn->attached)
            vn->up.link(vn->up.ctx, up);
    }
    if ((status & VIRTIO_NET_S_ANNOUNCE) && virtio_has_feature(vn->vdev, VIRTIO_NET_F_GUEST_ANNOUNCE)) {
        /* A device that keeps asking (config interrupts with ANNOUNCE set)
         * gets one announcement a second; the rest wait for the watchdog,
         * which looks again (the bit stays set until we ack). */
        uint64_t now = clock_ns();
        if (vn->announced && now - vn->last_announce_ns < ANNOUNCE_MIN_NS) {
            vn->st.announces_deferred++;
            vn->announce_deferred = true;
            return;
        }
        vn->announced = true;
        vn->announce_deferred = false;
        vn->last_announce_ns = now;
        vn->st.announces++;
        if (vn->attached)
            vn->up.announce(vn->up.ctx);
        vnet_ctrl_cmd(vn, VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK, NULL, 0);
        klog(LOG_INFO, "virtio-net: announced ourselves at the device's request");
    }
}

/* ------------------------------------------------------------------ recovery */

/* Out of promiscuous mode (QEMU starts in it), but take all multicast: IPv6
 * neighbour discovery needs solicited-node groups. At probe and after a reset
 * (which puts the device back in its initial receive mode). */
static void vnet_set_rx_mode(struct vnet *vn)
{
    if (!virtio_has_feature(vn->vdev, VIRTIO_NET_F_CTRL_RX))
        return;
    uint8_t off = 0, on = 1;
    if (vnet_ctrl_cmd(vn, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &off, 1) == 0 &&
        vnet_ctrl_cmd(vn, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, &on, 1) == 0)
        klog(LOG_INFO, "virtio-net: receive filter: promiscuous off, all-multicast on");
}

/* The first broken queue, or -1. */
static int vnet_broken_queue(const struct vnet *vn)
{
    for (unsigned i = 0; i < vn->nvqs; i++)
        if (vn->vq[i] && vring_is_broken(vn->vq[i]))
            return (int)i;
    return -1;
}

/* After a reset: every chain the device held is ours again. Transmit frames
 * are done for the stack (sent or not: TCP retransmits what was lost). */
static void vnet_take_back(struct vnet *vn)
{
    if (!vn->vq[RXQ])
        return; /* the queues are gone already */
    void *c;
    while ((c = vring_detach_unused(vn->vq[RXQ])) != NULL)
        rxbuf_put(vn, c);
    struct vnet_txslot *t;
    while ((t = vring_detach_unused(vn->vq[TXQ])) != NULL) {
        void *cookie = t->cookie;
        t->cookie = NULL;
        t->next_free = vn->tx_free;
        vn->tx_free = t;
        vn->tx_inflight--;
        vn->st.tx_reset_dropped++;
        vn->up.tx_done(vn->up.ctx, cookie); /* not sent, or sent: TCP retransmits either way */
    }
    vn->tx_oldest = vn->tx_newest = NULL;
    if (vn->vq[CTRLQ])
        while (vring_detach_unused(vn->vq[CTRLQ]))
            ;
}

/* Give up on the device for good: the stack sees the link go down. */
static void vnet_give_up(struct vnet *vn, const char *why)
{
    vn->dead = true;
    vn->st.reset_gave_up = 1;
    klog(LOG_ERR, "virtio-net: %s: the device stays down until reboot", why);
    vn->vdev->ops->reset(vn->vdev); /* it touches no memory of ours any more */
    vnet_take_back(vn);
    /* FAILED, as virtio_fail() would set it, without its second log line. */
    vn->vdev->ops->set_status(vn->vdev, VIRTIO_STATUS_FAILED);
    if (vn->link_up) {
        vn->link_up = false;
        vn->nic.link_up = false;
        vn->st.link_changes++;
        if (vn->attached)
            vn->up.link(vn->up.ctx, false);
    }
}

/*
 * A queue is broken: the device broke the protocol once (vring logged how).
 * Instead of leaving the NIC dead, as Linux does after BAD_RING, reset the
 * device and start again (spec 3.1.1, as at probe): status 0 and wait for
 * it; take back every buffer it held (transmit frames are done for the
 * stack, which retransmits what TCP lost; receive buffers go back to the
 * pool; those the stack holds stay lent); negotiate the same features;
 * create the queues and their interrupts again; post the receive buffers;
 * DRIVER_OK; the receive mode again. The netif, its addresses and its
 * connections do not notice beyond the frames lost. At most RESETS_MAX in a minute: a device
 * that keeps breaking is given up on. Context: main loop (vnet_poll).
 */
static void vnet_recover(struct vnet *vn, int broken)
{
    struct virtio_device *vdev = vn->vdev;
    uint64_t now = clock_ns();
    unsigned recent = 0;
    for (unsigned i = 0; i < RESETS_MAX && i < vn->nresets; i++)
        recent += now - vn->reset_ns[i] < RESET_WINDOW_NS;
    if (recent >= RESETS_MAX) {
        char why[96];
        snprintf(why, sizeof(why), "queue %s broken again after %u resets within a minute",
                 vnet_queue_name((unsigned)broken), recent);
        vnet_give_up(vn, why);
        return;
    }
    vn->reset_ns[vn->nresets++ % RESETS_MAX] = now;
    vn->st.resets++;
    klog(LOG_WARN,
         "virtio-net: queue %s broken: resetting the device (reset %u in the last minute, at most %u)",
         vnet_queue_name((unsigned)broken), recent + 1, RESETS_MAX);

    /* The reset runs to the end inside this poll: the stack sends nothing
     * meanwhile, so it is not told of a link-down (lwIP would redo DHCP on
     * the link coming back). Only a real change of link state is passed on. */
    bool was_up = vn->link_up;

    /* 1. The device lets go of every buffer (status 0, read back as 0). */
    if (vdev->ops->reset(vdev) < 0) {
        vnet_give_up(vn, "the device would not reset");
        return;
    }
    /* 2. Every chain still in flight is ours again. */
    vnet_take_back(vn);
    /* 3. Rings and interrupts again, of the same sizes, with the same features. */
    unsigned nums[3];
    for (unsigned i = 0; i < vn->nvqs; i++)
        nums[i] = vring_num(vn->vq[i]);
    virtio_del_vqs(vdev);
    memset(vn->vq, 0, sizeof(vn->vq));
    uint64_t had = vdev->features;
    if (virtio_negotiate_deps(vdev, vn->wanted, feature_deps, N_FEATURE_DEPS) < 0 || vdev->features != had) {
        vnet_give_up(vn, "the device refused its features after a reset");
        return;
    }
    struct virtio_vq_info info[3];
    for (unsigned i = 0; i < vn->nvqs; i++) {
        info[i] = vn->vq_info[i];
        info[i].num = nums[i];
        info[i].max_num = nums[i];
    }
    if (virtio_setup_vqs(vdev, vn->nvqs, info, vn->vq) < 0) {
        memset(vn->vq, 0, sizeof(vn->vq));
        vnet_give_up(vn, "could not set up the virtqueues after a reset");
        return;
    }
    for (unsigned i = 0; i < vn->nvqs; i++)
        if (vring_num(vn->vq[i]) != nums[i]) {
            vnet_give_up(vn, "the device changed its queue sizes across a reset");
            return;
        }
    /* 4. Live again: DRIVER_OK, receive buffers, receive mode, link. */
    vn->rx_pending = vn->tx_pending = false;
    vn->tx_needs_kick = false;
    vring_disable_cb(vn->vq[TXQ]);
    virtio_ready(vdev);
    vnet_fill_rx(vn);
    vnet_set_rx_mode(vn);
    uint16_t status;
    vn->link_up = vnet_read_link(vn, &status);
    vn->nic.link_up = vn->link_up;
    if (vn->link_up != was_up) {
        vn->st.link_changes++;
        if (vn->attached)
            vn->up.link(vn->up.ctx, vn->link_up);
    }
    klog(LOG_INFO, "virtio-net: device reset after queue %s broke: serving again (link %s)",
         vnet_queue_name((unsigned)broken), vn->link_up ? "up" : "down");
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
    if (vn->dead)
        return;
    vnet_kick_tx(vn);
}

bool vnet_has_work(const struct vnet *vn)
{
    if (vn->dead)
        return false;
    if (vnet_broken_queue(vn) >= 0)
        return true; /* vnet_poll() resets the device */
    return vn->rx_pending || vn->tx_pending || vn->config_pending || vn->tx_needs_kick ||
           vn->vdev->irq_polled;
}

bool vnet_poll(struct vnet *vn, unsigned budget)
{
    unsigned done = 0;

    if (vn->dead)
        return false;
    int broken = vnet_broken_queue(vn);
    if (broken >= 0) {
        vnet_recover(vn, broken);
        if (vn->dead)
            return false;
    }
    struct vring *rx = vn->vq[RXQ], *tx = vn->vq[TXQ];
    vn->st.rx_polls++;
    /* The transport masked a storming line: do its interrupt work here. */
    if (vn->vdev->irq_polled)
        virtio_poll_irq(vn->vdev);
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
    /* A broken queue is not re-kicked: vnet_poll() resets the device (or gave up). */
    if (vn->dead || vring_is_broken(vn->vq[TXQ]))
        return;
    if (vn->announce_deferred)
        vn->config_pending = true; /* look at the ANNOUNCE bit again */
    /* A device that lost its place in a ring (packed: it skipped a position)
     * is caught here, on every queue: the next poll resets it. */
    for (unsigned i = 0; i < vn->nvqs; i++)
        if (vn->vq[i] && vring_check(vn->vq[i]))
            return;
    if (vn->tx_inflight == 0 || vn->st.tx_completed != vn->wd_last_completed) {
        vn->wd_last_completed = vn->st.tx_completed;
        vn->wd_stalled_since = now;
        vn->wd_rekicks = 0;
        return;
    }
    if (now - vn->wd_stalled_since < 1000000000ull)
        return;
    struct vring_state s;
    vring_get_state(vn->vq[TXQ], &s);
    if (vn->wd_rekicks >= TX_REKICKS_MAX) {
        /* Kicked again and again, and still nothing back: the device is not
         * going to give these buffers back. Containment, not patience: the
         * queue is marked broken, and the next poll resets the device
         * (vnet_recover: the frames are dropped, TCP sends them again). */
        if (vring_mark_broken(vn->vq[TXQ]))
            klog(LOG_ERR,
                 "virtio: queue %u broken: the device completed no transmit chain in %u s through %u "
                 "re-kicks (%u in flight, avail %u, used %u)",
                 s.index, vn->wd_rekicks + 1, vn->wd_rekicks, s.in_flight, s.avail_idx, s.used_idx);
        return;
    }
    /* The device has held buffers for a second with no completion: maybe a
     * notification was lost. Kick again and say what the ring looks like,
     * so the log tells a lost kick (device's used idx stuck) from a driver
     * bug (used idx moved but we did not reclaim). */
    vn->st.tx_watchdog_kicks++;
    vn->wd_rekicks++;
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

/* ------------------------------------------------------------------ probe */

/*
 * Queue sizes the memory can hold. Every receive entry costs two RX_BUF_SIZE
 * buffers of DMA memory (the pool is twice the ring, vnet_alloc_buffers) and
 * a struct vnet_rxbuf; every transmit entry a header and a slot; and each
 * ring its own vring_mem_size(). A legacy device reporting 32768 entries
 * would want 128 MiB for the receive pool alone. The driver takes at most a
 * quarter of the free memory at probe (the stack's heap and the apps need the
 * rest), three quarters of that for receive, one for transmit, and asks for
 * the largest power of two that fits (Linux sizes its rings to what the
 * device offers, but its buffers are allocated lazily; ours are not).
 */
static unsigned vnet_affordable(size_t budget, size_t per_entry, uint64_t features)
{
    unsigned n = VRING_MAX_NUM;
    /* The legacy layout is the larger one (its used ring is page aligned). */
    while (n > 1 && (size_t)n * per_entry + vring_mem_size(n, true, features) > budget)
        n /= 2;
    return n;
}

static void vnet_free_buffers(struct vnet *vn)
{
    dma_free(vn->ctrl, sizeof(*vn->ctrl));
    dma_free(vn->tx_hdrs, vn->tx_hdrs_size);
    dma_free(vn->rx_mem, vn->rx_mem_size);
    free(vn->txslots);
    free(vn->rxbufs);
    vn->ctrl = NULL;
    vn->tx_hdrs = NULL;
    vn->rx_mem = NULL;
    vn->txslots = NULL;
    vn->rxbufs = NULL;
    vn->rx_free = NULL;
    vn->tx_free = NULL;
    vn->rx_free_count = 0;
}

/* Return: 0, or -ENOMEM with whatever was allocated left for vnet_free_buffers(). */
static int vnet_alloc_buffers(struct vnet *vn)
{
    /* Twice the ring: buffers lent to the stack (queued TCP data, reassembly)
     * must not leave the ring empty. */
    unsigned num = vring_num(vn->vq[RXQ]);
    vn->n_rxbufs = 2 * num;
    vn->rxbufs = calloc(vn->n_rxbufs, sizeof(*vn->rxbufs));
    uint64_t phys;
    vn->rx_mem_size = (size_t)vn->n_rxbufs * vn->rx_bufsize;
    /* Not zeroed: the device writes a buffer before we read the bytes it
     * says it wrote (vnet_receive_one checks the length against the buffer). */
    vn->rx_mem = dma_alloc_uninit(vn->rx_mem_size, &phys);
    if (!vn->rxbufs || !vn->rx_mem)
        return -ENOMEM;
    for (unsigned i = 0; i < vn->n_rxbufs; i++) {
        struct vnet_rxbuf *b = &vn->rxbufs[i];
        b->data = vn->rx_mem + (size_t)i * vn->rx_bufsize;
        b->next_free = vn->rx_free;
        vn->rx_free = b;
    }
    vn->rx_free_count = vn->n_rxbufs;
    vn->rx_lend_max = vn->n_rxbufs / RX_LEND_DIV;

    unsigned tnum = vring_num(vn->vq[TXQ]);
    vn->txslots = calloc(tnum, sizeof(*vn->txslots));
    vn->tx_hdrs_size = tnum * sizeof(*vn->tx_hdrs);
    vn->tx_hdrs = dma_alloc(vn->tx_hdrs_size, &phys);
    if (!vn->txslots || !vn->tx_hdrs)
        return -ENOMEM;
    for (unsigned i = 0; i < tnum; i++) {
        vn->txslots[i].hdr = &vn->tx_hdrs[i];
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

/* ------------------------------------------------------------------ the NIC interface */

static void vnet_write_stats(const struct vnet *vn, struct json_out *o);

int vnet_attach(struct vnet *vn, const struct nic_upper *up)
{
    if (!up->rx || !up->tx_done || !up->link || !up->announce)
        return -EINVAL;
    vn->up = *up;
    vn->attached = true;
    return 0;
}

struct nic *vnet_nic(struct vnet *vn)
{
    return &vn->nic;
}

static int nic_attach(struct nic *nic, const struct nic_upper *up)
{
    return vnet_attach(nic->priv, up);
}

static int nic_xmit(struct nic *nic, const struct nic_tx_frame *f)
{
    return vnet_xmit(nic->priv, f);
}

static void nic_rx_release(struct nic *nic, unsigned id)
{
    vnet_rx_release(nic->priv, id);
}

static bool nic_poll(struct nic *nic, unsigned budget)
{
    return vnet_poll(nic->priv, budget);
}

static void nic_flush(struct nic *nic)
{
    vnet_flush(nic->priv);
}

static bool nic_has_work(const struct nic *nic)
{
    return vnet_has_work(nic->priv);
}

static void nic_watchdog(struct nic *nic)
{
    vnet_watchdog(nic->priv);
}

static void nic_tx_progress(struct nic *nic, uint64_t *submitted, uint64_t *oldest)
{
    vnet_tx_progress(nic->priv, submitted, oldest);
}

static void nic_counters(const struct nic *nic, struct nic_counters *c)
{
    struct vnet_stats st;
    vnet_get_stats(nic->priv, &st);
    *c = (struct nic_counters){
        .rx_packets = st.rx_packets,
        .rx_bytes = st.rx_bytes,
        .tx_packets = st.tx_packets,
        .tx_bytes = st.tx_bytes,
        .rx_drops = st.rx_drop_short + st.rx_drop_oversize + st.rx_drop_bad_merge + st.rx_drop_bad_gso +
                    st.rx_drop_nomem + st.rx_drop_copy_nomem,
        .tx_drops = st.tx_drop_ring_full + st.tx_drop_too_many_segs,
        .link_changes = st.link_changes,
        .rx_lent = st.rx_lent,
        .rx_lend_max = st.rx_lend_max,
    };
}

static void nic_write_stats(const struct nic *nic, struct json_out *o)
{
    vnet_write_stats(nic->priv, o);
}

static void nic_dump(const struct nic *nic)
{
    vnet_dump(nic->priv);
}

static const struct nic_ops vnet_nic_ops = {
    .attach = nic_attach,
    .xmit = nic_xmit,
    .rx_release = nic_rx_release,
    .poll = nic_poll,
    .flush = nic_flush,
    .has_work = nic_has_work,
    .watchdog = nic_watchdog,
    .tx_progress = nic_tx_progress,
    .counters = nic_counters,
    .write_stats = nic_write_stats,
    .dump = nic_dump,
};

static int vnet_probe(struct virtio_device *vdev)
{
    uint64_t wanted = (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_STATUS) |
                      (1ull << VIRTIO_NET_F_MRG_RXBUF) | (1ull << VIRTIO_NET_F_CSUM) |
                      (1ull << VIRTIO_NET_F_GUEST_CSUM) | (1ull << VIRTIO_NET_F_MTU) |
                      (1ull << VIRTIO_NET_F_CTRL_VQ) | (1ull << VIRTIO_NET_F_CTRL_RX) |
                      (1ull << VIRTIO_NET_F_GUEST_ANNOUNCE) | (1ull << VIRTIO_RING_F_INDIRECT_DESC) |
                      (1ull << VIRTIO_RING_F_EVENT_IDX) | (1ull << VIRTIO_F_ANY_LAYOUT) |
                      (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_NET_F_HOST_TSO4) |
                      (1ull << VIRTIO_NET_F_HOST_TSO6) | (1ull << VIRTIO_NET_F_GUEST_TSO4) |
                      (1ull << VIRTIO_NET_F_GUEST_TSO6) | (1ull << VIRTIO_F_RING_PACKED);
    int err;
    const char *why;

    struct vnet *vn = calloc(1, sizeof(*vn));
    if (!vn)
        return -ENOMEM;
    vn->vdev = vdev;
    vdev->priv = vn;

    err = virtio_negotiate_deps(vdev, wanted, feature_deps, N_FEATURE_DEPS);
    if (err < 0)
        goto fail_free; /* negotiate set FAILED where it applies */
    virtio_log_features(vdev, feature_names);
    /* Name what the dependency rules (feature_deps) left out. */
    uint64_t unmet = 0;
    for (unsigned i = 0; i < N_FEATURE_DEPS; i++)
        unmet |= 1ull << feature_deps[i].bit;
    unmet &= vdev->device_features & wanted & ~vdev->features;
    for (unsigned b = 0; b < 64; b++)
        if ((unmet >> b) & 1)
            klog(LOG_INFO, "virtio-net: %s offered without what it needs: not taken",
                 feature_names[b] ? feature_names[b] : "?");

    vn->mrg_rxbuf = virtio_has_feature(vdev, VIRTIO_NET_F_MRG_RXBUF);
    /* The header has num_buffers with MRG_RXBUF or in 1.x (5.1.6). */
    vn->hdr_len = vn->mrg_rxbuf || virtio_has_feature(vdev, VIRTIO_F_VERSION_1)
                      ? sizeof(struct virtio_net_hdr)
                      : VIRTIO_NET_HDR_LEGACY_LEN;
    vn->csum_tx = virtio_has_feature(vdev, VIRTIO_NET_F_CSUM);
    vn->tso4 = virtio_has_feature(vdev, VIRTIO_NET_F_HOST_TSO4);
    vn->tso6 = virtio_has_feature(vdev, VIRTIO_NET_F_HOST_TSO6);
    vn->guest_csum = virtio_has_feature(vdev, VIRTIO_NET_F_GUEST_CSUM);
    vn->has_status = virtio_has_feature(vdev, VIRTIO_NET_F_STATUS);

    if (virtio_has_feature(vdev, VIRTIO_NET_F_MAC)) {
        virtio_read_config(vdev, VIRTIO_NET_CFG_MAC, vn->mac, 6);
    } else {
        /* A random locally administered unicast address (IEEE 802 bit 1 set,
         * bit 0 clear), from the CPU's generator (the TSC without RDRAND). */
        uint64_t r;
        cpu_seed64(&r);
        for (int i = 0; i < 6; i++)
            vn->mac[i] = (uint8_t)(r >> (8 * i));
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
    vn->guest_tso4 = virtio_has_feature(vdev, VIRTIO_NET_F_GUEST_TSO4);
    vn->guest_tso6 = virtio_has_feature(vdev, VIRTIO_NET_F_GUEST_TSO6);
    vn->rx_max_frame = vn->guest_tso4 || vn->guest_tso6 ? NIC_RX_MAX_GSO : vn->mtu + ETH_MAX_FRAME;
    vn->rx_max_merge =
        (vn->hdr_len + vn->rx_max_frame + vn->rx_bufsize - 1) / vn->rx_bufsize + RX_MERGE_SLACK;
    if (vn->rx_max_merge > RX_MAX_MERGE)
        vn->rx_max_merge = RX_MAX_MERGE;
    if (!vn->mrg_rxbuf)
        vn->rx_max_merge = 1;

    size_t budget = dma_free_bytes() / 4;
    unsigned rx_max =
        vnet_affordable(budget / 4 * 3, 2 * vn->rx_bufsize + sizeof(struct vnet_rxbuf), vdev->features);
    unsigned tx_max = vnet_affordable(budget / 4, sizeof(struct virtio_net_hdr) + sizeof(struct vnet_txslot),
                                      vdev->features);
    struct virtio_vq_info info[3] = {
        {"rx0", 0, vnet_rx_irq, vn, rx_max},
        {"tx0", 0, vnet_tx_irq, vn, tx_max},
        {"ctrl", 64, NULL, NULL, vnet_affordable(budget / 8, 0, vdev->features)}, /* one buffer in all */
    };
    vn->nvqs = virtio_has_feature(vdev, VIRTIO_NET_F_CTRL_VQ) ? 3 : 2;
    vdev->config_changed = vnet_config_irq;
    vdev->config_ctx = vn;
    vn->wanted = wanted;
    memcpy(vn->vq_info, info, sizeof(info));
    err = virtio_setup_vqs(vdev, vn->nvqs, info, vn->vq);
    if (err < 0) {
        why = "could not set up the virtqueues"; /* the transport undid its part */
        goto fail_reset;
    }
    err = vnet_alloc_buffers(vn);
    if (err < 0) {
        klog(LOG_ERR, "virtio-net: no memory for %u receive buffers of %u bytes and %u transmit headers",
             vn->n_rxbufs, vn->rx_bufsize, vring_num(vn->vq[TXQ]));
        why = "out of memory for buffers";
        goto fail_vqs;
    }
    /* Buffers may be posted before DRIVER_OK, but the device is notified only after. */
    vring_disable_cb(vn->vq[TXQ]);
    virtio_ready(vdev);
    vnet_fill_rx(vn);

    vnet_set_rx_mode(vn);
    uint16_t status;
    vn->link_up = vnet_read_link(vn, &status);
    klog(LOG_INFO,
         "virtio-net: MAC %02x:%02x:%02x:%02x:%02x:%02x, MTU %u, rx %u x %u-byte buffers%s, tx ring %u, "
         "header %u bytes, link %s",
         vn->mac[0], vn->mac[1], vn->mac[2], vn->mac[3], vn->mac[4], vn->mac[5], vn->mtu,
         vring_num(vn->vq[RXQ]), vn->rx_bufsize, vn->mrg_rxbuf ? " (mergeable)" : "", vring_num(vn->vq[TXQ]),
         vn->hdr_len, vn->link_up ? "up" : "down");
    vn->nic = (struct nic){
        .ops = &vnet_nic_ops,
        .priv = vn,
        .driver = "virtio_net",
        .mtu = vn->mtu,
        .offloads = (vn->csum_tx ? NIC_OFFLOAD_TX_CSUM : 0) | (vn->guest_csum ? NIC_OFFLOAD_RX_CSUM : 0) |
                    (vn->tso4 ? NIC_OFFLOAD_TSO4 : 0) | (vn->tso6 ? NIC_OFFLOAD_TSO6 : 0) |
                    (vn->guest_tso4 ? NIC_OFFLOAD_RX_TSO4 : 0) | (vn->guest_tso6 ? NIC_OFFLOAD_RX_TSO6 : 0),
        .max_tx_segs = TX_MAX_SEGS,
        .rx_buffers = vn->n_rxbufs,
        .link_up = vn->link_up,
    };
    memcpy(vn->nic.mac, vn->mac, sizeof(vn->mac));
    if (nic_register(&vn->nic) < 0)
        klog(LOG_WARN, "virtio-net: more than %d NICs: this one is not used", NIC_MAX);
    return 0;

    /* Unwinding, in the reverse order of the set-up. Nothing was posted to
     * the device yet (vnet_fill_rx runs after the last failure point). */
fail_vqs:
    virtio_del_vqs(vdev); /* reset, handlers detached, vectors back, rings freed */
    memset(vn->vq, 0, sizeof(vn->vq));
fail_reset:
    vdev->ops->reset(vdev); /* status 0: the device lets go of everything */
    virtio_fail(vdev, why); /* and is told we gave up */
    vnet_free_buffers(vn);
fail_free:
    vdev->config_changed = NULL; /* its context is about to go */
    vdev->config_ctx = NULL;
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
    st->irq_storms = vn->vdev->irq_storms;
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

/* The /stats section (lib/stats.h conventions: "queues" are drawn as rings). */
static void vnet_write_stats(const struct vnet *vn, struct json_out *o)
{
    struct vnet_stats st;
    vnet_get_stats(vn, &st);
    json_begin_object(o);
    json_kv_u64(o, "rx_packets", st.rx_packets);
    json_kv_u64(o, "rx_bytes", st.rx_bytes);
    json_kv_u64(o, "rx_drop_short", st.rx_drop_short);
    json_kv_u64(o, "rx_drop_oversize", st.rx_drop_oversize);
    json_kv_u64(o, "rx_drop_bad_merge", st.rx_drop_bad_merge);
    json_kv_u64(o, "rx_drop_bad_gso", st.rx_drop_bad_gso);
    json_kv_u64(o, "rx_drop_nomem", st.rx_drop_nomem);
    json_kv_u64(o, "rx_copied", st.rx_copied);
    json_kv_u64(o, "rx_drop_copy_nomem", st.rx_drop_copy_nomem);
    json_kv_u64(o, "rx_pool_total", st.rx_pool_total);
    json_kv_u64(o, "rx_pool_free", st.rx_pool_free);
    json_kv_u64(o, "rx_posted", st.rx_posted);
    json_kv_u64(o, "rx_lent", st.rx_lent);
    json_kv_u64(o, "rx_lend_max", st.rx_lend_max);
    json_kv_u64(o, "rx_merged", st.rx_merged);
    json_kv_u64(o, "rx_gso_packets", st.rx_gso_packets);
    json_kv_u64(o, "rx_gso_bytes", st.rx_gso_bytes);
    json_kv_u64(o, "rx_max_frame", vn->rx_max_frame);
    json_kv_u64(o, "rx_max_merge", vn->rx_max_merge);
    json_kv_u64(o, "rx_csum_partial", st.rx_csum_partial);
    json_kv_u64(o, "rx_csum_valid", st.rx_csum_valid);
    json_kv_u64(o, "rx_refills", st.rx_refills);
    json_kv_u64(o, "rx_polls", st.rx_polls);
    json_kv_u64(o, "rx_budget_exhausted", st.rx_budget_exhausted);
    json_kv_u64(o, "tx_packets", st.tx_packets);
    json_kv_u64(o, "tx_bytes", st.tx_bytes);
    json_kv_u64(o, "tx_segments", st.tx_segments);
    json_kv_u64(o, "tx_csum_offload", st.tx_csum_offload);
    json_kv_u64(o, "tx_gso_frames", st.tx_gso_frames);
    json_kv_u64(o, "tx_gso_bytes", st.tx_gso_bytes);
    json_kv_u64(o, "tx_drop_bad_gso", st.tx_drop_bad_gso);
    json_kv_u64(o, "tx_completed", st.tx_completed);
    json_kv_u64(o, "tx_ring_full_waits", st.tx_ring_full_waits);
    json_kv_u64(o, "tx_drop_ring_full", st.tx_drop_ring_full);
    json_kv_u64(o, "tx_watchdog_kicks", st.tx_watchdog_kicks);
    json_kv_u64(o, "resets", st.resets);
    json_kv_u64(o, "tx_reset_dropped", st.tx_reset_dropped);
    json_kv_bool(o, "gave_up", st.reset_gave_up);
    json_kv_u64(o, "link_changes", st.link_changes);
    json_kv_u64(o, "ctrl_timeouts", st.ctrl_timeouts);
    json_kv_u64(o, "announces_deferred", st.announces_deferred);
    json_kv_u64(o, "irq_storms", st.irq_storms);
    json_key(o, "queues");
    json_begin_array(o);
    for (unsigned i = 0; i < vnet_num_queues(vn); i++) {
        struct vring *vr = vnet_queue(vn, i);
        if (!vr)
            continue; /* gone: a reset failed half-way (gave_up) */
        struct vring_state rs;
        struct vring_stats vs;
        vring_get_state(vr, &rs);
        vring_get_stats(vr, &vs);
        json_begin_object(o);
        json_kv_string(o, "name", vnet_queue_name(i));
        json_kv_string(o, "layout", rs.packed ? "packed" : "split");
        json_kv_u64(o, "size", rs.num);
        json_kv_u64(o, "avail_idx", rs.avail_idx);
        json_kv_u64(o, "used_idx", rs.used_idx);
        json_kv_u64(o, "last_used", rs.last_used_idx);
        json_kv_u64(o, "in_flight", rs.in_flight);
        json_kv_u64(o, "free_descriptors", rs.num_free);
        json_kv_u64(o, "added", vs.added);
        json_kv_u64(o, "used", vs.used);
        json_kv_u64(o, "kicks", vs.kicks);
        json_kv_u64(o, "kicks_suppressed", vs.kicks_suppressed);
        json_kv_u64(o, "interrupts", vs.interrupts);
        json_kv_u64(o, "interrupts_suppressed", vs.interrupts_suppressed);
        json_kv_u64(o, "ring_full", vs.ring_full);
        json_kv_bool(o, "broken", rs.broken);
        json_end_object(o);
    }
    json_end_array(o);
    json_end_object(o);
}

void vnet_dump(const struct vnet *vn)
{
    const struct vnet_stats *s = &vn->st;
    klog(LOG_INFO,
         "virtio-net: rx %llu pkts %llu bytes (merged %llu, gso %llu, csum partial %llu valid %llu), "
         "drops: short %llu oversize %llu merge %llu gso %llu nomem %llu copy-nomem %llu; copied %llu (lent "
         "%u, max %u); "
         "refills %llu (pool empty %llu), pool free %u/%u",
         (unsigned long long)s->rx_packets, (unsigned long long)s->rx_bytes, (unsigned long long)s->rx_merged,
         (unsigned long long)s->rx_gso_packets, (unsigned long long)s->rx_csum_partial,
         (unsigned long long)s->rx_csum_valid, (unsigned long long)s->rx_drop_short,
         (unsigned long long)s->rx_drop_oversize, (unsigned long long)s->rx_drop_bad_merge,
         (unsigned long long)s->rx_drop_bad_gso, (unsigned long long)s->rx_drop_nomem,
         (unsigned long long)s->rx_drop_copy_nomem, (unsigned long long)s->rx_copied, vnet_rx_lent(vn),
         vn->rx_lend_max, (unsigned long long)s->rx_refills, (unsigned long long)s->rx_refill_empty,
         vn->rx_free_count, vn->n_rxbufs);
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
        if (!vn->vq[i])
            continue;
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
