/* C11 7.4 <ctype.h> for the kernel: ASCII only, see lib/ctype.h. */
#ifndef _CTYPE_H
#define _CTYPE_H

#include "lib/ctype.h"

#endif
