/*
 * The memory budget over lwIP 2.1.3 (net/net_budget.h, docs/budget.md).
 * lwIP's levels come from its statistics (MEM_STATS, MEMP_STATS: stats.h),
 * the connections from tcp_active_pcbs (tcp_priv.h); a connection's
 * progress is kept in two of its ext args (LWIP_TCP_PCB_NUM_EXT_ARGS).
 */
#include "net/net_budget.h"

#include <stdio.h>

#include "lib/json.h"
#include "lib/stats.h"
#include "arch/x86_64/timer.h"
#include "drivers/nic.h"
#include "lib/budget.h"
#include "lib/cmdline.h"
#include "lib/heap.h"
#include "lib/klog.h"
#include "lib/pmm.h"
#include "net/lwip_mem.h"
#include "lwip/memp.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/stats.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"

/* What queueing costs in lwIP: a segment is a TCP_SEG plus a PBUF_RAM for
 * its headers (struct pbuf, the link encapsulation, Ethernet, IPv6 and TCP
 * headers, mem.c's block header, rounded up); a zero-copy segment adds one
 * PBUF (REF/ROM) pointing at the app's bytes; a copied one carries its
 * bytes in that PBUF_RAM. */
#define SEG_HDR_BYTES 160

/* What one new connection needs to be accepted and answered: its SYN-ACK,
 * a response of a few segments, the app's connection structure and first
 * receive buffer (struct http_conn, a 2 KiB app_buf, a response chunk). */
#define RESERVE_SEGS   4
#define RESERVE_PBUFS  4
#define RESERVE_HEAP   (4 * (SEG_HDR_BYTES + TCP_MSS))
#define RESERVE_APPMEM (16 * 1024)
#define RESERVE_SLOTS  64          /* see docs/budget.md: 64 new connections at once, not all 600 */
#define APP_MIN_BUF    (16 * 1024) /* any connection may buffer a full request head */
#define SHED_PER_TICK  16
#define TICK_NS        250000000ull

static uint64_t appmem_total, appmem_base;
static uint32_t stall_ms;
static uint64_t next_tick_ns;
static u8_t id_progress, id_birth;
static unsigned ooseq_pbufs_now = BUDGET_OOSEQ_MAX;

static struct {
    uint64_t shed_stalled, refused, app_refused, throttled;
    uint64_t shed_bytes, ooseq_dropped;
    unsigned last_pressure, peak_pressure, ooseq_pbufs;
} st;

static struct klog_ratelimit rl_shed = KLOG_RATELIMIT_INIT(5000, 5);
static struct klog_ratelimit rl_refuse = KLOG_RATELIMIT_INIT(5000, 3);
static struct klog_ratelimit rl_ooseq = KLOG_RATELIMIT_INIT(5000, 2);

static void mem_level(struct budget_pool *p, const struct stats_mem *m)
{
    p->total = m ? m->avail : 0;
    p->used = m ? m->used : 0;
}

static void levels(struct budget *b)
{
    struct heap_stats hs;

    *b = (struct budget){0};
    mem_level(&b->pool[BUDGET_SEG], lwip_stats.memp[MEMP_TCP_SEG]);
    mem_level(&b->pool[BUDGET_PBUF], lwip_stats.memp[MEMP_PBUF]);
    mem_level(&b->pool[BUDGET_PBUF_POOL], lwip_stats.memp[MEMP_PBUF_POOL]);
    mem_level(&b->pool[BUDGET_HEAP], &lwip_stats.mem);
    b->pool[BUDGET_SEG].per_conn_reserve = RESERVE_SEGS;
    b->pool[BUDGET_PBUF].per_conn_reserve = RESERVE_PBUFS;
    b->pool[BUDGET_HEAP].per_conn_reserve = RESERVE_HEAP;
    heap_stats(&hs);
    b->pool[BUDGET_APPMEM].total = appmem_total;
    /* lwIP's blocks live in the same kernel heap: they are the lwip_heap pool's, not the apps'. */
    size_t app_used = hs.used_bytes - lwip_mem_held();
    b->pool[BUDGET_APPMEM].used = app_used > appmem_base ? app_used - appmem_base : 0;
    b->pool[BUDGET_APPMEM].per_conn_reserve = RESERVE_APPMEM;
    /* Every NIC's receive buffers that lwIP may hold, as one pool. */
    for (unsigned i = 0; i < nic_count(); i++) {
        struct nic *nic = nic_get(i);
        struct nic_counters c;
        nic->ops->counters(nic, &c);
        b->pool[BUDGET_RXBUF].total += c.rx_lend_max;
        b->pool[BUDGET_RXBUF].used += c.rx_lent;
    }
    b->pcbs_total = lwip_stats.memp[MEMP_TCP_PCB]->avail;
    b->pcbs_used = lwip_stats.memp[MEMP_TCP_PCB]->used;
    b->reserve_slots = RESERVE_SLOTS;
}

