/*
 * libFuzzer target for apps/http_proto.c (with http-parser and lib/json.c):
 * the input is what a client sends, preceded by two bytes that choose the
 * configuration and seed the way the stream is cut into pieces.
 *
 * So that the fuzzer reaches past the request line without a corpus, the
 * stream is decoded first: bytes 0x80-0xFE each stand for a piece of HTTP
 * from the table below ("GET ", " HTTP/1.1\r\n", "Transfer-Encoding:
 * chunked\r\n", ...), 0xFF escapes the next byte, any other byte is itself.
 *
 * Invariants checked (abort() on violation):
 *  - nothing crashes or touches memory out of bounds (ASan, UBSan), nothing
 *    leaks (LeakSanitizer at exit);
 *  - http_proto_feed() consumes at least one byte and at most what it got;
 *  - every response is well formed (tests/unit/http_check.h: status line,
 *    the fixed header fields, Content-Length equal to the body, error
 *    responses that close, nothing after a close);
 *  - memory stays bounded: the body buffer never exceeds the limit, and the
 *    output one call queues is bounded by the limits (a /bytes body is a
 *    pattern chunk, never memory);
 *  - the bytes out do not depend on how the input was cut: fed whole and
 *    fed in random pieces, the output is identical (but for the status of
 *    a final error, when a request breaks two rules);
 *  - once done, the connection swallows input and says nothing more.
 *
 * Build and run: make -f tests/fuzz/fuzz.mk fuzz (see fuzz.mk).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/http_proto.h"
#include "lib/json.h"
#include "apps/status_page.h"
#include "http_check.h"

#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "fuzz_http: invariant failed at line %d: %s\n", __LINE__, #cond);                \
            abort();                                                                                         \
        }                                                                                                    \
    } while (0)

#define CAPTURE (1 << 20)

/* The status page's bytes do not matter here (apps/status_page.S is not linked). */
const char status_page_html[] = "<!doctype html><title>fuzz</title>";
const size_t status_page_len = sizeof(status_page_html) - 1;

static void fake_stats(struct json_out *o)
{
    json_begin_object(o);
    json_kv_u64(o, "uptime_ms", 42);
    json_key(o, "q");
    json_begin_array(o);
    json_string(o, "x\"\x01");
    json_end_array(o);
    json_end_object(o);
}

/* Bytes a drain may hold: a JSON echo of a full body (6 per byte at
 * worst), the echoed head, a stats document, response heads. */
static uint64_t output_bound(const struct http_config *cfg)
{
    return 6 * cfg->max_body + 6 * (uint64_t)HTTP_MAX_HEAD + 64 * 1024;
}

static uint64_t queued_memory(const struct http_outq *q)
{
    uint64_t n = 0;

    for (const struct http_chunk *c = q->head; c; c = c->next)
        if (c->data)
            n += c->len;
    return n;
}

static const char *const tokens[] = {
    "GET ",
    "HEAD ",
    "POST ",
    "PUT ",
    "DELETE ",
    "OPTIONS ",
    "CONNECT ",
    "FOO ",
    "get ",
    "/",
    "/x?a=b",
    "/stats",
    "/bytes/",
    "/bytes/1000",
    "/bytes/18446744073709551615",
    "http://h:80/p",
    " HTTP/1.1\r\n",
    " HTTP/1.0\r\n",
    " HTTP/2.0\r\n",
    "\r\n",
    "\n",
    "\r",
    " ",
    ": ",
    ":",
    "Host: h\r\n",
    "Content-Length: ",
    "Content-Length: 5\r\n",
    "Content-Length: 0\r\n",
    "Transfer-Encoding: chunked\r\n",
    "Transfer-Encoding: gzip\r\n",
    "Connection: close\r\n",
    "Connection: keep-alive\r\n",
    "Connection: upgrade\r\nUpgrade: x\r\n",
    "Accept: application/json\r\n",
    "Expect: 100-continue\r\n",
    "X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
    "0\r\n\r\n",
    "5\r\nhello\r\n",
    "a;ext=1\r\n0123456789\r\n",
    "ffffffffffffffff\r\n",
    "T: t\r\n\r\n",
    "0",
    "1",
    "9",
    "12345",
    "18446744073709551616",
    "\"",
    "\\",
    "\x01",
    "\x7f",
    "\xe9",
    "\t",
};
#define NTOKENS (sizeof(tokens) / sizeof(tokens[0]))

