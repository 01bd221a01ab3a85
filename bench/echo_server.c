/*
 * The benchmarks' peer server: the unikernel's HTTP app (apps/http.c) as a
 * Linux process, for the Linux guest and for the host itself (issue 8,
 * bench/README.md). Single-threaded epoll(7) over non-blocking sockets.
 *
 * The protocol is the kernel's own apps/http_proto.c with the same
 * http-parser 2.9.4, so every response is byte for byte the kernel's and
 * each request costs the same parsing work; this file only does what
 * apps/http.c does over lwIP, with Linux sockets:
 *
 * - Input is read into a fixed buffer and parsed one request at a time
 *   while less than HTTP_OUT_HIGH of output is unsent; past that the socket
 *   is no longer read, so TCP's window holds back a pipelining client (the
 *   kernel's tcp_recved() only for bytes parsed).
 * - Output is the protocol's chunk queue written with sendmsg(); /bytes/N
 *   chunks are written straight from the const pattern (http_pattern_at()),
 *   as far as the socket buffer takes, then again on EPOLLOUT: N is never
 *   in memory. PUT /sink bodies are counted and dropped as they are parsed,
 *   as on ours (the same apps/http_proto.c route).
 * - The same limits and timeouts: http_max_body, http_request_ms (408),
 *   http_idle_ms, http_max_conns (a fixed 503, then close), checked every
 *   500 ms as the kernel's tcp_poll callback does.
 * - Closing: once the conversation is over and all output written, shut
 *   down our side and read until the client's FIN (closing with unread
 *   input would make Linux send a RST, which could destroy the response).
 * - TCP_NODELAY: the kernel disables Nagle too (responses are written whole).
 *
 * Differences, on purpose: GET /stats answers 404 (http_proto's answer when
 * there is no stats writer; the Linux side has no counters of ours to
 * show), and the server logs nothing per connection.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "apps/http.h"
#include "apps/http_proto.h"

/* Input read but not parsed yet, per connection. */
#define IN_BUF_SIZE 16384
/* At most this many iovecs, and bytes, per sendmsg(). */
#define OUT_IOV_MAX  64
#define OUT_SEND_MAX (256 * 1024)
#define POLL_MS      500
#define MAX_EVENTS   256
/* The kernel's default http_max_conns: 7/8 of lwIP's 600 TCP pcbs (net/port/lwipopts.h). */
#define DEFAULT_MAX_CONNS 525

struct conn {
    int fd;
    struct conn *prev, *next;
    uint32_t events;           /* what epoll is asked for now */
    uint64_t written;          /* output bytes the socket took */
    uint64_t last_progress_ms; /* last byte read or written */
    uint64_t request_start_ms;
    bool timing;      /* a request is under way since request_start_ms */
    bool peer_closed; /* read() returned 0 */
    bool fin_sent;    /* shutdown(SHUT_WR) done, reading until the client's FIN */
    bool refused;     /* over max_conns: got the fixed 503, not counted as live */
    size_t in_len;
    char in[IN_BUF_SIZE];
    struct http_proto hp;
};

static struct {
    struct http_config cfg;
    uint64_t idle_ms, request_ms;
    unsigned max_conns;
    unsigned port;
    const char *addr;
} conf = {
    .cfg = {.max_body = HTTP_DEFAULT_MAX_BODY, .write_stats = NULL},
    .idle_ms = HTTP_DEFAULT_IDLE_MS,
    .request_ms = HTTP_DEFAULT_REQUEST_MS,
    .max_conns = DEFAULT_MAX_CONNS,
    .port = HTTP_DEFAULT_PORT,
    .addr = NULL,
};

static int epfd;
static struct conn *conns;
static unsigned live;

