/*
 * /stats "lwip": lwIP's own counters (lwIP 2.1.3 lwip/stats.h: struct stats_
 * lwip_stats; memp.c's pools; the TCP pcb lists of lwip/priv/tcp_priv.h).
 */
#include "net/stack_stats.h"
#include "lib/stats.h"

#include "lwip/memp.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/stats.h"

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

static void write_lwip(struct json_out *o, void *ctx)
{
    (void)ctx;
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

void stack_stats_register(void)
{
    stats_register("lwip", write_lwip, NULL);
}
