/*
 * TCP segmentation offload by coalescing (net/tso.h). Header layouts:
 * Ethernet (IEEE 802.3), IPv4 (RFC 791), IPv6 (RFC 8200), TCP (RFC 9293 3.1).
 * What the device does with the result is Linux's tcp_gso_segment() and
 * inet_gso_segment(): each segment gets the template's headers, its own
 * sequence number, IP length and checksum, an IPv4 id counting up from the
 * template's, and PSH/FIN only on the last.
 */
#include "net/tso.h"
#include <string.h>

#define ETH_HLEN      14
#define ETHTYPE_IPV4  0x0800
#define ETHTYPE_IPV6  0x86DD
#define IPPROTO_TCP_  6
#define TCP_CSUM_OFF  16
#define TCP_FLAGS_OFF 13

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* Ones'-complement sum of @len bytes (RFC 1071), not folded. */
static uint32_t sum16(const uint8_t *b, size_t len)
{
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        s += be16(b + i);
    if (len & 1)
        s += (uint32_t)b[len - 1] << 8;
    return s;
}

static uint16_t fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xFFFF) + (s >> 16);
    return (uint16_t)s;
}

bool tso_parse(const uint8_t *h, size_t avail, size_t frame_len, struct tso_seg *s)
{
    if (avail < ETH_HLEN || avail > frame_len)
        return false;
    uint16_t type = be16(h + 12);
    unsigned l4;
    size_t ip_len; /* what the IP header says the packet is, from its first byte */
    struct tso_seg t = {0};

    if (type == ETHTYPE_IPV4) {
        const uint8_t *ip = h + ETH_HLEN;
        if (avail < ETH_HLEN + 20 || ip[0] != 0x45) /* version 4, no options */
            return false;
        if ((be16(ip + 6) & 0x3FFF) || ip[9] != IPPROTO_TCP_) /* MF or an offset: a fragment */
            return false;
        ip_len = be16(ip + 2);
        t.family = 4;
        t.ip_id = be16(ip + 4);
        l4 = ETH_HLEN + 20;
    } else if (type == ETHTYPE_IPV6) {
        const uint8_t *ip = h + ETH_HLEN;
        if (avail < ETH_HLEN + 40 || (ip[0] >> 4) != 6 || ip[6] != IPPROTO_TCP_)
            return false;
        ip_len = 40u + be16(ip + 4);
        t.family = 6;
        l4 = ETH_HLEN + 40;
    } else {
        return false; /* VLAN tags, ARP, ...: sent as they are */
    }
    if (ETH_HLEN + ip_len != frame_len || avail < l4 + 20)
        return false;
    const uint8_t *tcp = h + l4;
    unsigned thl = (tcp[12] >> 4) * 4u;
    uint8_t fl = tcp[TCP_FLAGS_OFF];
    if (thl < 20 || avail < l4 + thl || frame_len <= l4 + thl)
        return false;
    if (!(fl & TCP_ACK) || (fl & (TCP_SYN | TCP_RST | TCP_URG | TCP_ECE | TCP_CWR)))
        return false;
    t.l4 = (uint16_t)l4;
    t.hdr_len = (uint16_t)(l4 + thl);
    if (t.hdr_len > TSO_HDR_MAX)
        return false;
    t.payload = (uint32_t)(frame_len - t.hdr_len);
    t.seq = be32(tcp + 4);
    t.flags = fl;
    *s = t;
    return true;
}

void tso_run_start(struct tso_run *r, const uint8_t *hdr, const struct tso_seg *s)
{
    *r = (struct tso_run){
        .hdr = hdr,
        .first = *s,
        .next_seq = s->seq + s->payload,
        .next_id = (uint16_t)(s->ip_id + 1),
        .total = s->payload,
        .count = 1,
        .last_psh = s->flags & (TCP_PSH | TCP_FIN),
        .closed = (s->flags & TCP_FIN) != 0,
    };
}