/* apps/http.c's fixed refusal, the same bytes. */
static const char resp_busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
                                "Content-Type: text/plain\r\n"
                                "Content-Length: 24\r\n"
                                "Connection: close\r\n"
                                "\r\n"
                                "503 Service Unavailable\n";

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("echo_server: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ lifetime */

static void conn_free(struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    close(c->fd); /* also takes it out of the epoll set */
    http_proto_release(&c->hp);
    if (!c->refused)
        live--;
    free(c);
}

/* End the connection with a RST (the kernel's tcp_abort()). */
static void conn_abort(struct conn *c)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};

    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    conn_free(c);
}

static void set_events(struct conn *c, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};

    if (events == c->events)
        return;
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
    c->events = events;
}

/* ------------------------------------------------------------ output */

/*
 * Write as much queued output as the socket takes. The socket copies, so a
 * chunk is freed as soon as it is written. Return: 0, or -1 when the
 * connection is dead (the caller frees it).
 */
static int conn_send(struct conn *c)
{
    struct http_outq *q = &c->hp.out;

    while (c->written < q->pushed) {
        struct iovec iov[OUT_IOV_MAX];
        int n_iov = 0;
        size_t total = 0;
        uint64_t off, pos = c->written;
        struct http_chunk *ch = http_outq_at(q, pos, &off);

        while (ch && n_iov < OUT_IOV_MAX && total < OUT_SEND_MAX) {
            uint64_t want = ch->len - off;
            const char *p;
            size_t avail;

            if (ch->data) {
                p = ch->data + off;
                avail = SIZE_MAX;
            } else {
                p = http_pattern_at(off, &avail);
            }
            if (want > avail)
                want = avail;
            if (want > OUT_SEND_MAX - total)
                want = OUT_SEND_MAX - total;
            iov[n_iov].iov_base = (void *)(uintptr_t)p;
            iov[n_iov].iov_len = (size_t)want;
            n_iov++;
            total += (size_t)want;
            off += want;
            if (off == ch->len) {
                ch = ch->next;
                off = 0;
            }
        }

        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n_iov};
        ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);

        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0; /* EPOLLOUT brings us back */
            if (errno == EINTR)
                continue;
            return -1;
        }
        c->written += (uint64_t)n;
        c->last_progress_ms = now_ms();
        while (q->head && q->popped + q->head->len <= c->written)
            http_outq_pop(q);
    }
    return 0;
}

/* ------------------------------------------------------------ the conversation */

/*
 * Parse what is buffered (while the output keeps up), write, close when the
 * conversation is over, and ask epoll for what we wait for next. Every
 * event ends here. Return: false when @c has been freed.
 */
static bool conn_run(struct conn *c)
{
    struct http_proto *hp = &c->hp;
    size_t used = 0;
    uint32_t events = 0;

    while (used < c->in_len && !http_proto_done(hp) && hp->out.pushed - c->written < HTTP_OUT_HIGH) {
        used += http_proto_feed(hp, c->in + used, c->in_len - used);
        if (http_proto_in_request(hp) && !c->timing) {
            c->timing = true;
            c->request_start_ms = now_ms();
        } else if (!http_proto_in_request(hp)) {
            c->timing = false;
        }
    }
    if (http_proto_done(hp))
        used = c->in_len; /* nobody will read it */
    if (used > 0) {
        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;
    }
    if (c->peer_closed && c->in_len == 0)
        http_proto_finish(hp); /* a partial request can never complete */
    if (conn_send(c) < 0) {
        conn_abort(c);
        return false;
    }
    if (http_proto_done(hp) && c->written == hp->out.pushed) {
        if (c->peer_closed) {
            conn_free(c);
            return false;
        }
        if (!c->fin_sent) {
            shutdown(c->fd, SHUT_WR);
            c->fin_sent = true;
        }
    }
    /*
     * Read when there is room and the output keeps up; once done, read
     * only to throw away what comes until the client's FIN.
     */
    if (!c->peer_closed &&
        (http_proto_done(hp) || (c->in_len < sizeof(c->in) && hp->out.pushed - c->written < HTTP_OUT_HIGH)))
        events |= EPOLLIN;
    if (c->written < hp->out.pushed)
        events |= EPOLLOUT;
    set_events(c, events);
    return true;
}

