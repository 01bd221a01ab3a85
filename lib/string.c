/*
 * C library string functions (C11 7.24, 7.22.1). See lib/string.h.
 *
 * memcpy/memmove/memset use rep movs/stos: on CPUs with ERMSB/FSRM
 * (Intel SDM vol. 1, 7.3.9.3 "Fast-String Operation") the microcode picks
 * the widest moves itself, and under QEMU's TCG a rep movsq moves 8 bytes per
 * emulated step, so bulk work goes through the quadword form and only the
 * tail through the byte form. x86 allows unaligned string moves, so no
 * alignment prologue is needed. The asm also keeps gcc from "optimizing" a
 * byte loop inside memcpy into a call to memcpy.
 */
#include "lib/string.h"

#include <limits.h>
#include <stdint.h>

#ifndef __x86_64__
#error "lib/string.c uses x86_64 string instructions"
#endif

/* Below this many bytes the quadword form is not worth its setup. */
#define STRING_QWORD_MIN 64

void *KLIB(memcpy)(void *restrict dst, const void *restrict src, size_t n)
{
    void *d = dst;
    const void *s = src;

    if (n >= STRING_QWORD_MIN) {
        size_t q = n / 8;
        __asm__ volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(q) : : "memory");
        n %= 8;
    }
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
    return dst;
}

void *KLIB(memmove)(void *dst, const void *src, size_t n)
{
    uintptr_t d = (uintptr_t)dst, s = (uintptr_t)src;

    /*
     * A forward copy is correct unless the destination starts inside the
     * source: then it would overwrite source bytes before reading them.
     * (Forward rep movs with dst < src is architecturally byte-by-byte in
     * order, so overlapping that way is fine.)
     */
    if (d - s >= n) /* d < s (wraps to huge) or d >= s + n */
        return KLIB(memcpy)(dst, src, n);

    /*
     * Backward: with DF=1 rep movs walks down from the last element. First
     * the n % 8 odd bytes at the top, then whole quadwords below them: after
     * the byte pass rsi/rdi point at the last byte of the quadword area, so
     * its last quadword starts 7 bytes lower. DF is cleared again before any
     * other code runs (the ABI requires DF=0 at calls and returns); an
     * interrupt taken meanwhile runs with DF=0 because the trap entry
     * (arch/x86_64/trap_entry.S) executes cld before calling C.
     */
    void *dp = (char *)dst + n - 1;
    const void *sp = (const char *)src + n - 1;
    size_t tail = n % 8, q = n / 8;
    __asm__ volatile("std\n\t"
                     "rep movsb\n\t"
                     "sub $7, %%rsi\n\t"
                     "sub $7, %%rdi\n\t"
                     "mov %3, %%rcx\n\t"
                     "rep movsq\n\t"
                     "cld"
                     : "+D"(dp), "+S"(sp), "+c"(tail)
                     : "r"(q)
                     : "memory", "cc");
    return dst;
}

void *KLIB(memset)(void *dst, int c, size_t n)
{
    void *d = dst;

    if (n >= STRING_QWORD_MIN) {
        uint64_t pattern = (uint8_t)c * 0x0101010101010101ull;
        size_t q = n / 8;
        __asm__ volatile("rep stosq" : "+D"(d), "+c"(q) : "a"(pattern) : "memory");
        n %= 8;
    }
    __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
    return dst;
}

int KLIB(memcmp)(const void *a, const void *b, size_t n)
{
    const unsigned char *p = a, *q = b;

    for (size_t i = 0; i < n; i++)
        if (p[i] != q[i])
            return p[i] - q[i];
    return 0;
}

void *KLIB(memchr)(const void *s, int c, size_t n)
{
    const unsigned char *p = s;

    for (size_t i = 0; i < n; i++)
        if (p[i] == (unsigned char)c)
            return (void *)(uintptr_t)(p + i); /* drop const, as C's memchr does */
    return NULL;
}

size_t KLIB(strlen)(const char *s)
{
    const char *p = s;

    while (*p)
        p++;
    return (size_t)(p - s);
}

size_t KLIB(strnlen)(const char *s, size_t max)
{
    size_t n = 0;

    while (n < max && s[n])
        n++;
    return n;
}

int KLIB(strcmp)(const char *a, const char *b)
{
    const unsigned char *p = (const unsigned char *)a, *q = (const unsigned char *)b;

    while (*p && *p == *q) {
        p++;
        q++;
    }
    return *p - *q;
}

int KLIB(strncmp)(const char *a, const char *b, size_t n)
{
    const unsigned char *p = (const unsigned char *)a, *q = (const unsigned char *)b;

    for (size_t i = 0; i < n; i++) {
        if (p[i] != q[i])
            return p[i] - q[i];
        if (!p[i])
            break;
    }
    return 0;
}

static int ascii_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

int KLIB(strncasecmp)(const char *a, const char *b, size_t n)
{
    const unsigned char *p = (const unsigned char *)a, *q = (const unsigned char *)b;

    for (size_t i = 0; i < n; i++) {
        int x = ascii_lower(p[i]), y = ascii_lower(q[i]);
        if (x != y)
            return x - y;
        if (!x)
            break;
    }
    return 0;
}

int KLIB(strcasecmp)(const char *a, const char *b)
{
    return KLIB(strncasecmp)(a, b, SIZE_MAX);
}

