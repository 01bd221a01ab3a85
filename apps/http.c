/*
 * The HTTP server over lwIP's raw TCP API (lwIP 2.1.3 doc/rawapi.txt and
 * src/core/tcp.c). The protocol is apps/http_proto.c's; this file moves
 * bytes and enforces time and connection limits.
 *
 * Input: inside a request, while nothing is buffered, a received pbuf is
 * parsed where it lies (conn_feed_pbuf: a PUT /sink body, up to 64 KiB a
 * segment with large receive, is not copied); what the parser does not take
 * now, and a segment that starts a request, is copied
 * into the connection's app_buf, and the pbuf is freed at once (the NIC gets
 * its buffers back). The parser takes buffered bytes one request at a time,
 * and tcp_recved() opens the window only for bytes parsed. While a response
 * is far from sent (HTTP_OUT_HIGH) pipelined requests wait in the buffer and
 * the window closes on the client.
 *
 * Output: every response chunk goes to tcp_write() without
 * TCP_WRITE_FLAG_COPY: lwIP references our memory (the chunk, or the const
 * /bytes pattern) until the peer acknowledges it, and only then is a chunk
 * freed (from the tcp_sent callback). tcp_write() refusing with ERR_MEM
 * (send buffer, segment queue or pbuf pool full) is not an error: the same
 * bytes are offered again from the next tcp_sent or tcp_poll callback.
 * Because lwIP may still hold references until then, a connection closes
 * (tcp_close) only once everything is acknowledged; the paths that cannot
 * wait use tcp_abort(), which drops lwIP's references before we free.
 *
 * Callbacks and pcb lifetime: after tcp_abort() inside a callback, return
 * ERR_ABRT; the err callback means lwIP has already freed the pcb, so only
 * our structure is freed there.
 */
#include "apps/http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "apps/app.h"
#include "apps/http_proto.h"
#include "lib/stats.h"
#include "lib/cmdline.h"
#include "lib/klog.h"
#include "net/txhold.h"
#include "lwip/sys.h"
#include "lwip/priv/tcp_priv.h" /* tcp_tw_pcbs: reap() looks TIME_WAITs up by tuple */
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "net/net_budget.h"

struct http_conn {
    struct tcp_pcb *pcb;
    struct http_conn *prev, *next; /* all live connections */
    struct app_buf in;             /* received, not parsed yet */
    uint64_t written;              /* output bytes handed to tcp_write() */
    uint64_t acked;                /* output bytes the peer acknowledged */
    uint32_t last_progress_ms;     /* last byte received or acknowledged */
    uint32_t request_start_ms;
    bool timing;      /* a request is under way since request_start_ms */
    bool peer_closed; /* FIN received */
    bool fin_sent;    /* our FIN is out (tcp_shutdown), waiting for the peer's */
    struct http_proto hp;
};

static struct {
    struct http_config cfg;
    uint32_t idle_ms, request_ms;
    unsigned max_conns;
    uint16_t port;
} conf;

static struct {
    unsigned live, peak;
    uint64_t accepted, refused_busy, refused_lwip;
    uint64_t closed, aborted, reset_by_peer;
    uint64_t tw_dropped; /* TIME_WAITs reap() found and dropped */
    uint64_t timeouts_idle, timeouts_request;
    uint64_t write_retries; /* tcp_write() said ERR_MEM */
    uint64_t bytes_in, bytes_out;
    uint64_t
        bytes_buffered; /* received bytes copied into a connection's app_buf (the rest parsed in place) */
} st;

static struct http_conn *conns;

static struct klog_ratelimit rl_refuse = KLOG_RATELIMIT_INIT(5000, 3);

unsigned http_live_conns(void)
{
    return st.live;
}

/* ------------------------------------------------------------ lifetime */

static void chunk_release(struct txhold *h)
{
    http_chunk_free((struct http_chunk *)((char *)h - offsetof(struct http_chunk, hold)));
}

/*
 * A chunk lwIP is done with (the peer acknowledged it, or the connection
 * is gone). The NIC may not be: frames built from it can still sit in the
 * transmit ring (a retransmission queued before the ACK came, or before an
 * abort or RST). Chunks whose bytes are ours wait for the ring
 * (net/txhold.h); the .rodata ones (static text, the /bytes pattern) need not.
 */
