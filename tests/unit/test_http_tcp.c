/*
 * apps/http.c over lwIP 2.1.3 built for the host (real pools, real timers),
 * on a fake IPv4 netif whose output the test reads: the connection
 * lifetime paths that only show with lwIP underneath.
 *
 * The client side is played by hand: TCP segments built here go to
 * ip4_input(), and what the server sends is captured (checksums are off on
 * this netif: NETIF_CHECKSUM_DISABLE_ALL).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "apps/app.h"
#include "drivers/nic.h"
#include "lib/stats.h"
#include "drivers/virtio_net.h"
#include "lib/klog.h"
#include "lwip/init.h"
#include "lwip/ip4.h"
#include "lwip/memp.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "net/net_budget.h"
#include "net/txhold.h"

/* ---------------------------------------------------------------- platform doubles */

static u32_t now_ms = 1000;

u32_t sys_now(void)
{
    return now_ms;
}

uint32_t lwip_port_rand(void)
{
    static uint32_t x = 12345;
    x = x * 1103515245u + 12345u;
    return x;
}

void lwip_port_assert(const char *msg, const char *file, int line)
{
    fail_msg("lwIP assertion \"%s\" at %s:%d", msg, file, line);
    abort();
}

void klog(int level, const char *fmt, ...)
{
    (void)level, (void)fmt;
}

int klog_ratelimit(struct klog_ratelimit *rl)
{
    (void)rl;
    return 1;
}

uint64_t cmdline_get_u64(const char *key, uint64_t def)
{
    (void)key;
    return def;
}

const char *cmdline_get(const char *key)
{
    (void)key;
    return NULL;
}

int stats_register(const char *name, stats_write_fn write, void *ctx)
{
    (void)name, (void)write, (void)ctx;
    return 0;
}

void stats_write(struct json_out *out)
{
    (void)out;
}

/* apps_start() registers apps_tick() with the main loop (net/loop.c), which is not here. */
int loop_register_tick(void (*fn)(void))
{
    (void)fn;
    return 0;
}

uint64_t cycles_now(void)
{
    return 0;
}

struct prof_counter;
void prof_add_slow(unsigned s, uint64_t c);

/*
 * A transmit ring, when ring_on: every frame the netif sends is kept
 * (pbuf_ref, as drivers/virtio_net.c does) with a copy of its bytes as
 * sent, and "the device" reads it only when the test completes it. This is
 * what net/txhold.c asks through nic_get() and the NIC's tx_progress.
 */
#define RING_MAX 64
static struct ring_frame {
    struct pbuf *p;
    uint8_t sent[1600];
    u16_t len;
    bool done;
} ring[RING_MAX];
static unsigned ring_n;
static bool ring_on;

/* The memory budget (net/net_budget.c) is tested on its own (test_budget,
 * tests/integration/test_hostile.py); here it grants what lwIP itself would. */
size_t net_budget_tcp_room(const struct tcp_pcb *pcb, bool copy)
{
    (void)copy;
    return tcp_sndbuf(pcb);
}
bool net_budget_admit(void)
{
    return true;
}
bool net_budget_app_grow(size_t old_cap, size_t new_cap)
{
    (void)old_cap;
    (void)new_cap;
    return true;
}

static void fake_tx_progress(struct nic *nic, uint64_t *submitted, uint64_t *oldest)
{
    unsigned i = 0;

    (void)nic;
    while (i < ring_n && ring[i].done)
        i++;
    *submitted = ring_n;
    *oldest = i;
}

static const struct nic_ops fake_nic_ops = {.tx_progress = fake_tx_progress};
static struct nic fake_nic = {.ops = &fake_nic_ops, .driver = "fake"};

/* The NIC registry (drivers/nic.h) as net/txhold.c sees it: one NIC while ring_on. */
struct nic *nic_get(unsigned i)
{
    return ring_on && i == 0 ? &fake_nic : NULL;
}

/* The device reads frame @i now and gives it back: its bytes must be those sent. */
static void ring_complete(unsigned i)
{
    static uint8_t now[1600];
    struct ring_frame *f = &ring[i];

    assert_int_equal(pbuf_copy_partial(f->p, now, f->len, 0), f->len);
    assert_memory_equal(now, f->sent, f->len);
    pbuf_free(f->p);
    f->p = NULL;
    f->done = true;
}

/* ---------------------------------------------------------------- the wire */

#define CLIENT 0x0a000001u /* 10.0.0.1 */
#define SERVER 0x0a000002u /* 10.0.0.2 */

struct seg {
    u16_t sport, dport;
    u32_t seq, ack;
    u8_t flags;
    u16_t len;
};

