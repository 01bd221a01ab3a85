/*
 * /stats: the provider registry and lwIP's own counters (lwIP 2.1.3
 * lwip/stats.h: struct stats_ lwip_stats; memp.c's pools; the TCP pcb lists
 * of lwip/priv/tcp_priv.h).
 */
#include "apps/stats.h"

#include <errno.h>
#include <string.h>

#include "arch/x86_64/timer.h"
#include "lwip/memp.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/stats.h"

struct provider {
    const char *name;
    stats_write_fn write;
    void *ctx;
};

static struct provider providers[STATS_MAX_PROVIDERS];
static unsigned nproviders;

int stats_register(const char *name, stats_write_fn write, void *ctx)
{
    if (!name || !*name || !write || strcmp(name, "uptime_ms") == 0 || strcmp(name, "lwip") == 0)
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

/* ------------------------------------------------------------ lwIP */

/* Pool names, in memp_t order: lwIP keeps its own only with LWIP_DEBUG. */
static const char *const memp_names[] = {
#define LWIP_MEMPOOL(name, num, size, desc) #name,
#include "lwip/priv/memp_std.h"
};
_Static_assert(sizeof(memp_names) / sizeof(memp_names[0]) == MEMP_MAX, "one name per lwIP pool");

static void write_mem(struct json_out *o, const struct stats_mem *m)
{
    json_begin_object(o);
    json_kv_u64(o, "avail", m->avail);
    json_kv_u64(o, "used", m->used);
    json_kv_u64(o, "max", m->max);
    json_kv_u64(o, "err", m->err);
    json_kv_u64(o, "illegal", m->illegal);
    json_end_object(o);
}

static void write_proto(struct json_out *o, const char *name, const struct stats_proto *p)
{
    json_key(o, name);
    json_begin_object(o);
    json_kv_u64(o, "xmit", p->xmit);
    json_kv_u64(o, "recv", p->recv);
    json_kv_u64(o, "drop", p->drop);
    json_kv_u64(o, "chkerr", p->chkerr);
    json_kv_u64(o, "lenerr", p->lenerr);
    json_kv_u64(o, "memerr", p->memerr);
    json_kv_u64(o, "rterr", p->rterr);
    json_kv_u64(o, "proterr", p->proterr);
    json_kv_u64(o, "opterr", p->opterr);
    json_kv_u64(o, "err", p->err);
    json_end_object(o);
}

static unsigned count_pcbs(const struct tcp_pcb *pcb)
{
    unsigned n = 0;

    for (; pcb; pcb = pcb->next)
        n++;
    return n;
}

static void write_lwip(struct json_out *o)
{
    json_begin_object(o);
    json_key(o, "mem");
    write_mem(o, &lwip_stats.mem);
    json_key(o, "memp");
    json_begin_object(o);
    for (unsigned i = 0; i < MEMP_MAX; i++) {
        json_key(o, memp_names[i]);
        write_mem(o, lwip_stats.memp[i]);
    }
    json_end_object(o);
    /* Connections open, by lwIP's lists. */
    json_key(o, "tcp_pcbs");
    json_begin_object(o);
    json_kv_u64(o, "active", count_pcbs(tcp_active_pcbs));
    json_kv_u64(o, "time_wait", count_pcbs(tcp_tw_pcbs));
    json_kv_u64(o, "listen", count_pcbs(tcp_listen_pcbs.pcbs));
    json_kv_u64(o, "bound", count_pcbs(tcp_bound_pcbs));
    json_end_object(o);
    write_proto(o, "link", &lwip_stats.link);
    write_proto(o, "etharp", &lwip_stats.etharp);
    write_proto(o, "ip", &lwip_stats.ip);
    write_proto(o, "ip_frag", &lwip_stats.ip_frag);
    write_proto(o, "icmp", &lwip_stats.icmp);
    write_proto(o, "udp", &lwip_stats.udp);
    write_proto(o, "tcp", &lwip_stats.tcp);
    write_proto(o, "ip6", &lwip_stats.ip6);
    write_proto(o, "icmp6", &lwip_stats.icmp6);
    write_proto(o, "nd6", &lwip_stats.nd6);
    json_end_object(o);
}

/* ------------------------------------------------------------ the document */

void stats_write(struct json_out *o)
{
    json_begin_object(o);
    json_kv_u64(o, "uptime_ms", clock_ns() / NS_PER_MS);
    json_key(o, "lwip");
    write_lwip(o);
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