static void chunk_retire(struct http_chunk *ch)
{
    if (ch->mem || (ch->data && ch->data == (const char *)(ch + 1)))
        txhold_defer(&ch->hold, chunk_release);
    else
        http_chunk_free(ch);
}

static void conn_free(struct http_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    while (c->hp.out.head)
        chunk_retire(http_outq_unlink(&c->hp.out));
    http_proto_release(&c->hp);
    app_buf_free(&c->in);
    free(c);
    st.live--;
}

static void detach(struct tcp_pcb *pcb)
{
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, NULL);
    tcp_sent(pcb, NULL);
    tcp_err(pcb, NULL);
    tcp_poll(pcb, NULL, 0);
}

/* Reset the connection. Return ERR_ABRT, which the calling callback must return. */
static err_t conn_abort(struct http_conn *c)
{
    struct tcp_pcb *pcb = c->pcb;

    detach(pcb);
    tcp_abort(pcb); /* frees lwIP's segments, so nothing refers to our chunks any more */
    st.aborted++;
    conn_free(c);
    return ERR_ABRT;
}

/* tcp_recved() takes 16 bits at a time. */
static void recved(struct tcp_pcb *pcb, size_t n)
{
    while (n > 0) {
        u16_t k = n > 0xffff ? 0xffff : (u16_t)n;

        tcp_recved(pcb, k);
        n -= k;
    }
}

/*
 * The peer has closed its side: close ours (CLOSE_WAIT -> LAST_ACK, so no
 * TIME_WAIT here). Everything we sent is acknowledged, so lwIP holds no
 * reference to our memory. Unparsed input is acknowledged first, else
 * tcp_close() would answer with a RST (tcp.c, tcp_close_shutdown()).
 */
static err_t conn_close(struct http_conn *c)
{
    struct tcp_pcb *pcb = c->pcb;

    recved(pcb, c->in.len);
    app_buf_consume(&c->in, c->in.len);
    detach(pcb);
    if (tcp_close(pcb) != ERR_OK) { /* out of memory for the FIN */
        tcp_abort(pcb);
        st.aborted++;
        conn_free(c);
        return ERR_ABRT;
    }
    st.closed++;
    conn_free(c);
    return ERR_OK;
}

/*
 * We close first (an error, "Connection: close", HTTP/1.0): send our FIN
 * but keep the pcb until the peer's FIN arrives, then drop the pcb's
 * TIME_WAIT (reap()). Why: lwIP does not accept a new SYN on a 4-tuple in
 * TIME_WAIT (tcp_timewait_input() answers with an ACK, ignores the peer's
 * RST), and clients reuse ports quickly: with QEMU's user network, `ab`
 * hit a TIME_WAIT about once in 50 connections and stalled for seconds.
 * Dropping it costs only the protection against a lost final ACK, which
 * the peer recovers from with a RST.
 */
static err_t conn_shutdown(struct http_conn *c)
{
    recved(c->pcb, c->in.len);
    app_buf_consume(&c->in, c->in.len);
    if (tcp_shutdown(c->pcb, 0, 1) != ERR_OK)
        return conn_abort(c);
    c->fin_sent = true;
    return ERR_OK;
}

/*
 * A TIME_WAIT to drop, known by its 4-tuple only. Why not the pcb pointer:
 * lwIP frees a TIME_WAIT pcb without calling anyone (tcp_kill_timewait()
 * when the pool is empty, the 2 MSL timer, tcp_abandon()), so a pointer kept
 * past tcp_close() may point at a pcb freed, or already reused by another
 * connection; closing it then kills that connection or frees it twice. The
 * tuple is looked up in lwIP's TIME_WAIT list when the timer pass comes: a
 * pcb found there is, by its tuple, this connection's (or a later one's on
 * the same tuple, also in TIME_WAIT, which is as safe to drop).
 */
struct tw_reap {
    ip_addr_t local_ip, remote_ip;
    u16_t local_port, remote_port;
};

