/*
 * HTTP/1.1 request handling without the network: RFC 9112 (message syntax:
 * 2.2 leading CRLFs, 6.3 body length, 7.1 chunked, 9.3 persistence and
 * pipelining) and RFC 9110 (10.1.1 Expect, 15 status codes). Parsing is
 * http-parser 2.9.4's; this file adds the limits, the routes and the exact
 * bytes of each response (docs/apps.md).
 */
#include "apps/http_proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "apps/status_page.h"

struct http_proto_counters http_proto_counters;

/* 63 printable characters and a newline, repeated. */
#define PATTERN_LINE "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+\n"
#define X4(s)        s s s s
_Static_assert(sizeof(PATTERN_LINE) - 1 == HTTP_PATTERN_PERIOD, "pattern period");
_Static_assert(HTTP_PATTERN_SIZE == HTTP_PATTERN_PERIOD * 256, "pattern size");
/* No room for the terminating NUL: the array is exactly the repeated lines. */
const char http_pattern[HTTP_PATTERN_SIZE] = X4(X4(X4(X4(PATTERN_LINE))));

const char *http_pattern_at(uint64_t offset, size_t *avail)
{
    size_t start = (size_t)(offset % HTTP_PATTERN_PERIOD);

    *avail = HTTP_PATTERN_SIZE - start;
    return http_pattern + start;
}

/* ------------------------------------------------------------ output queue */

static struct http_chunk *chunk_new(size_t inline_bytes)
{
    struct http_chunk *c = malloc(sizeof(*c) + inline_bytes);

    if (!c) {
        http_proto_counters.oom++;
        return NULL;
    }
    *c = (struct http_chunk){.data = (const char *)(c + 1), .mem = NULL};
    return c;
}

static void outq_push(struct http_outq *q, struct http_chunk *c)
{
    c->next = NULL;
    if (q->tail)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
    q->pushed += c->len;
    q->chunks++;
}

struct http_chunk *http_outq_at(const struct http_outq *q, uint64_t pos, uint64_t *off)
{
    uint64_t start = q->popped;

    if (pos < start)
        return NULL;
    for (struct http_chunk *c = q->head; c; c = c->next) {
        if (pos < start + c->len) {
            *off = pos - start;
            return c;
        }
        start += c->len;
    }
    return NULL;
}

struct http_chunk *http_outq_unlink(struct http_outq *q)
{
    struct http_chunk *c = q->head;

    if (!c)
        return NULL;
    q->head = c->next;
    if (!q->head)
        q->tail = NULL;
    q->popped += c->len;
    q->chunks--;
    c->next = NULL;
    return c;
}

void http_chunk_free(struct http_chunk *c)
{
    free(c->mem);
    free(c);
}

void http_outq_pop(struct http_outq *q)
{
    struct http_chunk *c = http_outq_unlink(q);

    if (c)
        http_chunk_free(c);
}

/* A chunk of static bytes. */
static bool push_static(struct http_proto *hp, const char *data, uint64_t len)
{
    struct http_chunk *c = chunk_new(0);

    if (!c)
        return false;
    c->data = data;
    c->len = len;
    outq_push(&hp->out, c);
    return true;
}

/* ------------------------------------------------------------ responses */

static const struct {
    unsigned status;
    const char *text;
} status_texts[] = {
    {100, "Continue"},
    {200, "OK"},
    {400, "Bad Request"},
    {404, "Not Found"},
    {408, "Request Timeout"},
    {413, "Content Too Large"}, /* RFC 9110 15.5.14; "Payload Too Large" before */
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {503, "Service Unavailable"},
    {505, "HTTP Version Not Supported"},
};

const char *http_proto_status_text(unsigned status)
{
    for (size_t i = 0; i < sizeof(status_texts) / sizeof(status_texts[0]); i++)
        if (status_texts[i].status == status)
            return status_texts[i].text;
    return "Unknown";
}

static void count_status(unsigned status)
{
    http_proto_counters.responses++;
    if (status >= 200 && status < 300)
        http_proto_counters.status_2xx++;
    else if (status >= 400 && status < 500)
        http_proto_counters.status_4xx++;
    else if (status >= 500)
        http_proto_counters.status_5xx++;
}

/*
 * The status line and header section. Every response has exactly these
 * fields, in this order (no Date, no Server: the bytes are deterministic).
 */
