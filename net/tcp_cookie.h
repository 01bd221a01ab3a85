/*
 * The arithmetic of TCP's front door: initial sequence numbers (RFC 6528)
 * and SYN cookies (RFC 4987 section 3.6), both keyed with SipHash-2-4
 * (lib/siphash.h) under secrets drawn at boot. No lwIP, no clock: the caller
 * passes the connection's tuple and the time, so the host tests can drive it
 * (net/tcp_guard.c is the lwIP side). docs/lwip.md, "TCP's front door".
 */
#ifndef NET_TCP_COOKIE_H
#define NET_TCP_COOKIE_H

#include "lib/siphash.h"
#include <stdbool.h>
#include <stdint.h>

/* A connection's 4-tuple. Addresses in network byte order as lwIP keeps them:
 * IPv4 in addr[0] with the other words zero. */
struct tcp_tuple {
    uint32_t local[4], remote[4];
    uint16_t local_port, remote_port; /* host byte order */
    bool v6;
};

/* Two independent keys: knowing an ISN says nothing about a cookie. */
struct tcp_cookie_keys {
    struct siphash_key isn, cookie;
};

/* A cookie is valid in the slot it was made in and the next one: 8 to 16 s,
 * far more than a handshake's round trip, short enough that a captured
 * cookie is soon worthless. */
#define TCP_COOKIE_SLOT_NS (8ull * 1000000000ull)
/* Low bits of a cookie: 3 for the MSS index, 4 for the peer's window scale. */
#define TCP_COOKIE_MSS_BITS  3
#define TCP_COOKIE_WS_BITS   4
#define TCP_COOKIE_CODE_BITS (TCP_COOKIE_MSS_BITS + TCP_COOKIE_WS_BITS)
#define TCP_COOKIE_WS_NONE   15 /* the SYN had no window scale option */

/** tcp_cookie_keys_init() - both keys from 256 bits of @seed (the caller's secret). */
void tcp_cookie_keys_init(struct tcp_cookie_keys *k, const uint64_t seed[4]);

/**
 * tcp_isn() - RFC 6528 section 3: ISN = M + F(4-tuple, secret), M a clock
 * that ticks every 4 us (@now_ns / 4000), F SipHash-2-4 of the tuple.
 * Return: the 32-bit initial sequence number.
 */
uint32_t tcp_isn(const struct tcp_cookie_keys *k, const struct tcp_tuple *t, uint64_t now_ns);

/** tcp_cookie_mss_index() - the index of the largest table MSS <= @mss (0: the smallest entry). */
unsigned tcp_cookie_mss_index(uint16_t mss);
/** tcp_cookie_mss() - the MSS of table index @idx (0..7). */
uint16_t tcp_cookie_mss(unsigned idx);

/**
 * tcp_cookie_make() - the ISN of a stateless SYN-ACK: a keyed hash of the
 * tuple, the client's ISN @client_isn and the time slot of @now_ns, its low
 * TCP_COOKIE_CODE_BITS replaced by the peer's MSS (rounded down to the table)
 * and window scale (@wscale 0..14, or TCP_COOKIE_WS_NONE; above 14 is 14).
 */
uint32_t tcp_cookie_make(const struct tcp_cookie_keys *k, const struct tcp_tuple *t, uint32_t client_isn,
                         uint64_t now_ns, uint16_t mss, unsigned wscale);

/**
 * tcp_cookie_check() - is @cookie (the ACK's ackno - 1) one tcp_cookie_make()
 * gave for this tuple and @client_isn (the ACK's seqno - 1) in the current or
 * the previous slot of @now_ns?
 * Return: true and *@mss, *@wscale decoded from it; false for anything else.
 */
bool tcp_cookie_check(const struct tcp_cookie_keys *k, const struct tcp_tuple *t, uint32_t client_isn,
                      uint32_t cookie, uint64_t now_ns, uint16_t *mss, unsigned *wscale);

#endif