/* One per pcb at most; a full table only leaves a TIME_WAIT to its timer. */
static struct tw_reap tw_reaps[MEMP_NUM_TCP_PCB];
static unsigned n_tw_reaps;
static bool reap_scheduled;

/*
 * From lwIP's timeouts, i.e. the main loop outside tcp_input(), after lwIP
 * has acknowledged the peer's FIN: drop the TIME_WAITs of the connections
 * both sides have closed, if lwIP still has them.
 */
static void reap(void *arg)
{
    (void)arg;
    reap_scheduled = false;
    for (unsigned i = 0; i < n_tw_reaps; i++) {
        const struct tw_reap *r = &tw_reaps[i];

        for (struct tcp_pcb *pcb = tcp_tw_pcbs; pcb; pcb = pcb->next) {
            if (pcb->local_port == r->local_port && pcb->remote_port == r->remote_port &&
                ip_addr_cmp(&pcb->local_ip, &r->local_ip) && ip_addr_cmp(&pcb->remote_ip, &r->remote_ip)) {
                tcp_abort(pcb); /* in TIME_WAIT: freed at once, no RST */
                st.tw_dropped++;
                break;
            }
        }
    }
    n_tw_reaps = 0;
}

/*
 * Both FINs seen (from the recv callback, inside tcp_input()): the pcb is
 * lwIP's from here on. Detach, hand it back with tcp_close() (TIME_WAIT or
 * CLOSING: nothing is sent, lwIP frees it on its own), forget the pointer,
 * free the connection, and note the tuple so that reap() can drop the
 * TIME_WAIT once lwIP has sent the ACK of the peer's FIN.
 */
static void conn_release_closed(struct http_conn *c)
{
    struct tcp_pcb *pcb = c->pcb;

    if (n_tw_reaps < sizeof(tw_reaps) / sizeof(tw_reaps[0])) {
        struct tw_reap *r = &tw_reaps[n_tw_reaps++];

        ip_addr_copy(r->local_ip, pcb->local_ip);
        ip_addr_copy(r->remote_ip, pcb->remote_ip);
        r->local_port = pcb->local_port;
        r->remote_port = pcb->remote_port;
        if (!reap_scheduled) {
            reap_scheduled = true;
            sys_timeout(0, reap, NULL);
        }
    }
    detach(pcb);
    tcp_close(pcb); /* already shut both ways: only marks it closed */
    c->pcb = NULL;
    st.closed++;
    conn_free(c);
}

/* ------------------------------------------------------------ output */

/* Hand lwIP as much queued output as it takes. Return: ERR_OK or ERR_ABRT. */
static err_t conn_send(struct http_conn *c)
{
    struct http_outq *q = &c->hp.out;
    bool wrote = false;

    while (c->written < q->pushed) {
        uint64_t off;
        struct http_chunk *ch = http_outq_at(q, c->written, &off);
        size_t room = net_budget_tcp_room(c->pcb, false); /* our share, not all lwIP would take */
        uint64_t want = ch->len - off;
        const char *p;
        size_t avail;
        u16_t n;
        err_t err;

        if (room == 0)
            break;
        if (ch->data) {
            p = ch->data + off;
            avail = SIZE_MAX;
        } else {
            p = http_pattern_at(off, &avail);
        }
        if (want > avail)
            want = avail;
        if (want > room)
            want = room;
        if (want > 0xffff)
            want = 0xffff;
        n = (u16_t)want;
        err = tcp_write(c->pcb, p, n, c->written + n < q->pushed ? TCP_WRITE_FLAG_MORE : 0);
        if (err == ERR_MEM) {
            st.write_retries++; /* tried again from tcp_sent or tcp_poll */
            break;
        }
        if (err != ERR_OK)
            return conn_abort(c);
        c->written += n;
        st.bytes_out += n;
        wrote = true;
    }
    if (wrote)
        tcp_output(c->pcb);
    return ERR_OK;
}

/*
 * Parse what is buffered (while the output keeps up), send, and close when
 * the conversation is over. Every callback ends here.
 * Return: ERR_OK or ERR_ABRT.
 */
/* May the parser take more input now? Not once done, nor while the output backs up. */
static bool conn_may_feed(const struct http_conn *c)
{
    return !http_proto_done(&c->hp) && c->hp.out.pushed - c->written < HTTP_OUT_HIGH;
}

