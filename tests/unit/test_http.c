/*
 * apps/http_proto.c (with http-parser and lib/json.c) on the host: the
 * exact bytes of each response, whole and fed in pieces down to one byte
 * at a time, the limits and their status codes, pipelining and
 * backpressure, and every allocation failing in turn (malloc and realloc
 * are wrapped by the linker: unit.mk passes --wrap).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "apps/http_proto.h"
#include "lib/json.h"
#include "apps/status_page.h"
#include "http_check.h"

/* ------------------------------------------------------------ allocation failures */

void *__real_malloc(size_t size);
void *__real_realloc(void *p, size_t size);
static long alloc_countdown = -1; /* fail the allocation when it reaches 0; -1: never */
static unsigned alloc_failures;
static bool alloc_fail_rest; /* once one failed, fail every later one too */

static bool alloc_fails(void)
{
    if (alloc_fail_rest && alloc_failures) {
        alloc_failures++;
        return true;
    }
    if (alloc_countdown < 0)
        return false;
    if (alloc_countdown-- == 0) {
        alloc_failures++;
        return true;
    }
    return false;
}

void *__wrap_malloc(size_t size)
{
    return alloc_fails() ? NULL : __real_malloc(size);
}
void *__wrap_realloc(void *p, size_t size)
{
    return alloc_fails() ? NULL : __real_realloc(p, size);
}

/* ------------------------------------------------------------ harness */

static void fake_stats(struct json_out *o)
{
    json_begin_object(o);
    json_kv_u64(o, "uptime_ms", 1234);
    json_key(o, "net");
    json_begin_object(o);
    json_kv_string(o, "name", "virtio\"0");
    json_end_object(o);
    json_end_object(o);
}

static struct http_config cfg = {.max_body = 1024 * 1024, .write_stats = fake_stats};

static char out_buf[4 << 20];

struct run {
    struct http_check check;
    bool ok;      /* the output was well formed */
    bool done;    /* the connection is to be closed */
    size_t calls; /* http_proto_feed() calls */
};

/*
 * Feed @in in pieces of @split bytes (0: all at once), the way apps/http.c
 * does: call again with what was not consumed, drain the output after
 * each call.
 */
static struct run run_split(const char *in, size_t len, size_t split)
{
    static struct http_proto hp;
    struct run r = {.ok = true};
    size_t off = 0;

    r.check.bytes = out_buf;
    r.check.cap = sizeof(out_buf);
    /* A response without its body passes only where a HEAD was sent. */
    for (size_t i = 0; i + 5 <= len && !r.check.head_ok; i++)
        r.check.head_ok = memcmp(in + i, "HEAD ", 5) == 0;
    http_proto_init(&hp, &cfg);
    while (off < len) {
        size_t piece = split && len - off > split ? split : len - off;
        size_t used = 0;

        while (used < piece) {
            size_t n = http_proto_feed(&hp, in + off + used, piece - used);

            r.calls++;
            if (n == 0 || n > piece - used) {
                r.ok = false;
                break;
            }
            used += n;
            if (!http_check_drain(&hp.out, &r.check))
                r.ok = false;
        }
        off += piece;
    }
    r.done = http_proto_done(&hp);
    http_proto_release(&hp);
    return r;
}

static struct run run_str(const char *in, size_t split)
{
    return run_split(in, strlen(in), split);
}

/* @in gives exactly @want (@want_len bytes), fed whole, in 7-byte and in 1-byte pieces. */
static void expect_bytes(const char *in, size_t in_len, const char *want, size_t want_len)
{
    static const size_t splits[] = {0, 7, 1};

    for (size_t i = 0; i < sizeof(splits) / sizeof(splits[0]); i++) {
        struct run r = run_split(in, in_len, splits[i]);

        if (!r.ok)
            fail_msg("split %zu: malformed output: %s", splits[i], r.check.why);
        if (r.check.len != want_len || memcmp(out_buf, want, want_len) != 0) {
            print_message("split %zu: got %zu bytes:\n%.*s\n--- want %zu bytes:\n%.*s\n", splits[i],
                          r.check.len, (int)r.check.len, out_buf, want_len, (int)want_len, want);
            fail();
        }
    }
}

