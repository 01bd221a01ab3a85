/* C11 7.24 <string.h> for the kernel: the definitions are in lib/string.c. */
#ifndef _STRING_H
#define _STRING_H

#include "lib/string.h"

#endif