/* Feed @len bytes to the parser once; the request timer starts with a request. Return: bytes taken. */
static size_t conn_feed(struct http_conn *c, const char *data, size_t len)
{
    struct http_proto *hp = &c->hp;
    size_t n = http_proto_feed(hp, data, len);

    if (http_proto_in_request(hp) && !c->timing) {
        c->timing = true;
        c->request_start_ms = sys_now();
    } else if (!http_proto_in_request(hp)) {
        c->timing = false;
    }
    return n;
}

/*
 * Parse @p where it lies, pbuf by pbuf, as far as the parser may go now
 * (nothing may be buffered ahead of it: the caller checks). The window opens
 * for what was taken. Return: the bytes taken from @p's start.
 */
static size_t conn_feed_pbuf(struct http_conn *c, const struct pbuf *p)
{
    size_t used = 0;

    for (const struct pbuf *q = p; q; q = q->next) {
        size_t off = 0;

        while (off < q->len && conn_may_feed(c))
            off += conn_feed(c, (const char *)q->payload + off, q->len - off);
        used += off;
        if (off < q->len)
            break;
    }
    recved(c->pcb, used);
    return used;
}

static err_t conn_run(struct http_conn *c)
{
    struct http_proto *hp = &c->hp;
    err_t err;

    while (c->in.len > 0 && conn_may_feed(c)) {
        size_t n = conn_feed(c, app_buf_bytes(&c->in), c->in.len);

        app_buf_consume(&c->in, n);
        recved(c->pcb, n);
    }
    if (http_proto_done(hp) && c->in.len > 0) { /* nobody will read it */
        recved(c->pcb, c->in.len);
        app_buf_consume(&c->in, c->in.len);
    }
    if (c->peer_closed && c->in.len == 0)
        http_proto_finish(hp); /* a partial request can never complete */
    err = conn_send(c);
    if (err != ERR_OK)
        return err;
    if (http_proto_done(hp) && c->acked == hp->out.pushed)
        return c->peer_closed ? conn_close(c) : conn_shutdown(c);
    return ERR_OK;
}

/* ------------------------------------------------------------ lwIP callbacks */

static err_t http_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct http_conn *c = arg;

    if (c->fin_sent) { /* we have said all we will say */
        if (p) {
            recved(pcb, p->tot_len);
            pbuf_free(p);
        } else {
            conn_release_closed(c);
        }
        return ERR_OK;
    }
    if (!p) {
        c->peer_closed = true;
        return conn_run(c);
    }
    if (err != ERR_OK) { /* lwIP 2.1 never does this; be safe */
        pbuf_free(p);
        return err;
    }
    c->last_progress_ms = sys_now();
    st.bytes_in += p->tot_len;
    if (http_proto_done(&c->hp)) {
        recved(pcb, p->tot_len);
        pbuf_free(p);
        return conn_run(c);
    }
    /* In place only inside a request begun earlier (a body, or headers split
     * across segments): a request that starts here, a GET /stats, is answered
     * with its NIC buffer already home, so the pool it reports is whole. */
    size_t used = c->in.len == 0 && http_proto_in_request(&c->hp) ? conn_feed_pbuf(c, p) : 0;
    if (used < p->tot_len) {
        if (app_buf_append(&c->in, p, used) < 0) {
            pbuf_free(p);
            return conn_abort(c);
        }
        st.bytes_buffered += p->tot_len - used;
    }
    pbuf_free(p);
    return conn_run(c);
}

static err_t http_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    struct http_conn *c = arg;
    struct http_outq *q = &c->hp.out;

    (void)pcb;
    if (c->fin_sent)
        return ERR_OK;
    c->acked += len;
    c->last_progress_ms = sys_now();
    /* Chunks the peer has entirely are no longer referenced by lwIP. */
    while (q->head && q->popped + q->head->len <= c->acked)
        chunk_retire(http_outq_unlink(q));
    return conn_run(c);
}

