/*
 * Integer-only printf (C11 7.21.6.1 "The fprintf function"). See
 * lib/printf.h for what is and is not supported.
 *
 * One formatter, vcbprintf(), emits characters through a callback; the
 * buffer variants are a callback that stores into a bounded buffer and keeps
 * counting past its end, which is what snprintf's return value needs.
 */
#include "lib/printf.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

/* Flags (7.21.6.1p6). */
#define F_LEFT  0x01 /* '-': pad on the right */
#define F_PLUS  0x02 /* '+': always a sign on signed conversions */
#define F_SPACE 0x04 /* ' ': a space where a '+' would go */
#define F_ALT   0x08 /* '#': 0 for %o, 0x/0X for non-zero %x/%X */
#define F_ZERO  0x10 /* '0': pad numbers with zeros after sign and prefix */

enum length { LEN_NONE, LEN_HH, LEN_H, LEN_L, LEN_LL, LEN_Z, LEN_J, LEN_T };

/*
 * Widths and integer precisions past this are clamped: they only make
 * padding, and no sane format gets close. A string's precision is not: it
 * bounds how much of the string is read, and "%.*s" of a 5,000-byte URL
 * must print all of it (clamping it truncated echoed requests).
 */
#define PRINTF_FIELD_MAX 4096

/*
 * Where the characters go: a callback, or (fn NULL) straight into buf, as
 * snprintf wants. The buffer path matters: one indirect call per character
 * was most of an HTTP response's formatting time under QEMU's TCG, where an
 * indirect call and its return each cost a translation-block lookup.
 */
struct sink {
    printf_out_fn fn;
    void *arg;
    char *buf; /* fn == NULL: store here, up to size - 1 characters */
    size_t size;
    size_t count; /* characters produced so far, stored or not */
};

struct conv {
    unsigned flags;
    int width;
    int prec; /* -1: none given */
};

static inline void put(struct sink *o, char c)
{
    if (o->fn)
        o->fn(c, o->arg);
    else if (o->count + 1 < o->size)
        o->buf[o->count] = c;
    o->count++;
}

/* @n characters of @s, copied in one go into a buffer sink. */
static void put_n(struct sink *o, const char *s, size_t n)
{
    if (o->fn) {
        for (size_t i = 0; i < n; i++)
            o->fn(s[i], o->arg);
    } else if (o->count + 1 < o->size) {
        size_t room = o->size - 1 - o->count;
        memcpy(o->buf + o->count, s, n < room ? n : room);
    }
    o->count += n;
}

static void pad(struct sink *o, char c, int n)
{
    if (n > 0 && !o->fn && o->count + 1 < o->size) {
        size_t room = o->size - 1 - o->count;
        memset(o->buf + o->count, c, (size_t)n < room ? (size_t)n : room);
        o->count += (size_t)n;
        return;
    }
    while (n-- > 0)
        put(o, c);
}

static void put_str(struct sink *o, const struct conv *cv, const char *s)
{
    int len = 0;

    if (!s)
        s = "(null)";
    /* With a precision, s need not be terminated: read no further than it. */
    while ((cv->prec < 0 || len < cv->prec) && s[len])
        len++;
    if (!(cv->flags & F_LEFT))
        pad(o, ' ', cv->width - len);
    put_n(o, s, (size_t)len);
    if (cv->flags & F_LEFT)
        pad(o, ' ', cv->width - len);
}

/*
 * One integer conversion. The field is laid out as
 *   [spaces][sign][0x prefix][zeros][digits][spaces]
 * where zeros come from the precision (minimum digit count) or, without a
 * precision, from the '0' flag filling the width (7.21.6.1p6).
 * @force_prefix: print "0x" even for 0 (%p).
 */
static void put_int(struct sink *o, const struct conv *cv, uintmax_t mag, char sign, unsigned base, int upper,
                    int force_prefix)
{
    const char *digit_chars = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char digits[sizeof(uintmax_t) * 3]; /* 22 octal digits for 64 bits */
    const char *prefix = "";
    int nd = 0, zeros, len;

    /* 7.21.6.1p8: precision 0 and value 0 print no digits at all. */
    if (mag != 0 || cv->prec != 0) {
        uintmax_t v = mag;
        do {
            digits[nd++] = digit_chars[v % base];
            v /= base;
        } while (v);
    }
    if (base == 16 && (cv->flags & F_ALT) && (mag != 0 || force_prefix))
        prefix = upper ? "0X" : "0x";

    zeros = cv->prec > nd ? (cv->prec > PRINTF_FIELD_MAX ? PRINTF_FIELD_MAX : cv->prec) - nd : 0;
    /* '#' with %o: the precision grows just enough for a leading 0. */
    if (base == 8 && (cv->flags & F_ALT) && zeros == 0 && (nd == 0 || digits[nd - 1] != '0'))
        zeros = 1;

    len = (sign ? 1 : 0) + (prefix[0] ? 2 : 0) + zeros + nd;
    if ((cv->flags & F_ZERO) && !(cv->flags & F_LEFT) && cv->prec < 0 && cv->width > len) {
        zeros += cv->width - len;
        len = cv->width;
    }

    if (!(cv->flags & F_LEFT))
        pad(o, ' ', cv->width - len);
    if (sign)
        put(o, sign);
    for (const char *p = prefix; *p; p++)
        put(o, *p);
    pad(o, '0', zeros);
    while (nd > 0)
        put(o, digits[--nd]);
    if (cv->flags & F_LEFT)
        pad(o, ' ', cv->width - len);
}