static int format_head(char *buf, size_t size, unsigned status, const char *type, uint64_t length,
                       bool no_store, bool keep_alive)
{
    return snprintf(buf, size,
                    "HTTP/1.1 %u %s\r\n"
                    "Content-Type: %s\r\n"
                    "Content-Length: %llu\r\n"
                    "%s"
                    "Connection: %s\r\n"
                    "\r\n",
                    status, http_proto_status_text(status), type, (unsigned long long)length,
                    no_store ? "Cache-Control: no-store\r\n" : "", keep_alive ? "keep-alive" : "close");
}

/*
 * A chunk holding the head followed by @extra bytes the caller fills in
 * (at c->mem + *head_len). NULL when out of memory.
 */
static struct http_chunk *head_chunk(unsigned status, const char *type, uint64_t length, bool no_store,
                                     bool keep_alive, size_t extra, size_t *head_len)
{
    int n = format_head(NULL, 0, status, type, length, no_store, keep_alive);
    struct http_chunk *c = chunk_new((size_t)n + 1 + extra);

    if (!c)
        return NULL;
    format_head((char *)(c + 1), (size_t)n + 1, status, type, length, no_store, keep_alive);
    c->len = (uint64_t)n + extra;
    c->starts_response = true;
    *head_len = (size_t)n;
    count_status(status);
    return c;
}

/* The last resort when even a small allocation fails: a fixed response. */
static const char resp_503[] = "HTTP/1.1 503 Service Unavailable\r\n"
                               "Content-Type: text/plain\r\n"
                               "Content-Length: 24\r\n"
                               "Connection: close\r\n"
                               "\r\n"
                               "503 Service Unavailable\n";

static void finish(struct http_proto *hp)
{
    hp->done = true;
    hp->in_request = false;
    free(hp->body);
    hp->body = NULL;
    hp->body_len = hp->body_cap = 0;
}

/*
 * An error: "<status> <reason>\n" as text/plain, then the end of the
 * connection (the request's framing can no longer be trusted).
 */
static void respond_error(struct http_proto *hp, unsigned status)
{
    char body[64];
    size_t head_len;
    int n = snprintf(body, sizeof(body), "%u %s\n", status, http_proto_status_text(status));
    struct http_chunk *c = head_chunk(status, "text/plain", (uint64_t)n, false, false, (size_t)n, &head_len);

    if (c) {
        memcpy((char *)(c + 1) + head_len, body, (size_t)n);
        outq_push(&hp->out, c);
    } else {
        struct http_chunk *s = chunk_new(0);

        /* Nothing at all left: the caller sees done with no output and
         * closes; counted, so that no reply goes missing unseen. */
        if (s) {
            s->data = resp_503;
            s->len = sizeof(resp_503) - 1;
            s->starts_response = true;
            outq_push(&hp->out, s);
            count_status(503);
        } else {
            http_proto_counters.unanswered++;
        }
    }
    finish(hp);
}

static void respond_oom(struct http_proto *hp)
{
    respond_error(hp, 503);
}

/* ------------------------------------------------------------ request access */

static const char *hdr_name(const struct http_proto *hp, const struct http_header *h)
{
    return hp->head + h->name_off;
}

static const char *hdr_value(const struct http_proto *hp, const struct http_header *h)
{
    return hp->head + h->value_off;
}

static bool name_is(const struct http_proto *hp, const struct http_header *h, const char *name)
{
    size_t n = strlen(name);

    return h->name_len == n && strncasecmp(hdr_name(hp, h), name, n) == 0;
}

/* Case-insensitive search for @needle in the @n bytes at @s. */
static bool contains_nocase(const char *s, size_t n, const char *needle)
{
    size_t m = strlen(needle);

    for (size_t i = 0; i + m <= n; i++)
        if (strncasecmp(s + i, needle, m) == 0)
            return true;
    return false;
}

static const char *method_name(const struct http_proto *hp)
{
    return http_method_str((enum http_method)hp->parser.method);
}

/* ------------------------------------------------------------ echo */