static void cost_of(bool copy, struct budget_cost *c)
{
    *c = (struct budget_cost){0};
    c->per_seg[BUDGET_SEG] = 1;
    c->per_seg[BUDGET_PBUF] = copy ? 0 : 1;
    c->per_seg[BUDGET_HEAP] = SEG_HDR_BYTES;
    c->per_byte[BUDGET_HEAP] = copy ? 1 : 0;
}

/* What @pcb's send queue holds: lwIP counts pbufs (snd_queuelen), one per
 * copied segment, two per zero-copy one. */
static uint32_t queued_bytes(const struct tcp_pcb *pcb)
{
    return pcb->snd_buf < TCP_SND_BUF ? TCP_SND_BUF - pcb->snd_buf : 0;
}

static void held_by(const struct tcp_pcb *pcb, bool copy, uint64_t held[BUDGET_POOLS])
{
    uint32_t segs = copy ? pcb->snd_queuelen : (pcb->snd_queuelen + 1u) / 2u;

    for (unsigned i = 0; i < BUDGET_POOLS; i++)
        held[i] = 0;
    held[BUDGET_SEG] = segs;
    held[BUDGET_PBUF] = copy ? 0 : segs;
    held[BUDGET_HEAP] = (uint64_t)segs * SEG_HDR_BYTES + (copy ? queued_bytes(pcb) : 0);
}

static unsigned active_conns(void)
{
    unsigned n = 0;

    for (const struct tcp_pcb *p = tcp_active_pcbs; p; p = p->next)
        n++;
    return n;
}

size_t net_budget_tcp_room(const struct tcp_pcb *pcb, bool copy)
{
    struct budget b;
    struct budget_cost c;
    uint64_t held[BUDGET_POOLS];
    uint32_t limit = tcp_sndbuf(pcb), room;

    levels(&b);
    cost_of(copy, &c);
    held_by(pcb, copy, held);
    room = budget_send_room(&b, &c, held, active_conns(), TCP_MSS, limit);
    if (room < limit)
        st.throttled++;
    return room;
}

bool net_budget_admit(void)
{
    struct budget b;

    levels(&b);
    if (budget_admit(&b))
        return true;
    st.refused++;
    if (klog_ratelimit(&rl_refuse)) {
        unsigned worst;
        unsigned p = budget_pressure(&b, &worst);
        klog(LOG_WARN, "budget: refusing a new connection: %s at %u/1000 of its budget, %u/%u pcbs",
             budget_name(worst), p, b.pcbs_used, b.pcbs_total);
    }
    return false;
}

bool net_budget_app_grow(size_t old_cap, size_t new_cap)
{
    struct budget b;

    if (new_cap <= old_cap || new_cap <= APP_MIN_BUF)
        return true;
    levels(&b);
    if (new_cap - old_cap <= budget_headroom(&b, BUDGET_APPMEM) &&
        new_cap <= budget_share(&b, BUDGET_APPMEM, active_conns()))
        return true;
    st.app_refused++;
    if (klog_ratelimit(&rl_refuse))
        klog(LOG_WARN, "budget: an app buffer may not grow to %zu bytes (app heap %u/1000 of its budget)",
             new_cap, budget_pool_pressure(&b, BUDGET_APPMEM));
    return false;
}