static void expect(const char *in, const char *want)
{
    expect_bytes(in, strlen(in), want, strlen(want));
}

/* The head every 200 echo response has, before its body. */
static char *head(const char *type, size_t length, const char *conn)
{
    static char buf[256];

    snprintf(buf, sizeof(buf),
             "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: %s\r\n\r\n", type,
             length, conn);
    return buf;
}

/* A text/plain echo response with @body (NUL-terminated). */
static char *text_resp(const char *body, const char *conn)
{
    static char buf[1 << 16];

    snprintf(buf, sizeof(buf), "%s%s", head("text/plain", strlen(body), conn), body);
    return buf;
}

static char *error_resp(unsigned code, const char *reason)
{
    static char buf[512], body[128];

    snprintf(body, sizeof(body), "%u %s\n", code, reason);
    snprintf(
        buf, sizeof(buf),
        "HTTP/1.1 %u %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
        code, reason, strlen(body), body);
    return buf;
}

static void expect_error(const char *in, unsigned code, const char *reason)
{
    char want[512];

    snprintf(want, sizeof(want), "%s", error_resp(code, reason));
    expect(in, want);
    assert_true(run_str(in, 0).done);
}

/* ------------------------------------------------------------ echo */

static void test_get_exact_bytes(void **state)
{
    (void)state;
    /* Written out in full once: the format docs/apps.md documents. */
    expect("GET /hello?x=1 HTTP/1.1\r\nHost: example\r\nUser-Agent: t\r\n\r\n", "HTTP/1.1 200 OK\r\n"
                                                                                "Content-Type: text/plain\r\n"
                                                                                "Content-Length: 57\r\n"
                                                                                "Connection: keep-alive\r\n"
                                                                                "\r\n"
                                                                                "GET /hello?x=1 HTTP/1.1\r\n"
                                                                                "Host: example\r\n"
                                                                                "User-Agent: t\r\n"
                                                                                "\r\n");
    assert_false(run_str("GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 0).done);
}

/*
 * A 5,000-byte target and a 5,000-byte header value come back whole (the
 * head limit is HTTP_MAX_HEAD, 8192): the kernel's snprintf (lib/printf.c,
 * linked here) used to clamp "%.*s" to 4096 bytes and cut both.
 */
static void test_long_url_and_header_echoed_whole(void **state)
{
    static char url[5001], value[5001], in[12000], body[12000];

    (void)state;
    url[0] = '/';
    for (unsigned i = 1; i < 5000; i++)
        url[i] = (char)('a' + i % 26);
    for (unsigned i = 0; i < 5000; i++)
        value[i] = (char)('A' + i % 26);
    snprintf(in, sizeof(in), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", url);
    assert_int_equal(strlen(in), 4 + 5000 + 11 + 9 + 2);
    expect(in, text_resp(in, "keep-alive"));
    snprintf(in, sizeof(in), "GET /v HTTP/1.1\r\nX-Long: %s\r\n\r\n", value);
    snprintf(body, sizeof(body), "%s", in);
    assert_int_equal(strlen(body), 17 + 8 + 5000 + 2 + 2);
    expect(in, text_resp(body, "keep-alive"));
}

static void test_head_has_get_length_no_body(void **state)
{
    (void)state;
    const char *echo = "HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n";

    expect("HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n", head("text/plain", strlen(echo), "keep-alive"));
    /* HEAD of the routes: the same headers as GET, no body. */
    char want[256];

    snprintf(want, sizeof(want), "%s", head("application/octet-stream", 1000000, "keep-alive"));
    expect("HEAD /bytes/1000000 HTTP/1.1\r\n\r\n", want);
    snprintf(want, sizeof(want), "%s", head("text/html; charset=utf-8", status_page_len, "keep-alive"));
    expect("HEAD / HTTP/1.1\r\n\r\n", want);
}

static void test_post_content_length(void **state)
{
    (void)state;
    expect(
        "POST /form HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world",
        text_resp("POST /form HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world", "keep-alive"));
    /* A body of exactly the limit is fine; one byte more is 413 before any of it is read. */
    char *big = malloc(1024 * 1024 + 200);
    int n = sprintf(big, "PUT /x HTTP/1.1\r\nContent-Length: %d\r\n\r\n", 1024 * 1024);

    memset(big + n, 'a', 1024 * 1024);
    struct run r = run_split(big, (size_t)n + 1024 * 1024, 0);
    assert_true(r.ok);
    assert_int_equal(r.check.last_status, 200);
    assert_int_equal(r.check.responses, 1);
    assert_false(r.done);
    free(big);
    expect_error("PUT /x HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n", 413, "Content Too Large");
}

static void test_chunked_upload(void **state)
{
    (void)state;
    const char *req = "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\n"
                      "7;ext=1\r\n, world\r\n"
                      "0\r\n"
                      "X-Trailer: t\r\n"
                      "\r\n";

    /* The body decoded; the trailer field joins the echoed fields. */
    expect(req, text_resp("POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nX-Trailer: t\r\n\r\n"
                          "hello, world",
                          "keep-alive"));
    /* Chunked bodies count against the limit as they arrive. */
    struct http_config small = {.max_body = 8};
    struct http_config saved = cfg;

    cfg = small;
    expect_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n4\r\nabcd\r\n0\r\n\r\n",
                 413, "Content Too Large");
    expect("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n",
           text_resp("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nhelloabc", "keep-alive"));
    cfg = saved;
    /* Content-Length and chunked together: request smuggling material, 400. */
    expect_error("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
                 "Bad Request");
}

static void test_pipelined(void **state)
{
    (void)state;
    const char *in = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
                     "POST /2 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
                     "\r\n" /* a stray CRLF between requests is allowed (RFC 9112 2.2) */
                     "HEAD /3 HTTP/1.1\r\n\r\n"
                     "GET /4 HTTP/1.1\r\nConnection: close\r\n\r\n"
                     "GET /5 HTTP/1.1\r\n\r\n"; /* after close: ignored */
    char want[2048];
    size_t n = 0;

    n += (size_t)sprintf(want + n, "%s", text_resp("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n", "keep-alive"));
    n += (size_t)sprintf(want + n, "%s",
                         text_resp("POST /2 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", "keep-alive"));
    n +=
        (size_t)sprintf(want + n, "%s", head("text/plain", strlen("HEAD /3 HTTP/1.1\r\n\r\n"), "keep-alive"));
    n += (size_t)sprintf(want + n, "%s", text_resp("GET /4 HTTP/1.1\r\nConnection: close\r\n\r\n", "close"));
    expect(in, want);

    /* One request per call: the caller can stop reading while output backs up. */
    struct run r = run_str(in, 0);
    assert_true(r.done);
    assert_int_equal(r.check.responses, 4);
    assert_true(r.calls >= 4);
}

static void test_http10_and_connection_close(void **state)
{
    (void)state;
    expect("GET /old HTTP/1.0\r\n\r\nGET /ignored HTTP/1.0\r\n\r\n",
           text_resp("GET /old HTTP/1.0\r\n\r\n", "close"));
    assert_true(run_str("GET /old HTTP/1.0\r\n\r\n", 0).done);
    /* HTTP/1.0 asking for keep-alive gets it. */
    expect("GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
           text_resp("GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "keep-alive"));
    assert_false(run_str("GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0).done);
    expect("GET /c HTTP/1.1\r\nConnection: close\r\n\r\n",
           text_resp("GET /c HTTP/1.1\r\nConnection: close\r\n\r\n", "close"));
    assert_true(run_str("GET /c HTTP/1.1\r\nConnection: close\r\n\r\n", 0).done);
}

static void test_json_escaping(void **state)
{
    (void)state;
    static const char req[] = "POST /j?a=\"b\" HTTP/1.1\r\n"
                              "Accept: text/html, Application/JSON;q=0.9\r\n"
                              "X-Q: say \"hi\"\\ \xe9\r\n"
                              "Content-Length: 9\r\n"
                              "\r\n"
                              "a\"\\\n\x01\x7f\xff/\t";
    static const char body[] = "{\"method\":\"POST\",\"target\":\"/j?a=\\\"b\\\"\",\"version\":\"HTTP/1.1\","
                               "\"headers\":[[\"Accept\",\"text/html, Application/JSON;q=0.9\"],"
                               "[\"X-Q\",\"say \\\"hi\\\"\\\\ \\u00e9\"],"
                               "[\"Content-Length\",\"9\"]],"
                               "\"body\":\"a\\\"\\\\\\n\\u0001\\u007f\\u00ff/\\t\"}\n";
    char want[1024];

    snprintf(want, sizeof(want), "%s%s", head("application/json", strlen(body), "keep-alive"), body);
    expect_bytes(req, sizeof(req) - 1, want, strlen(want));
    /* HEAD: the JSON's length, no JSON. */
    expect("HEAD / HTTP/1.1\r\nAccept: application/json\r\n\r\n",
           head("text/html; charset=utf-8", status_page_len, "keep-alive"));
    static const char hbody[] = "{\"method\":\"HEAD\",\"target\":\"/x\",\"version\":\"HTTP/1.1\","
                                "\"headers\":[[\"Accept\",\"application/json\"]],\"body\":\"\"}\n";
    expect("HEAD /x HTTP/1.1\r\nAccept: application/json\r\n\r\n",
           head("application/json", strlen(hbody), "keep-alive"));
}

/* ------------------------------------------------------------ limits */

/* A request whose request line and header section take exactly @total bytes. */
static char *request_of_head_size(size_t total)
{
    static char buf[20000];
    const char *start = "GET / HTTP/1.1\r\nX-Pad: ";
    size_t fixed = strlen(start) + 4; /* "\r\n\r\n" */

    assert_true(total > fixed && total < sizeof(buf));
    strcpy(buf, start);
    memset(buf + strlen(start), 'p', total - fixed);
    strcpy(buf + total - 4, "\r\n\r\n");
    return buf;
}

static void test_431(void **state)
{
    (void)state;
    /* 8192 bytes of request line and header section are allowed, 8193 are not. */
    struct run r = run_str(request_of_head_size(HTTP_MAX_HEAD), 1);
    assert_true(r.ok);
    assert_int_equal(r.check.last_status, 200);
    expect_error(request_of_head_size(HTTP_MAX_HEAD + 1), 431, "Request Header Fields Too Large");
    expect_error(request_of_head_size(15000), 431, "Request Header Fields Too Large");

    /* A request line that long too. */
    static char line[9000];
    memcpy(line, "GET /", 5);
    memset(line + 5, 'u', sizeof(line) - 5);
    line[sizeof(line) - 1] = 0;
    expect_error(line, 431, "Request Header Fields Too Large");

    /* Too many fields, however short. */
    static char many[4096];
    size_t n = (size_t)sprintf(many, "GET / HTTP/1.1\r\n");
    for (int i = 0; i <= HTTP_MAX_HEADERS; i++)
        n += (size_t)sprintf(many + n, "A:\r\n");
    sprintf(many + n, "\r\n");
    expect_error(many, 431, "Request Header Fields Too Large");
}

static void test_400_and_501_and_505(void **state)
{
    (void)state;
    const char *bad[] = {
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", /* a TLS ClientHello */
        " GET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nno colon here\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\nb\r\n\r\n",
        "GET / HTTP/1.x\r\n\r\n",
        "GET /\r\n\r\n", /* HTTP/0.9 */
        "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "GET /bytes/18446744073709551616 HTTP/1.1\r\n\r\n",
        "GET /bytes/12a HTTP/1.1\r\n\r\n",
        "GET /bytes/ HTTP/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_error(bad[i], 400, "Bad Request");

    const char *unknown[] = {
        "FOO / HTTP/1.1\r\n\r\n",     "GETX / HTTP/1.1\r\n\r\n",
        "get / HTTP/1.1\r\n\r\n",     "GE / HTTP/1.1\r\n\r\n",
        "BREW /pot HTTP/1.1\r\n\r\n", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
        expect_error(unknown[i], 501, "Not Implemented");

    expect_error("GET / HTTP/2.0\r\n\r\n", 505, "HTTP Version Not Supported");

    /* After a good request, the error answers the second and ends the connection. */
    char want[1024];
    snprintf(want, sizeof(want), "%s", text_resp("GET /a HTTP/1.1\r\n\r\n", "keep-alive"));
    strcat(want, error_resp(501, "Not Implemented"));
    expect("GET /a HTTP/1.1\r\n\r\nXYZ / HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", want);
}

static void test_timeout_and_finish(void **state)
{
    (void)state;
    static struct http_proto hp;
    struct http_check st = {0};

    http_proto_init(&hp, &cfg);
    assert_false(http_proto_in_request(&hp));
    /* Leading CRLFs already count as a request under way (for the request timer). */
    assert_int_equal(http_proto_feed(&hp, "\r\n", 2), 2);
    assert_true(http_proto_in_request(&hp));
    assert_int_equal(http_proto_feed(&hp, "GET / HTTP/1.1\r\nHost", 20), 20);
    assert_true(http_proto_in_request(&hp));
    http_proto_timeout(&hp);
    assert_true(http_proto_done(&hp));
    assert_false(http_proto_in_request(&hp));
    assert_true(http_check_drain(&hp.out, &st));
    assert_int_equal(st.last_status, 408);
    /* Done: input is swallowed, nothing more is said. */
    assert_int_equal(http_proto_feed(&hp, "GET / HTTP/1.1\r\n\r\n", 18), 18);
    http_proto_timeout(&hp);
    assert_null(hp.out.head);
    http_proto_release(&hp);

    /* EOF in the middle of a body: no answer. */
    http_proto_init(&hp, &cfg);
    http_proto_feed(&hp, "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", 42);
    http_proto_finish(&hp);
    assert_true(http_proto_done(&hp));
    assert_null(hp.out.head);
    http_proto_release(&hp);
}

static void test_expect_continue(void **state)
{
    (void)state;
    char want[1024];

    snprintf(
        want, sizeof(want), "HTTP/1.1 100 Continue\r\n\r\n%s",
        text_resp("PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi", "keep-alive"));
    expect("PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi", want);
    /* Over the limit: straight to 413, no 100. */
    expect_error("PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 99999999\r\n\r\n", 413,
                 "Content Too Large");
}

/* ------------------------------------------------------------ routes */

static void test_bytes_route(void **state)
{
    (void)state;
    char want[512];

    snprintf(want, sizeof(want), "%s%.*s", head("application/octet-stream", 130, "keep-alive"), 130,
             "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+\n"
             "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+\n"
             "01");
    expect("GET /bytes/130 HTTP/1.1\r\n\r\n", want);
    expect("GET /bytes/0?x HTTP/1.1\r\n\r\n", head("application/octet-stream", 0, "keep-alive"));

    /* 2^64 - 1 bytes: one chunk that is never materialised. */
    static struct http_proto hp;
    const char *req = "GET /bytes/18446744073709551615 HTTP/1.1\r\n\r\n";

    http_proto_init(&hp, &cfg);
    assert_int_equal(http_proto_feed(&hp, req, strlen(req)), strlen(req));
    assert_non_null(hp.out.head);
    assert_non_null(hp.out.head->next);
    assert_null(hp.out.head->next->data);
    assert_true(hp.out.head->next->len == UINT64_MAX);
    assert_non_null(strstr(hp.out.head->data, "Content-Length: 18446744073709551615\r\n"));
    http_proto_release(&hp);

    /* The pattern at any offset, and how much may be taken from there. */
    for (uint64_t off = 0; off < 3 * HTTP_PATTERN_SIZE; off += 997) {
        size_t avail;
        const char *p = http_pattern_at(off, &avail);

        assert_true(avail >= HTTP_PATTERN_SIZE - HTTP_PATTERN_PERIOD);
        assert_true(p + avail == http_pattern + HTTP_PATTERN_SIZE);
        for (size_t i = 0; i < avail; i += 101)
            assert_int_equal(p[i], http_pattern[(off + i) % HTTP_PATTERN_PERIOD]);
    }
    /* Other methods on the routes are echoed. */
    expect("POST /bytes/10 HTTP/1.1\r\n\r\n", text_resp("POST /bytes/10 HTTP/1.1\r\n\r\n", "keep-alive"));
}

/* /sink: PUT or POST, the body counted and dropped, of any length (max_body keeps nothing here). */
static void test_sink_route(void **state)
{
    (void)state;
    char want[512];

    snprintf(want, sizeof(want), "%s5\n", head("text/plain", 2, "keep-alive"));
    expect("PUT /sink HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", want);
    snprintf(want, sizeof(want), "%s0\n", head("text/plain", 2, "keep-alive"));
    expect("POST /sink?x=1 HTTP/1.1\r\nContent-Length: 0\r\n\r\n", want);
    /* Chunked: 3 + 10 bytes. */
    snprintf(want, sizeof(want), "%s13\n", head("text/plain", 3, "keep-alive"));
    expect(
        "POST /sink HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\na\r\n0123456789\r\n0\r\n\r\n",
        want);
    /* 100 Continue for a body far over max_body, then its count. */
    snprintf(want, sizeof(want), "HTTP/1.1 100 Continue\r\n\r\n%s3\n", head("text/plain", 2, "keep-alive"));
    expect("PUT /sink HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc", want);

    /* Three times max_body, and the counters. */
    size_t body = 3 * (size_t)cfg.max_body;
    char *big = malloc(body + 200);
    int n = sprintf(big, "PUT /sink HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", body);
    uint64_t reqs = http_proto_counters.sink_requests, bytes = http_proto_counters.sink_bytes;

    memset(big + n, 'a', body);
    struct run r = run_split(big, (size_t)n + body, 4096);
    assert_true(r.ok);
    assert_int_equal(r.check.last_status, 200);
    assert_int_equal(r.check.responses, 1);
    assert_false(r.done);
    snprintf(want, sizeof(want), "%s%zu\n", head("text/plain", 8, "keep-alive"), body);
    assert_int_equal(r.check.len, strlen(want));
    assert_memory_equal(out_buf, want, strlen(want));
    assert_int_equal(http_proto_counters.sink_requests, reqs + 1);
    assert_int_equal(http_proto_counters.sink_bytes, bytes + body);
    free(big);

    /* Other methods and paths are echoed; the limit still holds there. */
    expect("GET /sink HTTP/1.1\r\n\r\n", text_resp("GET /sink HTTP/1.1\r\n\r\n", "keep-alive"));
    expect_error("PUT /sinks HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n", 413, "Content Too Large");
}

static void test_stats_and_page(void **state)
{
    (void)state;
    static const char body[] = "{\"uptime_ms\":1234,\"net\":{\"name\":\"virtio\\\"0\"}}\n";
    char want[512];

    snprintf(want, sizeof(want),
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
             "Cache-Control: no-store\r\nConnection: keep-alive\r\n\r\n%s",
             strlen(body), body);
    expect("GET /stats HTTP/1.1\r\n\r\n", want);

    struct run r = run_str("GET /?refresh=1 HTTP/1.1\r\n\r\n", 0);
    assert_true(r.ok);
    assert_int_equal(r.check.len, strlen(head("text/html; charset=utf-8", status_page_len, "keep-alive")) +
                                      status_page_len);
    assert_memory_equal(out_buf + r.check.len - status_page_len, status_page_html, status_page_len);

    /* No stats provider: 404. */
    struct http_config saved = cfg;
    cfg.write_stats = NULL;
    expect_error("GET /stats HTTP/1.1\r\n\r\n", 404, "Not Found");
    cfg = saved;
}

/* ------------------------------------------------------------ memory */

/*
 * Fail the 1st, 2nd, ... allocation of a varied session: each time the
 * output stays well formed and nothing leaks (LeakSanitizer at exit). No
 * reply may go missing unseen: the output is, byte for byte, the clean run's
 * first responses, then the connection ends either with the fixed 503 or,
 * when not even that could be queued, with no response and the
 * "unanswered" counter (in /stats) up by exactly one.
 */
static void test_allocation_failures(void **state)
{
    (void)state;
    const char *in = "GET /a HTTP/1.1\r\n\r\n"
                     "POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "3\r\nabc\r\n0\r\n\r\n"
                     "GET /stats HTTP/1.1\r\nAccept: application/json\r\n\r\n"
                     "PUT /c HTTP/1.1\r\nAccept: application/json\r\nExpect: 100-continue\r\n"
                     "Content-Length: 5000\r\n\r\n";
    static char buf[8192];
    size_t n = (size_t)sprintf(buf, "%s", in);

    memset(buf + n, 'z', 5000);
    n += 5000;
    n += (size_t)sprintf(buf + n, "GET /bytes/5 HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n");

    static char clean_out[sizeof(out_buf)];
    struct run clean = run_split(buf, n, 0);
    assert_true(clean.ok);
    assert_int_equal(clean.check.responses, 6);
    assert_true(clean.check.len < sizeof(clean_out));
    memcpy(clean_out, out_buf, clean.check.len);
    const char *r503 = error_resp(503, "Service Unavailable");
    unsigned silent = 0, refused = 0;

    bool covered_all = false; /* some k made no allocation fail: every one was tried */

    for (long k = 0; k < 64; k++) {
        for (size_t split = 0; split <= 3; split++) {
            alloc_failures = 0;
            alloc_countdown = k;
            alloc_fail_rest = split >= 2; /* memory gone for good: not even the fixed 503 */
            uint64_t unanswered = http_proto_counters.unanswered;
            struct run r = run_split(buf, n, split & 1 ? 13 : 0);
            alloc_countdown = -1;
            alloc_fail_rest = false;
            if (!r.ok)
                fail_msg("allocation %ld failing: %s", k, r.check.why);
            if (alloc_failures) {
                bool refusal = r.check.n_starts > 0 && r.check.len - r.check.last_start == strlen(r503) &&
                               memcmp(out_buf + r.check.last_start, r503, strlen(r503)) == 0;
                size_t answered = refusal ? r.check.last_start : r.check.len;
                unsigned i;

                assert_true(r.done);
                /* What was answered is the clean run's, up to a response boundary. */
                if (answered > clean.check.len || memcmp(out_buf, clean_out, answered) != 0)
                    fail_msg("allocation %ld failing: the responses before it differ from the clean run", k);
                for (i = 0; i < clean.check.n_starts && clean.check.starts[i] != answered; i++)
                    ;
                if (i == clean.check.n_starts)
                    fail_msg("allocation %ld failing: output cut inside a response (%zu bytes)", k, answered);
                if (refusal) {
                    assert_int_equal(http_proto_counters.unanswered, unanswered);
                    refused++;
                } else {
                    /* No 503 either: the request went unanswered, and that is counted. */
                    if (http_proto_counters.unanswered != unanswered + 1)
                        fail_msg("allocation %ld failing: %u of %u responses, no 503, unanswered not counted",
                                 k, r.check.responses, clean.check.responses);
                    silent++;
                }
            } else {
                assert_int_equal(r.check.responses, clean.check.responses);
                covered_all = true;
            }
        }
    }
    assert_true(covered_all);
    /* Both endings were exercised. */
    assert_true(refused > 0);
    assert_true(silent > 0);
}

/* ------------------------------------------------------------ json */

static void test_json_writer(void **state)
{
    (void)state;
    char buf[256];
    struct json_out o;

    json_init(&o, buf, sizeof(buf));
    json_begin_object(&o);
    json_kv_u64(&o, "max", UINT64_MAX);
    json_kv_i64(&o, "min", INT64_MIN);
    json_kv_bool(&o, "t", true);
    json_key(&o, "a");
    json_begin_array(&o);
    json_null(&o);
    json_string(&o, "\b\f\r\x1f");
    json_begin_object(&o);
    json_end_object(&o);
    json_end_array(&o);
    json_kv_string(&o, "k\"", NULL);
    json_end_object(&o);
    const char *want = "{\"max\":18446744073709551615,\"min\":-9223372036854775808,\"t\":true,"
                       "\"a\":[null,\"\\b\\f\\r\\u001f\",{}],\"k\\\"\":null}";
    assert_false(o.error);
    assert_int_equal(json_len(&o), strlen(want));
    assert_memory_equal(buf, want, strlen(want));
    assert_int_equal(json_escaped_len("\b\x01\xff a", 5), 2 + 6 + 6 + 2);

    /* Truncation: the length is still the full one, nothing is written past the end. */
    char small[8] = "#######";
    json_init(&o, small, 4);
    json_begin_array(&o);
    json_u64(&o, 123456);
    json_end_array(&o);
    assert_int_equal(json_len(&o), 8);
    assert_true(json_truncated(&o));
    assert_memory_equal(small, "[123###", 8);

    /* Misuse is flagged; json_close_to() repairs what a provider left open. */
    json_init(&o, buf, sizeof(buf));
    json_begin_object(&o);
    json_u64(&o, 1); /* a value without a key */
    assert_true(o.error);
    json_init(&o, buf, sizeof(buf));
    json_begin_object(&o);
    json_key(&o, "p");
    o.floor = o.depth; /* what stats.c does around a provider */
    json_begin_array(&o);
    json_begin_object(&o);
    json_key(&o, "dangling");
    json_close_to(&o, o.floor);
    assert_false(o.error);
    json_end_object(&o); /* at the floor: refused */
    assert_true(o.error);
    o.floor = 0;
    json_end_object(&o);
    assert_int_equal(json_len(&o), strlen("{\"p\":[{\"dangling\":null}]}"));
    assert_memory_equal(buf, "{\"p\":[{\"dangling\":null}]}", json_len(&o));
}

/* http_outq_at(): which chunk holds a byte, before and after pops. */
static void test_outq_at(void **state)
{
    (void)state;
    struct http_chunk *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    uint64_t off = 99;

    a->data = "hello ";
    a->len = 6;
    b->data = "world";
    b->len = 5;
    a->next = b;
    struct http_outq q = {.head = a, .tail = b, .pushed = 11, .chunks = 2};
    assert_ptr_equal(http_outq_at(&q, 0, &off), a);
    assert_int_equal(off, 0);
    assert_ptr_equal(http_outq_at(&q, 5, &off), a);
    assert_int_equal(off, 5);
    assert_ptr_equal(http_outq_at(&q, 6, &off), b);
    assert_int_equal(off, 0);
    assert_ptr_equal(http_outq_at(&q, 10, &off), b);
    assert_int_equal(off, 4);
    assert_null(http_outq_at(&q, 11, &off));
    http_outq_pop(&q);
    assert_ptr_equal(http_outq_at(&q, 7, &off), b);
    assert_int_equal(off, 1);
    assert_null(http_outq_at(&q, 5, &off)); /* popped already */
    http_outq_pop(&q);
    assert_null(http_outq_at(&q, 11, &off));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_exact_bytes),
        cmocka_unit_test(test_long_url_and_header_echoed_whole),
        cmocka_unit_test(test_head_has_get_length_no_body),
        cmocka_unit_test(test_post_content_length),
        cmocka_unit_test(test_chunked_upload),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_http10_and_connection_close),
        cmocka_unit_test(test_json_escaping),
        cmocka_unit_test(test_431),
        cmocka_unit_test(test_400_and_501_and_505),
        cmocka_unit_test(test_timeout_and_finish),
        cmocka_unit_test(test_expect_continue),
        cmocka_unit_test(test_bytes_route),
        cmocka_unit_test(test_sink_route),
        cmocka_unit_test(test_stats_and_page),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_json_writer),
        cmocka_unit_test(test_outq_at),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
