/*
 * lib/string.c and lib/ctype.c on the host. Our functions carry a k_ prefix
 * here (lib/klib.h), so each is checked against a plain reference loop or
 * against the host's libc.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/ctype.h"
#include "lib/string.h"

#define BUF   512
#define GUARD 0xA5

static void fill_pattern(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed * 31 + i * 7 + (i >> 3));
}

/* Every size 0..300 at every source and destination misalignment 0..15. */
static void test_memcpy(void **state)
{
    (void)state;
    static unsigned char src[BUF], dst[BUF], want[BUF];

    for (size_t n = 0; n <= 300; n += (n < 80 ? 1 : 7)) {
        for (size_t so = 0; so < 16; so++) {
            for (size_t doff = 0; doff < 16; doff++) {
                fill_pattern(src, BUF, (unsigned)(n + so));
                memset(dst, GUARD, BUF);
                memcpy(want, dst, BUF);
                for (size_t i = 0; i < n; i++)
                    want[doff + i] = src[so + i];
                assert_ptr_equal(k_memcpy(dst + doff, src + so, n), dst + doff);
                assert_memory_equal(dst, want, BUF);
            }
        }
    }
}

/* Overlap in both directions, including dst == src and distance 1. */
static void test_memmove(void **state)
{
    (void)state;
    static unsigned char buf[BUF], want[BUF], tmp[BUF];

    for (size_t n = 0; n <= 200; n += (n < 70 ? 1 : 13)) {
        for (size_t from = 0; from < 40; from += 3) {
            for (size_t to = 0; to < 40; to++) {
                fill_pattern(buf, BUF, (unsigned)n);
                memcpy(want, buf, BUF);
                memcpy(tmp, buf + from, n);
                memcpy(want + to, tmp, n);
                assert_ptr_equal(k_memmove(buf + to, buf + from, n), buf + to);
                assert_memory_equal(buf, want, BUF);
            }
        }
    }
}

static void test_memset(void **state)
{
    (void)state;
    static unsigned char buf[BUF], want[BUF];
    const int values[] = {0, 1, 0x7f, 0x80, 0xff, 0x1234, -1};

    for (size_t n = 0; n <= 300; n += (n < 80 ? 1 : 11)) {
        for (size_t off = 0; off < 16; off++) {
            for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
                memset(buf, GUARD, BUF);
                memset(want, GUARD, BUF);
                for (size_t i = 0; i < n; i++)
                    want[off + i] = (unsigned char)values[v];
                assert_ptr_equal(k_memset(buf + off, values[v], n), buf + off);
                assert_memory_equal(buf, want, BUF);
            }
        }
    }
}

static int sign(int v)
{
    return (v > 0) - (v < 0);
}

/* Every length 0..80 at every alignment pair, equal and with one byte
 * differing at every position (either way), against the sign of the C
 * library's memcmp: the quadword fast path must never skip a difference. */
static void test_memcmp_every_length_and_position(void **state)
{
    (void)state;
    static unsigned char a[128], b[128];

    for (size_t n = 0; n <= 80; n++) {
        for (size_t ao = 0; ao < 8; ao++) {
            for (size_t bo = 0; bo < 8; bo += 3) {
                fill_pattern(a + ao, n, (unsigned)n);
                fill_pattern(b + bo, n, (unsigned)n);
                assert_int_equal(k_memcmp(a + ao, b + bo, n), 0);
                for (size_t d = 0; d < n; d++) {
                    unsigned char keep = b[bo + d];
                    b[bo + d] = (unsigned char)(keep + 1 + (d & 1) * 0x7f);
                    assert_int_equal(sign(k_memcmp(a + ao, b + bo, n)), sign(memcmp(a + ao, b + bo, n)));
                    assert_int_equal(sign(k_memcmp(b + bo, a + ao, n)), sign(memcmp(b + bo, a + ao, n)));
                    assert_int_not_equal(k_memcmp(a + ao, b + bo, n), 0);
                    b[bo + d] = keep;
                }
            }
        }
    }
}

