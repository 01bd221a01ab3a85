/*
 * net/tcp_cookie.c: RFC 6528 ISNs and SYN cookies. Cookies made for a SYN
 * must check for its ACK, carry the MSS and window scale through, expire
 * after two slots, and refuse any ACK that changes the tuple, the client's
 * ISN or a bit of the cookie.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "net/tcp_cookie.h"

static const uint64_t seed[4] = {0x0123456789abcdefull, 0xfedcba9876543210ull, 0x0f1e2d3c4b5a6978ull,
                                 0x8796a5b4c3d2e1f0ull};
static struct tcp_cookie_keys keys;

static struct tcp_tuple tuple(uint16_t rport)
{
    struct tcp_tuple t = {{0}, {0}, 80, rport, false};
    t.local[0] = 0x02004d0a;  /* 10.77.0.2 as lwIP stores it */
    t.remote[0] = 0x01004d0a; /* 10.77.0.1 */
    return t;
}

#define T0 (1000ull * TCP_COOKIE_SLOT_NS + 12345)

static int setup(void **state)
{
    (void)state;
    tcp_cookie_keys_init(&keys, seed);
    return 0;
}

static void test_round_trip_mss_and_wscale(void **state)
{
    (void)state;
    struct tcp_tuple t = tuple(40000);
    static const uint16_t in[] = {1460, 1500, 65535, 1459, 1440, 1400, 536, 600, 100, 1};
    static const uint16_t want[] = {1460, 1460, 1460, 1440, 1440, 1380, 536, 536, 88, 88};
    for (unsigned i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        for (unsigned ws = 0; ws <= 15; ws++) {
            uint32_t cisn = 0x11111111u * (i + 1) + ws;
            uint32_t c = tcp_cookie_make(&keys, &t, cisn, T0, in[i], ws);
            uint16_t mss = 0;
            unsigned wscale = 99;
            assert_true(tcp_cookie_check(&keys, &t, cisn, c, T0 + 1000, &mss, &wscale));
            assert_int_equal(mss, want[i]);
            assert_int_equal(wscale, ws);
        }
    }
    /* A shift above 14 means 14 (RFC 7323 2.3); TCP_COOKIE_WS_NONE is kept. */
    uint16_t mss;
    unsigned ws;
    uint32_t c = tcp_cookie_make(&keys, &t, 7, T0, 1460, 20);
    assert_true(tcp_cookie_check(&keys, &t, 7, c, T0, &mss, &ws));
    assert_int_equal(ws, 14);
}

static void test_slots_expire(void **state)
{
    (void)state;
    struct tcp_tuple t = tuple(40001);
    uint16_t mss;
    unsigned ws;
    /* Made at the very end of a slot: good for the rest of it and all of the next. */
    uint64_t made = 1001 * TCP_COOKIE_SLOT_NS - 1;
    uint32_t c = tcp_cookie_make(&keys, &t, 42, made, 1460, 7);
    assert_true(tcp_cookie_check(&keys, &t, 42, c, made, &mss, &ws));
    assert_true(tcp_cookie_check(&keys, &t, 42, c, made + 1, &mss, &ws));
    assert_true(tcp_cookie_check(&keys, &t, 42, c, made + TCP_COOKIE_SLOT_NS, &mss, &ws));
    assert_false(tcp_cookie_check(&keys, &t, 42, c, made + TCP_COOKIE_SLOT_NS + 1, &mss, &ws));
    assert_false(tcp_cookie_check(&keys, &t, 42, c, made + 100 * TCP_COOKIE_SLOT_NS, &mss, &ws));
    /* Nor is a cookie good before it was made (a clock that went back, a guess ahead). */
    assert_false(tcp_cookie_check(&keys, &t, 42, c, made - TCP_COOKIE_SLOT_NS, &mss, &ws));
    /* Slot 0 has no previous slot to try. */
    c = tcp_cookie_make(&keys, &t, 42, 5, 1460, 7);
    assert_true(tcp_cookie_check(&keys, &t, 42, c, 6, &mss, &ws));
}

