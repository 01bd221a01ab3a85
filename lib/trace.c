/*
 * trace= (lib/trace.h, docs/tracing.md): the mask, the rate limit, the line
 * format and the one-line frame decoder.
 *
 * The rate limit is a token bucket written as GCRA (the "generic cell rate
 * algorithm" of ATM, ITU-T I.371): instead of a token count refilled by a
 * timer, one word holds the theoretical arrival time (TAT) of the next line
 * at the sustained rate. A line at time t may go if TAT - t stays within the
 * burst tolerance; it then moves TAT one interval on. One 64-bit word makes
 * the update a single compare-and-swap, safe against interrupt handlers that
 * trace in the middle of a main-loop line.
 *
 * The decoder follows the wire formats of RFC 826 (ARP), RFC 791 (IPv4),
 * RFC 8200 (IPv6 and its extension headers), RFC 9293 (TCP), RFC 768 (UDP),
 * RFC 792 / RFC 4443 (ICMP, ICMPv6), RFC 4861 (neighbour discovery), and
 * writes IPv6 addresses as RFC 5952 says. Every read is checked against the
 * captured length first: trace=net sees whatever arrives on the wire.
 */
#include "lib/trace.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/klog.h"

#define NS_PER_S 1000000000ull

/* Longest trace line, prefix included; longer ones end in "...". */
#define TRACE_LINE_MAX 320

unsigned trace_mask;

static void (*out_write)(const char *line, unsigned len);
static unsigned long long (*out_now)(void);

/* The bucket (see the file comment), in ns. */
static uint64_t tat_ns;
static uint64_t interval_ns = NS_PER_S / TRACE_RATE;
static uint64_t tolerance_ns = (TRACE_BURST - 1) * (NS_PER_S / TRACE_RATE);

static uint64_t lines_total, suppressed_total;
static uint64_t suppressed_pending; /* refused since the last "suppressed" line */
static uint64_t last_report_ns;     /* that line, or the refusal that opened the window */

static const struct {
    const char *word;
    unsigned bits;
} words[] = {
    {"virtq", TRACE_VIRTQ},
    {"net", TRACE_NET},
    {"irq", TRACE_IRQ},
    {"all", TRACE_ALL},
};

/* ------------------------------------------------------------ parsing */

int trace_parse(const char *spec, unsigned *mask, char *bad, size_t bad_size)
{
    int unknown = 0;

    *mask = 0;
    if (bad_size)
        bad[0] = '\0';
    for (const char *p = spec; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        bool found = n == 0; /* "net,,irq": an empty word is no mistake */

        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]) && !found; i++) {
            if (strlen(words[i].word) == n && strncmp(words[i].word, p, n) == 0) {
                *mask |= words[i].bits;
                found = true;
            }
        }
        if (!found) {
            if (unknown == 0 && bad_size) {
                size_t k = n < bad_size - 1 ? n : bad_size - 1;
                memcpy(bad, p, k);
                bad[k] = '\0';
            }
            unknown++;
        }
        p = comma ? comma + 1 : NULL;
    }
    return unknown;
}

void trace_set_output(void (*write)(const char *line, unsigned len), unsigned long long (*now_ns)(void))
{
    out_write = write;
    out_now = now_ns;
}

void trace_set_mask(unsigned mask)
{
    __atomic_store_n(&trace_mask, mask & TRACE_ALL, __ATOMIC_RELAXED);
}

void trace_set_rate(unsigned per_sec, unsigned burst)
{
    if (per_sec == 0)
        per_sec = 1;
    if (burst == 0)
        burst = 1;
    interval_ns = NS_PER_S / per_sec;
    tolerance_ns = (uint64_t)(burst - 1) * interval_ns;
    __atomic_store_n(&tat_ns, 0, __ATOMIC_RELAXED);
}