static err_t http_poll(void *arg, struct tcp_pcb *pcb)
{
    struct http_conn *c = arg;
    uint32_t now = sys_now();

    (void)pcb;
    if (c->fin_sent) { /* waiting for the peer's FIN */
        if (conf.idle_ms && now - c->last_progress_ms >= conf.idle_ms) {
            st.timeouts_idle++;
            return conn_abort(c);
        }
        return ERR_OK;
    }
    if (conf.request_ms && c->timing && now - c->request_start_ms >= conf.request_ms &&
        !http_proto_done(&c->hp)) {
        st.timeouts_request++;
        c->timing = false;
        http_proto_timeout(&c->hp); /* 408, then close */
    }
    if (conf.idle_ms && now - c->last_progress_ms >= conf.idle_ms) {
        st.timeouts_idle++;
        /* Nothing owed either way: say goodbye. Else the peer stopped
         * reading or sending halfway: there is no graceful way out. */
        if (c->acked == c->hp.out.pushed && !http_proto_in_request(&c->hp)) {
            http_proto_finish(&c->hp);
            return c->peer_closed ? conn_close(c) : conn_shutdown(c);
        }
        return conn_abort(c);
    }
    return conn_run(c);
}

static void http_err(void *arg, err_t err)
{
    struct http_conn *c = arg;

    /* The pcb is gone already (lwIP freed it before calling us). */
    if (!c)
        return;
    if (err == ERR_RST)
        st.reset_by_peer++;
    else
        st.aborted++;
    conn_free(c);
}

/*
 * Over the connection limit: a fixed 503 from .rodata (lwIP may reference
 * it as long as it likes), and a close once it is acknowledged. Closing
 * from the accept callback itself is not safe: lwIP's SYN_RCVD code may
 * still change the state afterwards (tcp_in.c, a FIN on the handshake's
 * ACK). lwIP's default receive callback drops what the client sends.
 */
static const char resp_busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
                                "Content-Type: text/plain\r\n"
                                "Content-Length: 24\r\n"
                                "Connection: close\r\n"
                                "\r\n"
                                "503 Service Unavailable\n";

static err_t busy_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    (void)arg;
    (void)len;
    if (pcb->unacked || pcb->unsent)
        return ERR_OK;
    tcp_sent(pcb, NULL);
    if (tcp_close(pcb) != ERR_OK) {
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    return ERR_OK;
}

static err_t refuse(struct tcp_pcb *pcb)
{
    st.refused_busy++;
    if (klog_ratelimit(&rl_refuse))
        klog(LOG_WARN, "http: %u connections open, refusing one with 503", st.live);
    if (tcp_write(pcb, resp_busy, sizeof(resp_busy) - 1, 0) != ERR_OK)
        return ERR_MEM; /* lwIP resets the connection: still a clean refusal */
    tcp_sent(pcb, busy_sent);
    tcp_output(pcb);
    return ERR_OK;
}

/* The callbacks as lwIP sees them: timed for /stats "cycles" (section app). */
static err_t http_recv_timed(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    uint64_t t0 = app_cycles_begin();
    err_t ret = http_recv(arg, pcb, p, err);
    app_cycles_end(t0);
    return ret;
}

static err_t http_sent_timed(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    uint64_t t0 = app_cycles_begin();
    err_t ret = http_sent(arg, pcb, len);
    app_cycles_end(t0);
    return ret;
}

static err_t http_poll_timed(void *arg, struct tcp_pcb *pcb)
{
    uint64_t t0 = app_cycles_begin();
    err_t ret = http_poll(arg, pcb);
    app_cycles_end(t0);
    return ret;
}

static err_t http_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct http_conn *c;

    (void)arg;
    if (err != ERR_OK || !pcb) {
        /* lwIP had no pcb for the SYN (pool empty); the client will retry. */
        st.refused_lwip++;
        return ERR_VAL;
    }
    if (st.live >= conf.max_conns || !net_budget_admit())
        return refuse(pcb);
    c = malloc(sizeof(*c));
    if (!c)
        return refuse(pcb);
    memset(c, 0, offsetof(struct http_conn, hp));
    http_proto_init(&c->hp, &conf.cfg);
    c->pcb = pcb;
    c->last_progress_ms = sys_now();
    c->next = conns;
    if (conns)
        conns->prev = c;
    conns = c;
    st.live++;
    st.accepted++;
    if (st.live > st.peak)
        st.peak = st.live;

    tcp_arg(pcb, c);
    tcp_recv(pcb, http_recv_timed);
    tcp_sent(pcb, http_sent_timed);
    tcp_err(pcb, http_err);
    tcp_poll(pcb, http_poll_timed, 1); /* every 500 ms: timeouts, and retries after ERR_MEM */
    /* Responses are written whole: Nagle would only hold back the last
     * segment of one while an earlier one is unacknowledged. */
    tcp_nagle_disable(pcb);
    return ERR_OK;
}