static void conn_readable(struct conn *c)
{
    for (;;) {
        char sink[4096];
        bool discard = http_proto_done(&c->hp);
        char *dst = discard ? sink : c->in + c->in_len;
        size_t room = discard ? sizeof(sink) : sizeof(c->in) - c->in_len;
        ssize_t n;

        if (room == 0)
            break;
        n = read(c->fd, dst, room);
        if (n > 0) {
            c->last_progress_ms = now_ms();
            if (!discard)
                c->in_len += (size_t)n;
            if ((size_t)n < room)
                break; /* drained; anything later comes with the next event */
            continue;
        }
        if (n == 0) {
            c->peer_closed = true;
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            conn_abort(c); /* ECONNRESET and the like */
            return;
        }
        break;
    }
    if (c->fin_sent && c->peer_closed) {
        conn_free(c); /* both sides have said all they will */
        return;
    }
    conn_run(c);
}

static void conn_event(struct conn *c, uint32_t events)
{
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        conn_readable(c);
        return;
    }
    conn_run(c);
}

/* ------------------------------------------------------------ accept and timeouts */

static int listen_fd;

static void accept_all(void)
{
    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        int one = 1;
        struct conn *c;
        struct epoll_event ev;

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE)
                fprintf(stderr, "echo_server: accept: %s\n", strerror(errno));
            return; /* EAGAIN: all taken */
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c = malloc(sizeof(*c));
        if (!c) {
            close(fd);
            continue;
        }
        memset(c, 0, offsetof(struct conn, hp));
        http_proto_init(&c->hp, &conf.cfg);
        c->fd = fd;
        c->last_progress_ms = now_ms();
        if (live >= conf.max_conns) {
            /* A fresh socket's buffer takes these few bytes whole. */
            c->refused = true;
            if (send(fd, resp_busy, sizeof(resp_busy) - 1, MSG_NOSIGNAL) < 0) {
                http_proto_release(&c->hp);
                free(c);
                close(fd);
                continue;
            }
            http_proto_finish(&c->hp);
        } else {
            live++;
        }
        c->next = conns;
        if (conns)
            conns->prev = c;
        conns = c;
        ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = c};
        c->events = EPOLLIN;
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
            die("epoll_ctl: %s", strerror(errno));
        conn_run(c);
    }
}

/* apps/http.c's http_poll(), for every connection. */
static void poll_timeouts(void)
{
    uint64_t now = now_ms();
    struct conn *c, *next;

    for (c = conns; c; c = next) {
        next = c->next;
        if (c->fin_sent) { /* waiting for the client's FIN */
            if (conf.idle_ms && now - c->last_progress_ms >= conf.idle_ms)
                conn_abort(c);
            continue;
        }
        if (conf.request_ms && c->timing && now - c->request_start_ms >= conf.request_ms &&
            !http_proto_done(&c->hp)) {
            c->timing = false;
            http_proto_timeout(&c->hp); /* 408, then close */
        }
        if (conf.idle_ms && now - c->last_progress_ms >= conf.idle_ms) {
            /* Nothing owed either way: say goodbye; else there is no graceful way out. */
            if (c->written == c->hp.out.pushed && !http_proto_in_request(&c->hp)) {
                http_proto_finish(&c->hp);
            } else {
                conn_abort(c);
                continue;
            }
        }
        conn_run(c);
    }
}

/* ------------------------------------------------------------ start */

