/*
 * The HTML status page served at GET /: one self-contained document (no
 * external scripts or styles) that fetches /stats every 500 ms and draws
 * each virtqueue as a ring, plus every other counter as a table. It copes
 * with providers that are absent or shaped differently: whatever object
 * holds a "queues" array of objects with a numeric "size" is drawn as rings.
 */
#ifndef APPS_STATUS_PAGE_H
#define APPS_STATUS_PAGE_H

#include <stddef.h>

extern const char status_page_html[];
extern const size_t status_page_len; /* bytes, without a terminating NUL */

#endif