static void test_memcmp_memchr(void **state)
{
    (void)state;
    const unsigned char a[] = {1, 2, 3, 0x80, 0};
    const unsigned char b[] = {1, 2, 3, 0x7f, 0};

    assert_int_equal(k_memcmp(a, b, 0), 0);
    assert_int_equal(k_memcmp(a, b, 3), 0);
    /* Bytes compare as unsigned: 0x80 > 0x7f. */
    assert_int_equal(sign(k_memcmp(a, b, 4)), 1);
    assert_int_equal(sign(k_memcmp(b, a, 5)), -1);

    const char *s = "hello, world";
    assert_ptr_equal(k_memchr(s, 'o', 12), s + 4);
    assert_ptr_equal(k_memchr(s, 'd', 11), NULL); /* 'd' is byte 11, outside n */
    assert_ptr_equal(k_memchr(s, 'd', 12), s + 11);
    assert_ptr_equal(k_memchr(s, 'x', 0), NULL);
    assert_ptr_equal(k_memchr(a, 0x180, 5), a + 3); /* c converts to unsigned char */
}

static void test_strlen_cmp(void **state)
{
    (void)state;
    assert_int_equal(k_strlen(""), 0);
    assert_int_equal(k_strlen("abc"), 3);
    assert_int_equal(k_strnlen("abc", 2), 2);
    assert_int_equal(k_strnlen("abc", 10), 3);
    assert_int_equal(k_strnlen("abc", 0), 0);
    char unterminated[4] = {'a', 'b', 'c', 'd'};
    assert_int_equal(k_strnlen(unterminated, 4), 4); /* must not read past 4 (ASan) */

    const char *words[] = {"", "a", "ab", "abc", "abd", "b", "\x80", "\x7f", "A", "ABC", "aBc"};
    size_t nw = sizeof(words) / sizeof(words[0]);
    for (size_t i = 0; i < nw; i++) {
        for (size_t j = 0; j < nw; j++) {
            assert_int_equal(sign(k_strcmp(words[i], words[j])), sign(strcmp(words[i], words[j])));
            for (size_t n = 0; n < 5; n++) {
                assert_int_equal(sign(k_strncmp(words[i], words[j], n)),
                                 sign(strncmp(words[i], words[j], n)));
                assert_int_equal(sign(k_strncasecmp(words[i], words[j], n)),
                                 sign(strncasecmp(words[i], words[j], n)));
            }
            assert_int_equal(sign(k_strcasecmp(words[i], words[j])), sign(strcasecmp(words[i], words[j])));
        }
    }
}

static void test_strchr_strstr(void **state)
{
    (void)state;
    const char *s = "a/b/c";

    assert_ptr_equal(k_strchr(s, '/'), s + 1);
    assert_ptr_equal(k_strrchr(s, '/'), s + 3);
    assert_ptr_equal(k_strchr(s, 'x'), NULL);
    assert_ptr_equal(k_strrchr(s, 'x'), NULL);
    assert_ptr_equal(k_strchr(s, '\0'), s + 5);
    assert_ptr_equal(k_strrchr(s, '\0'), s + 5);
    assert_ptr_equal(k_strrchr("", 'a'), NULL);

    const char *h = "aaab aab";
    assert_ptr_equal(k_strstr(h, "aab"), h + 1);
    assert_ptr_equal(k_strstr(h, ""), h);
    assert_ptr_equal(k_strstr("", ""), strstr("", ""));
    assert_ptr_equal(k_strstr(h, "b a"), h + 3);
    assert_ptr_equal(k_strstr(h, "aabx"), NULL);
    assert_ptr_equal(k_strstr("ab", "abc"), NULL);
    assert_ptr_equal(k_strstr(h, "b"), h + 3);
}

static void test_copy(void **state)
{
    (void)state;
    char buf[16];

    memset(buf, 'x', sizeof(buf));
    assert_ptr_equal(k_strcpy(buf, "hi"), buf);
    assert_memory_equal(buf, "hi\0x", 4);

    /* strncpy pads with NULs ... */
    memset(buf, 'x', sizeof(buf));
    assert_ptr_equal(k_strncpy(buf, "ab", 6), buf);
    assert_memory_equal(buf, "ab\0\0\0\0x", 7);
    /* ... and does not terminate a source as long as n. */
    memset(buf, 'x', sizeof(buf));
    k_strncpy(buf, "abcdef", 3);
    assert_memory_equal(buf, "abcx", 4);

    memset(buf, 'x', sizeof(buf));
    assert_int_equal(k_strlcpy(buf, "abcdef", 4), 6);
    assert_memory_equal(buf, "abc\0x", 5);
    assert_int_equal(k_strlcpy(buf, "ab", sizeof(buf)), 2);
    assert_string_equal(buf, "ab");
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(k_strlcpy(buf, "abc", 0), 3);
    assert_int_equal(buf[0], 'x'); /* size 0 writes nothing */
    assert_int_equal(k_strlcpy(buf, "abc", 1), 3);
    assert_int_equal(buf[0], '\0');

    k_strcpy(buf, "ab");
    assert_ptr_equal(k_strcat(buf, "cd"), buf);
    assert_string_equal(buf, "abcd");
    k_strcat(buf, "");
    assert_string_equal(buf, "abcd");
}