/* Do the headers @a and @b agree everywhere a coalesced frame copies from its template? */
static bool same_headers(const struct tso_seg *f, const uint8_t *a, const uint8_t *b)
{
    if (memcmp(a, b, ETH_HLEN) != 0)
        return false;
    const uint8_t *ia = a + ETH_HLEN, *ib = b + ETH_HLEN;
    if (f->family == 4) {
        /* version/IHL, TOS; flags/fragment, TTL, protocol; addresses (not length, id, checksum). */
        if (memcmp(ia, ib, 2) != 0 || memcmp(ia + 6, ib + 6, 4) != 0 || memcmp(ia + 12, ib + 12, 8) != 0)
            return false;
    } else {
        /* version, traffic class, flow label; next header, hop limit; addresses (not length). */
        if (memcmp(ia, ib, 4) != 0 || memcmp(ia + 6, ib + 6, 34) != 0)
            return false;
    }
    const uint8_t *ta = a + f->l4, *tb = b + f->l4;
    /* ports; acknowledgement; data offset; window, urgent pointer, options (not seq, flags, checksum). */
    return memcmp(ta, tb, 4) == 0 && memcmp(ta + 8, tb + 8, 5) == 0 && memcmp(ta + 14, tb + 14, 2) == 0 &&
           memcmp(ta + 18, tb + 18, (size_t)(f->hdr_len - f->l4 - 18)) == 0;
}

bool tso_run_add(struct tso_run *r, const uint8_t *hdr, const struct tso_seg *s, uint32_t max_frame)
{
    const struct tso_seg *f = &r->first;
    if (r->closed || s->family != f->family || s->hdr_len != f->hdr_len || s->l4 != f->l4)
        return false;
    if (s->seq != r->next_seq || s->payload > f->payload)
        return false;
    if (f->family == 4 && s->ip_id != r->next_id)
        return false;
    if ((uint64_t)f->hdr_len + r->total + s->payload > max_frame || max_frame > TSO_MAX_FRAME)
        return false;
    if (!same_headers(f, r->hdr, hdr))
        return false;
    r->next_seq += s->payload;
    r->next_id++;
    r->total += s->payload;
    r->count++;
    r->last_psh |= s->flags & (TCP_PSH | TCP_FIN);
    r->closed = s->payload < f->payload || (s->flags & TCP_FIN);
    return true;
}

void tso_run_header(const struct tso_run *r, uint8_t *out, struct tso_frame *f)
{
    const struct tso_seg *s = &r->first;
    unsigned l4 = s->l4;
    uint32_t tcp_len = (uint32_t)(s->hdr_len - l4) + r->total;
    uint8_t *ip = out + ETH_HLEN, *tcp = out + l4;
    uint32_t pseudo;

    memcpy(out, r->hdr, s->hdr_len);
    if (s->family == 4) {
        put_be16(ip + 2, (uint16_t)(20 + tcp_len));
        put_be16(ip + 10, 0);
        put_be16(ip + 10, (uint16_t)~fold(sum16(ip, 20)));
        pseudo = sum16(ip + 12, 8) + IPPROTO_TCP_ + tcp_len;
    } else {
        put_be16(ip + 4, (uint16_t)tcp_len);
        pseudo = sum16(ip + 8, 32) + IPPROTO_TCP_ + (tcp_len >> 16) + (tcp_len & 0xFFFF);
    }
    tcp[TCP_FLAGS_OFF] = (uint8_t)((tcp[TCP_FLAGS_OFF] & ~(TCP_PSH | TCP_FIN)) | r->last_psh);
    put_be16(tcp + TCP_CSUM_OFF, fold(pseudo));
    *f = (struct tso_frame){
        .hdr_len = s->hdr_len,
        .gso_size = (uint16_t)s->payload,
        .csum_start = (uint16_t)l4,
        .csum_offset = TCP_CSUM_OFF,
        .family = s->family,
        .len = s->hdr_len + r->total,
    };
}
