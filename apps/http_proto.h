/*
 * The HTTP/1.1 server's protocol half (RFC 9110 semantics, RFC 9112 message
 * syntax): request parsing with http-parser, the limits, and the bytes of
 * every response. It never touches lwIP, so the host tests and the fuzzer
 * drive it directly; apps/http.c moves its input and output over TCP.
 *
 * One struct http_proto per connection. The caller feeds it the bytes the
 * client sent; complete responses appear in its output queue as a list of
 * chunks, in order. docs/apps.md gives the exact response format.
 *
 * Routes (GET and HEAD only, but /sink; everything else, any method, is echoed):
 *   /          the HTML status page (apps/status_page.h)
 *   /stats     the JSON from http_config.write_stats (404 when there is none)
 *   /bytes/N   N bytes (a 64-bit decimal) of a fixed pattern, never buffered
 *   /sink      PUT or POST: the body is read and dropped, of any length
 *              (max_body does not apply: nothing is kept); the answer is
 *              its byte count in decimal and a newline, text/plain
 * Errors, always answered with "Connection: close" and the end of the
 * connection: 400 malformed request, 408 request too slow (the caller's
 * timer), 413 body over the limit, 431 request line and header fields over
 * HTTP_MAX_HEAD bytes or HTTP_MAX_HEADERS fields, 501 unknown method or
 * CONNECT, 505 HTTP major version other than 1, 503 out of memory.
 */
#ifndef APPS_HTTP_PROTO_H
#define APPS_HTTP_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/txhold.h"
#include "third_party/http-parser/http_parser.h"

struct json_out;

/* The request line and header section, CRLFs included, may be this long. */
#define HTTP_MAX_HEAD 8192
/* Header fields (trailer fields of a chunked body included) per request. */
#define HTTP_MAX_HEADERS      128
#define HTTP_DEFAULT_MAX_BODY (1024 * 1024)

/*
 * The /bytes/N body: byte i of the stream is http_pattern[i % 64], 63
 * printable characters and a newline. The buffer repeats that line so that
 * one zero-copy send can take up to HTTP_PATTERN_SIZE - 64 bytes from any
 * offset; it is const, in .rodata, so lwIP may reference it for as long as
 * it likes.
 */
#define HTTP_PATTERN_PERIOD 64
#define HTTP_PATTERN_SIZE   16384
extern const char http_pattern[HTTP_PATTERN_SIZE];

/**
 * http_pattern_at() - where the byte at @offset of a /bytes stream is, and
 * (*@avail) how many bytes may be read there in one go.
 */
const char *http_pattern_at(uint64_t offset, size_t *avail);

/*
 * One piece of output. @data == NULL means @len bytes of the /bytes pattern
 * starting at stream offset 0. @mem is freed with the chunk (NULL: @data is
 * static). The memory stays where it is until the chunk is popped, so the
 * caller may hand @data to lwIP without copying.
 */
struct http_chunk {
    struct http_chunk *next;
    struct txhold hold; /* apps/http.c: freed once the NIC is done (net/txhold.h) */
    const char *data;
    uint64_t len;
    void *mem;
    bool starts_response; /* the status line and header fields of a response begin here */
};

struct http_outq {
    struct http_chunk *head, *tail;
    uint64_t pushed; /* bytes queued since init, popped ones included */
    uint64_t popped; /* bytes of the chunks already popped */
    unsigned chunks;
};

/** http_outq_pop() - free the oldest chunk (the caller has sent all of it). */
void http_outq_pop(struct http_outq *q);

/**
 * http_outq_unlink() - take the oldest chunk off the queue (as popped) and
 * hand it to the caller, who frees it later with http_chunk_free(): when
 * the NIC may still read what lwIP was given from it. NULL when empty.
 */
struct http_chunk *http_outq_unlink(struct http_outq *q);

/** http_chunk_free() - free a chunk and its memory. */
void http_chunk_free(struct http_chunk *c);

