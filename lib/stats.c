/*
 * /stats: the provider registry (stats.h). Freestanding: the clock comes from
 * stats_set_clock(), every counter from a provider.
 */
#include "lib/stats.h"

#include <errno.h>
#include <string.h>

struct provider {
    const char *name;
    stats_write_fn write;
    void *ctx;
};

static struct provider providers[STATS_MAX_PROVIDERS];
static unsigned nproviders;
static uint64_t (*uptime_ms)(void);

void stats_set_clock(uint64_t (*now_ms)(void))
{
    uptime_ms = now_ms;
}

int stats_register(const char *name, stats_write_fn write, void *ctx)
{
    if (!name || !*name || !write || strcmp(name, "uptime_ms") == 0)
        return -EINVAL;
    for (unsigned i = 0; i < nproviders; i++)
        if (strcmp(providers[i].name, name) == 0)
            return -EEXIST;
    if (nproviders == STATS_MAX_PROVIDERS)
        return -ENOSPC;
    providers[nproviders++] = (struct provider){name, write, ctx};
    return 0;
}

int stats_unregister(const char *name)
{
    for (unsigned i = 0; i < nproviders; i++) {
        if (strcmp(providers[i].name, name) == 0) {
            memmove(&providers[i], &providers[i + 1], (nproviders - i - 1) * sizeof(providers[0]));
            nproviders--;
            return 0;
        }
    }
    return -ENOENT;
}

/* ------------------------------------------------------------ the document */

void stats_write(struct json_out *o)
{
    json_begin_object(o);
    json_kv_u64(o, "uptime_ms", uptime_ms ? uptime_ms() : 0);
    for (unsigned i = 0; i < nproviders; i++) {
        unsigned floor = o->floor;

        json_key(o, providers[i].name);
        /* The provider cannot close what is not its own, and whatever it
         * leaves open (or a missing value) is mended afterwards. */
        o->floor = o->depth;
        providers[i].write(o, providers[i].ctx);
        json_close_to(o, o->floor);
        o->floor = floor;
    }
    json_end_object(o);
}
