/*
 * C11 7.2 <assert.h> for the kernel. A failed assert() calls
 * assert_fail(), which the kernel's panic module defines: it reports the
 * expression and place and does not return. NDEBUG removes the checks, as
 * in C; unlike <assert.h> elsewhere this header is not meant to be included
 * twice with different NDEBUG settings in one file.
 */
#ifndef _ASSERT_H
#define _ASSERT_H

_Noreturn void assert_fail(const char *expr, const char *file, int line, const char *func);

#ifdef NDEBUG
#define assert(expr) ((void)0)
#else
#define assert(expr) ((expr) ? (void)0 : assert_fail(#expr, __FILE__, __LINE__, __func__))
#endif

#define static_assert _Static_assert

#endif
