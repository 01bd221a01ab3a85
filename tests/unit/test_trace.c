/*
 * Host tests of lib/trace.c (trace=, the rate limit, the line format, the
 * frame decoder), of the trace=virtq lines drivers/vring.c prints, driven by
 * the device model of vdev_model.c, and of lib/prof.c's arithmetic.
 *
 * Frames are built byte by byte here after the RFCs, decoded, and compared
 * with the exact text; every decoder call on a cut or random frame reads
 * from a heap block of exactly the captured size, so AddressSanitizer
 * catches any read past it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/virtio_ring.h"
#include "drivers/vring.h"
#include "lib/klog.h"
#include "lib/prof.h"
#include "lib/trace.h"
#include "vdev_model.h"

/* ---------------------------------------------------------------- doubles */

static unsigned long long fake_now;

static unsigned long long now_ns(void)
{
    return fake_now;
}

#define KEEP 4096
static char lines[KEEP][400];
static unsigned nlines;

static void capture(const char *line, unsigned len)
{
    assert_true(len > 0 && line[len - 1] == '\n');
    assert_true(len < sizeof(lines[0]));
    if (nlines < KEEP) {
        memcpy(lines[nlines], line, len);
        lines[nlines][len] = '\0';
    }
    nlines++;
}

/* klog is linked with --wrap=klog: trace_init()'s messages end up here. */
static char klog_text[8][300];
static int klog_level[8];
static unsigned nklog;

void __wrap_klog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void __wrap_klog(int level, const char *fmt, ...)
{
    va_list ap;

    if (nklog < 8) {
        va_start(ap, fmt);
        vsnprintf(klog_text[nklog], sizeof(klog_text[0]), fmt, ap);
        va_end(ap);
        klog_level[nklog] = level;
    }
    nklog++;
}

static unsigned count_lines(const char *needle)
{
    unsigned n = 0;

    for (unsigned i = 0; i < nlines && i < KEEP; i++)
        n += strstr(lines[i], needle) != NULL;
    return n;
}

/* A fresh tracer: output captured, clock at @t, full bucket of @rate/@burst. */
static void reset(unsigned long long t, unsigned rate, unsigned burst)
{
    fake_now = t;
    trace_set_output(capture, now_ns);
    /* Report and forget whatever an earlier test left suppressed. */
    fake_now = t + 100000000000ull;
    trace_tick();
    fake_now = t;
    trace_set_rate(rate, burst);
    trace_set_mask(TRACE_ALL);
    nlines = 0;
    nklog = 0;
}

/* ---------------------------------------------------------------- trace= */

static void test_parse(void **unused)
{
    unsigned mask;
    char bad[8];

    (void)unused;
    assert_int_equal(trace_parse("virtq,net,irq", &mask, bad, sizeof(bad)), 0);
    assert_int_equal(mask, TRACE_VIRTQ | TRACE_NET | TRACE_IRQ);
    assert_string_equal(bad, "");
    assert_int_equal(trace_parse("all", &mask, bad, sizeof(bad)), 0);
    assert_int_equal(mask, TRACE_ALL);
    assert_int_equal(trace_parse("net", &mask, bad, sizeof(bad)), 0);
    assert_int_equal(mask, TRACE_NET);
    assert_int_equal(trace_parse("irq,,virtq,", &mask, bad, sizeof(bad)), 0);
    assert_int_equal(mask, TRACE_IRQ | TRACE_VIRTQ);
    assert_int_equal(trace_parse("", &mask, bad, sizeof(bad)), 0);
    assert_int_equal(mask, 0);
    assert_int_equal(trace_parse(NULL, &mask, bad, sizeof(bad)), 0);
    assert_int_equal(mask, 0);

    /* Unknown words: counted, the first one named, the known ones kept. */
    assert_int_equal(trace_parse("bogus,net", &mask, bad, sizeof(bad)), 1);
    assert_int_equal(mask, TRACE_NET);
    assert_string_equal(bad, "bogus");
    assert_int_equal(trace_parse("virtq,foo,bar", &mask, bad, sizeof(bad)), 2);
    assert_int_equal(mask, TRACE_VIRTQ);
    assert_string_equal(bad, "foo");
    /* Prefixes and case are not words. */
    assert_int_equal(trace_parse("netx,ne,NET,Virtq", &mask, bad, sizeof(bad)), 4);
    assert_int_equal(mask, 0);
    assert_string_equal(bad, "netx");
    /* A long word is cut to the buffer. */
    assert_int_equal(trace_parse("averyveryverylongword", &mask, bad, sizeof(bad)), 1);
    assert_string_equal(bad, "averyve");
}

