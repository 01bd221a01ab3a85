/*
 * lib/printf.c on the host: k_snprintf is compared with the host's snprintf
 * over every combination of flags, width, precision, conversion, length
 * modifier and a set of edge values, then the places where we deliberately
 * differ (%p of NULL, %f, %n) and the buffer handling are checked directly.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/printf.h"

#define OUT 256

static unsigned long compared;

/* Format with both, compare text and return value. */
#define CHECK(fmt, ...)                                                                                      \
    do {                                                                                                     \
        char k_[OUT], h_[OUT];                                                                               \
        int kn_ = k_snprintf(k_, sizeof(k_), fmt, __VA_ARGS__);                                              \
        int hn_ = snprintf(h_, sizeof(h_), fmt, __VA_ARGS__);                                                \
        compared++;                                                                                          \
        if (kn_ != hn_ || strcmp(k_, h_) != 0)                                                               \
            fail_msg("format \"%s\": got \"%s\" (%d), host \"%s\" (%d)", fmt, k_, kn_, h_, hn_);             \
    } while (0)

/* Builds "%<flags><width><.prec><length><conv>" for the combination loops. */
static void make_fmt(char *fmt, unsigned flagset, int width, int prec, const char *len, char conv)
{
    const char flag_chars[] = "-+ #0";
    char *p = fmt;

    *p++ = '%';
    for (int i = 0; i < 5; i++)
        if (flagset & (1u << i))
            *p++ = flag_chars[i];
    if (width >= 0)
        p += sprintf(p, "%d", width);
    if (prec == -2)
        *p++ = '.'; /* "." alone: precision 0 */
    else if (prec >= 0)
        p += sprintf(p, ".%d", prec);
    p += sprintf(p, "%s%c", len, conv);
    *p = '\0';
}

static const int widths[] = {-1, 0, 1, 6, 25};
static const int precs[] = {-1, -2, 0, 1, 4, 22};
static const char convs[] = "diuxXo";
#define N(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Runs @body for every flag set, width, precision and conversion, with the
 * format in `fmt`. '#' with d/i/u is undefined in C, so it is skipped there.
 */
#define FOR_EACH_FORMAT(len, body)                                                                           \
    for (unsigned fs = 0; fs < 32; fs++)                                                                     \
        for (size_t w = 0; w < N(widths); w++)                                                               \
            for (size_t pr = 0; pr < N(precs); pr++)                                                         \
                for (const char *cv = convs; *cv; cv++) {                                                    \
                    char fmt[32];                                                                            \
                    if ((fs & 8) && (*cv == 'd' || *cv == 'i' || *cv == 'u'))                                \
                        continue;                                                                            \
                    make_fmt(fmt, fs, widths[w], precs[pr], len, *cv);                                       \
                    body;                                                                                    \
                }

static void test_int_combinations(void **state)
{
    (void)state;
    const int ivals[] = {0, 1, -1, 7, -42, 255, 256, 65535, 65536, 123456789, INT_MAX, INT_MIN};
    const long long llvals[] = {0,
                                1,
                                -1,
                                42,
                                -42,
                                4294967296ll,
                                -4294967296ll,
                                0x123456789abcdefll,
                                INT64_MAX,
                                INT64_MIN,
                                (long long)UINT64_MAX};

    for (size_t v = 0; v < N(ivals); v++) {
        int x = ivals[v];
        FOR_EACH_FORMAT("", CHECK(fmt, x));
        FOR_EACH_FORMAT("hh", CHECK(fmt, x)); /* converted to (un)signed char */
        FOR_EACH_FORMAT("h", CHECK(fmt, x));
    }
    for (size_t v = 0; v < N(llvals); v++) {
        long long x = llvals[v];
        FOR_EACH_FORMAT("ll", CHECK(fmt, x));
        FOR_EACH_FORMAT("l", CHECK(fmt, (long)x));
        FOR_EACH_FORMAT("j", CHECK(fmt, (intmax_t)x));
        FOR_EACH_FORMAT("z", CHECK(fmt, (size_t)x));
        FOR_EACH_FORMAT("t", CHECK(fmt, (ptrdiff_t)x));
    }
    /* Make sure the loops really ran. */
    assert_true(compared > 300000);
}

static void test_extremes(void **state)
{
    (void)state;
    CHECK("%lld", (long long)INT64_MIN);
    CHECK("%llu", (unsigned long long)UINT64_MAX);
    CHECK("%llx|%llX|%llo", (unsigned long long)UINT64_MAX, (unsigned long long)UINT64_MAX,
          (unsigned long long)UINT64_MAX);
    CHECK("%#llo", (unsigned long long)UINT64_MAX);
    CHECK("%d %i", INT_MIN, INT_MAX);
    CHECK("%+d % d %+d % d", 0, 0, -0, 5);
    CHECK("%.100d", -12345);
    CHECK("%120d|%-120d|", 3, 4);
    CHECK("%#.0o|%#.0x|%.0d|%5.0d|", 0, 0, 0, 0);
    /* Out-of-range values for hh/h (clang rejects these as literals). */
    const char *narrow = "%hhd %hhu %hd %hu";
    CHECK(narrow, 200, -1, 40000, -1);
}

