/* Echo, RFC 862, over TCP and UDP (apps/echo.h). */
#include "apps/echo.h"

#include <errno.h>
#include <stdlib.h>

#include "apps/app.h"
#include "lib/stats.h"
#include "lib/cmdline.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"
#include "lwip/ip.h"
#include "lwip/udp.h"
#include "net/net_budget.h"

struct echo_conn {
    struct tcp_pcb *pcb;
    struct app_buf pending; /* received, not yet queued back */
    uint32_t last_ms;       /* last byte received or acknowledged */
    bool peer_closed;
};

static struct {
    unsigned live;
    uint64_t accepted, bytes, datagrams, udp_bytes, udp_dropped, aborted, idle;
    uint64_t udp_refused_broadcast, udp_refused_port; /* reflection refused (echo_udp_recv) */
} st;

static uint32_t idle_ms;

static void conn_free(struct echo_conn *c)
{
    app_buf_free(&c->pending);
    free(c);
    st.live--;
}

static err_t conn_abort(struct echo_conn *c)
{
    tcp_arg(c->pcb, NULL);
    tcp_err(c->pcb, NULL);
    tcp_abort(c->pcb);
    st.aborted++;
    conn_free(c);
    return ERR_ABRT;
}

/*
 * Queue back what fits in the send buffer (copied: lwIP owns the copy, so
 * `pending` can shrink at once), open the window by as much, and close
 * once the client has finished and everything is queued.
 */
static err_t echo_flush(struct echo_conn *c)
{
    bool wrote = false;

    while (c->pending.len > 0) {
        size_t n = c->pending.len;
        size_t room = net_budget_tcp_room(c->pcb, true); /* our share of lwIP's memory */

        if (n > room)
            n = room;
        if (n > 0xffff)
            n = 0xffff;
        if (n == 0)
            break;
        err_t err = tcp_write(c->pcb, app_buf_bytes(&c->pending), (u16_t)n, TCP_WRITE_FLAG_COPY);
        if (err == ERR_MEM)
            break; /* again from tcp_sent or tcp_poll */
        if (err != ERR_OK)
            return conn_abort(c);
        app_buf_consume(&c->pending, n);
        tcp_recved(c->pcb, (u16_t)n);
        st.bytes += n;
        wrote = true;
    }
    if (wrote)
        tcp_output(c->pcb);
    if (c->peer_closed && c->pending.len == 0) {
        struct tcp_pcb *pcb = c->pcb;

        tcp_arg(pcb, NULL);
        tcp_recv(pcb, NULL);
        tcp_sent(pcb, NULL);
        tcp_err(pcb, NULL);
        tcp_poll(pcb, NULL, 0);
        conn_free(c);
        if (tcp_close(pcb) != ERR_OK) {
            tcp_abort(pcb);
            return ERR_ABRT;
        }
    }
    return ERR_OK;
}

static err_t echo_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct echo_conn *c = arg;

    (void)pcb;
    (void)err;
    c->last_ms = sys_now();
    if (!p) {
        c->peer_closed = true;
        return echo_flush(c);
    }
    if (app_buf_append(&c->pending, p, 0) < 0) {
        pbuf_free(p);
        return conn_abort(c);
    }
    pbuf_free(p);
    return echo_flush(c);
}

static err_t echo_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    struct echo_conn *c = arg;

    (void)pcb;
    (void)len;
    c->last_ms = sys_now();
    return echo_flush(c);
}

/* Retries after ERR_MEM, and forgets clients silent for echo_idle_ms. */
static err_t echo_poll(void *arg, struct tcp_pcb *pcb)
{
    struct echo_conn *c = arg;

    (void)pcb;
    if (idle_ms && sys_now() - c->last_ms >= idle_ms) {
        st.idle++;
        return conn_abort(c);
    }
    return echo_flush(c);
}

static void echo_err(void *arg, err_t err)
{
    (void)err;
    if (arg) /* lwIP has freed the pcb already */
        conn_free(arg);
}

/* The callbacks as lwIP sees them: timed for /stats "cycles" (section app). */
static err_t echo_recv_timed(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    uint64_t t0 = app_cycles_begin();
    err_t ret = echo_recv(arg, pcb, p, err);
    app_cycles_end(t0);
    return ret;
}

