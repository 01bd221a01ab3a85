/*
 * C11 7.8 <inttypes.h> format macros for x86_64 (LP64): int64_t is long,
 * intptr_t and intmax_t are long, int32_t is int. lwIP's X32_F/U32_F etc.
 * are built from these.
 */
#ifndef _INTTYPES_H
#define _INTTYPES_H

#include <stdint.h>

#if !defined(__x86_64__) || !defined(__LP64__)
#error "lib/include/inttypes.h is written for x86_64 LP64"
#endif

#define __PRI64  "l"
#define __PRIPTR "l"

#define PRId8  "d"
#define PRId16 "d"
#define PRId32 "d"
#define PRId64 __PRI64 "d"
#define PRIi8  "i"
#define PRIi16 "i"
#define PRIi32 "i"
#define PRIi64 __PRI64 "i"
#define PRIu8  "u"
#define PRIu16 "u"
#define PRIu32 "u"
#define PRIu64 __PRI64 "u"
#define PRIo8  "o"
#define PRIo16 "o"
#define PRIo32 "o"
#define PRIo64 __PRI64 "o"
#define PRIx8  "x"
#define PRIx16 "x"
#define PRIx32 "x"
#define PRIx64 __PRI64 "x"
#define PRIX8  "X"
#define PRIX16 "X"
#define PRIX32 "X"
#define PRIX64 __PRI64 "X"

#define PRIdLEAST8  PRId8
#define PRIdLEAST16 PRId16
#define PRIdLEAST32 PRId32
#define PRIdLEAST64 PRId64
#define PRIuLEAST8  PRIu8
#define PRIuLEAST16 PRIu16
#define PRIuLEAST32 PRIu32
#define PRIuLEAST64 PRIu64
#define PRIxLEAST8  PRIx8
#define PRIxLEAST16 PRIx16
#define PRIxLEAST32 PRIx32
#define PRIxLEAST64 PRIx64

/*
 * The fast types differ between compilers on x86_64: gcc makes
 * int_fast16_t/int_fast32_t long, clang short/int. Both make int_fast8_t
 * signed char (printed with "d" after promotion) and int_fast64_t long.
 */
#ifdef __clang__
#define __PRIFAST16 "h"
#define __PRIFAST32 ""
#else
#define __PRIFAST16 __PRI64
#define __PRIFAST32 __PRI64
#endif
#define PRIdFAST8  "d"
#define PRIdFAST16 __PRIFAST16 "d"
#define PRIdFAST32 __PRIFAST32 "d"
#define PRIdFAST64 __PRI64 "d"
#define PRIuFAST8  "u"
#define PRIuFAST16 __PRIFAST16 "u"
#define PRIuFAST32 __PRIFAST32 "u"
#define PRIuFAST64 __PRI64 "u"
#define PRIxFAST8  "x"
#define PRIxFAST16 __PRIFAST16 "x"
#define PRIxFAST32 __PRIFAST32 "x"
#define PRIxFAST64 __PRI64 "x"

#define PRIdMAX __PRI64 "d"
#define PRIiMAX __PRI64 "i"
#define PRIuMAX __PRI64 "u"
#define PRIxMAX __PRI64 "x"
#define PRIXMAX __PRI64 "X"
#define PRIoMAX __PRI64 "o"

#define PRIdPTR __PRIPTR "d"
#define PRIiPTR __PRIPTR "i"
#define PRIuPTR __PRIPTR "u"
#define PRIxPTR __PRIPTR "x"
#define PRIXPTR __PRIPTR "X"
#define PRIoPTR __PRIPTR "o"

#endif