static void test_init_logs_unknown_words(void **unused)
{
    (void)unused;
    reset(1000000000ull, TRACE_RATE, TRACE_BURST);
    trace_set_mask(0);
    trace_init("bogus,net");
    assert_int_equal(trace_mask, TRACE_NET);
    assert_int_equal(nklog, 2);
    assert_int_equal(klog_level[0], LOG_ERR);
    assert_string_equal(klog_text[0],
                        "trace: unknown word 'bogus' in trace=bogus,net (known: virtq, net, irq, all)");
    assert_int_equal(klog_level[1], LOG_INFO);
    assert_string_equal(klog_text[1], "trace: on for net, at most 200 lines/s (bursts of 400)");

    nklog = 0;
    trace_init("all");
    assert_int_equal(trace_mask, TRACE_ALL);
    assert_int_equal(nklog, 1);
    assert_string_equal(klog_text[0], "trace: on for virtq net irq, at most 200 lines/s (bursts of 400)");

    /* No trace= at all: nothing said, nothing changed. */
    nklog = 0;
    trace_set_mask(0);
    trace_init(NULL);
    assert_int_equal(nklog, 0);
    assert_int_equal(trace_mask, 0);
    trace_init("x,y");
    assert_int_equal(klog_level[0], LOG_ERR);
    assert_non_null(strstr(klog_text[0], "'x' and others"));
    assert_string_equal(klog_text[1], "trace: nothing to trace");
}

/* ---------------------------------------------------------------- lines and the rate limit */

static void test_line_format(void **unused)
{
    char longtext[1000];

    (void)unused;
    reset(1234567891ull, 100, 10);
    trace_line("virtq %s: add head=%u", "virtio0.rx0", 7u);
    assert_int_equal(nlines, 1);
    assert_string_equal(lines[0], "[    1.234567] T virtq virtio0.rx0: add head=7\n");

    /* Too long: cut, marked, still one line ending in a newline. */
    memset(longtext, 'x', sizeof(longtext) - 1);
    longtext[sizeof(longtext) - 1] = '\0';
    trace_line("%s", longtext);
    assert_int_equal(nlines, 2);
    size_t n = strlen(lines[1]);
    assert_true(n <= 319);
    assert_memory_equal(lines[1] + n - 4, "...\n", 4);

    /* No output set: nothing happens, nothing breaks. */
    trace_set_output(NULL, now_ns);
    trace_line("lost");
    trace_set_output(capture, now_ns);
    assert_int_equal(nlines, 2);
}

static void test_rate_limit_burst_then_report(void **unused)
{
    struct trace_stats before, after;

    (void)unused;
    reset(10000000000ull, 10, 5);
    trace_get_stats(&before);
    for (int i = 0; i < 20; i++)
        trace_line("line %d", i);
    /* The burst goes out at once; the rest is counted, not yet reported. */
    assert_int_equal(nlines, 5);
    assert_string_equal(lines[4] + 17, "line 4\n");
    trace_get_stats(&after);
    assert_int_equal(after.lines - before.lines, 5);
    assert_int_equal(after.suppressed - before.suppressed, 15);
    assert_int_equal(before.unreported, 0);
    assert_int_equal(after.unreported, 15);

    /* Half a second later: 5 intervals of 100 ms have refilled the bucket,
     * but the report waits until a second has passed since the first refusal. */
    fake_now += 500000000ull;
    trace_line("later");
    assert_int_equal(nlines, 6);
    assert_int_equal(count_lines("suppressed"), 0);
    trace_tick();
    assert_int_equal(count_lines("suppressed"), 0);

    fake_now += 500000000ull;
    trace_tick();
    assert_int_equal(nlines, 7);
    assert_string_equal(lines[6], "[   11.000000] T trace: 15 lines suppressed\n");
    trace_get_stats(&after);
    assert_int_equal(after.unreported, 0);
    assert_int_equal(after.lines - before.lines, 6); /* the report is not a trace line */
    /* Reported once. */
    fake_now += 5000000000ull;
    trace_tick();
    assert_int_equal(nlines, 7);
}