unsigned net_budget_ooseq_pbufs(const struct tcp_pcb *pcb)
{
    unsigned sum = 0, kept = 0;
    bool over = false;

    /* The walk lwIP is about to make (tcp_receive()): from the first segment
     * that takes the count past the limit, everything goes. */
    for (const struct tcp_seg *s = pcb->ooseq; s; s = s->next) {
        sum += pbuf_clen(s->p);
        if (!over && sum > ooseq_pbufs_now)
            over = true;
        if (!over)
            kept = sum;
    }
    if (over) {
        st.ooseq_dropped += sum - kept;
        if (klog_ratelimit(&rl_ooseq))
            klog(LOG_WARN, "budget: %s:%u -> port %u: dropped %u out-of-order pbufs beyond the limit of %u",
                 ipaddr_ntoa(&pcb->remote_ip), pcb->remote_port, pcb->local_port, sum - kept,
                 ooseq_pbufs_now);
    }
    return ooseq_pbufs_now;
}

/* ---- progress: ext arg 0 is (lastack, the time it last moved), 1 the birth time ---- */

static uint32_t stalled_for(struct tcp_pcb *pcb, uint32_t now)
{
    uintptr_t v = (uintptr_t)tcp_ext_arg_get(pcb, id_progress);
    uint32_t ack = (uint32_t)(v >> 32), since = (uint32_t)v;

    if (!tcp_ext_arg_get(pcb, id_birth))
        tcp_ext_arg_set(pcb, id_birth, (void *)(uintptr_t)(now | 1u));
    /* Moving: nothing outstanding, or the peer acknowledged something new
     * since the last look. A zero window holds lastack still. */
    if ((!pcb->unsent && !pcb->unacked) || v == 0 || ack != pcb->lastack) {
        tcp_ext_arg_set(pcb, id_progress, (void *)(((uintptr_t)pcb->lastack << 32) | now));
        return 0;
    }
    return now - since;
}

static uint64_t cost_now(const struct tcp_pcb *pcb)
{
    uint64_t c = queued_bytes(pcb) + (uint64_t)pcb->snd_queuelen * SEG_HDR_BYTES;

    for (const struct tcp_seg *s = pcb->ooseq; s; s = s->next)
        c += (uint64_t)pbuf_clen(s->p) * 2048u;
    if (pcb->refused_data)
        c += pcb->refused_data->tot_len;
    return c;
}

static struct tcp_pcb *cand_pcb[MEMP_NUM_TCP_PCB];
static struct budget_conn cand[MEMP_NUM_TCP_PCB];

void net_budget_tick(uint64_t now_ns)
{
    struct budget b;
    unsigned n = 0, worst, ooseq = 0;
    uint32_t now = sys_now();

    if (now_ns < next_tick_ns)
        return;
    next_tick_ns = now_ns + TICK_NS;
    for (struct tcp_pcb *p = tcp_active_pcbs; p && n < MEMP_NUM_TCP_PCB; p = p->next) {
        uintptr_t birth = (uintptr_t)tcp_ext_arg_get(p, id_birth);

        cand[n].stalled_ms = stalled_for(p, now);
        cand[n].cost = cost_now(p);
        cand[n].age_ms = birth ? now - (uint32_t)birth : 0;
        for (const struct tcp_seg *s = p->ooseq; s; s = s->next)
            ooseq += pbuf_clen(s->p);
        cand_pcb[n++] = p;
    }
    st.ooseq_pbufs = ooseq;
    levels(&b);
    st.last_pressure = budget_pressure(&b, &worst);
    if (st.last_pressure > st.peak_pressure)
        st.peak_pressure = st.last_pressure;
    ooseq_pbufs_now = budget_ooseq_pbufs(st.last_pressure);

    for (unsigned shed = 0; shed < SHED_PER_TICK; shed++) {
        int v = budget_pick_victim(cand, n, st.last_pressure, stall_ms);
        if (v < 0)
            break;
        struct tcp_pcb *pcb = cand_pcb[v];
        if (klog_ratelimit(&rl_shed))
            klog(LOG_WARN,
                 "budget: reset %s:%u -> port %u: no progress for %u ms (window %u), holding %llu bytes; "
                 "%s at %u/1000 of its budget",
                 ipaddr_ntoa(&pcb->remote_ip), pcb->remote_port, pcb->local_port, cand[v].stalled_ms,
                 (unsigned)pcb->snd_wnd, (unsigned long long)cand[v].cost, budget_name(worst),
                 st.last_pressure);
        st.shed_stalled++;
        st.shed_bytes += cand[v].cost;
        cand[v].cost = 0; /* never picked twice */
        tcp_abort(pcb);   /* the app hears of it through its err callback */
        levels(&b);
        st.last_pressure = budget_pressure(&b, &worst);
    }
}