static void test_star(void **state)
{
    (void)state;
    CHECK("%*d|%-*d|%*d|", 6, 42, 6, 42, -6, 42);  /* negative width = '-' flag */
    CHECK("%.*d|%.*d|%.*d|", 5, 42, 0, 0, -3, 42); /* negative precision = none */
    CHECK("%*.*x|", 10, 4, 0xbeef);
    CHECK("%-*.*s|", 8, 2, "abcdef");
    CHECK("%0*d", 7, -3);
}

static void test_chars_strings(void **state)
{
    (void)state;
    CHECK("%c%c%c", 'a', 0x41, '~');
    CHECK("[%5c][%-5c][%1c]", 'x', 'y', 'z');
    CHECK("%s|%10s|%-10s|%.2s|%10.2s|%-10.2s|%.0s|%.10s|", "hello", "hello", "hello", "hello", "hello",
          "hello", "hello", "hello");
    CHECK("%s", "");
    CHECK("%5s|%-5s|", "", "");
    CHECK("%%|%d%%", 50);
    CHECK("%s", "(null) is what we print");
    CHECK("no conversions at all%s", "");
    /* NULL prints "(null)"; glibc agrees when no precision cuts it. */
    const char *volatile nul = NULL; /* hidden from gcc's NULL-argument warning */
    CHECK("%s|%8s|%-8s|", nul, nul, nul);

    /* A precision bounds the read: the array below has no terminator (ASan). */
    const char unterminated[3] = {'a', 'b', 'c'};
    char buf[OUT];
    assert_int_equal(k_snprintf(buf, sizeof(buf), "%.3s|", unterminated), 4);
    assert_string_equal(buf, "abc|");
    assert_int_equal(k_snprintf(buf, sizeof(buf), "[%.3s]", nul), 5);
    assert_string_equal(buf, "[(nu]");
}

static void test_pointers(void **state)
{
    (void)state;
    int x;
    void *p = &x, *q = (void *)(uintptr_t)0xffffffff80001000ull, *r = (void *)(uintptr_t)0x1;

    CHECK("%p %p %p", p, q, r);
    CHECK("[%20p][%-20p]", p, q);
    /* Where glibc says "(nil)", we print the number like any other. */
    char buf[OUT];
    assert_int_equal(k_snprintf(buf, sizeof(buf), "%p|%5p|%-5p|", (void *)NULL, (void *)NULL, (void *)NULL),
                     16);
    assert_string_equal(buf, "0x0|  0x0|0x0  |");
}

static void test_unsupported(void **state)
{
    (void)state;
    char buf[OUT];
    int n = 12345;

    /*
     * The double travels in an SSE register, apart from the integer
     * arguments, so the %d after the %f still gets its own argument.
     */
    assert_int_equal(k_snprintf(buf, sizeof(buf), "%d %f %d %e|%g", 1, 2.0, 3, 4.0, 5.0), 15);
    assert_string_equal(buf, "1 %f? 3 %e?|%g?");
    assert_int_equal(k_snprintf(buf, sizeof(buf), "a%nb%d", &n, 7), 6);
    assert_string_equal(buf, "a%n?b7");
    assert_int_equal(n, 12345); /* %n stores nothing */
    /* Formats gcc would reject at compile time, so passed as variables. */
    const char *unknown = "%y%d", *cut = "abc%-5", *lone = "%";
    assert_int_equal(k_snprintf(buf, sizeof(buf), unknown, 9), 4);
    assert_string_equal(buf, "%y?9");
    /* A format that ends inside a conversion shows the fragment. */
    assert_int_equal(k_snprintf(buf, sizeof(buf), cut, 0), 6);
    assert_string_equal(buf, "abc%-5");
    assert_int_equal(k_snprintf(buf, sizeof(buf), lone, 0), 1);
    assert_string_equal(buf, "%");
}

