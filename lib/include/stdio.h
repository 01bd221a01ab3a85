/*
 * C11 7.21 <stdio.h> for the kernel: only the formatting functions
 * (lib/printf.h). There are no FILE streams; printf() goes to the sink the
 * console installs with printf_set_sink().
 */
#ifndef _STDIO_H
#define _STDIO_H

#include <stdarg.h>
#include <stddef.h>

#include "lib/printf.h"

#define EOF (-1)

#endif