static int listen_on(const char *addr, unsigned port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd, one = 1, zero = 0;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

    memset(&ss, 0, sizeof(ss));
    if (!addr || inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
        /* Default: IPv6 and IPv4 on one socket, as the kernel's app_tcp_listen(). */
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        if (!addr)
            s6->sin6_addr = in6addr_any;
        len = sizeof(*s6);
    } else if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        len = sizeof(*s4);
    } else {
        die("--addr %s: not an IPv4 or IPv6 address", addr);
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 && !addr && errno == EAFNOSUPPORT) { /* a kernel without IPv6 */
        memset(&ss, 0, sizeof(ss));
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        s4->sin_addr.s_addr = htonl(INADDR_ANY);
        len = sizeof(*s4);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    }
    if (fd < 0)
        die("socket: %s", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss.ss_family == AF_INET6 && !addr)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    if (bind(fd, (struct sockaddr *)&ss, len) < 0)
        die("bind %s port %u: %s", addr ? addr : "[::]", port, strerror(errno));
    if (listen(fd, SOMAXCONN) < 0)
        die("listen: %s", strerror(errno));
    return fd;
}

static uint64_t parse_u64(const char *opt, const char *s, uint64_t max)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v > max)
        die("%s %s: expected a number up to %llu", opt, s, (unsigned long long)max);
    return v;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: echo_server [--port N] [--addr A] [--max-body N] [--idle-ms N]\n"
            "                   [--request-ms N] [--max-conns N]\n"
            "The unikernel's HTTP echo server (docs/apps.md) as a Linux process.\n"
            "  --port N        TCP port (default 80)\n"
            "  --addr A        listen on this IPv4 or IPv6 address only (default: all, both)\n"
            "  --max-body N    request bodies over N bytes get 413 (default %d)\n"
            "  --idle-ms N     close connections idle this long (default %d, 0: never)\n"
            "  --request-ms N  408 for a request slower than this (default %d, 0: never)\n"
            "  --max-conns N   503 beyond N connections (default %d)\n"
            "Prints \"echo_server: listening on ADDR port N\" once it accepts connections.\n",
            HTTP_DEFAULT_MAX_BODY, HTTP_DEFAULT_IDLE_MS, HTTP_DEFAULT_REQUEST_MS, DEFAULT_MAX_CONNS);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},
        {"addr", required_argument, NULL, 'a'},
        {"max-body", required_argument, NULL, 'b'},
        {"idle-ms", required_argument, NULL, 'i'},
        {"request-ms", required_argument, NULL, 'r'},
        {"max-conns", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    uint64_t next_poll;
    int opt;

    while ((opt = getopt_long(argc, argv, "p:a:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'p':
            conf.port = (unsigned)parse_u64("--port", optarg, 65535);
            break;
        case 'a':
            conf.addr = optarg;
            break;
        case 'b':
            conf.cfg.max_body = parse_u64("--max-body", optarg, UINT64_MAX);
            break;
        case 'i':
            conf.idle_ms = parse_u64("--idle-ms", optarg, UINT32_MAX);
            break;
        case 'r':
            conf.request_ms = parse_u64("--request-ms", optarg, UINT32_MAX);
            break;
        case 'c':
            conf.max_conns = (unsigned)parse_u64("--max-conns", optarg, UINT_MAX);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    listen_fd = listen_on(conf.addr, conf.port);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        die("epoll_create1: %s", strerror(errno));
    {
        /* data.ptr NULL: the listening socket. */
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};

        if (epoll_ctl(epfd, EPOLL_CTL_ADD, listen_fd, &ev) < 0)
            die("epoll_ctl: %s", strerror(errno));
    }
    printf("echo_server: listening on %s port %u\n", conf.addr ? conf.addr : "all addresses", conf.port);
    fflush(stdout);

    next_poll = now_ms() + POLL_MS;
    for (;;) {
        struct epoll_event evs[MAX_EVENTS];
        uint64_t now = now_ms();
        int timeout = next_poll > now ? (int)(next_poll - now) : 0;
        int n = epoll_wait(epfd, evs, MAX_EVENTS, timeout);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait: %s", strerror(errno));
        }
        for (int i = 0; i < n; i++) {
            if (!evs[i].data.ptr)
                accept_all();
            else
                conn_event(evs[i].data.ptr, evs[i].events);
        }
        if (now_ms() >= next_poll) {
            poll_timeouts();
            next_poll = now_ms() + POLL_MS;
        }
    }
}
