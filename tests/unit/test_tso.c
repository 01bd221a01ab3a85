/*
 * net/tso.c: which frames may be coalesced, and the coalesced header. The
 * test plays the device too: cut() does what Linux's tcp_gso_segment() and
 * inet_gso_segment() do with a virtio GSO frame (per segment: the template's
 * headers, sequence number + k * gso_size, IPv4 id + k, lengths and
 * checksums, PSH/FIN on the last only), and the segments it cuts must be
 * byte for byte the frames lwIP built, full checksums included.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "net/tso.h"

#define ETH  14
#define MAXF 2048

struct spec {
    int family; /* 4 or 6 */
    uint32_t seq, ack;
    uint16_t id, win;
    uint8_t flags;   /* TCP flags; ACK unless told */
    unsigned plen;   /* payload bytes */
    unsigned optlen; /* TCP option bytes (multiple of 4) */
    uint8_t ttl;
    uint16_t sport;
};

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16)), put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t sum(const uint8_t *b, size_t n)
{
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        s += get16(b + i);
    if (n & 1)
        s += (uint32_t)b[n - 1] << 8;
    return s;
}

static uint16_t fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xFFFF) + (s >> 16);
    return (uint16_t)s;
}

/* Payload byte @i of the stream: what sequence number seq carries. */
static uint8_t stream_byte(uint32_t seq)
{
    return (uint8_t)(seq * 7u + (seq >> 8));
}

/* Full IP and TCP checksums of the frame @f, @len bytes (what reaches the wire). */
static void finish_checksums(uint8_t *f, unsigned len)
{
    int v4 = get16(f + 12) == 0x0800;
    unsigned l4 = ETH + (v4 ? 20 : 40), tlen = len - l4;
    uint32_t ps;
    if (v4) {
        put16(f + ETH + 10, 0);
        put16(f + ETH + 10, (uint16_t)~fold(sum(f + ETH, 20)));
        ps = sum(f + ETH + 12, 8) + 6 + tlen;
    } else {
        ps = sum(f + ETH + 8, 32) + 6 + tlen;
    }
    put16(f + l4 + 16, 0);
    put16(f + l4 + 16, (uint16_t)~fold(ps + sum(f + l4, tlen)));
}

/* A frame as lwIP builds it (checksums left to the device: TCP's field zero). */
static unsigned build(uint8_t *f, const struct spec *s)
{
    memset(f, 0, MAXF);
    memcpy(f, "\x52\x54\x00\x12\x34\x56\x02\x00\x00\x00\x00\x01", 12);
    unsigned l4;
    unsigned thl = 20 + s->optlen;
    if (s->family == 4) {
        put16(f + 12, 0x0800);
        uint8_t *ip = f + ETH;
        ip[0] = 0x45;
        put16(ip + 2, (uint16_t)(20 + thl + s->plen));
        put16(ip + 4, s->id);
        ip[8] = s->ttl ? s->ttl : 64;
        ip[9] = 6;
        memcpy(ip + 12, "\x0a\x4d\x00\x02\x0a\x4d\x00\x01", 8);
        l4 = ETH + 20;
    } else {
        put16(f + 12, 0x86DD);
        uint8_t *ip = f + ETH;
        ip[0] = 0x60;
        put16(ip + 4, (uint16_t)(thl + s->plen));
        ip[6] = 6;
        ip[7] = s->ttl ? s->ttl : 64;
        ip[8] = 0xfd, ip[9] = 0x77, ip[23] = 2;
        ip[24] = 0xfd, ip[25] = 0x77, ip[39] = 1;
        l4 = ETH + 40;
    }
    uint8_t *t = f + l4;
    put16(t, s->sport ? s->sport : 80);
    put16(t + 2, 40000);
    put32(t + 4, s->seq);
    put32(t + 8, s->ack);
    t[12] = (uint8_t)((thl / 4) << 4);
    t[13] = s->flags ? s->flags : 0x10;
    put16(t + 14, s->win ? s->win : 8192);
    for (unsigned i = 0; i < s->optlen; i++)
        t[20 + i] = (uint8_t)(i == 0 ? 1 : 0x55); /* NOP, then bytes that must match */
    for (unsigned i = 0; i < s->plen; i++)
        t[thl + i] = stream_byte(s->seq + i);
    return l4 + thl + s->plen;
}

