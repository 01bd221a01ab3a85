/*
 * The string and memory functions of the C library (C11 7.24 <string.h>,
 * plus strnlen, strlcpy, strcasecmp/strncasecmp from POSIX/BSD) and the
 * string-to-number conversions of 7.22.1 <stdlib.h>, for the kernel and lwIP.
 *
 * Kernel code includes <string.h> or <stdlib.h> (lib/include/), which pull
 * this in. The names go through KLIB() (lib/klib.h): standard names in the
 * kernel, k_ names in the host unit tests.
 *
 * memcpy, memmove and memset use the x86 string instructions (rep movs/stos),
 * which the compiler also relies on: with -ffreestanding gcc still emits
 * calls to memcpy, memmove, memset and memcmp for struct copies and loops.
 */
#ifndef LIB_STRING_H
#define LIB_STRING_H

#include <stddef.h>

#include "lib/klib.h"

/* Copy @n bytes; the ranges must not overlap (use memmove). @n may be 0. */
void *KLIB(memcpy)(void *restrict dst, const void *restrict src, size_t n);
/* Copy @n bytes; the ranges may overlap. */
void *KLIB(memmove)(void *dst, const void *src, size_t n);
void *KLIB(memset)(void *dst, int c, size_t n);
/* Compares as unsigned char; returns <0, 0 or >0. */
int KLIB(memcmp)(const void *a, const void *b, size_t n);
void *KLIB(memchr)(const void *s, int c, size_t n);

size_t KLIB(strlen)(const char *s);
/* strlen() that reads at most @max bytes (POSIX). */
size_t KLIB(strnlen)(const char *s, size_t max);
int KLIB(strcmp)(const char *a, const char *b);
int KLIB(strncmp)(const char *a, const char *b, size_t n);
/* ASCII case-insensitive comparisons (POSIX <strings.h>). */
int KLIB(strcasecmp)(const char *a, const char *b);
int KLIB(strncasecmp)(const char *a, const char *b, size_t n);
/* strchr(s, '\0') returns the terminator, as C requires. */
char *KLIB(strchr)(const char *s, int c);
char *KLIB(strrchr)(const char *s, int c);
char *KLIB(strstr)(const char *haystack, const char *needle);

char *KLIB(strcpy)(char *restrict dst, const char *restrict src);
/* C strncpy: pads with NULs up to @n and does NOT terminate a long @src. */
char *KLIB(strncpy)(char *restrict dst, const char *restrict src, size_t n);
/*
 * BSD strlcpy: copies at most @size - 1 bytes and terminates when @size > 0.
 * Return: strlen(@src), so a result >= @size means the copy was truncated.
 */
size_t KLIB(strlcpy)(char *restrict dst, const char *restrict src, size_t size);
char *KLIB(strcat)(char *restrict dst, const char *restrict src);

/*
 * C11 7.22.1.4: skip white space, take an optional sign, then digits in @base
 * (2..36; 0 means decimal, or octal after "0", or hex after "0x"; base 16
 * also accepts a "0x" prefix). *@end (if not NULL) gets the first byte not
 * used, or @s when no digits were found. Out-of-range values saturate to the
 * type's limits (strtoul of "-1" is ULONG_MAX, as in C). errno is NOT set:
 * the kernel has no per-thread errno, so callers that care check *@end and
 * compare against the limits.
 */
long KLIB(strtol)(const char *restrict s, char **restrict end, int base);
long long KLIB(strtoll)(const char *restrict s, char **restrict end, int base);
unsigned long KLIB(strtoul)(const char *restrict s, char **restrict end, int base);
unsigned long long KLIB(strtoull)(const char *restrict s, char **restrict end, int base);
/* strtol(s, NULL, 10) converted to int / long (no error reporting, as in C). */
int KLIB(atoi)(const char *s);
long KLIB(atol)(const char *s);

int KLIB(abs)(int v);
long KLIB(labs)(long v);
long long KLIB(llabs)(long long v);

#endif
