/*
 * One lwIP netif over one NIC (net/ethif.h). lwIP's side: the netif's init,
 * input and linkoutput (lwIP 2.1.3 doc/NO_SYS_SampleCode.c and
 * contrib/examples/ethernetif). The NIC's side: struct nic_upper
 * (drivers/nic.h). The checksum rules are virtio 1.2 5.1.6.2 and 5.1.6.4
 * read for a stack, as Linux's CHECKSUM_PARTIAL and CHECKSUM_UNNECESSARY.
 */
#include "net/ethif.h"
#include "drivers/nic.h"
#include "net/tso.h"
#include "lwip/etharp.h"
#include "lwip/ethip6.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/prot/ethernet.h"
#include "lwip/prot/ip.h"
#include "lwip/prot/ip4.h"
#include "lwip/prot/ip6.h"
#include "netif/ethernet.h"
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* lwIP's "check" half of the per-netif checksum flags. */
#define NETIF_CHECK_ALL                                                                                      \
    (NETIF_CHECKSUM_CHECK_IP | NETIF_CHECKSUM_CHECK_UDP | NETIF_CHECKSUM_CHECK_TCP |                         \
     NETIF_CHECKSUM_CHECK_ICMP | NETIF_CHECKSUM_CHECK_ICMP6)

#define TCP_CSUM_FIELD 16 /* the TCP checksum's offset in its header (RFC 9293 3.1) */

struct ethif;

/* A receive buffer of the NIC while lwIP holds it: lwIP's free callback gets @pc. */
struct ethif_rxbuf {
    struct pbuf_custom pc; /* first */
    struct ethif *e;
    unsigned id;
};

/*
 * Segmentation offload (net/tso.h): with TSO, linkoutput only queues the
 * frame (PEND_MAX of them at most); ethif_push(), from the main loop once
 * lwIP is done for the round, or when the queue is full, sends the queue in
 * order, each run of consecutive segments of one connection as one frame the
 * NIC cuts. A coalesced frame is a struct ethif_gso: its header (a copy of
 * the first segment's, adjusted) and the segments' pbufs, held until the
 * NIC's tx_done. Budget: GSO_POOL of them per interface, fewer than the
 * transmit ring's 256 slots; with none free, segments go out one by one.
 */
#define PEND_MAX     128
#define GSO_POOL     128
#define GSO_MAX_SEGS 44 /* 64 KiB / 1460: the most segments lwIP's MSS gives one frame */

struct ethif_gso {
    struct ethif_gso *next_free;
    unsigned npbufs;
    struct pbuf *p[GSO_MAX_SEGS];
    uint8_t hdr[TSO_HDR_MAX];
};

struct ethif {
    struct netif *netif;
    struct nic *nic;
    struct ethif_rxbuf *rxbufs; /* one per NIC receive buffer id */
    struct ethif_stats st;
    unsigned tso;                /* NIC_OFFLOAD_TSO4/6 the NIC offers (with TX_CSUM) */
    struct pbuf *pend[PEND_MAX]; /* queued by linkoutput, one reference each */
    unsigned npend;
    struct ethif_gso *gso; /* the pool: GSO_POOL records */
    struct ethif_gso *gso_free;
    struct ethif *next_tso; /* every interface with a queue, for ethif_push_all() */
};

static struct ethif *tso_ifaces;

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

static bool csum_offsets_ok(const struct pbuf *p, unsigned start, unsigned offset)
{
    return start < p->tot_len && offset + 2 <= p->tot_len - start;
}

/*
 * Finish a partial checksum: the field at @start + @offset already holds the
 * pseudo-header sum; sum everything from @start to the end and store the
 * complement there (what the device would have done).
 */
static void csum_complete(struct pbuf *p, unsigned start, unsigned offset)
{
    uint16_t sum = csum_fold(csum_pbuf(p, start, p->tot_len - start));
    pbuf_put_be16(p, start + offset, (uint16_t)~sum);
}

/*
 * Prepare a frame for checksum offload: find the TCP header, put the
 * pseudo-header sum in its checksum field and say where it is. lwIP left
 * the field zero (NETIF_CHECKSUM_GEN_TCP is off on this netif).
 * Return: true if @f now asks the NIC for the checksum.
 */
static bool tx_csum_setup(struct pbuf *p, struct nic_tx_frame *f)
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
    if (proto != IP_PROTO_TCP)
        return false;
    if (TCP_CSUM_FIELD + 2 > l4_len)
        return false;
    pbuf_put_be16(p, l4 + TCP_CSUM_FIELD, csum_fold(sum));
    f->csum_partial = true;
    f->csum_start = (uint16_t)l4;
    f->csum_offset = TCP_CSUM_FIELD;
    return true;
}