/* snprintf at every buffer size: same bytes as the host, NUL, nothing written past size. */
static void test_truncation(void **state)
{
    (void)state;
    const char *fmt = "%s=%08x (%-6d) %lld";
    char want[OUT];
    int full = snprintf(want, sizeof(want), fmt, "key", 0xabcdu, -17, (long long)INT64_MIN);

    /* Literal runs, padded strings and padding are copied in blocks: cut
     * them at every length too. */
    const char *fmt2 = "a literal run %12s|%-9.3s|%*d|%.*s tail";
    char want2[OUT];
    int full2 = snprintf(want2, sizeof(want2), fmt2, "str", "abcdef", 20, 5, 4, "xyzzy");
    for (size_t size = 0; size <= (size_t)full2 + 2; size++) {
        char k[OUT], h[OUT];
        memset(k, '#', sizeof(k));
        memset(h, '#', sizeof(h));
        int kn = k_snprintf(k, size, fmt2, "str", "abcdef", 20, 5, 4, "xyzzy");
        int hn = snprintf(h, size, fmt2, "str", "abcdef", 20, 5, 4, "xyzzy");
        assert_int_equal(kn, full2);
        assert_int_equal(kn, hn);
        assert_memory_equal(k, h, sizeof(k));
    }
    for (size_t size = 0; size <= (size_t)full + 2; size++) {
        char k[OUT], h[OUT];
        memset(k, '#', sizeof(k));
        memset(h, '#', sizeof(h));
        int kn = k_snprintf(k, size, fmt, "key", 0xabcdu, -17, (long long)INT64_MIN);
        int hn = snprintf(h, size, fmt, "key", 0xabcdu, -17, (long long)INT64_MIN);
        assert_int_equal(kn, full);
        assert_int_equal(kn, hn);
        assert_memory_equal(k, h, sizeof(k));
        if (size > 0)
            assert_int_equal(k[size < (size_t)full + 1 ? size - 1 : (size_t)full], '\0');
        assert_int_equal(k[size], '#');
    }
    /* size 0 with a NULL buffer only measures. */
    assert_int_equal(k_snprintf(NULL, 0, "%d", 123456), 6);
}

static void test_sprintf(void **state)
{
    (void)state;
    char buf[OUT];

    memset(buf, '#', sizeof(buf));
    assert_int_equal(k_sprintf(buf, "%s-%u", "lwip", 213u), 8);
    assert_string_equal(buf, "lwip-213");
    assert_int_equal(buf[9], '#');
}

struct collect {
    char text[OUT];
    size_t len;
};

static void collect_out(char c, void *arg)
{
    struct collect *col = arg;

    if (col->len + 1 < sizeof(col->text))
        col->text[col->len++] = c;
    col->text[col->len] = '\0';
}

static int call_vcbprintf(struct collect *col, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vcbprintf(collect_out, col, fmt, ap);
    va_end(ap);
    return n;
}

static void test_sinks(void **state)
{
    (void)state;
    struct collect col = {.len = 0};

    assert_int_equal(call_vcbprintf(&col, "%s %d%c", "x", -5, '!'), 5);
    assert_string_equal(col.text, "x -5!");
    col.len = 0;
    assert_int_equal(cbprintf(collect_out, &col, "%05u", 42u), 5);
    assert_string_equal(col.text, "00042");

    /* printf without a sink: nothing happens, nothing crashes. */
    printf_set_sink(NULL, NULL);
    assert_int_equal(k_printf("dropped %d", 1), 0);
    assert_int_equal(k_putchar('x'), 'x');

    col.len = 0;
    col.text[0] = '\0';
    printf_set_sink(collect_out, &col);
    assert_int_equal(k_printf("boot %s %#x\n", "ok", 0x10u), 13);
    k_putchar('A');
    k_puts("line");
    assert_string_equal(col.text, "boot ok 0x10\nAline\n");
    printf_set_sink(NULL, NULL);
}

/*
 * A string's precision bounds what is read, nothing else: "%.*s" of 5,000
 * bytes prints 5,000 (it was clamped to 4096, which cut echoed URLs), as a
 * literal "%.5000s" does; integer precisions and widths stay bounded.
 */
static void test_long_string_precision(void **state)
{
    static char src[6001], out[8192], want[8192];
    int n;

    (void)state;
    for (unsigned i = 0; i < sizeof(src) - 1; i++)
        src[i] = (char)('a' + i % 26);
    n = k_snprintf(out, sizeof(out), "<%.*s>", 5000, src);
    assert_int_equal(n, 5002);
    snprintf(want, sizeof(want), "<%.*s>", 5000, src);
    assert_string_equal(out, want);
    n = k_snprintf(out, sizeof(out), "%.5000s|", src);
    assert_int_equal(n, 5001);
    assert_memory_equal(out, src, 5000);
    assert_int_equal(k_snprintf(NULL, 0, "%.*s", 6000, src), 6000);
    /* Not terminated within the precision: reads exactly that many bytes. */
    assert_int_equal(k_snprintf(out, sizeof(out), "%.*s", 4097, src), 4097);
    /* Integers: still at most 4096 zeros. */
    assert_int_equal(k_snprintf(NULL, 0, "%.*d", 100000, 7), 4096);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int_combinations),
        cmocka_unit_test(test_extremes),
        cmocka_unit_test(test_star),
        cmocka_unit_test(test_chars_strings),
        cmocka_unit_test(test_pointers),
        cmocka_unit_test(test_unsupported),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_sprintf),
        cmocka_unit_test(test_sinks),
        cmocka_unit_test(test_long_string_precision),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