#define SENT_MAX 4096
static struct seg sent[SENT_MAX];
static unsigned n_sent;

static err_t capture(struct netif *netif, struct pbuf *p, const ip4_addr_t *dst)
{
    uint8_t b[60];
    struct seg *s;

    (void)netif, (void)dst;
    assert_true(n_sent < SENT_MAX);
    assert_int_equal(pbuf_copy_partial(p, b, 40, 0), 40);
    s = &sent[n_sent++];
    s->sport = (u16_t)(b[20] << 8 | b[21]);
    s->dport = (u16_t)(b[22] << 8 | b[23]);
    s->seq = (u32_t)b[24] << 24 | (u32_t)b[25] << 16 | (u32_t)b[26] << 8 | b[27];
    s->ack = (u32_t)b[28] << 24 | (u32_t)b[29] << 16 | (u32_t)b[30] << 8 | b[31];
    s->flags = b[33];
    s->len = (u16_t)(p->tot_len - 20 - (b[32] >> 4) * 4);
    if (ring_on) {
        struct ring_frame *f = &ring[ring_n++];

        assert_true(ring_n <= RING_MAX && p->tot_len <= sizeof(f->sent));
        pbuf_ref(p);
        f->p = p;
        f->len = p->tot_len;
        assert_int_equal(pbuf_copy_partial(p, f->sent, f->len, 0), f->len);
    }
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

static void put32(uint8_t *p, u32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* The client sends one segment. */
static void client_send(u16_t sport, u32_t seq, u32_t ack, u8_t flags, const char *data)
{
    u16_t dlen = data ? (u16_t)strlen(data) : 0;
    struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)(40 + dlen), PBUF_RAM);
    uint8_t *b = p->payload;

    memset(b, 0, 40);
    b[0] = 0x45;
    b[2] = (uint8_t)((40 + dlen) >> 8), b[3] = (uint8_t)(40 + dlen);
    b[8] = 64, b[9] = 6;
    put32(b + 12, CLIENT);
    put32(b + 16, SERVER);
    b[20] = (uint8_t)(sport >> 8), b[21] = (uint8_t)sport;
    b[22] = 0, b[23] = 80;
    put32(b + 24, seq);
    put32(b + 28, ack);
    b[32] = 5 << 4;
    b[33] = flags;
    b[34] = 0xff, b[35] = 0xff;
    if (dlen)
        memcpy(b + 40, data, dlen);
    ip4_input(p, &nif);
}

/* The last segment the server sent to @port, or NULL. */
static const struct seg *last_to(u16_t port)
{
    for (unsigned i = n_sent; i-- > 0;)
        if (sent[i].dport == port)
            return &sent[i];
    return NULL;
}

static unsigned count_to(u16_t port, u8_t flags)
{
    unsigned n = 0;

    for (unsigned i = 0; i < n_sent; i++)
        if (sent[i].dport == port && (sent[i].flags & flags))
            n++;
    return n;
}

static struct tcp_pcb *find_pcb(struct tcp_pcb *list, u16_t port)
{
    for (struct tcp_pcb *p = list; p; p = p->next)
        if (p->remote_port == port)
            return p;
    return NULL;
}

/* ---------------------------------------------------------------- tests */

/*
 * A connection the server closes first (HTTP/1.0) ends in TIME_WAIT once
 * the peer's FIN comes. The pcb pool then runs dry, so lwIP frees that
 * TIME_WAIT pcb (tcp_kill_timewait(), no callback) and hands it to the
 * next SYN. The HTTP server's TIME_WAIT drop must not touch it: before the
 * fix, reap() closed the pcb by its old pointer, which sent a FIN on the
 * new connection (and, once it was freed again, corrupted the pool).
 */
