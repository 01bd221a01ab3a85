/* DMA memory: whole pages from the page-frame allocator, identity-mapped. */
#include "arch/x86_64/dma.h"
#include "arch/x86_64/paging.h"
#include "lib/pmm.h"
#include <string.h>

void *dma_alloc_uninit(size_t size, uint64_t *phys)
{
    size_t pages = (size + PAGE_SIZE - 1) / PAGE_SIZE;
    if (pages == 0)
        return NULL;
    uint64_t p = pmm_alloc_pages(pages);
    if (!p)
        return NULL;
    if (phys)
        *phys = p;
    return phys_to_virt(p);
}

void *dma_alloc(size_t size, uint64_t *phys)
{
    uint64_t p;
    void *v = dma_alloc_uninit(size, &p);

    if (!v)
        return NULL;
    memset(v, 0, (size + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE);
    if (phys)
        *phys = p;
    return v;
}

void dma_free(void *virt, size_t size)
{
    if (virt)
        pmm_free_pages(virt_to_phys(virt), (size + PAGE_SIZE - 1) / PAGE_SIZE);
}

size_t dma_free_bytes(void)
{
    struct pmm_stats st;
    pmm_stats(&st);
    return (size_t)(st.free_pages * PAGE_SIZE);
}
