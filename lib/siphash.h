/*
 * SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
 * 2012): a keyed 64-bit hash that an attacker who does not know the key
 * cannot predict or steer, even when they choose the input. TCP uses it for
 * its initial sequence numbers and SYN cookies (net/tcp_cookie.h).
 *
 * Freestanding: no libc, no allocation; the same file runs on the host tests.
 */
#ifndef LIB_SIPHASH_H
#define LIB_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* The 128-bit key as the paper's two little-endian 64-bit words k0, k1. */
struct siphash_key {
    uint64_t k0, k1;
};

/** siphash_key_from_bytes() - the key of the paper's byte string @b[0..15] (k0 = b[0..7] little-endian). */
struct siphash_key siphash_key_from_bytes(const uint8_t b[16]);

/**
 * siphash24() - SipHash-2-4 of @len bytes at @data under @key.
 * Context: any; pure function.
 * Return: the 64-bit tag (the paper's output bytes, read little-endian).
 */
uint64_t siphash24(const struct siphash_key *key, const void *data, size_t len);

#endif