/*
 * Is @p an IP fragment (or something we cannot tell)? The NIC's checksum
 * flags describe one frame, while lwIP checks a fragmented datagram once,
 * reassembled, under the flags of its last fragment: a DATA_VALID on that
 * fragment would vouch for bytes the device never saw together. So the flags
 * are trusted only for whole datagrams. Reads the headers once into locals.
 */
static bool rx_is_fragment(const struct pbuf *p)
{
    uint8_t eth[SIZEOF_ETH_HDR];
    if (pbuf_copy_partial(p, eth, sizeof(eth), 0) != sizeof(eth))
        return true;
    uint16_t type = (uint16_t)(eth[12] << 8 | eth[13]);
    if (type == ETHTYPE_IP) {
        uint8_t ip[8];
        if (pbuf_copy_partial(p, ip, sizeof(ip), SIZEOF_ETH_HDR) != sizeof(ip))
            return true;
        return (ip[6] & 0x3F) || ip[7]; /* MF, or a fragment offset */
    }
    if (type != ETHTYPE_IPV6)
        return type == ETHTYPE_VLAN; /* not looked into: not trusted */
    uint8_t ip6[40];
    if (pbuf_copy_partial(p, ip6, sizeof(ip6), SIZEOF_ETH_HDR) != sizeof(ip6))
        return true;
    unsigned next = ip6[6], off = SIZEOF_ETH_HDR + 40;
    /* Hop-by-hop, routing and destination options may come before a
     * fragment header (RFC 8200 4.1); a few of them, each length-prefixed. */
    for (int i = 0; i < 8; i++) {
        if (next == IP6_NEXTH_FRAGMENT)
            return true;
        if (next != IP6_NEXTH_HOPBYHOP && next != IP6_NEXTH_ROUTING && next != IP6_NEXTH_DESTOPTS)
            return false;
        uint8_t ext[2];
        if (off > 0xFFFF || pbuf_copy_partial(p, ext, sizeof(ext), (u16_t)off) != sizeof(ext))
            return true;
        next = ext[0];
        off += (ext[1] + 1u) * 8;
    }
    return true;
}

/*
 * A large receive (f->gso, drivers/nic.h) is believed only if it is what its
 * type says: one TCP segment of the family the NIC offered (IPv4 not a
 * fragment, IPv6 without extension headers, as Linux's GSO types are), whose
 * IP length is the frame's to the byte (a 64 KiB frame has no Ethernet
 * padding), with a TCP header inside it, and a checksum the device vouches
 * for: DATA_VALID, or a partial one at exactly TCP's field. lwIP is then told
 * nothing more: tcp_input takes a segment longer than the MSS as it is.
 */
static bool rx_gso_ok(const struct pbuf *p, const struct nic_rx_frame *f, unsigned offloads)
{
    uint8_t hdr[SIZEOF_ETH_HDR + 40];
    if (pbuf_copy_partial(p, hdr, sizeof(hdr), 0) != sizeof(hdr))
        return false;
    uint16_t type = (uint16_t)(hdr[12] << 8 | hdr[13]);
    const uint8_t *ip = hdr + SIZEOF_ETH_HDR;
    unsigned l4, ip_end;
    if (f->gso == NIC_RX_GSO_TCPV4) {
        unsigned ihl = (ip[0] & 0xF) * 4u;
        if (!(offloads & NIC_OFFLOAD_RX_TSO4) || type != ETHTYPE_IP || (ip[0] >> 4) != 4 || ihl < 20 ||
            ip[9] != IP_PROTO_TCP || (ip[6] & 0x3F) || ip[7])
            return false;
        l4 = SIZEOF_ETH_HDR + ihl;
        ip_end = SIZEOF_ETH_HDR + (unsigned)(ip[2] << 8 | ip[3]);
    } else if (f->gso == NIC_RX_GSO_TCPV6) {
        if (!(offloads & NIC_OFFLOAD_RX_TSO6) || type != ETHTYPE_IPV6 || (ip[0] >> 4) != 6 ||
            ip[6] != IP_PROTO_TCP)
            return false;
        l4 = SIZEOF_ETH_HDR + 40;
        ip_end = l4 + (unsigned)(ip[4] << 8 | ip[5]);
    } else {
        return false;
    }
    if (ip_end != p->tot_len || l4 + 20 > ip_end || f->gso_size == 0)
        return false;
    uint8_t doff;
    if (pbuf_copy_partial(p, &doff, 1, (u16_t)(l4 + 12)) != 1 || l4 + (doff >> 4) * 4u > ip_end ||
        (doff >> 4) < 5)
        return false;
    if (f->csum == NIC_RX_CSUM_PARTIAL)
        return f->csum_start == l4 && f->csum_offset == TCP_CSUM_FIELD;
    return f->csum == NIC_RX_CSUM_VALID;
}

