/*
 * C11 7.22 <stdlib.h> for the kernel: the heap (lib/heap.h) and the
 * number conversions (lib/string.h). No environment, no exit.
 */
#ifndef _STDLIB_H
#define _STDLIB_H

#include <stddef.h>

#include "lib/heap.h"
#include "lib/string.h"

#define EXIT_SUCCESS 0
#define EXIT_FAILURE 1

/*
 * abort(): declared for code written against hosted C (lwIP ports); the
 * kernel's panic module defines it (stop with a message, never return).
 */
_Noreturn void abort(void);

#endif