/* The device: cut the coalesced frame (header @h, payload @pay) into segment @k. */
static unsigned cut(const uint8_t *h, const struct tso_frame *tf, const uint8_t *pay, unsigned total,
                    unsigned k, uint8_t *out)
{
    unsigned off = k * tf->gso_size, n = total - off < tf->gso_size ? total - off : tf->gso_size;
    bool last = off + n == total;
    memcpy(out, h, tf->hdr_len);
    memcpy(out + tf->hdr_len, pay + off, n);
    uint8_t *tcp = out + tf->csum_start;
    unsigned thl = tf->hdr_len - tf->csum_start;
    put32(
        tcp + 4,
        (uint32_t)(((uint32_t)tcp[4] << 24 | (uint32_t)tcp[5] << 16 | (uint32_t)tcp[6] << 8 | tcp[7]) + off));
    if (!last)
        tcp[13] &= (uint8_t)~0x09; /* PSH, FIN */
    if (tf->family == 4) {
        put16(out + ETH + 2, (uint16_t)(20 + thl + n));
        put16(out + ETH + 4, (uint16_t)(get16(h + ETH + 4) + k));
    } else {
        put16(out + ETH + 4, (uint16_t)(thl + n));
    }
    unsigned len = tf->hdr_len + n;
    finish_checksums(out, len);
    return len;
}

/* Coalesce @n frames of @s (seq, id advancing) as ethif would; check what the device cuts. */
static unsigned run_of(struct spec *s, unsigned n, struct tso_run *run, uint8_t (*fr)[MAXF], unsigned *len)
{
    struct tso_seg sg;
    for (unsigned i = 0; i < n; i++) {
        len[i] = build(fr[i], &s[i]);
        assert_true(tso_parse(fr[i], len[i], len[i], &sg));
        if (i == 0)
            tso_run_start(run, fr[0], &sg);
        else if (!tso_run_add(run, fr[i], &sg, TSO_MAX_FRAME))
            return i;
    }
    return n;
}

static void check_cut_equals_original(struct spec *s, unsigned n)
{
    static uint8_t fr[64][MAXF], out[MAXF], pay[65536], hdr[TSO_HDR_MAX];
    unsigned len[64], total = 0;
    struct tso_run run;
    assert_int_equal(run_of(s, n, &run, fr, len), n);
    struct tso_frame tf;
    tso_run_header(&run, hdr, &tf);
    for (unsigned i = 0; i < n; i++) {
        memcpy(pay + total, fr[i] + tf.hdr_len, len[i] - tf.hdr_len);
        total += len[i] - tf.hdr_len;
    }
    assert_int_equal(tf.len, tf.hdr_len + total);
    assert_int_equal(tf.gso_size, s[0].plen);
    assert_int_equal(tf.csum_offset, 16);
    /* The template's IP length is the whole frame's; its IPv4 header checksum is right. */
    if (tf.family == 4) {
        assert_int_equal(get16(hdr + ETH + 2), tf.len - ETH);
        assert_int_equal(fold(sum(hdr + ETH, 20)), 0xFFFF);
    } else {
        assert_int_equal(get16(hdr + ETH + 4), tf.len - ETH - 40);
    }
    /* The TCP field holds the pseudo-header sum over the whole TCP length. */
    uint32_t ps = tf.family == 4 ? sum(hdr + ETH + 12, 8) : sum(hdr + ETH + 8, 32);
    assert_int_equal(get16(hdr + tf.csum_start + 16), fold(ps + 6 + (tf.len - tf.csum_start)));

    unsigned segs = (total + tf.gso_size - 1) / tf.gso_size;
    assert_int_equal(segs, n);
    uint8_t psh_fin = 0;
    for (unsigned i = 0; i < n; i++)
        psh_fin |= fr[i][tf.csum_start + 13] & 0x09;
    for (unsigned k = 0; k < segs; k++) {
        unsigned l = cut(hdr, &tf, pay, total, k, out);
        finish_checksums(fr[k], len[k]);
        assert_int_equal(l, len[k]);
        if (k == segs - 1)
            fr[k][tf.csum_start + 13] |= psh_fin; /* PSH moves to the last segment */
        else
            fr[k][tf.csum_start + 13] &= (uint8_t)~0x08;
        finish_checksums(fr[k], len[k]);
        assert_memory_equal(out, fr[k], l);
    }
}

static void fill(struct spec *s, unsigned n, int family, unsigned plen)
{
    for (unsigned i = 0; i < n; i++)
        s[i] = (struct spec){.family = family,
                             .seq = 0xFFFFF000u + i * plen,
                             .ack = 777,
                             .id = (uint16_t)(65530 + i),
                             .plen = plen};
}