/* ------------------------------------------------------------------ receive */

/* lwIP is done with a pbuf over a NIC receive buffer: back to the NIC. */
static void ethif_rxbuf_free(struct pbuf *p)
{
    struct ethif_rxbuf *w = (struct ethif_rxbuf *)p;
    struct nic *nic = w->e->nic;
    nic->ops->rx_release(nic, w->id);
}

/* The frame as one pbuf chain: over the NIC's buffers if lent, else a copy. NULL: no memory. */
static struct pbuf *rx_pbuf(struct ethif *e, const struct nic_rx_frame *f)
{
    if (!f->lend) {
        struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)f->len, PBUF_RAM);
        if (!p)
            return NULL;
        unsigned off = 0;
        for (unsigned i = 0; i < f->nfrags; i++) {
            pbuf_take_at(p, f->frag[i].data, (u16_t)f->frag[i].len, (u16_t)off);
            off += f->frag[i].len;
        }
        return p;
    }
    struct pbuf *head = NULL;
    for (unsigned i = 0; i < f->nfrags; i++) {
        const struct nic_rx_frag *fr = &f->frag[i];
        struct ethif_rxbuf *w = &e->rxbufs[fr->id];
        w->pc.custom_free_function = ethif_rxbuf_free;
        /* Cannot fail: len <= room, both within 16 bits (the NIC's buffers are small). */
        struct pbuf *p =
            pbuf_alloced_custom(PBUF_RAW, (u16_t)fr->len, PBUF_REF, &w->pc, fr->data, (u16_t)fr->room);
        if (head)
            pbuf_cat(head, p);
        else
            head = p;
    }
    return head;
}

/* nic_upper.rx: one received frame into lwIP. */
static int ethif_rx(void *ctx, const struct nic_rx_frame *f)
{
    struct ethif *e = ctx;
    struct netif *nif = e->netif;

    /* lwIP's lengths are 16 bits; a lent frame's buffers are ours to give back. */
    if (f->len > 0xFFFF || f->nfrags == 0 || f->nfrags > NIC_RX_MAX_FRAGS) {
        if (f->lend)
            for (unsigned i = 0; i < f->nfrags; i++)
                e->nic->ops->rx_release(e->nic, f->frag[i].id);
        e->st.rx_drop_bad++;
        return NIC_RX_DROP_BAD;
    }
    struct pbuf *p = rx_pbuf(e, f);
    if (!p)
        return NIC_RX_DROP_NOMEM;
    if (f->gso != NIC_RX_GSO_NONE) {
        if (!rx_gso_ok(p, f, e->nic->offloads)) {
            pbuf_free(p);
            e->st.rx_gso_bad++;
            return NIC_RX_DROP_BAD;
        }
        e->st.rx_gso++;
        e->st.rx_gso_bytes += f->len;
    }

    /*
     * NIC_RX_CSUM_PARTIAL: the frame never crossed a wire (a sender on the
     * host left the checksum to "hardware"), so its data is as good as
     * verified; Linux marks it CHECKSUM_PARTIAL and checks nothing. TCP data
     * ends with us, so a TCP checksum is left unfinished: summing every
     * received byte was a whole pass over the payload per frame. Anything
     * else is finished, as the device would have done, because lwIP may
     * reuse the field (an ICMP echo reply adjusts the request's checksum).
     * NIC_RX_CSUM_VALID: trusted. Neither on a fragment (rx_is_fragment).
     */
    bool l4_ok = false;
    if (f->csum != NIC_RX_CSUM_NONE && rx_is_fragment(p)) {
        e->st.rx_csum_fragment++;
    } else if (f->csum == NIC_RX_CSUM_PARTIAL) {
        if (!csum_offsets_ok(p, f->csum_start, f->csum_offset)) {
            pbuf_free(p);
            e->st.rx_drop_bad++;
            return NIC_RX_DROP_BAD;
        }
        if (f->csum_offset != TCP_CSUM_FIELD) {
            csum_complete(p, f->csum_start, f->csum_offset);
            e->st.rx_csum_completed++;
        }
        l4_ok = true;
    } else if (f->csum == NIC_RX_CSUM_VALID) {
        l4_ok = true;
    }
    /* lwIP checks checksums per netif; input is synchronous, so set the
     * flags for this one frame. The IP header checksum is always checked. */
    uint16_t flags = nif->chksum_flags | NETIF_CHECK_ALL;
    if (l4_ok) {
        flags &= (uint16_t) ~(NETIF_CHECKSUM_CHECK_TCP | NETIF_CHECKSUM_CHECK_UDP);
        e->st.rx_csum_trusted++;
    }
    NETIF_SET_CHECKSUM_CTRL(nif, flags);
    if (nif->input(p, nif) != ERR_OK) {
        pbuf_free(p);
        return NIC_RX_DROP_NOMEM;
    }
    return 0;
}