/* The echoed request, text form: request line, header lines, blank line (the body follows). */
static size_t echo_text_head(const struct http_proto *hp, char *buf, size_t size)
{
    size_t len = 0;
    int n;

#define EMIT(...)                                                                                            \
    do {                                                                                                     \
        n = snprintf(size > len ? buf + len : NULL, size > len ? size - len : 0, __VA_ARGS__);               \
        len += (size_t)n;                                                                                    \
    } while (0)
    EMIT("%s %.*s HTTP/%u.%u\r\n", method_name(hp), (int)hp->url_len, hp->head + hp->url_off,
         hp->parser.http_major, hp->parser.http_minor);
    for (unsigned i = 0; i < hp->nhdr; i++) {
        const struct http_header *h = &hp->hdr[i];

        EMIT("%.*s: %.*s\r\n", (int)h->name_len, hdr_name(hp, h), (int)h->value_len, hdr_value(hp, h));
    }
    EMIT("\r\n");
#undef EMIT
    return len;
}

static void echo_json(const struct http_proto *hp, struct json_out *o)
{
    char version[24];

    snprintf(version, sizeof(version), "HTTP/%u.%u", hp->parser.http_major, hp->parser.http_minor);
    json_begin_object(o);
    json_kv_string(o, "method", method_name(hp));
    json_key(o, "target");
    json_string_n(o, hp->head + hp->url_off, hp->url_len);
    json_kv_string(o, "version", version);
    json_key(o, "headers");
    json_begin_array(o);
    for (unsigned i = 0; i < hp->nhdr; i++) {
        const struct http_header *h = &hp->hdr[i];

        json_begin_array(o);
        json_string_n(o, hdr_name(hp, h), h->name_len);
        json_string_n(o, hdr_value(hp, h), h->value_len);
        json_end_array(o);
    }
    json_end_array(o);
    json_key(o, "body");
    json_string_n(o, hp->body ? hp->body : "", hp->body_len);
    json_end_object(o);
}

static void respond_echo(struct http_proto *hp, bool keep_alive, bool head_only)
{
    struct http_chunk *c, *b = NULL;
    size_t head_len;

    if (hp->want_json) {
        struct json_out o;
        size_t len;

        json_init(&o, NULL, 0);
        echo_json(hp, &o);
        len = json_len(&o) + 1; /* and a newline */
        c = head_chunk(200, "application/json", len, false, keep_alive, head_only ? 0 : len, &head_len);
        if (!c) {
            respond_oom(hp);
            return;
        }
        if (!head_only) {
            char *p = (char *)(c + 1) + head_len;

            json_init(&o, p, len);
            echo_json(hp, &o);
            p[len - 1] = '\n';
        }
        outq_push(&hp->out, c);
        return;
    }

    size_t text = echo_text_head(hp, NULL, 0);

    /* The body goes out from the buffer it was received into. */
    if (!head_only && hp->body_len > 0 && !(b = chunk_new(0))) {
        respond_oom(hp);
        return;
    }
    c = head_chunk(200, "text/plain", text + hp->body_len, false, keep_alive, head_only ? 0 : text,
                   &head_len);
    if (!c) {
        free(b);
        respond_oom(hp);
        return;
    }
    if (!head_only) /* +1: snprintf's NUL, which lands in the chunk's spare byte */
        echo_text_head(hp, (char *)(c + 1) + head_len, text + 1);
    outq_push(&hp->out, c);
    if (b) {
        b->data = hp->body;
        b->len = hp->body_len;
        b->mem = hp->body;
        hp->body = NULL;
        hp->body_len = hp->body_cap = 0;
        outq_push(&hp->out, b);
    }
}

/* ------------------------------------------------------------ routes */