static err_t echo_sent_timed(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    uint64_t t0 = app_cycles_begin();
    err_t ret = echo_sent(arg, pcb, len);
    app_cycles_end(t0);
    return ret;
}

static err_t echo_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct echo_conn *c;

    (void)arg;
    if (err != ERR_OK || !pcb)
        return ERR_VAL;
    if (!net_budget_admit()) { /* counted and logged there */
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    c->pcb = pcb;
    c->last_ms = sys_now();
    st.live++;
    st.accepted++;
    tcp_arg(pcb, c);
    tcp_recv(pcb, echo_recv_timed);
    tcp_sent(pcb, echo_sent_timed);
    tcp_err(pcb, echo_err);
    tcp_poll(pcb, echo_poll, 2);
    tcp_nagle_disable(pcb); /* interactive: each line back at once */
    return ERR_OK;
}

/*
 * Would answering make us a reflector? UDP source addresses are not
 * checked by anyone, so an echo is sent wherever the sender claims to be:
 * - a datagram to a broadcast or multicast address reached every host of
 *   the link, and each one answering multiplies the sender's traffic;
 * - a source port below 1024 is a service (DNS 53, NTP 123, chargen 19,
 *   another echo 7): "answering" it feeds that service our echo, and two
 *   echo servers pointed at each other ping-pong forever (CVE-1999-0103).
 * RFC 862 asks for neither. Both are dropped silently and counted.
 */
static bool udp_refuse(const struct pbuf *p, const ip_addr_t *src, u16_t port)
{
    const ip_addr_t *dst = ip_current_dest_addr();

    (void)p;
    if (ip_addr_ismulticast(dst) || ip_addr_isbroadcast(dst, ip_current_input_netif()) ||
        ip_addr_ismulticast(src) || ip_addr_isbroadcast(src, ip_current_input_netif())) {
        st.udp_refused_broadcast++;
        return true;
    }
    if (port < 1024) {
        st.udp_refused_port++;
        return true;
    }
    return false;
}

/* A copy goes back, so the NIC's receive buffer is free as soon as we return. */
static void echo_udp_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
    struct pbuf *q;

    (void)arg;
    if (udp_refuse(p, addr, port)) {
        pbuf_free(p);
        return;
    }
    q = pbuf_alloc(PBUF_TRANSPORT, p->tot_len, PBUF_RAM);
    if (q && pbuf_copy(q, p) == ERR_OK && udp_sendto(pcb, q, addr, port) == ERR_OK) {
        st.datagrams++;
        st.udp_bytes += p->tot_len;
    } else {
        st.udp_dropped++;
    }
    if (q)
        pbuf_free(q);
    pbuf_free(p);
}

static void write_echo_stats(struct json_out *o, void *ctx)
{
    (void)ctx;
    json_begin_object(o);
    json_kv_u64(o, "tcp_live", st.live);
    json_kv_u64(o, "tcp_accepted", st.accepted);
    json_kv_u64(o, "tcp_bytes", st.bytes);
    json_kv_u64(o, "tcp_aborted", st.aborted);
    json_kv_u64(o, "tcp_idle_timeouts", st.idle);
    json_kv_u64(o, "udp_datagrams", st.datagrams);
    json_kv_u64(o, "udp_bytes", st.udp_bytes);
    json_kv_u64(o, "udp_dropped", st.udp_dropped);
    json_kv_u64(o, "udp_refused_broadcast", st.udp_refused_broadcast);
    json_kv_u64(o, "udp_refused_port", st.udp_refused_port);
    json_end_object(o);
}

static int echo_start(uint16_t port)
{
    idle_ms = (uint32_t)cmdline_get_u64("echo_idle_ms", ECHO_DEFAULT_IDLE_MS);
    if (!app_tcp_listen("echo", port, echo_accept, NULL))
        return -EBUSY;
    if (!app_udp_bind("echo", port, echo_udp_recv, NULL))
        return -EBUSY;
    stats_register("echo", write_echo_stats, NULL);
    return 0;
}

static const struct app echo_app = {
    .name = "echo",
    .port = ECHO_DEFAULT_PORT,
    .default_on = true,
    .start = echo_start,
};
APP_REGISTER(echo_app);