/* ------------------------------------------------------------------ transmit */

/* A pbuf chain as one NIC frame, read in place (a reference is taken for the NIC). */
static err_t tx_one(struct ethif *e, struct pbuf *p)
{
    struct nic *nic = e->nic;
    struct nic_tx_seg seg[NIC_TX_MAX_SEGS];
    struct nic_tx_frame f = {.seg = seg};
    struct pbuf *copy = NULL;
    unsigned n = 0;

    for (struct pbuf *q = p; q; q = q->next)
        n += q->len != 0;
    if (n > nic->max_tx_segs || n > NIC_TX_MAX_SEGS) {
        /* Rare (lwIP's chains are short): one copy rather than failing. */
        copy = pbuf_clone(PBUF_RAW, PBUF_RAM, p);
        if (!copy) {
            e->st.tx_drop_nomem++;
            return ERR_MEM;
        }
        e->st.tx_copied++;
        p = copy;
    }
    for (struct pbuf *q = p; q; q = q->next)
        if (q->len)
            seg[f.nsegs++] = (struct nic_tx_seg){q->payload, q->len};
    f.len = p->tot_len;
    f.cookie = p;
    if ((nic->offloads & NIC_OFFLOAD_TX_CSUM) && tx_csum_setup(p, &f))
        e->st.tx_csum_offload++;
    int err = nic->ops->xmit(nic, &f);
    if (err < 0) {
        if (copy)
            pbuf_free(copy);
        return err == -EIO ? ERR_IF : ERR_MEM;
    }
    if (!copy)
        pbuf_ref(p); /* the device reads it until ethif_tx_done() */
    return ERR_OK;
}

/*
 * Append the bytes of @p from @skip on to @seg (*@n used, @max in all),
 * extending the last segment where a piece continues it in memory (app data
 * written without a copy is often contiguous). False, with *@n and the last
 * segment as they were, if it does not fit.
 */
static bool add_pieces(struct nic_tx_seg *seg, unsigned *n, unsigned max, const struct pbuf *p, unsigned skip)
{
    unsigned n0 = *n;
    uint32_t last_len = n0 > 1 ? seg[n0 - 1].len : 0;
    for (; p; p = p->next) {
        if (skip >= p->len) {
            skip -= p->len;
            continue;
        }
        const uint8_t *d = (const uint8_t *)p->payload + skip;
        uint32_t len = p->len - skip;
        skip = 0;
        /* seg[0] is the header's slot, filled in later: never extended. RAM is
         * mapped one to one (arch/x86_64/paging.h), so contiguous is contiguous for the device too. */
        if (*n > 1 && (const uint8_t *)seg[*n - 1].data + seg[*n - 1].len == d) {
            seg[*n - 1].len += len;
            continue;
        }
        if (*n == max) {
            *n = n0;
            if (n0 > 1)
                seg[n0 - 1].len = last_len;
            return false;
        }
        seg[(*n)++] = (struct nic_tx_seg){d, len};
    }
    return true;
}

/* The NIC is done with a coalesced frame (or never took it): its pbufs go back to lwIP. */
static void ethif_gso_release(struct ethif *e, struct ethif_gso *g)
{
    for (unsigned k = 0; k < g->npbufs; k++)
        pbuf_free(g->p[k]);
    g->npbufs = 0;
    g->next_free = e->gso_free;
    e->gso_free = g;
}