/* Parse a decimal field, clamped to @max (without overflowing on the way). */
static int parse_field(const char **fmt, int max)
{
    int v = 0;

    while (**fmt >= '0' && **fmt <= '9') {
        int d = **fmt - '0';

        v = v > (max - d) / 10 ? max : v * 10 + d;
        (*fmt)++;
    }
    return v;
}

static int format(struct sink *sink, const char *fmt, va_list ap)
{
    struct sink o = *sink;
    va_list args;

    /* A local copy, so the list can be advanced here whatever va_list is. */
    va_copy(args, ap);
    while (*fmt) {
        const char *start = fmt;
        struct conv cv = {.flags = 0, .width = 0, .prec = -1};
        enum length len = LEN_NONE;

        if (*fmt != '%') {
            const char *lit = fmt;
            while (*fmt && *fmt != '%')
                fmt++;
            put_n(&o, lit, (size_t)(fmt - lit));
            continue;
        }
        fmt++;

        for (;; fmt++) {
            if (*fmt == '-')
                cv.flags |= F_LEFT;
            else if (*fmt == '+')
                cv.flags |= F_PLUS;
            else if (*fmt == ' ')
                cv.flags |= F_SPACE;
            else if (*fmt == '#')
                cv.flags |= F_ALT;
            else if (*fmt == '0')
                cv.flags |= F_ZERO;
            else
                break;
        }

        if (*fmt == '*') {
            int w = va_arg(args, int);
            fmt++;
            /* A negative '*' width is a '-' flag and a positive width (p5). */
            if (w < 0) {
                cv.flags |= F_LEFT;
                w = w < -PRINTF_FIELD_MAX ? PRINTF_FIELD_MAX : -w;
            }
            cv.width = w > PRINTF_FIELD_MAX ? PRINTF_FIELD_MAX : w;
        } else {
            cv.width = parse_field(&fmt, PRINTF_FIELD_MAX);
        }

        if (*fmt == '.') {
            fmt++;
            if (*fmt == '*') {
                int p = va_arg(args, int);
                fmt++;
                /* A negative '*' precision is taken as if omitted (p5). */
                cv.prec = p < 0 ? -1 : p;
            } else {
                cv.prec = parse_field(&fmt, INT_MAX); /* "." alone means 0 */
            }
        }

        switch (*fmt) {
        case 'h':
            len = fmt[1] == 'h' ? LEN_HH : LEN_H;
            fmt += len == LEN_HH ? 2 : 1;
            break;
        case 'l':
            len = fmt[1] == 'l' ? LEN_LL : LEN_L;
            fmt += len == LEN_LL ? 2 : 1;
            break;
        case 'L': /* glibc takes %Ld as long long; also long double for %Lf */
        case 'q': /* BSD quad */
            len = LEN_LL;
            fmt++;
            break;
        case 'z':
            len = LEN_Z;
            fmt++;
            break;
        case 'j':
            len = LEN_J;
            fmt++;
            break;
        case 't':
            len = LEN_T;
            fmt++;
            break;
        default:
            break;
        }

        char c = *fmt;
        if (c == '\0') {
            /* The format ended inside a conversion: show what was there. */
            while (start < fmt)
                put(&o, *start++);
            break;
        }
        fmt++;

        switch (c) {
        case 'd':
        case 'i': {
            intmax_t v;
            switch (len) {
            case LEN_HH:
                v = (signed char)va_arg(args, int);
                break;
            case LEN_H:
                v = (short)va_arg(args, int);
                break;
            case LEN_L:
                v = va_arg(args, long);
                break;
            case LEN_LL:
                v = va_arg(args, long long);
                break;
            /* %zd takes the signed type of size_t's width, as does %td. */
            case LEN_Z:
                v = va_arg(args, ptrdiff_t);
                break;
            case LEN_J:
                v = va_arg(args, intmax_t);
                break;
            case LEN_T:
                v = va_arg(args, ptrdiff_t);
                break;
            default:
                v = va_arg(args, int);
                break;
            }
            char sign = v < 0 ? '-' : (cv.flags & F_PLUS) ? '+' : (cv.flags & F_SPACE) ? ' ' : 0;
            /* Negate in unsigned arithmetic: -INTMAX_MIN does not exist. */
            uintmax_t mag = v < 0 ? -(uintmax_t)v : (uintmax_t)v;
            put_int(&o, &cv, mag, sign, 10, 0, 0);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
            uintmax_t v;
            switch (len) {
            case LEN_HH:
                v = (unsigned char)va_arg(args, unsigned);
                break;
            case LEN_H:
                v = (unsigned short)va_arg(args, unsigned);
                break;
            case LEN_L:
                v = va_arg(args, unsigned long);
                break;
            case LEN_LL:
                v = va_arg(args, unsigned long long);
                break;
            case LEN_Z:
                v = va_arg(args, size_t);
                break;
            case LEN_J:
                v = va_arg(args, uintmax_t);
                break;
            case LEN_T:
                v = va_arg(args, size_t);
                break;
            default:
                v = va_arg(args, unsigned);
                break;
            }
            unsigned base = c == 'u' ? 10 : c == 'o' ? 8 : 16;
            put_int(&o, &cv, v, 0, base, c == 'X', 0);
            break;
        }
        case 'p': {
            uintptr_t v = (uintptr_t)va_arg(args, void *);
            cv.flags |= F_ALT;
            put_int(&o, &cv, v, 0, 16, 0, 1);
            break;
        }
        case 'c': {
            char ch = (char)va_arg(args, int);
            if (!(cv.flags & F_LEFT))
                pad(&o, ' ', cv.width - 1);
            put(&o, ch);
            if (cv.flags & F_LEFT)
                pad(&o, ' ', cv.width - 1);
            break;
        }
        case 's':
            put_str(&o, &cv, va_arg(args, const char *));
            break;
        case '%':
            put(&o, '%');
            break;
        case 'n':
            (void)va_arg(args, void *);
            put(&o, '%');
            put(&o, 'n');
            put(&o, '?');
            break;
        default:
            /*
             * Floating point and anything unknown: visible, and no argument
             * taken (a double could not be fetched without SSE anyway).
             */
            put(&o, '%');
            put(&o, c);
            put(&o, '?');
            break;
        }
    }
    va_end(args);
    sink->count = o.count;
    return o.count > INT_MAX ? INT_MAX : (int)o.count;
}