/* ------------------------------------------------------------ stats and start */

static void write_http_stats(struct json_out *o, void *ctx)
{
    const struct http_proto_counters *pc = &http_proto_counters;

    (void)ctx;
    json_begin_object(o);
    json_kv_u64(o, "port", conf.port);
    json_kv_u64(o, "conns_live", st.live);
    json_kv_u64(o, "conns_peak", st.peak);
    json_kv_u64(o, "conns_max", conf.max_conns);
    json_kv_u64(o, "accepted", st.accepted);
    json_kv_u64(o, "refused_busy", st.refused_busy);
    json_kv_u64(o, "refused_no_pcb", st.refused_lwip);
    json_kv_u64(o, "closed", st.closed);
    json_kv_u64(o, "aborted", st.aborted);
    json_kv_u64(o, "reset_by_peer", st.reset_by_peer);
    json_kv_u64(o, "time_wait_dropped", st.tw_dropped);
    json_kv_u64(o, "timeouts_idle", st.timeouts_idle);
    json_kv_u64(o, "timeouts_request", st.timeouts_request);
    json_kv_u64(o, "write_retries", st.write_retries);
    json_kv_u64(o, "bytes_in", st.bytes_in);
    json_kv_u64(o, "bytes_buffered", st.bytes_buffered);
    json_kv_u64(o, "bytes_out", st.bytes_out);
    json_kv_u64(o, "requests", pc->requests);
    json_kv_u64(o, "responses", pc->responses);
    json_kv_u64(o, "status_2xx", pc->status_2xx);
    json_kv_u64(o, "status_4xx", pc->status_4xx);
    json_kv_u64(o, "status_5xx", pc->status_5xx);
    json_kv_u64(o, "continues", pc->continues);
    json_kv_u64(o, "bytes_streams", pc->bytes_streams);
    json_kv_u64(o, "bytes_streamed", pc->bytes_streamed);
    json_kv_u64(o, "sink_requests", pc->sink_requests);
    json_kv_u64(o, "sink_bytes", pc->sink_bytes);
    json_kv_u64(o, "oom", pc->oom);
    json_kv_u64(o, "unanswered", pc->unanswered);
    json_end_object(o);
}

static void write_stats_doc(struct json_out *o)
{
    stats_write(o);
}

static int http_start(uint16_t port)
{
    conf.port = port;
    conf.cfg.max_body = cmdline_get_u64("http_max_body", HTTP_DEFAULT_MAX_BODY);
    conf.cfg.write_stats = write_stats_doc;
    conf.idle_ms = (uint32_t)cmdline_get_u64("http_idle_ms", HTTP_DEFAULT_IDLE_MS);
    conf.request_ms = (uint32_t)cmdline_get_u64("http_request_ms", HTTP_DEFAULT_REQUEST_MS);
    conf.max_conns = (unsigned)cmdline_get_u64("http_max_conns", MEMP_NUM_TCP_PCB * 7 / 8);
    if (!app_tcp_listen("http", port, http_accept, NULL))
        return -EBUSY;
    stats_register("http", write_http_stats, NULL);
    klog(LOG_INFO, "http: max body %llu bytes, idle %u ms, request %u ms, %u connections",
         (unsigned long long)conf.cfg.max_body, conf.idle_ms, conf.request_ms, conf.max_conns);
    return 0;
}

static const struct app http_app = {
    .name = "http",
    .port = HTTP_DEFAULT_PORT,
    .default_on = true,
    .start = http_start,
};
APP_REGISTER(http_app);