/* The stream the decoding above gives. Return: its length. */
static size_t decode(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    size_t len = 0;

    for (size_t i = 0; i < n; i++) {
        const char *tok = NULL;
        uint8_t lit = in[i];

        if (in[i] == 0xff) {
            if (++i == n)
                break;
            lit = in[i];
        } else if (in[i] >= 0x80) {
            tok = tokens[(in[i] - 0x80) % NTOKENS];
        }
        if (tok) {
            size_t t = strlen(tok);
            if (len + t > cap)
                break;
            memcpy(out + len, tok, t);
            len += t;
        } else {
            if (len == cap)
                break;
            out[len++] = lit;
        }
    }
    return len;
}

struct rng {
    uint32_t s;
};

static uint32_t next(struct rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 17;
    r->s ^= r->s << 5;
    return r->s;
}

/*
 * Feed @data in pieces (@split_seed 0: whole), draining after each call.
 * @timeout_at: call http_proto_timeout() after this many bytes (SIZE_MAX: never).
 */
static void run(const struct http_config *cfg, const uint8_t *data, size_t len, uint32_t split_seed,
                size_t timeout_at, struct http_check *st)
{
    static struct http_proto hp;
    struct rng r = {split_seed | 1};
    size_t off = 0;
    bool timed_out = false;

    http_proto_init(&hp, cfg);
    while (off < len) {
        size_t piece = len - off;

        if (split_seed) {
            size_t max = (next(&r) & 3) == 0 ? 1 : (next(&r) % 64) + 1;
            if (piece > max)
                piece = max;
        }
        if (!timed_out && off >= timeout_at) {
            bool was_done = http_proto_done(&hp);

            http_proto_timeout(&hp);
            timed_out = true;
            CHECK(http_proto_done(&hp));
            if (was_done)
                CHECK(hp.out.head == NULL);
            CHECK(http_check_drain(&hp.out, st));
        }
        bool done_before = http_proto_done(&hp);
        size_t n = http_proto_feed(&hp, (const char *)data + off, piece);

        CHECK(n >= 1 && n <= piece);
        if (done_before) {
            CHECK(n == piece);
            CHECK(hp.out.head == NULL);
        }
        CHECK(hp.body_cap <= cfg->max_body);
        CHECK(hp.body_len <= hp.body_cap);
        CHECK(queued_memory(&hp.out) <= output_bound(cfg));
        if (!http_check_drain(&hp.out, st)) {
            fprintf(stderr, "fuzz_http: bad output: %s\n", st->why);
            abort();
        }
        off += n;
    }
    http_proto_finish(&hp);
    CHECK(http_proto_done(&hp));
    CHECK(hp.out.head == NULL);
    http_proto_release(&hp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char whole[CAPTURE], pieces[CAPTURE];
    static uint8_t stream[1 << 16];
    struct http_config cfg = {.write_stats = fake_stats};
    struct http_check a = {.bytes = whole, .cap = sizeof(whole)};
    struct http_check b = {.bytes = pieces, .cap = sizeof(pieces)};
    uint32_t seed;

    if (size < 2)
        return 0;
    /* Byte 0: the body limit (small, so that 413 is reachable) and whether /stats exists. */
    cfg.max_body = (uint64_t)(data[0] & 0x7f) * 37;
    if (data[0] & 0x80)
        cfg.write_stats = NULL;
    seed = data[1] * 2654435761u;
    size = decode(data + 2, size - 2, stream, sizeof(stream));
    data = stream;
    /* A body may be missing only where a HEAD request may have asked for none. */
    for (size_t i = 0; i + 4 <= size && !a.head_ok; i++)
        a.head_ok = memcmp(data + i, "HEAD", 4) == 0;
    b.head_ok = a.head_ok;

    run(&cfg, data, size, 0, SIZE_MAX, &a);
    run(&cfg, data, size, seed, SIZE_MAX, &b);
    /*
     * Cut differently, a request that breaks two rules at once may be caught
     * by either rule first (http-parser delivers data to the callbacks at
     * the end of each piece): only the status of that last, closing error
     * may differ.
     */
    CHECK(a.responses == b.responses && a.closed == b.closed);
    CHECK(a.last_start == b.last_start && memcmp(whole, pieces, a.last_start) == 0);
    if (a.len != b.len || memcmp(whole, pieces, a.len) != 0 || a.total != b.total)
        CHECK(a.last_status >= 400 && b.last_status >= 400 && a.closed);

    /* A timeout at some point of the stream: still well formed. */
    struct http_check c = {.head_ok = a.head_ok};
    run(&cfg, data, size, seed ^ 0x5bd1e995u, size ? (seed % (size + 1)) : 0, &c);
    return 0;
}