int vcbprintf(printf_out_fn out, void *arg, const char *fmt, va_list ap)
{
    struct sink o = {.fn = out, .arg = arg};

    return format(&o, fmt, ap);
}

int cbprintf(printf_out_fn out, void *arg, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vcbprintf(out, arg, fmt, ap);
    va_end(ap);
    return n;
}

/* --- into a buffer --- */

int KLIB(vsnprintf)(char *restrict buf, size_t size, const char *restrict fmt, va_list ap)
{
    struct sink o = {.buf = buf, .size = size};
    int n = format(&o, fmt, ap);

    if (size > 0)
        buf[o.count < size ? o.count : size - 1] = '\0';
    return n;
}

int KLIB(snprintf)(char *restrict buf, size_t size, const char *restrict fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = KLIB(vsnprintf)(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

int KLIB(vsprintf)(char *restrict buf, const char *restrict fmt, va_list ap)
{
    /* No end to respect: SIZE_MAX keeps pos + 1 < size true for any real output. */
    return KLIB(vsnprintf)(buf, SIZE_MAX, fmt, ap);
}

int KLIB(sprintf)(char *restrict buf, const char *restrict fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = KLIB(vsprintf)(buf, fmt, ap);
    va_end(ap);
    return n;
}

/* --- to the console --- */

static printf_out_fn console_out;
static void *console_arg;

void printf_set_sink(printf_out_fn out, void *arg)
{
    console_out = out;
    console_arg = arg;
}

int KLIB(vprintf)(const char *restrict fmt, va_list ap)
{
    if (!console_out)
        return 0;
    return vcbprintf(console_out, console_arg, fmt, ap);
}

int KLIB(printf)(const char *restrict fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = KLIB(vprintf)(fmt, ap);
    va_end(ap);
    return n;
}

int KLIB(putchar)(int c)
{
    if (console_out)
        console_out((char)c, console_arg);
    return (unsigned char)c;
}

int KLIB(puts)(const char *s)
{
    if (console_out) {
        while (*s)
            console_out(*s++, console_arg);
        console_out('\n', console_arg);
    }
    return 1;
}
