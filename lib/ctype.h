/*
 * Character classes (C11 7.4 <ctype.h>) for the "C" locale, ASCII only:
 * bytes 0x80..0xff belong to no class. Arguments are an unsigned char value
 * or EOF (-1), as in C; anything else is simply in no class.
 *
 * Kernel code includes <ctype.h> (lib/include/). Names go through KLIB()
 * (lib/klib.h). These are functions rather than table-lookup macros so an
 * out-of-range argument cannot index outside a table.
 */
#ifndef LIB_CTYPE_H
#define LIB_CTYPE_H

#include "lib/klib.h"

int KLIB(isdigit)(int c);
int KLIB(isxdigit)(int c);
int KLIB(isspace)(int c); /* ' ', \t \n \v \f \r */
int KLIB(isalpha)(int c);
int KLIB(isalnum)(int c);
int KLIB(isupper)(int c);
int KLIB(islower)(int c);
int KLIB(isprint)(int c); /* 0x20..0x7e */
int KLIB(iscntrl)(int c);
int KLIB(ispunct)(int c);
int KLIB(isgraph)(int c);
int KLIB(toupper)(int c);
int KLIB(tolower)(int c);

#endif
