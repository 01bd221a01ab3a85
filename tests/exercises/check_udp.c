/*
 * Exercise "udp" (docs/exercises/README.md, chapter 8): your app
 * (docs/exercises/udp.c) answers each datagram on its port, to the sender,
 * with the same bytes in upper case. It runs on lwIP 2.1.3 built for the
 * host with the kernel's lwipopts.h, on a fake IPv4 netif: the check sends
 * datagrams through ip4_input(), as the driver's netif would, and reads
 * what lwIP hands the netif to send.
 *
 * What it checks: the reply's addresses and bytes; a datagram whose payload
 * is split over two pbufs (as a frame in two receive buffers is); two
 * clients at once; and that every pbuf comes back (lwIP's heap and pools
 * are where they started: the datagram you were given and the reply you
 * allocated are both yours to free).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/klog.h"
#include "lwip/init.h"
#include "lwip/ip4.h"
#include "lwip/memp.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/stats.h"
#include "lwip/udp.h"

int ex_udp_start(uint16_t port);

/* ---------------------------------------------------------------- platform doubles */

u32_t sys_now(void)
{
    return 1000;
}

uint32_t lwip_port_rand(void)
{
    static uint32_t x = 12345;

    x = x * 1103515245u + 12345u;
    return x;
}

void lwip_port_assert(const char *msg, const char *file, int line)
{
    printf("FAIL: lwIP assertion \"%s\" at %s:%d\n", msg, file, line);
    exit(1);
}

void klog(int level, const char *fmt, ...)
{
    va_list ap;

    (void)level;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

/* ---------------------------------------------------------------- the wire */

#define CLIENT 0x0a000001u /* 10.0.0.1 */
#define SERVER 0x0a000002u /* 10.0.0.2 */
#define PORT   7007

static struct reply {
    u32_t src, dst;
    u16_t sport, dport;
    u16_t len;
    uint8_t data[2048];
} replies[8];
static unsigned n_replies;

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, u32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* The netif's output: what lwIP sends (an IPv4 packet, possibly a chain). */
static err_t capture(struct netif *netif, struct pbuf *p, const ip4_addr_t *dst)
{
    uint8_t b[28 + 2048];
    struct reply *r;
    u16_t n = p->tot_len < sizeof(b) ? p->tot_len : (u16_t)sizeof(b);

    (void)netif, (void)dst;
    if (n_replies == sizeof(replies) / sizeof(replies[0]))
        return ERR_OK;
    pbuf_copy_partial(p, b, n, 0);
    if (n < 28 || b[9] != IP_PROTO_UDP)
        return ERR_OK;
    r = &replies[n_replies++];
    r->src = get32(b + 12), r->dst = get32(b + 16);
    r->sport = (u16_t)(b[20] << 8 | b[21]), r->dport = (u16_t)(b[22] << 8 | b[23]);
    r->len = (u16_t)(n - 28);
    memcpy(r->data, b + 28, r->len);
    return ERR_OK;
}

static struct netif nif;

static err_t nif_init(struct netif *n)
{
    n->output = capture;
    n->mtu = 1500;
    n->flags = NETIF_FLAG_UP | NETIF_FLAG_LINK_UP;
    NETIF_SET_CHECKSUM_CTRL(n, NETIF_CHECKSUM_DISABLE_ALL);
    return ERR_OK;
}

/*
 * A datagram from CLIENT:@sport to SERVER:PORT carrying @data, handed to
 * lwIP as a driver would: one pbuf, or (@split > 0) the IP and UDP headers
 * and the first @split payload bytes in one pbuf and the rest in a second.
 */
static void client_send(u16_t sport, const char *data, size_t dlen, size_t split)
{
    size_t first = split ? split : dlen;
    struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)(28 + first), PBUF_RAM);
    uint8_t *b = p->payload;

    memset(b, 0, 28);
    b[0] = 0x45;
    b[2] = (uint8_t)((28 + dlen) >> 8), b[3] = (uint8_t)(28 + dlen);
    b[8] = 64, b[9] = IP_PROTO_UDP;
    put32(b + 12, CLIENT);
    put32(b + 16, SERVER);
    b[20] = (uint8_t)(sport >> 8), b[21] = (uint8_t)sport;
    b[22] = PORT >> 8, b[23] = PORT & 0xff;
    b[24] = (uint8_t)((8 + dlen) >> 8), b[25] = (uint8_t)(8 + dlen);
    memcpy(b + 28, data, first);
    if (split) {
        struct pbuf *q = pbuf_alloc(PBUF_RAW, (u16_t)(dlen - split), PBUF_RAM);

        memcpy(q->payload, data + split, dlen - split);
        pbuf_cat(p, q);
    }
    if (nif.input(p, &nif) != ERR_OK)
        pbuf_free(p);
}

static void upper(char *out, const char *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = in[i] >= 'a' && in[i] <= 'z' ? (char)(in[i] - 'a' + 'A') : in[i];
}