/* Send pend[i..j) as one frame the NIC cuts; false: not sent, nothing taken. */
static bool tx_gso(struct ethif *e, const struct tso_run *run, unsigned i, unsigned j, struct nic_tx_seg *seg,
                   unsigned nseg)
{
    struct ethif_gso *g = e->gso_free;
    if (!g)
        return false;
    /* Off the free list before xmit: xmit reclaims sent frames, and their
     * records come back onto the list meanwhile. */
    e->gso_free = g->next_free;
    g->npbufs = 0;
    struct tso_frame tf;
    tso_run_header(run, g->hdr, &tf);
    seg[0] = (struct nic_tx_seg){g->hdr, tf.hdr_len};
    struct nic_tx_frame f = {
        .seg = seg,
        .nsegs = nseg,
        .len = tf.len,
        .csum_partial = true,
        .csum_start = tf.csum_start,
        .csum_offset = tf.csum_offset,
        .gso_type = tf.family == 4 ? NIC_GSO_TCPV4 : NIC_GSO_TCPV6,
        .gso_size = tf.gso_size,
        .hdr_len = tf.hdr_len,
        .cookie = g,
    };
    int err = e->nic->ops->xmit(e->nic, &f);
    if (err == -EINVAL || err == -EMSGSIZE) {
        g->next_free = e->gso_free;
        e->gso_free = g;
        return false; /* the NIC would not cut it: the segments go one by one */
    }
    for (unsigned k = i; k < j; k++)
        g->p[g->npbufs++] = e->pend[k]; /* the queue's references, now the frame's */
    if (err < 0) {
        /* Lost like a frame on the wire: TCP sends the segments again. */
        e->st.tx_gso_dropped++;
        ethif_gso_release(e, g);
        return true;
    }
    e->st.tx_gso_frames++;
    e->st.tx_gso_segments += j - i;
    return true;
}

/* Where a queued frame's headers are, if TSO may take it: @s filled. */
static bool pend_parse(const struct ethif *e, const struct pbuf *p, struct tso_seg *s)
{
    if (!tso_parse(p->payload, p->len, p->tot_len, s))
        return false;
    return s->family == 4 ? (e->tso & NIC_OFFLOAD_TSO4) != 0 : (e->tso & NIC_OFFLOAD_TSO6) != 0;
}

void ethif_push(struct netif *netif)
{
    struct ethif *e = netif->state;
    struct nic_tx_seg seg[NIC_TX_MAX_SEGS];
    unsigned max = e->nic->max_tx_segs < NIC_TX_MAX_SEGS ? e->nic->max_tx_segs : NIC_TX_MAX_SEGS;
    unsigned i = 0;

    while (i < e->npend) {
        struct tso_seg s;
        struct tso_run run;
        unsigned j = i + 1, nseg = 1; /* seg[0]: the header, filled by tx_gso() */
        if (pend_parse(e, e->pend[i], &s) && e->gso_free &&
            add_pieces(seg, &nseg, max, e->pend[i], s.hdr_len)) {
            tso_run_start(&run, e->pend[i]->payload, &s);
            while (j < e->npend && j - i < GSO_MAX_SEGS) {
                struct pbuf *q = e->pend[j];
                struct tso_seg t;
                struct tso_run before = run;
                if (!pend_parse(e, q, &t) || !tso_run_add(&run, q->payload, &t, NIC_GSO_MAX_LEN))
                    break;
                if (!add_pieces(seg, &nseg, max, q, t.hdr_len)) {
                    run = before; /* too many pieces: the run ends before q */
                    break;
                }
                j++;
            }
        }
        if (j - i > 1 && tx_gso(e, &run, i, j, seg, nseg)) {
            i = j;
            continue;
        }
        for (unsigned k = i; k < j; k++) {
            (void)tx_one(e, e->pend[k]); /* an error is a lost frame: TCP sends it again */
            pbuf_free(e->pend[k]);
        }
        i = j;
    }
    e->npend = 0;
}

void ethif_push_all(void)
{
    for (struct ethif *e = tso_ifaces; e; e = e->next_tso)
        if (e->npend)
            ethif_push(e->netif);
}

/* netif->linkoutput: a TCP segment TSO may take is queued for ethif_push();
 * anything else (ARP, pure ACKs, ...) is sent now, after what was queued. */
static err_t ethif_linkoutput(struct netif *netif, struct pbuf *p)
{
    struct ethif *e = netif->state;
    struct tso_seg s;
    if (!e->tso)
        return tx_one(e, p);
    if (!pend_parse(e, p, &s)) {
        if (e->npend)
            ethif_push(netif);
        return tx_one(e, p);
    }
    if (e->npend == PEND_MAX)
        ethif_push(netif);
    pbuf_ref(p);
    e->pend[e->npend++] = p;
    return ERR_OK;
}

