/*
 * RFC 6528 initial sequence numbers and SYN cookies (RFC 4987 3.6), both
 * SipHash-2-4 under a boot secret. See net/tcp_cookie.h.
 *
 * Cookie layout (32 bits, the ISN of our SYN-ACK):
 *   bits 31..7  the top 25 bits of SipHash(tuple, client ISN, slot, code)
 *   bits  6..3  the peer's window scale, 15 = none
 *   bits  2..0  the index of its MSS in mss_table
 * The code bits are in the hashed message, so changing them breaks the
 * hash: a forger has a 2^-25 chance per try and per accepted slot. The slot
 * is not encoded; the check simply tries the current and the previous one.
 */
#include "net/tcp_cookie.h"

/* What peers announce: 1460 (Ethernet IPv4), 1440 (IPv6), 1380/1220/1200
 * (tunnels, IPv6 minimum MTU paths), 536 (the RFC 9293 default), small ones
 * for odd links. Rounding down only ever costs a little throughput. */
static const uint16_t mss_table[1u << TCP_COOKIE_MSS_BITS] = {88, 216, 536, 1200, 1220, 1380, 1440, 1460};

/* The tuple as the bytes SipHash sees: local, remote, ports, family. */
struct tuple_msg {
    uint8_t b[16 + 16 + 2 + 2 + 1 + 4 + 4 + 1];
    unsigned n;
};

static void put(struct tuple_msg *m, const void *src, unsigned len)
{
    const uint8_t *s = src;
    for (unsigned i = 0; i < len; i++)
        m->b[m->n++] = s[i];
}

static void put_u32(struct tuple_msg *m, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        m->b[m->n++] = (uint8_t)(v >> (8 * i));
}

static void tuple_bytes(struct tuple_msg *m, const struct tcp_tuple *t)
{
    unsigned alen = t->v6 ? 16 : 4;
    m->n = 0;
    put(m, t->local, alen);
    put(m, t->remote, alen);
    m->b[m->n++] = (uint8_t)(t->local_port >> 8);
    m->b[m->n++] = (uint8_t)t->local_port;
    m->b[m->n++] = (uint8_t)(t->remote_port >> 8);
    m->b[m->n++] = (uint8_t)t->remote_port;
    m->b[m->n++] = t->v6 ? 6 : 4;
}

void tcp_cookie_keys_init(struct tcp_cookie_keys *k, const uint64_t seed[4])
{
    k->isn.k0 = seed[0];
    k->isn.k1 = seed[1];
    k->cookie.k0 = seed[2];
    k->cookie.k1 = seed[3];
}

uint32_t tcp_isn(const struct tcp_cookie_keys *k, const struct tcp_tuple *t, uint64_t now_ns)
{
    struct tuple_msg m;
    tuple_bytes(&m, t);
    uint64_t f = siphash24(&k->isn, m.b, m.n);
    return (uint32_t)f + (uint32_t)(now_ns / 4000u);
}

unsigned tcp_cookie_mss_index(uint16_t mss)
{
    unsigned i = (1u << TCP_COOKIE_MSS_BITS) - 1;
    while (i > 0 && mss_table[i] > mss)
        i--;
    return i;
}

uint16_t tcp_cookie_mss(unsigned idx)
{
    return mss_table[idx & ((1u << TCP_COOKIE_MSS_BITS) - 1)];
}

static uint32_t cookie_hash(const struct tcp_cookie_keys *k, const struct tcp_tuple *t, uint32_t client_isn,
                            uint64_t slot, unsigned code)
{
    struct tuple_msg m;
    tuple_bytes(&m, t);
    put_u32(&m, client_isn);
    put_u32(&m, (uint32_t)slot);
    m.b[m.n++] = (uint8_t)code;
    uint64_t h = siphash24(&k->cookie, m.b, m.n);
    return (uint32_t)(h ^ (h >> 32)) & ~((1u << TCP_COOKIE_CODE_BITS) - 1);
}

uint32_t tcp_cookie_make(const struct tcp_cookie_keys *k, const struct tcp_tuple *t, uint32_t client_isn,
                         uint64_t now_ns, uint16_t mss, unsigned wscale)
{
    if (wscale > 14 && wscale != TCP_COOKIE_WS_NONE)
        wscale = 14; /* RFC 7323 2.3: a larger shift is used as 14 */
    unsigned code = (wscale << TCP_COOKIE_MSS_BITS) | tcp_cookie_mss_index(mss);
    return cookie_hash(k, t, client_isn, now_ns / TCP_COOKIE_SLOT_NS, code) | code;
}

bool tcp_cookie_check(const struct tcp_cookie_keys *k, const struct tcp_tuple *t, uint32_t client_isn,
                      uint32_t cookie, uint64_t now_ns, uint16_t *mss, unsigned *wscale)
{
    unsigned code = cookie & ((1u << TCP_COOKIE_CODE_BITS) - 1);
    uint64_t slot = now_ns / TCP_COOKIE_SLOT_NS;

    for (unsigned age = 0; age < 2 && age <= slot; age++) {
        if (cookie_hash(k, t, client_isn, slot - age, code) ==
            (cookie & ~((1u << TCP_COOKIE_CODE_BITS) - 1))) {
            *mss = tcp_cookie_mss(code);
            *wscale = code >> TCP_COOKIE_MSS_BITS;
            return true;
        }
    }
    return false;
}