static void test_rate_limit_sustained(void **unused)
{
    unsigned reports = 0, printed = 0;

    (void)unused;
    /* A flood of 10 lines per ms for 10 s against 200/s bursts of 400. */
    reset(50000000000ull, 200, 400);
    for (int ms = 0; ms < 10000; ms++) {
        for (int k = 0; k < 10; k++)
            trace_line("flood %d", ms);
        if (ms % 1000 == 999)
            trace_tick();
        fake_now += 1000000ull;
    }
    for (unsigned i = 0; i < nlines && i < KEEP; i++) {
        if (strstr(lines[i], "lines suppressed"))
            reports++;
        else
            printed++;
    }
    /* The burst, then the rate: 400 + 10 s * 200/s (+1 for the edge). */
    assert_true(printed >= 2400 - 2 && printed <= 2401);
    /* About one report a second, never more. */
    assert_true(reports >= 9 && reports <= 10);
    /* All the rest was counted in the reports. */
    unsigned long long reported = 0;
    for (unsigned i = 0; i < nlines && i < KEEP; i++) {
        unsigned long long n;
        if (sscanf(lines[i], "[%*[^]]] T trace: %llu lines suppressed", &n) == 1)
            reported += n;
    }
    fake_now += 2000000000ull;
    trace_tick();
    unsigned long long n = 0;
    assert_int_equal(sscanf(lines[nlines - 1], "[%*[^]]] T trace: %llu lines suppressed", &n), 1);
    reported += n;
    assert_int_equal(reported + printed, 100000);
}

/* ---------------------------------------------------------------- the frame decoder */

static uint8_t frame[1600];
static size_t flen;

static void put8(unsigned v)
{
    frame[flen++] = (uint8_t)v;
}
static void put16(unsigned v)
{
    put8(v >> 8);
    put8(v);
}
static void put32(unsigned long v)
{
    put16((unsigned)(v >> 16));
    put16((unsigned)v);
}
static void putb(const void *p, size_t n)
{
    memcpy(frame + flen, p, n);
    flen += n;
}
static void put_zeros(size_t n)
{
    memset(frame + flen, 0, n);
    flen += n;
}

