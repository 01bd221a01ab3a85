/* Character classes, C11 7.4, "C" locale (ASCII). See lib/ctype.h. */
#include "lib/ctype.h"

int KLIB(isdigit)(int c)
{
    return c >= '0' && c <= '9';
}

int KLIB(isxdigit)(int c)
{
    return KLIB(isdigit)(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int KLIB(isspace)(int c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

int KLIB(isupper)(int c)
{
    return c >= 'A' && c <= 'Z';
}

int KLIB(islower)(int c)
{
    return c >= 'a' && c <= 'z';
}

int KLIB(isalpha)(int c)
{
    return KLIB(isupper)(c) || KLIB(islower)(c);
}

int KLIB(isalnum)(int c)
{
    return KLIB(isalpha)(c) || KLIB(isdigit)(c);
}

int KLIB(isprint)(int c)
{
    return c >= 0x20 && c <= 0x7e;
}

int KLIB(isgraph)(int c)
{
    return c > 0x20 && c <= 0x7e;
}

int KLIB(iscntrl)(int c)
{
    return (c >= 0 && c < 0x20) || c == 0x7f;
}

int KLIB(ispunct)(int c)
{
    return KLIB(isgraph)(c) && !KLIB(isalnum)(c);
}

int KLIB(toupper)(int c)
{
    return KLIB(islower)(c) ? c - 'a' + 'A' : c;
}

int KLIB(tolower)(int c)
{
    return KLIB(isupper)(c) ? c - 'A' + 'a' : c;
}
