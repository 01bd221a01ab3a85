/*
 * Shared by tests/unit/test_http.c and tests/fuzz/fuzz_http.c: take the
 * responses out of an apps/http_proto.c output queue, check that each is
 * well formed in exactly the shape docs/apps.md promises, and collect their
 * bytes.
 *
 *   HTTP/1.1 <code> <reason>\r\n
 *   Content-Type: <type>\r\n
 *   Content-Length: <n>\r\n
 *   [Cache-Control: no-store\r\n]
 *   Connection: keep-alive | close\r\n
 *   \r\n
 *   <n bytes, or none for HEAD>
 *
 * or the interim "HTTP/1.1 100 Continue\r\n\r\n". Error responses (4xx,
 * 5xx) close the connection and carry "<code> <reason>\n". Nothing follows
 * a response that closes.
 *
 * The reason phrases are RFC 9110's (section 15), from a table written here,
 * not the server's own http_proto_status_text(). A response carries its
 * whole body unless the caller says HEAD requests may be among the input
 * (head_ok): then an empty body is accepted too.
 */
#ifndef TESTS_UNIT_HTTP_CHECK_H
#define TESTS_UNIT_HTTP_CHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/http_proto.h"

struct http_check {
    bool closed;        /* a response with Connection: close went out */
    unsigned responses; /* final responses (not 100) */
    unsigned continues; /* 100 Continue */
    unsigned last_status;
    char *bytes; /* everything drained, when not NULL (pattern bytes up to cap) */
    size_t len, cap;
    uint64_t total;    /* bytes drained, pattern included */
    size_t last_start; /* offset in bytes of the last response */
    bool head_ok;      /* set by the caller: a response may be a HEAD's, with no body */
#define HTTP_CHECK_STARTS 64
    size_t starts[HTTP_CHECK_STARTS]; /* offsets of the first responses (100 included) */
    unsigned n_starts;
    char why[160]; /* what was wrong */
};

/* RFC 9110 section 15: the reason phrases of the codes the server may send. */
static const char *http_check_reason(unsigned code)
{
    static const struct {
        unsigned code;
        const char *reason;
    } rfc9110[] = {
        {100, "Continue"},                        /* 15.2.1 */
        {200, "OK"},                              /* 15.3.1 */
        {400, "Bad Request"},                     /* 15.5.1 */
        {404, "Not Found"},                       /* 15.5.5 */
        {408, "Request Timeout"},                 /* 15.5.9 */
        {413, "Content Too Large"},               /* 15.5.14 */
        {431, "Request Header Fields Too Large"}, /* RFC 6585 5 */
        {500, "Internal Server Error"},           /* 15.6.1 */
        {501, "Not Implemented"},                 /* 15.6.2 */
        {503, "Service Unavailable"},             /* 15.6.4 */
        {505, "HTTP Version Not Supported"},      /* 15.6.6 */
    };

    for (size_t i = 0; i < sizeof(rfc9110) / sizeof(rfc9110[0]); i++)
        if (rfc9110[i].code == code)
            return rfc9110[i].reason;
    return NULL;
}

static bool http_check_fail(struct http_check *st, const char *why)
{
    snprintf(st->why, sizeof(st->why), "%s", why);
    return false;
}

/* Match @lit at *p (within end); advance past it. */
static bool http_check_lit(const char **p, const char *end, const char *lit)
{
    size_t n = strlen(lit);

    if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
        return false;
    *p += n;
    return true;
}

/* Digits up to CRLF into *v. */
static bool http_check_num(const char **p, const char *end, uint64_t *v)
{
    const char *s = *p;

    *v = 0;
    while (*p < end && **p >= '0' && **p <= '9') {
        uint64_t d = (uint64_t)(**p - '0');

        if (*v > (UINT64_MAX - d) / 10)
            return false;
        *v = *v * 10 + d;
        (*p)++;
    }
    return *p > s && http_check_lit(p, end, "\r\n");
}

