/*
 * The printf family (C11 7.21.6) for the kernel and lwIP, integer-only.
 *
 * Supported: conversions d i u x X o c s p %; flags - + space # 0; field
 * width and precision, either may be '*'; length modifiers hh h l ll z j t.
 * %p prints like %#lx (0x-prefixed lowercase hex; NULL prints "0x0", where
 * glibc prints "(nil)"). %s of NULL prints "(null)" (cut by a precision like
 * any string).
 *
 * Not supported: floating point (%f %F %e %E %g %G %a %A). The kernel is
 * built with -mgeneral-regs-only, so no double can even be passed here;
 * such a conversion prints "%f?" (with its own letter) and consumes no
 * argument. On x86_64 doubles travel in the vector-register part of the
 * va_list, so the integer arguments after it still line up. %n is not
 * supported either (prints "%n?", consumes its pointer and stores nothing),
 * nor are wide characters (%lc %ls) or positional arguments (%1$d). Any other
 * unknown conversion prints as "%<letter>?".
 *
 * Return values are the number of characters the full output has (not
 * counting the NUL), even when a buffer truncated it; at most INT_MAX.
 *
 * printf() writes through the sink installed with printf_set_sink() (the
 * console module installs the serial port at boot); with no sink it formats
 * nothing and returns 0. None of these functions allocate.
 *
 * Names go through KLIB() (lib/klib.h): snprintf in the kernel, k_snprintf
 * in the host tests. Kernel code includes <stdio.h> (lib/include/).
 */
#ifndef LIB_PRINTF_H
#define LIB_PRINTF_H

#include <stdarg.h>
#include <stddef.h>

#include "lib/klib.h"

#define PRINTF_FORMAT(fmt_idx, first_arg) __attribute__((format(printf, fmt_idx, first_arg)))

/* A character sink: called once per output character, in order. */
typedef void (*printf_out_fn)(char c, void *arg);

/**
 * vcbprintf() - format @fmt and hand each character to @out(c, @arg).
 * For consoles and logs that have no buffer. Context: any; reentrant (no
 * state besides @arg).
 * Return: the number of characters produced.
 */
int vcbprintf(printf_out_fn out, void *arg, const char *fmt, va_list ap);
int cbprintf(printf_out_fn out, void *arg, const char *fmt, ...) PRINTF_FORMAT(3, 4);

/*
 * C's snprintf: writes at most @size - 1 characters and a NUL when @size > 0
 * (@buf may be NULL when @size is 0, to measure).
 * Return: the length the whole output would have.
 */
int KLIB(vsnprintf)(char *restrict buf, size_t size, const char *restrict fmt, va_list ap);
int KLIB(snprintf)(char *restrict buf, size_t size, const char *restrict fmt, ...) PRINTF_FORMAT(3, 4);
/* Unbounded, for lwIP and other code written against hosted C. Prefer snprintf. */
int KLIB(vsprintf)(char *restrict buf, const char *restrict fmt, va_list ap);
int KLIB(sprintf)(char *restrict buf, const char *restrict fmt, ...) PRINTF_FORMAT(2, 3);

/**
 * printf_set_sink() - where printf(), vprintf(), putchar() and puts() write.
 * @out: called per character; NULL discards output. Installed once at boot
 * by the console; lwIP's LWIP_PLATFORM_DIAG ends up here.
 */
void printf_set_sink(printf_out_fn out, void *arg);
int KLIB(vprintf)(const char *restrict fmt, va_list ap);
int KLIB(printf)(const char *restrict fmt, ...) PRINTF_FORMAT(1, 2);
/* Return: @c as unsigned char. */
int KLIB(putchar)(int c);
/* Writes @s and a newline. Return: a non-negative number. */
int KLIB(puts)(const char *s);

#endif