void trace_init(const char *spec)
{
    unsigned mask;
    char bad[32];
    int unknown;

    if (!spec)
        return;
    unknown = trace_parse(spec, &mask, bad, sizeof(bad));
    if (unknown)
        klog(LOG_ERR, "trace: unknown word '%s'%s in trace=%s (known: virtq, net, irq, all)", bad,
             unknown > 1 ? " and others" : "", spec);
    trace_set_mask(mask);
    if (mask)
        klog(LOG_INFO, "trace: on for%s%s%s, at most %u lines/s (bursts of %u)",
             (mask & TRACE_VIRTQ) ? " virtq" : "", (mask & TRACE_NET) ? " net" : "",
             (mask & TRACE_IRQ) ? " irq" : "", (unsigned)(NS_PER_S / interval_ns),
             (unsigned)(tolerance_ns / interval_ns + 1));
    else
        klog(LOG_INFO, "trace: nothing to trace");
}

/* ------------------------------------------------------------ output */

static uint64_t now_ns(void)
{
    return out_now ? out_now() : 0;
}

/* GCRA: may a line go at @now? */
static bool bucket_take(uint64_t now)
{
    uint64_t old = __atomic_load_n(&tat_ns, __ATOMIC_RELAXED);

    for (;;) {
        uint64_t t = old > now ? old : now;

        if (t - now > tolerance_ns)
            return false;
        if (__atomic_compare_exchange_n(&tat_ns, &old, t + interval_ns, false, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
            return true;
    }
}

/* Format and write one line with the log's prefix; the rate limit is the caller's business. */
static void emit(uint64_t now, const char *fmt, va_list ap)
{
    char line[TRACE_LINE_MAX];
    int n;

    if (!out_write)
        return;
    n = snprintf(line, sizeof(line), "[%5llu.%06llu] T ", (unsigned long long)(now / NS_PER_S),
                 (unsigned long long)((now / 1000) % 1000000));
    n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    if (n > TRACE_LINE_MAX - 2) {
        n = TRACE_LINE_MAX - 2;
        memcpy(line + n - 3, "...", 3);
    }
    line[n++] = '\n';
    out_write(line, (unsigned)n);
}

static void emit_fmt(uint64_t now, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    emit(now, fmt, ap);
    va_end(ap);
}

/* The "suppressed" line, if any were, claimed by one caller even if an interrupt races us. */
static void report_suppressed(uint64_t now)
{
    uint64_t n;

    __atomic_store_n(&last_report_ns, now, __ATOMIC_RELAXED);
    n = __atomic_exchange_n(&suppressed_pending, 0, __ATOMIC_RELAXED);
    if (n)
        emit_fmt(now, "trace: %llu line%s suppressed", (unsigned long long)n, n == 1 ? "" : "s");
}

static bool report_due(uint64_t now)
{
    uint64_t last = __atomic_load_n(&last_report_ns, __ATOMIC_RELAXED);

    return now - last >= NS_PER_S && __atomic_compare_exchange_n(&last_report_ns, &last, now, false,
                                                                 __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

/* May a line go now? Either takes a token or counts the line as suppressed. */
static bool admit(uint64_t now)
{
    if (!bucket_take(now)) {
        __atomic_fetch_add(&suppressed_total, 1, __ATOMIC_RELAXED);
        /* The first refusal after a quiet spell opens a one-second window;
         * its count is reported when the window is over. Reports go outside
         * the bucket, so they come at most once a second. */
        if (__atomic_fetch_add(&suppressed_pending, 1, __ATOMIC_RELAXED) == 0)
            __atomic_store_n(&last_report_ns, now, __ATOMIC_RELAXED);
        else if (report_due(now))
            report_suppressed(now);
        return false;
    }
    if (__atomic_load_n(&suppressed_pending, __ATOMIC_RELAXED) && report_due(now))
        report_suppressed(now);
    __atomic_fetch_add(&lines_total, 1, __ATOMIC_RELAXED);
    return true;
}

void trace_line(const char *fmt, ...)
{
    uint64_t now = now_ns();
    va_list ap;

    /* Refused lines cost no formatting. */
    if (!admit(now))
        return;
    va_start(ap, fmt);
    emit(now, fmt, ap);
    va_end(ap);
}

void trace_tick(void)
{
    uint64_t now;

    if (!__atomic_load_n(&suppressed_pending, __ATOMIC_RELAXED))
        return;
    now = now_ns();
    if (report_due(now))
        report_suppressed(now);
}

void trace_get_stats(struct trace_stats *st)
{
    st->lines = __atomic_load_n(&lines_total, __ATOMIC_RELAXED);
    st->suppressed = __atomic_load_n(&suppressed_total, __ATOMIC_RELAXED);
    st->unreported = __atomic_load_n(&suppressed_pending, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------ frames */

/* An output buffer that never overflows: text past the end is dropped. */
struct tbuf {
    char *p;
    size_t size, len;
};

static void put(struct tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct tbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->len + 1 >= b->size)
        return;
    va_start(ap, fmt);
    n = vsnprintf(b->p + b->len, b->size - b->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    b->len = (size_t)n < b->size - b->len ? b->len + (size_t)n : b->size - 1;
}

static unsigned be16(const uint8_t *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static unsigned long be32(const uint8_t *p)
{
    return (unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 | (unsigned long)p[2] << 8 | p[3];
}

static void put_ip4(struct tbuf *b, const uint8_t *a)
{
    put(b, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
}

/* RFC 5952 4.2: the longest run of two or more zero groups (the first of
 * equals) becomes "::"; hex digits in lower case without leading zeros. */
static void put_ip6(struct tbuf *b, const uint8_t *a)
{
    unsigned g[8];
    int best = -1, best_len = 1, run = -1, run_len = 0;

    for (int i = 0; i < 8; i++) {
        g[i] = be16(a + 2 * i);
        if (g[i] == 0) {
            if (run < 0) {
                run = i;
                run_len = 0;
            }
            run_len++;
            if (run_len > best_len) {
                best = run;
                best_len = run_len;
            }
        } else {
            run = -1;
        }
    }
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            put(b, "::");
            i += best_len - 1;
            continue;
        }
        put(b, "%s%x", i > 0 && i != best + best_len ? ":" : "", g[i]);
    }
}

static void put_mac(struct tbuf *b, const uint8_t *m)
{
    put(b, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* RFC 826: Ethernet/IPv4 only, the one pair lwIP speaks. */
static void decode_arp(struct tbuf *b, const uint8_t *p, size_t n)
{
    unsigned op;

    if (n < 8) {
        put(b, "ARP [truncated]");
        return;
    }
    op = be16(p + 6);
    if (be16(p) != 1 || be16(p + 2) != 0x0800 || p[4] != 6 || p[5] != 4) {
        put(b, "ARP hw %u proto 0x%04x op %u", be16(p), be16(p + 2), op);
        return;
    }
    if (n < 28) {
        put(b, "ARP op %u [truncated]", op);
        return;
    }
    /* sender hw 8, sender ip 14, target hw 18, target ip 24 */
    if (op == 1 && memcmp(p + 14, p + 24, 4) == 0) {
        put(b, "ARP announce ");
        put_ip4(b, p + 14);
    } else if (op == 1) {
        put(b, "ARP who-has ");
        put_ip4(b, p + 24);
        put(b, " tell ");
        put_ip4(b, p + 14);
    } else if (op == 2) {
        put(b, "ARP reply ");
        put_ip4(b, p + 14);
        put(b, " is-at ");
        put_mac(b, p + 8);
    } else {
        put(b, "ARP op %u", op);
    }
}

/* RFC 9293 3.1 flags, in tcpdump's order, with '.' for ACK. */
static void put_tcp_flags(struct tbuf *b, unsigned fl)
{
    static const struct {
        unsigned bit;
        char c;
    } names[] = {{0x01, 'F'}, {0x02, 'S'}, {0x04, 'R'}, {0x08, 'P'},
                 {0x20, 'U'}, {0x40, 'E'}, {0x80, 'W'}, {0x10, '.'}};
    char s[sizeof(names) / sizeof(names[0]) + 1];
    size_t k = 0;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (fl & names[i].bit)
            s[k++] = names[i].c;
    s[k] = '\0';
    put(b, "[%s]", k ? s : "none");
}

static const char *icmp_name(unsigned type)
{
    switch (type) {
    case 0:
        return "echo reply";
    case 3:
        return "unreachable";
    case 5:
        return "redirect";
    case 8:
        return "echo request";
    case 11:
        return "time exceeded";
    default:
        return NULL;
    }
}

static const char *icmp6_name(unsigned type)
{
    switch (type) {
    case 1:
        return "unreachable";
    case 2:
        return "packet too big";
    case 3:
        return "time exceeded";
    case 128:
        return "echo request";
    case 129:
        return "echo reply";
    case 130:
        return "MLD query";
    case 131:
        return "MLD report";
    case 132:
        return "MLD done";
    case 133:
        return "router solicitation";
    case 134:
        return "router advertisement";
    case 135:
        return "neighbor solicitation";
    case 136:
        return "neighbor advertisement";
    case 143:
        return "MLDv2 report";
    default:
        return NULL;
    }
}

/*
 * The transport header at @p: @n bytes captured, @l4len bytes long according
 * to the IP header (the TCP payload length comes from it).
 */
static void decode_l4(struct tbuf *b, unsigned proto, const uint8_t *p, size_t n, size_t l4len)
{
    switch (proto) {
    case 6: { /* TCP, RFC 9293 3.1 */
        unsigned doff, fl;

        if (n < 20) {
            put(b, "TCP [truncated]");
            return;
        }
        doff = (p[12] >> 4) * 4u;
        fl = p[13];
        put(b, "TCP %u > %u ", be16(p), be16(p + 2));
        put_tcp_flags(b, fl);
        put(b, " seq=%lu", be32(p + 4));
        if (fl & 0x10)
            put(b, " ack=%lu", be32(p + 8));
        put(b, " win=%u", be16(p + 14));
        if (doff < 20 || doff > l4len)
            put(b, " bad data offset %u", doff);
        else
            put(b, " len=%zu", l4len - doff);
        return;
    }
    case 17: /* UDP, RFC 768 */
        if (n < 8) {
            put(b, "UDP [truncated]");
            return;
        }
        put(b, "UDP %u > %u len=%u", be16(p), be16(p + 2), be16(p + 4) >= 8 ? be16(p + 4) - 8 : 0);
        return;
    case 1:    /* ICMP, RFC 792 */
    case 58: { /* ICMPv6, RFC 4443, RFC 4861 */
        const char *v = proto == 1 ? "ICMP" : "ICMPv6";
        const char *name;

        if (n < 4) {
            put(b, "%s [truncated]", v);
            return;
        }
        name = proto == 1 ? icmp_name(p[0]) : icmp6_name(p[0]);
        if (name)
            put(b, "%s %s", v, name);
        else
            put(b, "%s type=%u", v, p[0]);
        if (p[1] || !name || p[0] == 3 || p[0] == 1)
            put(b, " code=%u", p[1]);
        bool echo = proto == 1 ? (p[0] == 0 || p[0] == 8) : (p[0] == 128 || p[0] == 129);
        if (echo && n >= 8)
            put(b, " id=%u seq=%u", be16(p + 4), be16(p + 6));
        if (proto == 58 && (p[0] == 135 || p[0] == 136) && n >= 24) {
            put(b, " target ");
            put_ip6(b, p + 8);
        }
        return;
    }
    default:
        put(b, "proto %u len=%zu", proto, l4len);
        return;
    }
}

/* RFC 791 3.1. */
static void decode_ip4(struct tbuf *b, const uint8_t *p, size_t n)
{
    unsigned ihl, tot, fo;
    size_t avail;

    if (n < 20) {
        put(b, "IPv4 [truncated]");
        return;
    }
    if (p[0] >> 4 != 4) {
        put(b, "IPv4 bad version %u", p[0] >> 4);
        return;
    }
    ihl = (p[0] & 0xf) * 4u;
    tot = be16(p + 2);
    put(b, "IPv4 ");
    put_ip4(b, p + 12);
    put(b, " > ");
    put_ip4(b, p + 16);
    put(b, ": ");
    if (ihl < 20 || tot < ihl) {
        put(b, "bad header length %u total %u", ihl, tot);
        return;
    }
    fo = be16(p + 6);
    if (fo & 0x1fff) { /* a later fragment: no transport header in it */
        put(b, "fragment id=%u off=%u%s proto %u len=%u", be16(p + 4), (fo & 0x1fff) * 8,
            (fo & 0x2000) ? "+" : "", p[9], tot - ihl);
        return;
    }
    if (fo & 0x2000)
        put(b, "(first fragment id=%u) ", be16(p + 4));
    if (n < ihl) {
        put(b, "[truncated]");
        return;
    }
    avail = (n < tot ? n : tot) - ihl;
    decode_l4(b, p[9], p + ihl, avail, tot - ihl);
}

/* RFC 8200 3 and 4: skip the extension headers lwIP may see (hop-by-hop for
 * MLD, routing, destination options), stop at a non-first fragment. */
static void decode_ip6(struct tbuf *b, const uint8_t *p, size_t n)
{
    unsigned plen, nh;
    size_t off = 40, end;

    if (n < 40) {
        put(b, "IPv6 [truncated]");
        return;
    }
    if (p[0] >> 4 != 6) {
        put(b, "IPv6 bad version %u", p[0] >> 4);
        return;
    }
    plen = be16(p + 4);
    nh = p[6];
    put(b, "IPv6 ");
    put_ip6(b, p + 8);
    put(b, " > ");
    put_ip6(b, p + 24);
    put(b, ": ");
    end = 40 + (size_t)plen; /* where the packet ends by its header */
    for (int hops = 0; hops < 8 && (nh == 0 || nh == 43 || nh == 60 || nh == 44); hops++) {
        size_t hlen;

        if (off + 8 > n || off + 8 > end) {
            put(b, "[truncated]");
            return;
        }
        if (nh == 44) {
            unsigned fo = be16(p + off + 2);

            if (fo >> 3) {
                put(b, "fragment id=%lu off=%u%s", be32(p + off + 4), (fo >> 3) * 8, (fo & 1) ? "+" : "");
                return;
            }
            hlen = 8;
        } else {
            hlen = ((size_t)p[off + 1] + 1) * 8;
        }
        nh = p[off];
        off += hlen;
    }
    if (off > end || off > n) {
        put(b, "[truncated]");
        return;
    }
    decode_l4(b, nh, p + off, (n < end ? n : end) - off, end - off);
}

size_t trace_frame_decode(const uint8_t *f, size_t caplen, size_t len, char *out, size_t size)
{
    struct tbuf b = {out, size, 0};
    size_t off = 14;
    unsigned type;

    if (size)
        out[0] = '\0';
    if (caplen > len)
        caplen = len;
    if (caplen < 14) {
        put(&b, "Ethernet [truncated]");
        return b.len;
    }
    type = be16(f + 12);
    /* 802.1Q / 802.1ad tags: show the VLAN, decode what is inside. */
    for (int tags = 0; (type == 0x8100 || type == 0x88a8) && tags < 2; tags++) {
        if (caplen < off + 4) {
            put(&b, "vlan [truncated]");
            return b.len;
        }
        put(&b, "vlan %u ", be16(f + off) & 0xfff);
        type = be16(f + off + 2);
        off += 4;
    }
    switch (type) {
    case 0x0806:
        decode_arp(&b, f + off, caplen - off);
        break;
    case 0x0800:
        decode_ip4(&b, f + off, caplen - off);
        break;
    case 0x86dd:
        decode_ip6(&b, f + off, caplen - off);
        break;
    default:
        put(&b, "ethertype 0x%04x", type);
        break;
    }
    return b.len;
}

void trace_frame(const char *dir, const uint8_t *f, size_t caplen, size_t len)
{
    uint64_t now = now_ns();
    char text[200];

    /* Decode only what will be printed: under a flood most frames are not. */
    if (!admit(now))
        return;
    trace_frame_decode(f, caplen, len, text, sizeof(text));
    emit_fmt(now, "net %s %zu bytes: %s", dir, len, text);
}