static void http_check_capture(struct http_check *st, const char *data, uint64_t off, uint64_t n)
{
    uint64_t i = 0;

    while (i < n && st->bytes && st->len < st->cap) {
        size_t avail = SIZE_MAX;
        const char *src = data ? data + i : http_pattern_at(off + i, &avail);
        uint64_t k = n - i;

        if (k > avail)
            k = avail;
        if (k > st->cap - st->len)
            k = st->cap - st->len;
        memcpy(st->bytes + st->len, src, (size_t)k);
        st->len += (size_t)k;
        i += k;
    }
    st->total += n;
}

/*
 * http_check_drain() - pop every chunk of @q, checking each response.
 * Return: false (reason in st->why) at the first thing wrong.
 */
static bool http_check_drain(struct http_outq *q, struct http_check *st)
{
    while (q->head) {
        struct http_chunk *c = q->head;
        const char *p = c->data, *end;
        uint64_t code, length, body = 0;
        bool close;
        const char *reason;

        if (!c->starts_response)
            return http_check_fail(st, "response does not start a chunk");
        if (!c->data || c->len > (1u << 24))
            return http_check_fail(st, "response head is not bytes");
        if (st->closed)
            return http_check_fail(st, "response after Connection: close");
        end = p + c->len;
        st->last_start = st->len;
        if (st->n_starts < HTTP_CHECK_STARTS)
            st->starts[st->n_starts++] = st->len;
        http_check_capture(st, c->data, 0, c->len);
        if (c->len == 25 && memcmp(p, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0) {
            st->continues++;
            http_outq_pop(q);
            continue;
        }
        if (!http_check_lit(&p, end, "HTTP/1.1 ") || end - p < 4)
            return http_check_fail(st, "bad status line start");
        code = (uint64_t)((p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0'));
        if (p[0] < '1' || p[0] > '5' || p[1] < '0' || p[1] > '9' || p[2] < '0' || p[2] > '9' || p[3] != ' ')
            return http_check_fail(st, "bad status code");
        p += 4;
        reason = http_check_reason((unsigned)code);
        if (!reason)
            return http_check_fail(st, "status code the server never sends");
        if (!http_check_lit(&p, end, reason) || !http_check_lit(&p, end, "\r\n"))
            return http_check_fail(st, "bad reason phrase");
        if (!http_check_lit(&p, end, "Content-Type: "))
            return http_check_fail(st, "no Content-Type");
        while (p < end && *p != '\r')
            p++;
        if (!http_check_lit(&p, end, "\r\n") || !http_check_lit(&p, end, "Content-Length: ") ||
            !http_check_num(&p, end, &length))
            return http_check_fail(st, "bad Content-Length");
        http_check_lit(&p, end, "Cache-Control: no-store\r\n");
        if (http_check_lit(&p, end, "Connection: close\r\n"))
            close = true;
        else if (http_check_lit(&p, end, "Connection: keep-alive\r\n"))
            close = false;
        else
            return http_check_fail(st, "bad Connection");
        if (!http_check_lit(&p, end, "\r\n"))
            return http_check_fail(st, "no end of header section");
        body = (uint64_t)(end - p);
        if (code >= 400) {
            char want[64];
            int n = snprintf(want, sizeof(want), "%u %s\n", (unsigned)code, reason);

            if (!close)
                return http_check_fail(st, "error response keeps the connection");
            if (length != (uint64_t)n || body != (uint64_t)n || memcmp(p, want, (size_t)n) != 0)
                return http_check_fail(st, "bad error body");
        }
        http_outq_pop(q);
        /* The rest of the body: chunks up to the next response. */
        while (q->head && !q->head->starts_response) {
            c = q->head;
            http_check_capture(st, c->data, 0, c->len);
            body += c->len;
            http_outq_pop(q);
        }
        if (body != length && !(st->head_ok && body == 0))
            return http_check_fail(st, body ? "body length differs from Content-Length" : "no body");
        st->responses++;
        st->last_status = (unsigned)code;
        st->closed = close;
    }
    return true;
}

#endif
