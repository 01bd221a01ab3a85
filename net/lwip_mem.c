/* lwIP's heap on the kernel heap, capped at MEM_SIZE (net/lwip_mem.h). */
#include "net/lwip_mem.h"
#include "lib/heap.h"
#include "lwip/stats.h"
#include <string.h>

static size_t held; /* kernel heap bytes in lwIP's blocks, headers included */

void lwip_mem_init(void)
{
    lwip_stats.mem.avail = MEM_SIZE;
}

size_t lwip_mem_held(void)
{
    return held;
}

/* lwIP's mem_malloc() adds its size word to what it asks for and, after we
 * return, counts the request in lwip_stats.mem.used: the limit is on that. */
void *lwip_mem_malloc(size_t size)
{
    if (size > MEM_SIZE || lwip_stats.mem.used > MEM_SIZE - size)
        return NULL;
    void *p = KLIB(malloc)(size);
    held += heap_block_size(p);
    return p;
}

void *lwip_mem_calloc(size_t n, size_t size)
{
    if (size && n > MEM_SIZE / size)
        return NULL;
    void *p = lwip_mem_malloc(n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void lwip_mem_free(void *p)
{
    held -= heap_block_size(p);
    KLIB(free)(p);
}