/* One reply, to @sport, carrying @data in upper case. */
static bool expect_reply(const char *what, u16_t sport, const char *data, size_t dlen)
{
    static char want[2048];
    const struct reply *r;

    if (n_replies != 1) {
        printf("FAIL: %s: %u replies (want 1)\n", what, n_replies);
        return false;
    }
    r = &replies[0];
    upper(want, data, dlen);
    if (r->src != SERVER || r->sport != PORT || r->dst != CLIENT || r->dport != sport) {
        printf("FAIL: %s: the reply went from %08x:%u to %08x:%u (want %08x:%u to %08x:%u)\n", what, r->src,
               r->sport, r->dst, r->dport, SERVER, PORT, CLIENT, sport);
        return false;
    }
    if (r->len == dlen && memcmp(r->data, want, dlen) != 0) {
        size_t i = 0;

        while (r->data[i] == (uint8_t)want[i])
            i++;
        printf("FAIL: %s: the reply's bytes differ from byte %zu on (of %zu): 0x%02x, want 0x%02x (a pbuf "
               "chain: "
               "p->len is the first pbuf's bytes, p->tot_len all of them)\n",
               what, i, dlen, r->data[i], (uint8_t)want[i]);
        return false;
    }
    if (r->len != dlen) {
        printf("FAIL: %s: the reply is %u bytes \"%.*s%s\" (want %zu bytes \"%.*s%s\")\n", what, r->len,
               r->len < 40 ? r->len : 40, (const char *)r->data, r->len > 40 ? "..." : "", dlen,
               dlen < 40 ? (int)dlen : 40, want, dlen > 40 ? "..." : "");
        return false;
    }
    printf("%s: %u bytes back, in upper case, to port %u\n", what, r->len, r->dport);
    n_replies = 0;
    return true;
}

/* Every pbuf freed: lwIP's heap and its pools as they were before the first datagram. */
static mem_size_t heap0;
static mem_size_t memp0[MEMP_MAX];

static bool expect_no_leak(const char *what)
{
    if (lwip_stats.mem.used != heap0) {
        printf("FAIL: %s: lwIP's heap holds %ld bytes more than before: a pbuf not freed (the datagram "
               "the recv callback was given, or the reply after udp_sendto())\n",
               what, (long)lwip_stats.mem.used - (long)heap0);
        return false;
    }
    for (unsigned i = 0; i < MEMP_MAX; i++)
        if (lwip_stats.memp[i]->used != memp0[i]) {
            printf("FAIL: %s: lwIP's pool %s has %u in use (%u before)\n", what, lwip_stats.memp[i]->name,
                   (unsigned)lwip_stats.memp[i]->used, (unsigned)memp0[i]);
            return false;
        }
    return true;
}

int main(void)
{
    ip4_addr_t ip, mask, gw;
    static char big[1400];

    lwip_init();
    IP4_ADDR(&ip, 10, 0, 0, 2);
    IP4_ADDR(&mask, 255, 255, 255, 0);
    IP4_ADDR(&gw, 10, 0, 0, 1);
    netif_add(&nif, &ip, &mask, &gw, NULL, nif_init, ip4_input);
    netif_set_default(&nif);
    netif_set_up(&nif);

    if (ex_udp_start(PORT) != 0) {
        printf("FAIL: ex_udp_start(%u) did not return 0\n", PORT);
        return 1;
    }
    if (lwip_stats.memp[MEMP_UDP_PCB]->used != 1) {
        printf("FAIL: ex_udp_start() opened %u UDP pcbs (want 1)\n",
               (unsigned)lwip_stats.memp[MEMP_UDP_PCB]->used);
        return 1;
    }
    heap0 = lwip_stats.mem.used;
    for (unsigned i = 0; i < MEMP_MAX; i++)
        memp0[i] = lwip_stats.memp[i]->used;

    client_send(40000, "hello, udp 123", 14, 0);
    if (!expect_reply("one datagram", 40000, "hello, udp 123", 14) || !expect_no_leak("one datagram"))
        return 1;

    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + i % 26);
    memcpy(big + 1380, "the end.", 8);
    client_send(40001, big, sizeof(big), 100);
    if (!expect_reply("a datagram in two pbufs (100 + 1300 bytes)", 40001, big, sizeof(big)) ||
        !expect_no_leak("a datagram in two pbufs"))
        return 1;

    client_send(40002, "first", 5, 0);
    if (!expect_reply("client on port 40002", 40002, "first", 5))
        return 1;
    client_send(40003, "second", 6, 0);
    if (!expect_reply("client on port 40003", 40003, "second", 6))
        return 1;
    client_send(40002, "third", 5, 0);
    if (!expect_reply("client on port 40002 again", 40002, "third", 5) || !expect_no_leak("three clients"))
        return 1;

    printf("every datagram answered, every pbuf freed\n");
    return 0;
}