static void test_ipv4_run_cut_back_into_the_same_frames(void **unused)
{
    (void)unused;
    struct spec s[44];
    fill(s, 44, 4, 1460); /* sequence numbers and ids wrap inside the run */
    s[43].plen = 100;     /* the last one short */
    s[43].flags = 0x18;   /* PSH|ACK */
    check_cut_equals_original(s, 44);
}

static void test_ipv6_run_with_options(void **unused)
{
    (void)unused;
    struct spec s[10];
    fill(s, 10, 6, 1428);
    for (unsigned i = 0; i < 10; i++)
        s[i].optlen = 12;
    check_cut_equals_original(s, 10);
}

static void test_psh_in_the_middle_moves_to_the_end(void **unused)
{
    (void)unused;
    struct spec s[6];
    fill(s, 6, 4, 1000);
    s[2].flags = 0x18;
    check_cut_equals_original(s, 6);
}

static void test_fin_ends_the_run(void **unused)
{
    (void)unused;
    struct spec s[4];
    static uint8_t fr[64][MAXF];
    unsigned len[64];
    struct tso_run run;
    fill(s, 4, 4, 500);
    s[1].flags = 0x11; /* FIN|ACK on the second */
    assert_int_equal(run_of(s, 4, &run, fr, len), 2);
    assert_true(run.closed);
    check_cut_equals_original(s, 2); /* and the FIN is on the last segment the device cuts */
}

static void test_short_segment_ends_the_run(void **unused)
{
    (void)unused;
    struct spec s[4];
    static uint8_t fr[64][MAXF];
    unsigned len[64];
    struct tso_run run;
    fill(s, 4, 4, 1460);
    s[1].plen = 700;
    s[2].seq = s[1].seq + 700;
    s[3].seq = s[2].seq + 1460;
    assert_int_equal(run_of(s, 4, &run, fr, len), 2);
}

/* An MSS that shrinks mid-connection (a path MTU change, a peer's smaller MSS):
 * a smaller segment is the run's last; one larger than the first never joins. */
static void test_mss_change_mid_connection(void **unused)
{
    (void)unused;
    struct spec s[5];
    static uint8_t fr[64][MAXF];
    unsigned len[64];
    struct tso_run run;
    fill(s, 5, 4, 1000);
    s[2].plen = 1400; /* larger than the first's 1000: a new run */
    s[3].seq = s[2].seq + 1400;
    s[4].seq = s[3].seq + 1000;
    assert_int_equal(run_of(s, 5, &run, fr, len), 2);
    /* The new run from s[2] takes s[3] (smaller) and closes. */
    assert_int_equal(run_of(s + 2, 3, &run, fr, len), 2);
    check_cut_equals_original(s + 2, 2);
}

static void test_only_the_next_segment_of_the_same_connection_joins(void **unused)
{
    (void)unused;
    static uint8_t fr[64][MAXF];
    unsigned len[64];
    struct tso_run run;
    struct spec s[2];
    const char *what[] = {
        "seq gap", "same seq (retransmission)", "ack", "window", "port", "ttl", "ip id", "options", "family"};
    for (unsigned c = 0; c < sizeof(what) / sizeof(what[0]); c++) {
        fill(s, 2, 4, 1000);
        switch (c) {
        case 0:
            s[1].seq += 1;
            break;
        case 1:
            s[1].seq = s[0].seq;
            break;
        case 2:
            s[1].ack += 1;
            break;
        case 3:
            s[1].win = 4096;
            break;
        case 4:
            s[1].sport = 81;
            break;
        case 5:
            s[1].ttl = 63;
            break;
        case 6:
            s[1].id += 1;
            break;
        case 7:
            s[0].optlen = s[1].optlen = 4;
            break;
        case 8:
            s[1].family = 6;
            break;
        }
        unsigned got = run_of(s, 2, &run, fr, len);
        if (c == 7) {
            /* Same options on both: joins; then different option bytes: not. */
            assert_int_equal(got, 2);
            fill(s, 2, 4, 1000);
            s[0].optlen = s[1].optlen = 4;
            len[0] = build(fr[0], &s[0]);
            len[1] = build(fr[1], &s[1]);
            fr[1][ETH + 20 + 21] ^= 1;
            struct tso_seg a, b;
            assert_true(tso_parse(fr[0], len[0], len[0], &a));
            assert_true(tso_parse(fr[1], len[1], len[1], &b));
            tso_run_start(&run, fr[0], &a);
            assert_false(tso_run_add(&run, fr[1], &b, TSO_MAX_FRAME));
            continue;
        }
        if (got != 1)
            fail_msg("%s: joined", what[c]);
        assert_int_equal(run.count, 1); /* a refused add leaves the run as it was */
        assert_int_equal(run.total, 1000);
    }
}