static void test_reap_after_timewait_kill_leaves_reused_pcb_alone(void **state)
{
    static struct tcp_pcb *filler[MEMP_NUM_TCP_PCB];
    const char *req = "GET /a HTTP/1.0\r\n\r\n";
    const u16_t port = 40000, next = 40001;
    u32_t s_isn, c_seq = 1000, fin_seq;
    struct tcp_pcb *tw, *reused;
    unsigned n_fill = 0;
    const struct seg *s;

    (void)state;
    client_send(port, c_seq, 0, TCP_SYN, NULL);
    s = last_to(port);
    assert_non_null(s);
    assert_int_equal(s->flags & (TCP_SYN | TCP_ACK), TCP_SYN | TCP_ACK);
    s_isn = s->seq;
    c_seq++;
    client_send(port, c_seq, s_isn + 1, TCP_ACK, req);
    c_seq += (u32_t)strlen(req);
    s = last_to(port);
    assert_true(s->len > 0);                                  /* the response */
    client_send(port, c_seq, s->seq + s->len, TCP_ACK, NULL); /* all acknowledged: the server's FIN */
    s = last_to(port);
    assert_true(s->flags & TCP_FIN);
    fin_seq = s->seq + s->len;
    client_send(port, c_seq, fin_seq + 1, TCP_ACK | TCP_FIN, NULL); /* -> TIME_WAIT */
    tw = find_pcb(tcp_tw_pcbs, port);
    assert_non_null(tw);

    /* The pool runs dry (the reap is due at the next timer pass, not yet). */
    while (lwip_stats.memp[MEMP_TCP_PCB]->used < lwip_stats.memp[MEMP_TCP_PCB]->avail) {
        filler[n_fill] = tcp_new();
        assert_non_null(filler[n_fill]);
        n_fill++;
    }
    assert_ptr_equal(find_pcb(tcp_tw_pcbs, port), tw);
    client_send(next, 5000, 0, TCP_SYN, NULL);
    assert_null(find_pcb(tcp_tw_pcbs, port)); /* killed silently */
    reused = find_pcb(tcp_active_pcbs, next);
    assert_non_null(reused);
    assert_ptr_equal(reused, tw); /* the same memory, another connection */
    assert_int_equal(reused->state, SYN_RCVD);

    sys_check_timeouts(); /* the HTTP server's TIME_WAIT drop */

    assert_ptr_equal(find_pcb(tcp_active_pcbs, next), reused);
    assert_int_equal(reused->state, SYN_RCVD);
    assert_int_equal(count_to(next, TCP_FIN | TCP_RST), 0);

    /* Clean up: the new connection, the fillers. */
    tcp_abort(reused);
    for (unsigned i = 0; i < n_fill; i++)
        tcp_close(filler[i]);
    assert_int_equal(lwip_stats.memp[MEMP_TCP_PCB]->used, 0);
}

/*
 * A response is in the ring (not yet read by the device) when the client
 * resets: the err callback frees the connection and its chunks. The device
 * reads the frame afterwards and must find the bytes that were sent: the
 * chunk's memory is held until the ring gives the frame back
 * (net/txhold.c). Before, the chunk was freed at once and the device read
 * freed heap (ASan: heap-use-after-free in ring_complete()).
 */
static void test_rst_with_response_in_ring_keeps_chunk_until_tx_done(void **state)
{
    const char *req = "GET /some/echoed/path HTTP/1.1\r\nHost: ring\r\n\r\n";
    const u16_t port = 41000;
    u32_t s_isn, c_seq = 7000;
    unsigned first;
    const struct seg *s;

    (void)state;
    client_send(port, c_seq, 0, TCP_SYN, NULL);
    s = last_to(port);
    assert_non_null(s);
    s_isn = s->seq;
    c_seq++;
    ring_on = true;
    ring_n = 0;
    first = n_sent;
    client_send(port, c_seq, s_isn + 1, TCP_ACK, req);
    c_seq += (u32_t)strlen(req);
    assert_true(n_sent > first && ring_n > 0);
    assert_true(last_to(port)->len > 0); /* the echo, built from a chunk of ours */

    client_send(port, c_seq, s_isn + 1, TCP_RST | TCP_ACK, NULL); /* err callback: conn freed */
    assert_null(find_pcb(tcp_active_pcbs, port));
    assert_true(txhold_pending() > 0); /* the chunk waits for the ring */
    for (unsigned i = 0; i < ring_n; i++)
        ring_complete(i);
    txhold_run();
    assert_int_equal(txhold_pending(), 0);
    ring_on = false;
    ring_n = 0;
}

static int setup(void **state)
{
    ip4_addr_t ip, mask, gw;
    const struct app *http;

    (void)state;
    lwip_init();
    IP4_ADDR(&ip, 10, 0, 0, 2);
    IP4_ADDR(&mask, 255, 255, 255, 0);
    IP4_ADDR(&gw, 10, 0, 0, 1);
    assert_non_null(netif_add(&nif, &ip, &mask, &gw, NULL, nif_init, ip4_input));
    netif_set_default(&nif);
    netif_set_up(&nif);
    http = app_find("http");
    assert_non_null(http);
    assert_int_equal(http->start(80), 0);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reap_after_timewait_kill_leaves_reused_pcb_alone),
        cmocka_unit_test(test_rst_with_response_in_ring_keeps_chunk_until_tx_done),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
