/* POSIX <strings.h>: strcasecmp, strncasecmp (lib/string.c). */
#ifndef _STRINGS_H
#define _STRINGS_H

#include "lib/string.h"

#endif