/* strtol & co. against the host libc: value and end pointer. */
static void test_strto(void **state)
{
    (void)state;
    const char *inputs[] = {
        "0",
        "42",
        "-42",
        "+42",
        "  \t\n 17xyz",
        "0x1f",
        "0X1F",
        "0x",
        "0xg",
        "-0x10",
        "010",
        "08",
        "0",
        "z",
        "Zz",
        "",
        "   ",
        "-",
        "+",
        "1e3",
        "2147483647",
        "2147483648",
        "-2147483648",
        "-2147483649",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "-9223372036854775809",
        "18446744073709551615",
        "18446744073709551616",
        "-18446744073709551615",
        "-1",
        "99999999999999999999999999",
        "0xffffffffffffffff",
        "0x10000000000000000",
        "0777",
        "1010",
        "  -0",
        "7fffffffffffffff",
        "- 1",
        "0x-1",
    };
    const int bases[] = {0, 2, 8, 10, 16, 36};

    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        for (size_t b = 0; b < sizeof(bases) / sizeof(bases[0]); b++) {
            const char *s = inputs[i];
            int base = bases[b];
            char *ke, *he;

            long kl = k_strtol(s, &ke, base), hl = strtol(s, &he, base);
            if (kl != hl || ke != he)
                fail_msg("strtol(\"%s\", %d): %ld end+%td, host %ld end+%td", s, base, kl, ke - s, hl,
                         he - s);
            long long kll = k_strtoll(s, &ke, base), hll = strtoll(s, &he, base);
            assert_true(kll == hll && ke == he);
            unsigned long kul = k_strtoul(s, &ke, base), hul = strtoul(s, &he, base);
            if (kul != hul || ke != he)
                fail_msg("strtoul(\"%s\", %d): %lu end+%td, host %lu end+%td", s, base, kul, ke - s, hul,
                         he - s);
            unsigned long long kull = k_strtoull(s, &ke, base), hull = strtoull(s, &he, base);
            assert_true(kull == hull && ke == he);
        }
        assert_int_equal(k_atoi(inputs[i]), (int)strtol(inputs[i], NULL, 10));
    }
    assert_int_equal(k_strtol("12", NULL, 10), 12); /* NULL end pointer */
    char *end;
    assert_int_equal(k_strtol("12", &end, 1), 0); /* invalid base */
    assert_int_equal(k_abs(-5), 5);
    assert_int_equal(k_labs(LONG_MIN + 1), LONG_MAX);
    assert_int_equal(k_llabs(-7), 7);
}

/* Every class for every argument C allows (EOF and 0..255), against glibc's "C" locale. */
static void test_ctype(void **state)
{
    (void)state;
    for (int c = -1; c < 256; c++) {
        assert_int_equal(!!k_isdigit(c), !!isdigit(c));
        assert_int_equal(!!k_isxdigit(c), !!isxdigit(c));
        assert_int_equal(!!k_isspace(c), !!isspace(c));
        assert_int_equal(!!k_isalpha(c), !!isalpha(c));
        assert_int_equal(!!k_isalnum(c), !!isalnum(c));
        assert_int_equal(!!k_isupper(c), !!isupper(c));
        assert_int_equal(!!k_islower(c), !!islower(c));
        assert_int_equal(!!k_isprint(c), !!isprint(c));
        assert_int_equal(!!k_isgraph(c), !!isgraph(c));
        assert_int_equal(!!k_iscntrl(c), !!iscntrl(c));
        assert_int_equal(!!k_ispunct(c), !!ispunct(c));
        assert_int_equal(k_toupper(c), toupper(c));
        assert_int_equal(k_tolower(c), tolower(c));
    }
    /* Out-of-range arguments are in no class (no table to overrun). */
    assert_false(k_isalpha(1000));
    assert_false(k_isdigit(-200));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memcpy),
        cmocka_unit_test(test_memmove),
        cmocka_unit_test(test_memset),
        cmocka_unit_test(test_memcmp_memchr),
        cmocka_unit_test(test_memcmp_every_length_and_position),
        cmocka_unit_test(test_strlen_cmp),
        cmocka_unit_test(test_strchr_strstr),
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_strto),
        cmocka_unit_test(test_ctype),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
