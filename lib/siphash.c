/*
 * SipHash-2-4, written from the paper's description (section 2): four 64-bit
 * words of state initialised from the key and "somepseudorandomlygeneratedbytes",
 * two SipRounds per 8-byte message word, the length in the last word's top
 * byte, 0xff into v2 and four finalisation rounds.
 */
#include "lib/siphash.h"

static inline uint64_t rotl64(uint64_t x, unsigned b)
{
    return (x << b) | (x >> (64 - b));
}

/* Little-endian load of @n (0..8) bytes, whatever the alignment. */
static inline uint64_t load_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

struct sip_state {
    uint64_t v0, v1, v2, v3;
};

static inline void sip_round(struct sip_state *s)
{
    s->v0 += s->v1;
    s->v1 = rotl64(s->v1, 13);
    s->v1 ^= s->v0;
    s->v0 = rotl64(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = rotl64(s->v3, 16);
    s->v3 ^= s->v2;
    s->v0 += s->v3;
    s->v3 = rotl64(s->v3, 21);
    s->v3 ^= s->v0;
    s->v2 += s->v1;
    s->v1 = rotl64(s->v1, 17);
    s->v1 ^= s->v2;
    s->v2 = rotl64(s->v2, 32);
}

static inline void sip_compress(struct sip_state *s, uint64_t m)
{
    s->v3 ^= m;
    sip_round(s); /* c = 2 */
    sip_round(s);
    s->v0 ^= m;
}

struct siphash_key siphash_key_from_bytes(const uint8_t b[16])
{
    struct siphash_key k = {load_le(b, 8), load_le(b + 8, 8)};
    return k;
}

uint64_t siphash24(const struct siphash_key *key, const void *data, size_t len)
{
    const uint8_t *p = data;
    struct sip_state s = {
        key->k0 ^ 0x736f6d6570736575ull, /* "somepseu" */
        key->k1 ^ 0x646f72616e646f6dull, /* "dorandom" */
        key->k0 ^ 0x6c7967656e657261ull, /* "lygenera" */
        key->k1 ^ 0x7465646279746573ull, /* "tedbytes" */
    };
    size_t left = len;

    for (; left >= 8; left -= 8, p += 8)
        sip_compress(&s, load_le(p, 8));
    /* The last word: the 0..7 remaining bytes and the length mod 256 on top. */
    sip_compress(&s, load_le(p, (unsigned)left) | ((uint64_t)(len & 0xff) << 56));
    s.v2 ^= 0xff;
    for (int i = 0; i < 4; i++) /* d = 4 */
        sip_round(&s);
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}