static void test_forged_and_modified_acks_rejected(void **state)
{
    (void)state;
    struct tcp_tuple t = tuple(40002);
    uint16_t mss;
    unsigned ws;
    uint32_t cisn = 0xdeadbeef;
    uint32_t c = tcp_cookie_make(&keys, &t, cisn, T0, 1460, 7);

    /* Every single-bit change of the cookie, code bits included. */
    for (unsigned bit = 0; bit < 32; bit++)
        assert_false(tcp_cookie_check(&keys, &t, cisn, c ^ (1u << bit), T0, &mss, &ws));
    /* Another client ISN, port, address, family. */
    assert_false(tcp_cookie_check(&keys, &t, cisn + 1, c, T0, &mss, &ws));
    struct tcp_tuple u = t;
    u.remote_port++;
    assert_false(tcp_cookie_check(&keys, &u, cisn, c, T0, &mss, &ws));
    u = t;
    u.local_port = 8080;
    assert_false(tcp_cookie_check(&keys, &u, cisn, c, T0, &mss, &ws));
    u = t;
    u.remote[0] ^= 0x01000000;
    assert_false(tcp_cookie_check(&keys, &u, cisn, c, T0, &mss, &ws));
    u = t;
    u.v6 = true;
    assert_false(tcp_cookie_check(&keys, &u, cisn, c, T0, &mss, &ws));
    /* Another secret. */
    struct tcp_cookie_keys other;
    uint64_t s2[4] = {seed[0], seed[1], seed[2] ^ 1, seed[3]};
    tcp_cookie_keys_init(&other, s2);
    assert_false(tcp_cookie_check(&other, &t, cisn, c, T0, &mss, &ws));
    /* Blind guesses: of 2^16 ACKs with arbitrary cookies, none passes
     * (the chance that one would is 2^16 * 2 * 2^-25, about 0.4%; this fixed
     * sequence is known to pass none). */
    uint32_t x = 0x9e3779b9;
    unsigned passed = 0;
    for (unsigned i = 0; i < 65536; i++) {
        x = x * 1664525u + 1013904223u;
        passed += tcp_cookie_check(&keys, &t, cisn, x, T0, &mss, &ws);
    }
    assert_int_equal(passed, 0);
}

static void test_isn_per_tuple_and_clock(void **state)
{
    (void)state;
    struct tcp_tuple a = tuple(40000), b = tuple(40001);
    uint32_t ia = tcp_isn(&keys, &a, T0), ib = tcp_isn(&keys, &b, T0);
    assert_int_not_equal(ia, ib);
    /* The RFC 6528 clock: +1 every 4 us, the same offset for the same tuple. */
    assert_int_equal(tcp_isn(&keys, &a, T0 + 4000) - ia, 1);
    assert_int_equal(tcp_isn(&keys, &a, T0 + 4000000) - ia, 1000);
    assert_int_equal(tcp_isn(&keys, &a, T0 + 3999), tcp_isn(&keys, &a, T0 + 3999 - (T0 + 3999) % 4000));
    /* 24 neighbouring ports (what an off-path attacker would probe): the
     * differences between consecutive ISNs show no pattern: no two are
     * equal and they are not all small. */
    uint32_t isn[24], diffs[23];
    unsigned small = 0;
    for (unsigned i = 0; i < 24; i++) {
        struct tcp_tuple t = tuple((uint16_t)(50000 + i));
        isn[i] = tcp_isn(&keys, &t, T0 + i * 1000);
    }
    for (unsigned i = 0; i < 23; i++) {
        diffs[i] = isn[i + 1] - isn[i];
        small += diffs[i] < 65536 || diffs[i] > 0u - 65536;
        for (unsigned j = 0; j < i; j++)
            assert_int_not_equal(diffs[i], diffs[j]);
    }
    assert_true(small <= 1);
    /* Another secret gives other ISNs for the same tuple. */
    struct tcp_cookie_keys other;
    uint64_t s2[4] = {seed[0] ^ 1, seed[1], seed[2], seed[3]};
    tcp_cookie_keys_init(&other, s2);
    assert_int_not_equal(tcp_isn(&other, &a, T0), ia);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_round_trip_mss_and_wscale, setup),
        cmocka_unit_test_setup(test_slots_expire, setup),
        cmocka_unit_test_setup(test_forged_and_modified_acks_rejected, setup),
        cmocka_unit_test_setup(test_isn_per_tuple_and_clock, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