/* nic_upper.tx_done: the device has read the frame for good. */
static void ethif_tx_done(void *ctx, void *cookie)
{
    struct ethif *e = ctx;
    struct ethif_gso *g = cookie;
    if (e->gso && g >= e->gso && g < e->gso + GSO_POOL)
        ethif_gso_release(e, g);
    else
        pbuf_free(cookie);
}

static void ethif_link(void *ctx, bool up)
{
    struct ethif *e = ctx;
    if (up)
        netif_set_link_up(e->netif); /* also announces: gratuitous ARP, IPv6 MLD/NS */
    else
        netif_set_link_down(e->netif);
}

static void ethif_announce(void *ctx)
{
    struct ethif *e = ctx;
    if (netif_is_up(e->netif) && netif_is_link_up(e->netif))
        etharp_gratuitous(e->netif);
}

/* ------------------------------------------------------------------ the netif */

static err_t ethif_netif_init(struct netif *netif)
{
    struct ethif *e = netif->state;
    struct nic *nic = e->nic;
    netif->name[0] = 'e';
    netif->name[1] = 'n';
    netif->hwaddr_len = ETH_HWADDR_LEN;
    memcpy(netif->hwaddr, nic->mac, ETH_HWADDR_LEN);
    netif->mtu = (u16_t)nic->mtu;
    netif->mtu6 = (u16_t)nic->mtu;
    netif->flags =
        NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_IGMP | NETIF_FLAG_MLD6;
    netif->output = etharp_output;
    netif->output_ip6 = ethip6_output;
    netif->linkoutput = ethif_linkoutput;
    /* With TX_CSUM, the NIC completes the TCP checksums we send (UDP: see tx_csum_setup). */
    uint16_t flags = NETIF_CHECKSUM_ENABLE_ALL;
    if (nic->offloads & NIC_OFFLOAD_TX_CSUM)
        flags &= (uint16_t)~NETIF_CHECKSUM_GEN_TCP;
    NETIF_SET_CHECKSUM_CTRL(netif, flags);
    return ERR_OK;
}

int ethif_add(struct netif *netif, struct nic *nic)
{
    struct ethif *e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    e->netif = netif;
    e->nic = nic;
    e->rxbufs = calloc(nic->rx_buffers ? nic->rx_buffers : 1, sizeof(*e->rxbufs));
    if (!e->rxbufs) {
        free(e);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < nic->rx_buffers; i++)
        e->rxbufs[i] = (struct ethif_rxbuf){.e = e, .id = i};
    if (!netif_add(netif, NULL, NULL, NULL, e, ethif_netif_init, ethernet_input)) {
        free(e->rxbufs);
        free(e);
        return -EIO;
    }
    const struct nic_upper up = {
        .ctx = e,
        .rx = ethif_rx,
        .tx_done = ethif_tx_done,
        .link = ethif_link,
        .announce = ethif_announce,
    };
    if (nic->ops->attach(nic, &up) < 0) {
        netif_remove(netif);
        free(e->rxbufs);
        free(e);
        return -EIO;
    }
    /* TSO: the NIC must complete the checksums of the segments it cuts. */
    if (nic->offloads & NIC_OFFLOAD_TX_CSUM)
        e->tso = nic->offloads & (NIC_OFFLOAD_TSO4 | NIC_OFFLOAD_TSO6);
    if (e->tso && (e->gso = calloc(GSO_POOL, sizeof(*e->gso))) != NULL) {
        for (unsigned i = 0; i < GSO_POOL; i++) {
            e->gso[i].next_free = e->gso_free;
            e->gso_free = &e->gso[i];
        }
        e->next_tso = tso_ifaces;
        tso_ifaces = e;
    } else {
        e->tso = 0; /* no memory for the pool: frames go out one by one */
    }
    if (nic->link_up)
        netif_set_link_up(netif);
    return 0;
}

void ethif_remove(struct netif *netif)
{
    struct ethif *e = netif->state;
    for (struct ethif **pp = &tso_ifaces; *pp; pp = &(*pp)->next_tso)
        if (*pp == e) {
            *pp = e->next_tso;
            break;
        }
    for (unsigned k = 0; k < e->npend; k++)
        pbuf_free(e->pend[k]);
    netif_remove(netif);
    free(e->gso);
    free(e->rxbufs);
    free(e);
}

void ethif_get_stats(const struct netif *netif, struct ethif_stats *st)
{
    const struct ethif *e = netif->state;
    *st = e->st;
}