static void test_run_never_exceeds_64k(void **unused)
{
    (void)unused;
    static uint8_t fr[64][MAXF];
    unsigned len[64];
    struct tso_run run;
    struct spec s[50];
    fill(s, 50, 4, 1460);
    unsigned got = run_of(s, 50, &run, fr, len);
    assert_int_equal(got, (TSO_MAX_FRAME - 54) / 1460);
    assert_true(54 + run.total <= TSO_MAX_FRAME);
    /* A smaller limit is honoured too. */
    struct tso_seg sg;
    assert_true(tso_parse(fr[0], len[0], len[0], &sg));
    tso_run_start(&run, fr[0], &sg);
    assert_true(tso_parse(fr[1], len[1], len[1], &sg));
    assert_false(tso_run_add(&run, fr[1], &sg, 54 + 2 * 1460 - 1));
}

static void test_parse_refuses_what_cannot_be_cut(void **unused)
{
    (void)unused;
    static uint8_t f[MAXF];
    struct tso_seg sg;
    struct spec s = {.family = 4, .seq = 1, .ack = 1, .id = 1, .plen = 100};
    unsigned len = build(f, &s);
    assert_true(tso_parse(f, len, len, &sg));
    assert_int_equal(sg.hdr_len, 54);
    assert_int_equal(sg.payload, 100);
    /* Headers not all in the first piece; a frame longer than its IP length (padding). */
    assert_false(tso_parse(f, 53, len, &sg));
    assert_true(tso_parse(f, 54, len, &sg));
    assert_false(tso_parse(f, len, len + 1, &sg));
    assert_false(tso_parse(f, len, len - 1, &sg));
    const uint8_t bad_flags[] = {0x02, 0x12, 0x04, 0x14, 0x00, 0x30, 0x50, 0x90};
    for (unsigned i = 0; i < sizeof(bad_flags); i++) {
        s.flags = bad_flags[i];
        len = build(f, &s);
        if (!bad_flags[i])
            f[ETH + 20 + 13] = 0; /* no ACK at all */
        assert_false(tso_parse(f, len, len, &sg));
    }
    s.flags = 0;
    /* No payload: a pure ACK goes out as it is. */
    s.plen = 0;
    len = build(f, &s);
    assert_false(tso_parse(f, len, len, &sg));
    s.plen = 100;
    /* IPv4 options, a fragment (MF, offset), not TCP, VLAN, IPv6 extension header. */
    len = build(f, &s);
    f[ETH] = 0x46;
    assert_false(tso_parse(f, len, len, &sg));
    len = build(f, &s);
    f[ETH + 6] = 0x20;
    assert_false(tso_parse(f, len, len, &sg));
    len = build(f, &s);
    f[ETH + 7] = 0x01;
    assert_false(tso_parse(f, len, len, &sg));
    len = build(f, &s);
    f[ETH + 9] = 17;
    assert_false(tso_parse(f, len, len, &sg));
    len = build(f, &s);
    put16(f + 12, 0x8100);
    assert_false(tso_parse(f, len, len, &sg));
    s.family = 6;
    len = build(f, &s);
    assert_true(tso_parse(f, len, len, &sg));
    f[ETH + 6] = 0; /* hop-by-hop options first */
    assert_false(tso_parse(f, len, len, &sg));
    /* A data offset below 5 words, or beyond the frame. */
    s.family = 4;
    len = build(f, &s);
    f[ETH + 20 + 12] = 0x40;
    assert_false(tso_parse(f, len, len, &sg));
    len = build(f, &s);
    f[ETH + 20 + 12] = 0xF0;
    assert_false(tso_parse(f, 54, len, &sg));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4_run_cut_back_into_the_same_frames),
        cmocka_unit_test(test_ipv6_run_with_options),
        cmocka_unit_test(test_psh_in_the_middle_moves_to_the_end),
        cmocka_unit_test(test_fin_ends_the_run),
        cmocka_unit_test(test_short_segment_ends_the_run),
        cmocka_unit_test(test_mss_change_mid_connection),
        cmocka_unit_test(test_only_the_next_segment_of_the_same_connection_joins),
        cmocka_unit_test(test_run_never_exceeds_64k),
        cmocka_unit_test(test_parse_refuses_what_cannot_be_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