/* ---- /stats "budget" ---- */

static void write_budget_stats(struct json_out *o, void *ctx)
{
    struct budget b;
    unsigned worst;

    (void)ctx;
    levels(&b);
    json_begin_object(o);
    json_kv_u64(o, "pressure", budget_pressure(&b, &worst));
    json_kv_string(o, "worst", budget_name(worst));
    json_kv_u64(o, "peak_pressure", st.peak_pressure);
    json_kv_u64(o, "conns", active_conns());
    json_kv_u64(o, "pcbs_total", b.pcbs_total);
    json_kv_u64(o, "pcbs_used", b.pcbs_used);
    json_kv_u64(o, "reserve_slots", b.reserve_slots);
    json_kv_u64(o, "stall_ms", stall_ms);
    json_kv_u64(o, "shed_stalled", st.shed_stalled);
    json_kv_u64(o, "shed_bytes", st.shed_bytes);
    json_kv_u64(o, "refused", st.refused);
    json_kv_u64(o, "app_buf_refused", st.app_refused);
    json_kv_u64(o, "send_throttled", st.throttled);
    json_kv_u64(o, "ooseq_pbufs", st.ooseq_pbufs);
    json_kv_u64(o, "ooseq_limit", ooseq_pbufs_now);
    json_kv_u64(o, "ooseq_dropped", st.ooseq_dropped);
    json_key(o, "pools");
    json_begin_object(o);
    for (unsigned i = 0; i < BUDGET_POOLS; i++) {
        json_key(o, budget_name(i));
        json_begin_object(o);
        json_kv_u64(o, "total", b.pool[i].total);
        json_kv_u64(o, "used", b.pool[i].used);
        json_kv_u64(o, "per_conn_reserve", b.pool[i].per_conn_reserve);
        json_kv_u64(o, "reserve", budget_reserve(&b, i));
        json_kv_u64(o, "headroom", budget_headroom(&b, i));
        json_kv_u64(o, "share", budget_share(&b, i, active_conns() + 1));
        json_kv_u64(o, "pressure", budget_pool_pressure(&b, i));
        json_end_object(o);
    }
    json_end_object(o);
    json_end_object(o);
}

void net_budget_init(void)
{
    struct heap_stats hs;
    struct pmm_stats ps;

    heap_stats(&hs);
    pmm_stats(&ps);
    /* The apps may buffer into half of the RAM still free at boot: the
     * other half stays for everything else the kernel allocates (lwIP's
     * heap, up to MEM_SIZE, among it). */
    appmem_base = hs.used_bytes - lwip_mem_held();
    appmem_total = (ps.free_pages * HEAP_PAGE_SIZE + hs.free_bytes) / 2;
    stall_ms = (uint32_t)cmdline_get_u64("budget_stall_ms", 2000);
    id_progress = tcp_ext_arg_alloc_id();
    id_birth = tcp_ext_arg_alloc_id();
    stats_register("budget", write_budget_stats, NULL);
    klog(LOG_INFO, "budget: app heap %llu KiB, %u pcbs with a reserve for %u, stall %u ms",
         (unsigned long long)(appmem_total / 1024), (unsigned)MEMP_NUM_TCP_PCB, RESERVE_SLOTS, stall_ms);
}
