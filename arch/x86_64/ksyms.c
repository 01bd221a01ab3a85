/* Symbol lookup over the sorted table that scripts/gen-ksyms.sh generates. */
#include "arch/x86_64/ksyms.h"
#include <stddef.h>
#include <string.h>

struct ksym {
    uint64_t addr;
    const char *name;
};

/* Defined in the generated ksyms.S (empty on the first link). */
extern const uint64_t ksyms_count;
extern const struct ksym ksyms_table[];
extern const char __text_start[], __text_end[];

const char *ksyms_lookup(uint64_t addr, uint64_t *offset)
{
    if (addr < (uint64_t)(uintptr_t)__text_start || addr >= (uint64_t)(uintptr_t)__text_end)
        return NULL;
    /* Last symbol whose address is <= addr. */
    size_t lo = 0, hi = ksyms_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ksyms_table[mid].addr <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    *offset = addr - ksyms_table[lo - 1].addr;
    return ksyms_table[lo - 1].name;
}

uint64_t ksyms_find(const char *name)
{
    for (uint64_t i = 0; i < ksyms_count; i++)
        if (strcmp(ksyms_table[i].name, name) == 0)
            return ksyms_table[i].addr;
    return 0;
}