/* "/bytes/N": N decimal, 1 to 20 digits, at most 2^64 - 1. */
static bool parse_bytes_count(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;

    if (n == 0 || n > 20)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* Decide the route from the method and the target's path. Return: 0 or an error status. */
static unsigned choose_route(struct http_proto *hp)
{
    const char *url = hp->head + hp->url_off;
    const char *path = url;
    size_t path_len = hp->url_len;
    struct http_parser_url u;

    hp->route = HTTP_ROUTE_ECHO;
    http_parser_url_init(&u);
    if (http_parser_parse_url(url, hp->url_len, 0, &u) == 0 && (u.field_set & (1u << UF_PATH))) {
        path = url + u.field_data[UF_PATH].off;
        path_len = u.field_data[UF_PATH].len;
    }
    if (hp->parser.method == HTTP_PUT || hp->parser.method == HTTP_POST) {
        if (path_len == 5 && memcmp(path, "/sink", 5) == 0)
            hp->route = HTTP_ROUTE_SINK;
        return 0;
    }
    if (hp->parser.method != HTTP_GET && hp->parser.method != HTTP_HEAD)
        return 0;
    if (path_len == 1 && path[0] == '/') {
        hp->route = HTTP_ROUTE_PAGE;
    } else if (path_len == 6 && memcmp(path, "/stats", 6) == 0) {
        hp->route = HTTP_ROUTE_STATS;
    } else if (path_len >= 7 && memcmp(path, "/bytes/", 7) == 0) {
        if (!parse_bytes_count(path + 7, path_len - 7, &hp->bytes_n))
            return 400;
        hp->route = HTTP_ROUTE_BYTES;
    }
    return 0;
}

/* /sink: the body's byte count, "N\n". */
static void respond_sink(struct http_proto *hp, bool keep_alive)
{
    char body[24];
    size_t head_len;
    int n = snprintf(body, sizeof(body), "%llu\n", (unsigned long long)hp->body_seen);
    struct http_chunk *c =
        head_chunk(200, "text/plain", (uint64_t)n, false, keep_alive, (size_t)n, &head_len);

    if (!c) {
        respond_oom(hp);
        return;
    }
    memcpy((char *)(c + 1) + head_len, body, (size_t)n);
    outq_push(&hp->out, c);
    http_proto_counters.sink_requests++;
    http_proto_counters.sink_bytes += hp->body_seen;
}

static void respond_stats(struct http_proto *hp, bool keep_alive, bool head_only)
{
    struct json_out o;
    size_t size, head_len;

    if (!hp->cfg->write_stats) {
        respond_error(hp, 404);
        return;
    }
    json_init(&o, NULL, 0);
    hp->cfg->write_stats(&o);
    size = json_len(&o) + 256;
    /*
     * Counters may grow a digit between the two passes (interrupt handlers
     * count while this runs): measure with room to spare, retry if short.
     */
    for (int attempt = 0; attempt < 3; attempt++, size *= 2) {
        char *buf = malloc(size);

        if (!buf) {
            http_proto_counters.oom++;
            break;
        }
        json_init(&o, buf, size - 1);
        hp->cfg->write_stats(&o);
        if (json_truncated(&o)) {
            free(buf);
            continue;
        }
        buf[json_len(&o)] = '\n';
        size_t len = json_len(&o) + 1;
        struct http_chunk *c = head_chunk(200, "application/json", len, true, keep_alive, 0, &head_len);
        struct http_chunk *b = head_only ? NULL : chunk_new(0);

        if (!c || (!head_only && !b)) {
            free(c);
            free(b);
            free(buf);
            break;
        }
        outq_push(&hp->out, c);
        if (head_only) {
            free(buf);
        } else {
            b->data = buf;
            b->len = len;
            b->mem = buf;
            outq_push(&hp->out, b);
        }
        return;
    }
    respond_oom(hp);
}

static void respond_static(struct http_proto *hp, const char *type, const char *data, uint64_t len,
                           bool keep_alive, bool head_only)
{
    size_t head_len;
    struct http_chunk *b = NULL, *c;

    if (!head_only && len > 0) {
        if (!(b = chunk_new(0))) {
            respond_oom(hp);
            return;
        }
        b->data = data;
        b->len = len;
    }
    c = head_chunk(200, type, len, false, keep_alive, 0, &head_len);
    if (!c) {
        free(b);
        respond_oom(hp);
        return;
    }
    outq_push(&hp->out, c);
    if (b)
        outq_push(&hp->out, b);
}

/* ------------------------------------------------------------ parser callbacks */

#define HP(p) ((struct http_proto *)(p)->data)

/* Stop the parser with @status as the answer. */
static int fail(struct http_proto *hp, unsigned status)
{
    hp->error_status = (int)status;
    return -1;
}

static void request_reset(struct http_proto *hp)
{
    hp->in_request = false;
    hp->began = false;
    hp->last_was_value = false;
    hp->want_json = false;
    hp->route = HTTP_ROUTE_ECHO;
    hp->url_off = hp->url_len = 0;
    hp->nhdr = 0;
    hp->head_len = 0;
    /* An idle keep-alive connection holds no body buffer. */
    free(hp->body);
    hp->body = NULL;
    hp->body_len = hp->body_cap = 0;
    hp->body_seen = 0;
}

static int on_message_begin(http_parser *p)
{
    struct http_proto *hp = HP(p);

    request_reset(hp);
    hp->in_request = true;
    hp->began = true;
    return 0;
}

/* Append to the head buffer. Return: false when it is full (431). */
static bool head_append(struct http_proto *hp, const char *at, size_t n)
{
    if (n > sizeof(hp->head) - hp->head_len)
        return false;
    memcpy(hp->head + hp->head_len, at, n);
    hp->head_len += n;
    return true;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    struct http_proto *hp = HP(p);

    if (hp->url_len == 0)
        hp->url_off = (uint16_t)hp->head_len;
    if (!head_append(hp, at, n))
        return fail(hp, 431);
    hp->url_len = (uint16_t)(hp->url_len + n);
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    struct http_proto *hp = HP(p);
    struct http_header *h;

    if (hp->nhdr == 0 || hp->last_was_value) {
        if (hp->nhdr == HTTP_MAX_HEADERS)
            return fail(hp, 431);
        h = &hp->hdr[hp->nhdr++];
        *h = (struct http_header){.name_off = (uint16_t)hp->head_len, .value_off = (uint16_t)hp->head_len};
        hp->last_was_value = false;
    }
    h = &hp->hdr[hp->nhdr - 1];
    if (!head_append(hp, at, n))
        return fail(hp, 431);
    h->name_len = (uint16_t)(h->name_len + n);
    h->value_off = (uint16_t)hp->head_len;
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    struct http_proto *hp = HP(p);
    struct http_header *h;

    if (hp->nhdr == 0) /* http-parser never sends a value first; be safe */
        return fail(hp, 400);
    h = &hp->hdr[hp->nhdr - 1];
    if (!hp->last_was_value) {
        h->value_off = (uint16_t)hp->head_len;
        hp->last_was_value = true;
    }
    if (!head_append(hp, at, n))
        return fail(hp, 431);
    h->value_len = (uint16_t)(h->value_len + n);
    return 0;
}

static const char resp_continue[] = "HTTP/1.1 100 Continue\r\n\r\n";

static int on_headers_complete(http_parser *p)
{
    struct http_proto *hp = HP(p);
    bool chunked = p->flags & F_CHUNKED;
    bool has_length = p->content_length != UINT64_MAX && !chunked;
    bool expect_continue = false;
    unsigned status;

    if (p->http_major == 0)
        return fail(hp, 400); /* HTTP/0.9 has no place here */
    if (p->http_major != 1)
        return fail(hp, 505);
    if (p->method == HTTP_CONNECT)
        return fail(hp, 501); /* no tunnels */
    status = choose_route(hp);
    /* The limit bounds what is kept; /sink keeps nothing. */
    if (has_length && p->content_length > hp->cfg->max_body && hp->route != HTTP_ROUTE_SINK)
        return fail(hp, 413);
    if (status)
        return fail(hp, status);

    for (unsigned i = 0; i < hp->nhdr; i++) {
        const struct http_header *h = &hp->hdr[i];

        if (name_is(hp, h, "Accept") && contains_nocase(hdr_value(hp, h), h->value_len, "application/json"))
            hp->want_json = true;
        if (name_is(hp, h, "Expect") && h->value_len == 12 &&
            strncasecmp(hdr_value(hp, h), "100-continue", 12) == 0)
            expect_continue = true;
    }
    /* RFC 9110 10.1.1: a 1.1 client waiting to send a body is told to go on. */
    if (expect_continue && p->http_minor >= 1 && (chunked || (has_length && p->content_length > 0))) {
        if (!push_static(hp, resp_continue, sizeof(resp_continue) - 1))
            return fail(hp, 503);
        hp->out.tail->starts_response = true;
        http_proto_counters.continues++;
        http_proto_counters.responses++;
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct http_proto *hp = HP(p);

    if (hp->route == HTTP_ROUTE_SINK) {
        if (n > UINT64_MAX - hp->body_seen)
            return fail(hp, 413);
        hp->body_seen += n;
        return 0;
    }
    if (n > hp->cfg->max_body - hp->body_seen) /* chunked: the total shows only now */
        return fail(hp, 413);
    hp->body_seen += n;
    if (hp->route != HTTP_ROUTE_ECHO)
        return 0; /* nobody looks at it */
    if (hp->body_len + n > hp->body_cap) {
        /* Grow with what arrives, not with what Content-Length promises. */
        size_t cap = hp->body_cap ? hp->body_cap : 4096;
        char *nb;

        while (cap < hp->body_len + n)
            cap *= 2;
        if (cap > hp->cfg->max_body)
            cap = (size_t)hp->cfg->max_body;
        nb = realloc(hp->body, cap);
        if (!nb) {
            http_proto_counters.oom++;
            return fail(hp, 503);
        }
        hp->body = nb;
        hp->body_cap = cap;
    }
    memcpy(hp->body + hp->body_len, at, n);
    hp->body_len += n;
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct http_proto *hp = HP(p);
    bool keep_alive = http_should_keep_alive(p);
    bool head_only = p->method == HTTP_HEAD;

    http_proto_counters.requests++;
    switch (hp->route) {
    case HTTP_ROUTE_PAGE:
        respond_static(hp, "text/html; charset=utf-8", status_page_html, status_page_len, keep_alive,
                       head_only);
        break;
    case HTTP_ROUTE_STATS:
        respond_stats(hp, keep_alive, head_only);
        break;
    case HTTP_ROUTE_BYTES:
        respond_static(hp, "application/octet-stream", NULL, hp->bytes_n, keep_alive, head_only);
        if (!head_only) {
            http_proto_counters.bytes_streams++;
            http_proto_counters.bytes_streamed += hp->bytes_n;
        }
        break;
    case HTTP_ROUTE_SINK:
        respond_sink(hp, keep_alive);
        break;
    case HTTP_ROUTE_ECHO:
        respond_echo(hp, keep_alive, head_only);
        break;
    }
    if (!hp->done) {
        request_reset(hp);
        if (!keep_alive)
            finish(hp);
    }
    /* One request at a time: the caller decides whether to parse the next one now. */
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ------------------------------------------------------------ feeding */

/* RFC 9110 5.6.2 tchar. */
static bool is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/*
 * http-parser rejects any method it does not know the same way it rejects
 * garbage. Tell them apart at the byte it stopped on: a method so far made
 * of letters it knows (or a first letter) continued by another token
 * character, or ended by a space, is a method we do not implement (501);
 * anything else is not HTTP (400).
 */
static unsigned invalid_method_status(const struct http_proto *hp, char c)
{
    if (is_tchar(c))
        return 501;
    if (c == ' ' && hp->began)
        return 501;
    return 400;
}

static unsigned parse_error_status(const struct http_proto *hp, const char *at)
{
    enum http_errno e = HTTP_PARSER_ERRNO(&hp->parser);

    if (hp->error_status)
        return (unsigned)hp->error_status;
    switch (e) {
    case HPE_HEADER_OVERFLOW:
        return 431;
    case HPE_INVALID_METHOD:
        return invalid_method_status(hp, *at);
    default:
        return 400;
    }
}

void http_proto_init(struct http_proto *hp, const struct http_config *cfg)
{
    memset(hp, 0, offsetof(struct http_proto, hdr));
    hp->cfg = cfg;
    http_parser_init(&hp->parser, HTTP_REQUEST);
    hp->parser.data = hp;
    /* A process-wide setting in http-parser; every connection wants the same. */
    http_parser_set_max_header_size(HTTP_MAX_HEAD);
}

size_t http_proto_feed(struct http_proto *hp, const char *data, size_t len)
{
    size_t n;
    enum http_errno e;

    if (hp->done || len == 0)
        return len;
    n = http_parser_execute(&hp->parser, &settings, data, len);
    e = HTTP_PARSER_ERRNO(&hp->parser);
    if (e == HPE_PAUSED) {
        http_parser_pause(&hp->parser, 0);
        return hp->done ? len : n;
    }
    if (e != HPE_OK) {
        respond_error(hp, parse_error_status(hp, n < len ? data + n : data + len - 1));
        return len;
    }
    /* Everything consumed, no request completed: one is under way, or at
     * least its leading CRLFs (which the request timer covers too). */
    hp->in_request = true;
    return n;
}

void http_proto_timeout(struct http_proto *hp)
{
    if (!hp->done)
        respond_error(hp, 408);
}

void http_proto_finish(struct http_proto *hp)
{
    if (!hp->done)
        finish(hp);
}

void http_proto_release(struct http_proto *hp)
{
    finish(hp);
    while (hp->out.head)
        http_outq_pop(&hp->out);
}