static const uint8_t mac_a[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t mac_b[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
static const uint8_t ip_a[4] = {10, 0, 2, 15};
static const uint8_t ip_b[4] = {10, 0, 2, 2};

static void eth(unsigned type)
{
    flen = 0;
    putb(mac_a, 6);
    putb(mac_b, 6);
    put16(type);
}

/* An IPv4 header without options; @l4len bytes follow. */
static void ip4(unsigned proto, size_t l4len, unsigned frag)
{
    put8(0x45);
    put8(0);
    put16((unsigned)(20 + l4len));
    put16(0x1234); /* id */
    put16(frag);
    put8(64);
    put8(proto);
    put16(0);
    putb(ip_b, 4);
    putb(ip_a, 4);
}

static void ip6(unsigned nh, size_t plen, const uint8_t src[16], const uint8_t dst[16])
{
    put32(0x60000000ul);
    put16((unsigned)plen);
    put8(nh);
    put8(255);
    putb(src, 16);
    putb(dst, 16);
}

static void tcp(unsigned sport, unsigned dport, unsigned long seq, unsigned long ack, unsigned flags,
                unsigned optlen, size_t payload)
{
    put16(sport);
    put16(dport);
    put32(seq);
    put32(ack);
    put8(((20 + optlen) / 4) << 4);
    put8(flags);
    put16(65535);
    put16(0);
    put16(0);
    put_zeros(optlen + payload);
}

/* Decode frame[0..flen) captured whole, from a heap copy of exactly that size. */
static const char *decode_cap(size_t caplen, size_t len)
{
    static char out[256];
    uint8_t *copy = malloc(caplen ? caplen : 1);

    assert_non_null(copy);
    memcpy(copy, frame, caplen);
    size_t n = trace_frame_decode(copy, caplen, len, out, sizeof(out));
    assert_int_equal(n, strlen(out));
    free(copy);
    return out;
}

static const char *decode(void)
{
    return decode_cap(flen, flen);
}

static void test_decode_arp(void **unused)
{
    (void)unused;
    eth(0x0806);
    put16(1), put16(0x0800), put8(6), put8(4), put16(1);
    putb(mac_b, 6), putb(ip_b, 4), put_zeros(6), putb(ip_a, 4);
    assert_string_equal(decode(), "ARP who-has 10.0.2.15 tell 10.0.2.2");

    eth(0x0806);
    put16(1), put16(0x0800), put8(6), put8(4), put16(2);
    putb(mac_a, 6), putb(ip_a, 4), putb(mac_b, 6), putb(ip_b, 4);
    assert_string_equal(decode(), "ARP reply 10.0.2.15 is-at 52:54:00:12:34:56");

    eth(0x0806);
    put16(1), put16(0x0800), put8(6), put8(4), put16(1);
    putb(mac_a, 6), putb(ip_a, 4), put_zeros(6), putb(ip_a, 4);
    assert_string_equal(decode(), "ARP announce 10.0.2.15");

    eth(0x0806);
    put16(6), put16(0x86dd), put8(6), put8(16), put16(1);
    assert_string_equal(decode(), "ARP hw 6 proto 0x86dd op 1");

    eth(0x0806);
    put16(1), put16(0x0800), put8(6), put8(4), put16(2), putb(mac_a, 6);
    assert_string_equal(decode(), "ARP op 2 [truncated]");
}

static void test_decode_tcp_ipv4(void **unused)
{
    (void)unused;
    /* A SYN with 20 bytes of options, as Linux sends it. */
    eth(0x0800);
    ip4(6, 40, 0x4000);
    tcp(51234, 80, 1000, 0, 0x02, 20, 0);
    assert_string_equal(decode(), "IPv4 10.0.2.2 > 10.0.2.15: TCP 51234 > 80 [S] seq=1000 win=65535 len=0");

    eth(0x0800);
    ip4(6, 20, 0);
    tcp(80, 51234, 7, 1001, 0x12, 0, 0);
    assert_string_equal(decode(),
                        "IPv4 10.0.2.2 > 10.0.2.15: TCP 80 > 51234 [S.] seq=7 ack=1001 win=65535 len=0");

    /* The request: payload length from the IP total length, not the capture. */
    eth(0x0800);
    ip4(6, 20 + 84, 0);
    tcp(51234, 80, 1001, 8, 0x18, 0, 84);
    assert_string_equal(decode_cap(14 + 40, flen),
                        "IPv4 10.0.2.2 > 10.0.2.15: TCP 51234 > 80 [P.] seq=1001 ack=8 win=65535 len=84");

    eth(0x0800);
    ip4(6, 20, 0);
    tcp(1, 2, 4294967295ul, 0, 0x11, 0, 0);
    assert_string_equal(decode(),
                        "IPv4 10.0.2.2 > 10.0.2.15: TCP 1 > 2 [F.] seq=4294967295 ack=0 win=65535 len=0");

    eth(0x0800);
    ip4(6, 20, 0);
    tcp(1, 2, 3, 0, 0x04, 0, 0);
    assert_string_equal(decode(), "IPv4 10.0.2.2 > 10.0.2.15: TCP 1 > 2 [R] seq=3 win=65535 len=0");

    eth(0x0800);
    ip4(6, 20, 0);
    tcp(1, 2, 3, 0, 0x00, 0, 0);
    assert_string_equal(decode(), "IPv4 10.0.2.2 > 10.0.2.15: TCP 1 > 2 [none] seq=3 win=65535 len=0");

    eth(0x0800);
    ip4(6, 20, 0);
    tcp(1, 2, 3, 0, 0xff, 0, 0);
    assert_string_equal(decode(),
                        "IPv4 10.0.2.2 > 10.0.2.15: TCP 1 > 2 [FSRPUEW.] seq=3 ack=0 win=65535 len=0");

    /* A data offset beyond the segment is said, not believed. */
    eth(0x0800);
    ip4(6, 20, 0);
    tcp(1, 2, 3, 0, 0x10, 0, 0);
    frame[14 + 20 + 12] = 0xf0;
    assert_string_equal(decode(),
                        "IPv4 10.0.2.2 > 10.0.2.15: TCP 1 > 2 [.] seq=3 ack=0 win=65535 bad data offset 60");
}

static void test_decode_udp_icmp_ipv4(void **unused)
{
    (void)unused;
    eth(0x0800);
    ip4(17, 8 + 300, 0);
    put16(68), put16(67), put16(308), put16(0), put_zeros(300);
    assert_string_equal(decode(), "IPv4 10.0.2.2 > 10.0.2.15: UDP 68 > 67 len=300");

    eth(0x0800);
    ip4(1, 64, 0);
    put8(8), put8(0), put16(0), put16(0x4d2), put16(7), put_zeros(56);
    assert_string_equal(decode(), "IPv4 10.0.2.2 > 10.0.2.15: ICMP echo request id=1234 seq=7");

    eth(0x0800);
    ip4(1, 64, 0);
    put8(0), put8(0), put16(0), put16(1), put16(2), put_zeros(56);
    assert_string_equal(decode(), "IPv4 10.0.2.2 > 10.0.2.15: ICMP echo reply id=1 seq=2");

    eth(0x0800);
    ip4(1, 36, 0);
    put8(3), put8(3), put_zeros(34);
    assert_string_equal(decode(), "IPv4 10.0.2.2 > 10.0.2.15: ICMP unreachable code=3");

    eth(0x0800);
    ip4(1, 8, 0);
    put8(42), put8(1), put_zeros(6);
    assert_string_equal(decode(), "IPv4 10.0.2.2 > 10.0.2.15: ICMP type=42 code=1");

    eth(0x0800);
    ip4(47, 24, 0);
    put_zeros(24);
    assert_string_equal(decode(), "IPv4 10.0.2.2 > 10.0.2.15: proto 47 len=24");
}

static void test_decode_ipv4_fragments_and_bad(void **unused)
{
    (void)unused;
    /* First fragment (MF set, offset 0): the UDP header is there. */
    eth(0x0800);
    ip4(17, 1480, 0x2000);
    put16(5000), put16(7), put16(3008), put16(0), put_zeros(1472);
    assert_string_equal(decode(),
                        "IPv4 10.0.2.2 > 10.0.2.15: (first fragment id=4660) UDP 5000 > 7 len=3000");

    /* A later one: no transport header to show. */
    eth(0x0800);
    ip4(17, 1480, 0x2000 | 185);
    put_zeros(1480);
    assert_string_equal(decode(), "IPv4 10.0.2.2 > 10.0.2.15: fragment id=4660 off=1480+ proto 17 len=1480");

    eth(0x0800);
    ip4(17, 8, 0);
    frame[14] = 0x65;
    assert_string_equal(decode(), "IPv4 bad version 6");

    eth(0x0800);
    ip4(17, 8, 0);
    frame[14] = 0x44;
    assert_string_equal(decode(), "IPv4 10.0.2.2 > 10.0.2.15: bad header length 16 total 28");

    /* Options longer than what was captured. */
    eth(0x0800);
    ip4(6, 20, 0);
    frame[14] = 0x4f;
    frame[16] = 0, frame[17] = 80;
    assert_string_equal(decode_cap(14 + 30, 14 + 80), "IPv4 10.0.2.2 > 10.0.2.15: [truncated]");
}

static const uint8_t ll_a[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x50, 0x54, 0, 0xff, 0xfe, 0x12, 0x34, 0x56};
static const uint8_t all_nodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t unspec[16] = {0};

static void test_decode_ipv6(void **unused)
{
    static const uint8_t sn[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0x12, 0x34, 0x56};
    static const uint8_t mld_group[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x16};

    (void)unused;
    eth(0x86dd);
    ip6(6, 20, ll_a, all_nodes);
    tcp(80, 40000, 1, 2, 0x10, 0, 0);
    assert_string_equal(
        decode(), "IPv6 fe80::5054:ff:fe12:3456 > ff02::1: TCP 80 > 40000 [.] seq=1 ack=2 win=65535 len=0");

    /* Neighbour solicitation from the unspecified address (DAD), RFC 4861 4.3. */
    eth(0x86dd);
    ip6(58, 24, unspec, sn);
    put8(135), put8(0), put16(0), put32(0), putb(ll_a, 16);
    assert_string_equal(
        decode(), "IPv6 :: > ff02::1:ff12:3456: ICMPv6 neighbor solicitation target fe80::5054:ff:fe12:3456");

    /* MLDv2 report behind a hop-by-hop header (router alert), RFC 3810 5.2. */
    eth(0x86dd);
    ip6(0, 8 + 28, unspec, mld_group);
    put8(58), put8(0), put8(5), put8(2), put16(0), put8(1), put8(0);
    put8(143), put8(0), put16(0), put16(0), put16(1), put_zeros(20);
    assert_string_equal(decode(), "IPv6 :: > ff02::16: ICMPv6 MLDv2 report");

    eth(0x86dd);
    ip6(58, 8, ll_a, all_nodes);
    put8(128), put8(0), put16(0), put16(9), put16(10);
    assert_string_equal(decode(), "IPv6 fe80::5054:ff:fe12:3456 > ff02::1: ICMPv6 echo request id=9 seq=10");

    eth(0x86dd);
    ip6(58, 8, ll_a, all_nodes);
    put8(200), put8(3), put_zeros(6);
    assert_string_equal(decode(), "IPv6 fe80::5054:ff:fe12:3456 > ff02::1: ICMPv6 type=200 code=3");

    /* A fragment header: the first fragment is decoded, later ones are not. */
    eth(0x86dd);
    ip6(44, 8 + 8, ll_a, all_nodes);
    put8(17), put8(0), put16(0x0001), put32(77);
    put16(1), put16(2), put16(1008), put16(0);
    assert_string_equal(decode(), "IPv6 fe80::5054:ff:fe12:3456 > ff02::1: UDP 1 > 2 len=1000");
    eth(0x86dd);
    ip6(44, 8 + 8, ll_a, all_nodes);
    put8(17), put8(0), put16((1232 / 8) << 3), put32(77), put_zeros(8);
    assert_string_equal(decode(), "IPv6 fe80::5054:ff:fe12:3456 > ff02::1: fragment id=77 off=1232");

    /* An extension header that claims more than the packet has. */
    eth(0x86dd);
    ip6(60, 8, ll_a, all_nodes);
    put8(6), put8(4), put_zeros(6);
    assert_string_equal(decode(), "IPv6 fe80::5054:ff:fe12:3456 > ff02::1: [truncated]");

    eth(0x86dd);
    ip6(6, 0, ll_a, all_nodes);
    frame[14] = 0x40;
    assert_string_equal(decode(), "IPv6 bad version 4");
}

/* RFC 5952 section 4 and its examples. */
static void test_ipv6_text(void **unused)
{
    static const struct {
        uint8_t a[16];
        const char *text;
    } cases[] = {
        {{0}, "::"},
        {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, "::1"},
        {{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1}, "2001:db8::1:0:0:1"},
        {{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}, "2001:db8:0:0:1::"},
        {{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1}, "2001:db8:0:1:1:1:1:1"},
        {{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}, "2001:db8:0:0:1::"},
        {{0x20, 0x01, 0x0d, 0xb8, 0xab, 0xcd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, "2001:db8:abcd::"},
        {{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}, "ff02::2"},
    };

    (void)unused;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char want[100];

        eth(0x86dd);
        ip6(59 /* no next header */, 0, cases[i].a, cases[i].a);
        snprintf(want, sizeof(want), "IPv6 %s > %s: proto 59 len=0", cases[i].text, cases[i].text);
        assert_string_equal(decode(), want);
    }
}

static void test_decode_other(void **unused)
{
    (void)unused;
    eth(0x88cc);
    put_zeros(40);
    assert_string_equal(decode(), "ethertype 0x88cc");

    eth(0x8100);
    put16(0x2005), put16(0x0806);
    put16(1), put16(0x0800), put8(6), put8(4), put16(1);
    putb(mac_b, 6), putb(ip_b, 4), put_zeros(6), putb(ip_a, 4);
    assert_string_equal(decode(), "vlan 5 ARP who-has 10.0.2.15 tell 10.0.2.2");

    eth(0x8100);
    assert_string_equal(decode(), "vlan [truncated]");

    flen = 13;
    assert_string_equal(decode(), "Ethernet [truncated]");
    assert_string_equal(decode_cap(0, 0), "Ethernet [truncated]");
}

/* Every cut of real frames, and small output buffers: in bounds, terminated. */
static void test_decode_cuts_and_small_buffers(void **unused)
{
    uint8_t saved[5][200];
    size_t saved_len[5];

    (void)unused;
    eth(0x0800), ip4(6, 40, 0), tcp(1, 2, 3, 4, 0x12, 20, 0);
    memcpy(saved[0], frame, flen), saved_len[0] = flen;
    eth(0x86dd), ip6(0, 8 + 28, unspec, all_nodes);
    put8(58), put8(0), put_zeros(6), put8(143), put_zeros(27);
    memcpy(saved[1], frame, flen), saved_len[1] = flen;
    eth(0x0806), put16(1), put16(0x0800), put8(6), put8(4), put16(2), put_zeros(20);
    memcpy(saved[2], frame, flen), saved_len[2] = flen;
    eth(0x86dd), ip6(58, 24, unspec, all_nodes), put8(136), put_zeros(23);
    memcpy(saved[3], frame, flen), saved_len[3] = flen;
    eth(0x8100), put16(1), put16(0x0800), ip4(1, 8, 0), put8(8), put_zeros(7);
    memcpy(saved[4], frame, flen), saved_len[4] = flen;

    for (int k = 0; k < 5; k++) {
        memcpy(frame, saved[k], saved_len[k]);
        flen = saved_len[k];
        for (size_t cut = 0; cut <= flen; cut++)
            decode_cap(cut, flen);
        for (size_t size = 0; size < 40; size++) {
            char out[40];
            memset(out, '#', sizeof(out));
            size_t n = trace_frame_decode(frame, flen, flen, out, size);
            if (size == 0) {
                assert_int_equal(out[0], '#');
                assert_int_equal(n, 0);
            } else {
                assert_true(n < size);
                assert_int_equal(out[n], '\0');
                assert_int_equal(strlen(out), n);
                assert_int_equal(out[size], '#'); /* nothing written past @size */
            }
        }
    }
}

/* Random bytes with plausible ethertypes and versions: never out of bounds. */
static void test_decode_random(void **unused)
{
    static const unsigned types[] = {0x0800, 0x86dd, 0x0806, 0x8100, 0x88a8, 0x1234};
    uint64_t x = 88172645463325252ull;

    (void)unused;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t cap = x % 200;
        flen = 0;
        for (size_t j = 0; j < cap; j++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            frame[j] = (uint8_t)x;
        }
        if (cap >= 14) {
            unsigned t = types[(x >> 8) % 6];
            frame[12] = (uint8_t)(t >> 8), frame[13] = (uint8_t)t;
            if (cap > 14 && (x & 1))
                frame[14] = t == 0x86dd ? 0x60 : 0x45;
            if (cap > 20 && t == 0x86dd)
                frame[20] = (uint8_t[]){0, 6, 17, 43, 44, 58, 60}[(x >> 20) % 7];
            if (cap > 23 && t == 0x0800)
                frame[23] = (uint8_t[]){1, 6, 17}[(x >> 20) % 3];
        }
        decode_cap(cap, cap + (x >> 40) % 1500);
    }
}

static void test_trace_frame_line(void **unused)
{
    (void)unused;
    reset(2000000000ull, 100, 10);
    eth(0x0800), ip4(6, 20, 0), tcp(51234, 80, 5, 0, 0x02, 0, 0);
    trace_frame("rx", frame, flen, flen);
    assert_int_equal(nlines, 1);
    assert_string_equal(lines[0],
                        "[    2.000000] T net rx 54 bytes: IPv4 10.0.2.2 > 10.0.2.15: TCP 51234 > 80 [S] "
                        "seq=5 win=65535 len=0\n");
}

/* ---------------------------------------------------------------- vring's trace=virtq lines */

static void irq_none(void *ctx)
{
    (void)ctx;
}

static void vring_lines(uint64_t features, const char *kick, const char *kick_suppressed)
{
    static uint8_t buf[256];
    struct vdev_model m;
    struct vring_addrs a;
    struct vring_config cfg = {.index = 1,
                               .num = 8,
                               .features = features,
                               .notify = vdev_kick,
                               .notify_ctx = &m,
                               .name = "virtio9.tx0"};
    struct vring_seg segs[2] = {{buf, 12}, {buf + 12, 54}};
    uint32_t len;

    reset(3000000000ull, 1000, 1000);
    struct vring *vr = vring_create(&cfg);
    assert_non_null(vr);
    assert_string_equal(vring_name(vr), "virtio9.tx0");
    vring_get_addrs(vr, &a);
    vdev_init(&m, &a, 8, features, irq_none, NULL);

    assert_int_equal(vring_add(vr, segs, 2, 0, (void *)1), 0);
    assert_true(vring_kick(vr));
    assert_int_equal(vdev_process(&m, 8), 1);
    assert_ptr_equal(vring_get_used(vr, &len), (void *)1);
    assert_int_equal(nlines, 3);
    assert_string_equal(lines[0] + 17,
                        "virtq virtio9.tx0: add head=0 descs=2 (indirect) bytes=66 avail_idx=1\n");
    assert_string_equal(lines[1] + 17, kick);
    assert_string_equal(lines[2] + 17, "virtq virtio9.tx0: used id=0 len=0 last_used=1 used_idx=1\n");

    /* The device says it does not want to hear about the next chain. */
    if (features & (1ull << VIRTIO_RING_F_EVENT_IDX))
        vdev_set_avail_event(&m, 5);
    else
        vdev_set_notification(&m, false);
    assert_int_equal(vring_add(vr, segs, 1, 1, (void *)2), 0);
    assert_false(vring_kick(vr));
    assert_int_equal(nlines, 5);
    assert_string_equal(lines[4] + 17, kick_suppressed);

    /* A forced notification (the tx watchdog's) has a line of its own. */
    vring_notify(vr);
    assert_int_equal(nlines, 6);
    assert_string_equal(lines[5] + 17, "virtq virtio9.tx0: notify avail_idx=2 (unconditional)\n");

    /* Off: silent. */
    trace_set_mask(TRACE_NET | TRACE_IRQ);
    assert_int_equal(vring_add(vr, segs, 1, 0, (void *)3), 0);
    vring_kick(vr);
    vring_notify(vr);
    assert_int_equal(nlines, 6);
    trace_set_mask(TRACE_ALL);

    while (vring_detach_unused(vr))
        ;
    vring_destroy(vr);
}

static void test_vring_lines_event_idx(void **unused)
{
    (void)unused;
    vring_lines((1ull << VIRTIO_RING_F_EVENT_IDX) | (1ull << VIRTIO_RING_F_INDIRECT_DESC),
                "virtq virtio9.tx0: kick avail_idx=1 old_idx=0 avail_event=0\n",
                "virtq virtio9.tx0: kick suppressed avail_idx=2 old_idx=1 avail_event=5\n");
}

static void test_vring_lines_flags(void **unused)
{
    (void)unused;
    vring_lines(1ull << VIRTIO_RING_F_INDIRECT_DESC, "virtq virtio9.tx0: kick avail_idx=1 used_flags=0\n",
                "virtq virtio9.tx0: kick suppressed avail_idx=2 used_flags=0x1\n");
}

static void test_vring_default_name(void **unused)
{
    struct vdev_model m;
    struct vring_config cfg = {.index = 4, .num = 4, .notify = vdev_kick, .notify_ctx = &m};

    (void)unused;
    struct vring *vr = vring_create(&cfg);
    assert_non_null(vr);
    assert_string_equal(vring_name(vr), "vq4");
    vring_destroy(vr);
}

/* ---------------------------------------------------------------- prof */

static void test_prof(void **unused)
{
    (void)unused;
    assert_int_equal(prof_cycles_to_ns(3000000000ull, 3000000000ull), 1000000000ull);
    assert_int_equal(prof_cycles_to_ns(2447, 2447000000ull), 1000);
    assert_int_equal(prof_cycles_to_ns(123, 0), 0);
    /* A year of cycles at 5 GHz: no overflow. */
    uint64_t year = 5000000000ull * 86400 * 365;
    assert_int_equal(prof_cycles_to_ns(year, 5000000000ull), 1000000000ull * 86400 * 365);
    assert_int_equal(prof_cycles_to_ns(year + 2500000000ull, 5000000000ull),
                     1000000000ull * 86400 * 365 + 500000000ull);

    struct prof_counter before = prof_get(PROF_APP);
    prof_add(PROF_APP, 100);
    prof_add(PROF_APP, 50);
    struct prof_counter after = prof_get(PROF_APP);
    assert_int_equal(after.calls - before.calls, 2);
    assert_int_equal(after.cycles - before.cycles, 150);
    assert_string_equal(prof_name(PROF_RX_POLL), "rx_poll");
    assert_string_equal(prof_name(PROF_LWIP_INPUT), "lwip_input");
    assert_string_equal(prof_name(PROF_APP), "app");
    assert_string_equal(prof_name(PROF_TX), "tx");
    assert_string_equal(prof_name(PROF_TX_KICK), "tx_kick");
    assert_null(prof_name(PROF_SECTIONS));
    assert_int_equal(prof_get(PROF_SECTIONS).calls, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_init_logs_unknown_words),
        cmocka_unit_test(test_line_format),
        cmocka_unit_test(test_rate_limit_burst_then_report),
        cmocka_unit_test(test_rate_limit_sustained),
        cmocka_unit_test(test_decode_arp),
        cmocka_unit_test(test_decode_tcp_ipv4),
        cmocka_unit_test(test_decode_udp_icmp_ipv4),
        cmocka_unit_test(test_decode_ipv4_fragments_and_bad),
        cmocka_unit_test(test_decode_ipv6),
        cmocka_unit_test(test_ipv6_text),
        cmocka_unit_test(test_decode_other),
        cmocka_unit_test(test_decode_cuts_and_small_buffers),
        cmocka_unit_test(test_decode_random),
        cmocka_unit_test(test_trace_frame_line),
        cmocka_unit_test(test_vring_lines_event_idx),
        cmocka_unit_test(test_vring_lines_flags),
        cmocka_unit_test(test_vring_default_name),
        cmocka_unit_test(test_prof),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