char *KLIB(strchr)(const char *s, int c)
{
    for (;; s++) {
        if (*s == (char)c)
            return (char *)(uintptr_t)s;
        if (!*s)
            return NULL;
    }
}

char *KLIB(strrchr)(const char *s, int c)
{
    const char *last = NULL;

    for (;; s++) {
        if (*s == (char)c)
            last = s;
        if (!*s)
            return (char *)(uintptr_t)last;
    }
}

char *KLIB(strstr)(const char *haystack, const char *needle)
{
    size_t n = KLIB(strlen)(needle);

    if (n == 0)
        return (char *)(uintptr_t)haystack;
    /* Naive O(n*m): the kernel searches short strings (command lines, headers). */
    for (; *haystack; haystack++)
        if (*haystack == *needle && KLIB(strncmp)(haystack, needle, n) == 0)
            return (char *)(uintptr_t)haystack;
    return NULL;
}

char *KLIB(strcpy)(char *restrict dst, const char *restrict src)
{
    KLIB(memcpy)(dst, src, KLIB(strlen)(src) + 1);
    return dst;
}

char *KLIB(strncpy)(char *restrict dst, const char *restrict src, size_t n)
{
    size_t len = KLIB(strnlen)(src, n);

    KLIB(memcpy)(dst, src, len);
    KLIB(memset)(dst + len, 0, n - len);
    return dst;
}

size_t KLIB(strlcpy)(char *restrict dst, const char *restrict src, size_t size)
{
    size_t len = KLIB(strlen)(src);

    if (size) {
        size_t copy = len < size - 1 ? len : size - 1;
        KLIB(memcpy)(dst, src, copy);
        dst[copy] = '\0';
    }
    return len;
}

char *KLIB(strcat)(char *restrict dst, const char *restrict src)
{
    KLIB(strcpy)(dst + KLIB(strlen)(dst), src);
    return dst;
}

/* --- string to number (C11 7.22.1.4) --- */

static int is_space(int c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static int digit_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 10;
    return 99;
}

/*
 * The common parser: the magnitude as unsigned long long, saturated at
 * @limit, with the sign reported apart so each caller can apply its own
 * range. *@neg is set for a leading '-'.
 */
static unsigned long long parse_magnitude(const char *s, char **end, int base, int *neg,
                                          unsigned long long limit, int *overflow)
{
    const char *p = s;
    unsigned long long v = 0;
    int any = 0;

    *neg = 0;
    *overflow = 0;
    if (base < 0 || base == 1 || base > 36) {
        if (end)
            *end = (char *)(uintptr_t)s;
        return 0;
    }
    while (is_space((unsigned char)*p))
        p++;
    if (*p == '-' || *p == '+')
        *neg = *p++ == '-';
    /* "0x" is a prefix only when a hex digit follows; else the "0" is the number. */
    if ((base == 0 || base == 16) && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') &&
        digit_value((unsigned char)p[2]) < 16) {
        p += 2;
        base = 16;
    } else if (base == 0) {
        base = p[0] == '0' ? 8 : 10;
    }
    for (;; p++) {
        int d = digit_value((unsigned char)*p);
        if (d >= base)
            break;
        any = 1;
        if (v > (limit - (unsigned)d) / (unsigned)base) {
            *overflow = 1;
            v = limit;
        } else if (!*overflow) {
            v = v * (unsigned)base + (unsigned)d;
        }
    }
    if (end)
        *end = (char *)(uintptr_t)(any ? p : s);
    return any ? v : 0;
}

unsigned long long KLIB(strtoull)(const char *restrict s, char **restrict end, int base)
{
    int neg, overflow;
    unsigned long long v = parse_magnitude(s, end, base, &neg, ULLONG_MAX, &overflow);

    if (overflow)
        return ULLONG_MAX;
    return neg ? -v : v;
}

unsigned long KLIB(strtoul)(const char *restrict s, char **restrict end, int base)
{
    int neg, overflow;
    unsigned long long v = parse_magnitude(s, end, base, &neg, ULONG_MAX, &overflow);

    if (overflow)
        return ULONG_MAX;
    return neg ? -(unsigned long)v : (unsigned long)v;
}

long long KLIB(strtoll)(const char *restrict s, char **restrict end, int base)
{
    int neg, overflow;
    /* The magnitude of LLONG_MIN is one more than LLONG_MAX. */
    unsigned long long v = parse_magnitude(s, end, base, &neg, (unsigned long long)LLONG_MAX + 1, &overflow);

    if (!neg)
        return v > LLONG_MAX ? LLONG_MAX : (long long)v;
    return v > LLONG_MAX ? LLONG_MIN : -(long long)v;
}

long KLIB(strtol)(const char *restrict s, char **restrict end, int base)
{
    int neg, overflow;
    unsigned long long v = parse_magnitude(s, end, base, &neg, (unsigned long long)LONG_MAX + 1, &overflow);

    if (!neg)
        return v > LONG_MAX ? LONG_MAX : (long)v;
    return v > LONG_MAX ? LONG_MIN : -(long)v;
}

int KLIB(atoi)(const char *s)
{
    return (int)KLIB(strtol)(s, NULL, 10);
}

long KLIB(atol)(const char *s)
{
    return KLIB(strtol)(s, NULL, 10);
}

int KLIB(abs)(int v)
{
    return v < 0 ? -v : v;
}

long KLIB(labs)(long v)
{
    return v < 0 ? -v : v;
}

long long KLIB(llabs)(long long v)
{
    return v < 0 ? -v : v;
}