/**
 * http_outq_at() - the queued chunk holding output byte @pos (counted from
 * the connection's first byte), with @off set to where in it; NULL if @pos
 * is past what was pushed or before what was popped.
 */
struct http_chunk *http_outq_at(const struct http_outq *q, uint64_t pos, uint64_t *off);

struct http_config {
    uint64_t max_body; /* request bodies over this get 413 */
    /* Writes the /stats document (one JSON value); NULL: /stats is 404. */
    void (*write_stats)(struct json_out *out);
};

struct http_header {
    uint16_t name_off, name_len, value_off, value_len; /* in http_proto.head */
};

enum http_route {
    HTTP_ROUTE_ECHO,
    HTTP_ROUTE_PAGE,
    HTTP_ROUTE_STATS,
    HTTP_ROUTE_BYTES,
    HTTP_ROUTE_SINK,
};

struct http_proto {
    http_parser parser;
    const struct http_config *cfg;
    struct http_outq out;

    /* The request being received. */
    bool in_request; /* bytes of it (or CRLFs before it) have been parsed */
    bool began;      /* http-parser has seen its method's first letter */
    bool done;       /* no more requests: close once the output is sent */
    bool last_was_value;
    bool want_json;
    enum http_route route;
    uint64_t bytes_n; /* HTTP_ROUTE_BYTES: how many */
    int error_status; /* set by a callback that stops the parser */
    uint16_t url_off, url_len;
    unsigned nhdr;
    size_t head_len;
    char *body;
    size_t body_len, body_cap;
    uint64_t body_seen; /* body bytes received, kept or not */
    struct http_header hdr[HTTP_MAX_HEADERS];
    char head[HTTP_MAX_HEAD];
};

/* Totals over all connections, for /stats. */
struct http_proto_counters {
    uint64_t requests;  /* complete requests answered */
    uint64_t responses; /* responses queued, errors and 100 Continue included */
    uint64_t status_2xx, status_4xx, status_5xx;
    uint64_t continues;                     /* 100 Continue interim responses */
    uint64_t bytes_streams, bytes_streamed; /* /bytes responses and their Content-Length sum */
    uint64_t sink_requests, sink_bytes;     /* /sink uploads answered and their body bytes */
    uint64_t oom;                           /* allocations that failed */
    uint64_t unanswered; /* connections closed with no response: not even the fixed 503 could be queued */
};
extern struct http_proto_counters http_proto_counters;

/** http_proto_init() - a new connection's protocol state. @cfg must outlive it. */
void http_proto_init(struct http_proto *hp, const struct http_config *cfg);

/**
 * http_proto_feed() - parse @len bytes the client sent. Stops after each
 * complete request, whose response is then queued, so that the caller can
 * stop feeding while its output backs up; call again with the rest.
 * Once the connection is done (an error, "Connection: close", HTTP/1.0)
 * everything is consumed and ignored.
 * Return: the number of bytes consumed, at least 1 when @len > 0.
 */
size_t http_proto_feed(struct http_proto *hp, const char *data, size_t len);

/**
 * http_proto_timeout() - the current request took too long: queue a 408
 * and finish the connection. Does nothing once done.
 */
void http_proto_timeout(struct http_proto *hp);

/**
 * http_proto_finish() - the client will send nothing more (EOF), or the
 * caller gives up: answer nothing more. A partial request is dropped.
 */
void http_proto_finish(struct http_proto *hp);

/**
 * http_proto_in_request() - true while a request has started but not
 * completed (leading CRLFs count: the request timer covers them too).
 */
static inline bool http_proto_in_request(const struct http_proto *hp)
{
    return hp->in_request;
}

/** http_proto_done() - true when the connection should close once its output is sent. */
static inline bool http_proto_done(const struct http_proto *hp)
{
    return hp->done;
}

/** http_proto_release() - free the request buffers and every queued chunk. */
void http_proto_release(struct http_proto *hp);

/** http_proto_status_text() - the reason phrase for @status ("OK", "Not Found"). */
const char *http_proto_status_text(unsigned status);

#endif
