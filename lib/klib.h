/*
 * KLIB(name): how lib/ spells the C library functions it defines (memcpy,
 * snprintf, malloc, isdigit, ...).
 *
 * In the kernel it is just the standard name: KLIB(memcpy) is memcpy, so
 * lwIP, the compiler's own calls to memcpy/memset and every kernel file reach
 * these definitions through <string.h>, <stdio.h>, ... in lib/include/.
 *
 * The host unit tests (HOST_TEST) compile the same sources and link them into
 * a program that also has the host's libc, and the sanitizers' interceptors
 * for it. Defining a second memcpy or malloc there would clash at link time,
 * or worse, silently replace the libc ones under ASan. So on the host the
 * name gets a k_ prefix: KLIB(memcpy) is k_memcpy, and a test compares
 * k_snprintf against the host's snprintf side by side.
 *
 * Why a naming macro rather than a forced-include header of
 * "#define memcpy k_memcpy" lines: such renames also rewrite the host's own
 * <string.h>, <ctype.h> (where glibc defines isdigit() etc. as macros) and
 * <stdio.h> when a test includes them, so a test could no longer reach the
 * host's snprintf to compare against. With KLIB() the renaming is visible at
 * each definition and touches nothing outside lib/.
 */
#ifndef LIB_KLIB_H
#define LIB_KLIB_H

#ifdef HOST_TEST
#define KLIB(name) k_##name
#else
#define KLIB(name) name
#endif

#endif
