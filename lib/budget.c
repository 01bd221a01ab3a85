/* The memory budget's arithmetic and shedding policy (lib/budget.h, docs/budget.md). */
#include "lib/budget.h"

static const char *const names[BUDGET_POOLS] = {
    [BUDGET_SEG] = "tcp_seg",         [BUDGET_PBUF] = "pbuf",       [BUDGET_HEAP] = "lwip_heap",
    [BUDGET_PBUF_POOL] = "pbuf_pool", [BUDGET_APPMEM] = "app_heap", [BUDGET_RXBUF] = "rx_buffers",
};

const char *budget_name(unsigned pool)
{
    return pool < BUDGET_POOLS ? names[pool] : "?";
}

uint64_t budget_reserve(const struct budget *b, unsigned pool)
{
    uint32_t free_slots = b->pcbs_used < b->pcbs_total ? b->pcbs_total - b->pcbs_used : 0;

    if (free_slots > b->reserve_slots)
        free_slots = b->reserve_slots;
    return (uint64_t)free_slots * b->pool[pool].per_conn_reserve;
}

uint64_t budget_shareable(const struct budget *b, unsigned pool)
{
    uint64_t r = budget_reserve(b, pool), t = b->pool[pool].total;

    return t > r ? t - r : 0;
}

uint64_t budget_headroom(const struct budget *b, unsigned pool)
{
    uint64_t s = budget_shareable(b, pool), u = b->pool[pool].used;

    return s > u ? s - u : 0;
}

unsigned budget_pool_pressure(const struct budget *b, unsigned pool)
{
    uint64_t s = budget_shareable(b, pool), u = b->pool[pool].used;

    if (b->pool[pool].total == 0)
        return 0; /* a pool this configuration does not have */
    if (u >= s)
        return BUDGET_PRESSURE_MAX;
    return (unsigned)(u * BUDGET_PRESSURE_MAX / s);
}

unsigned budget_pressure(const struct budget *b, unsigned *worst)
{
    unsigned max = 0, id = 0;

    for (unsigned i = 0; i < BUDGET_POOLS; i++) {
        unsigned p = budget_pool_pressure(b, i);

        if (p > max) {
            max = p;
            id = i;
        }
    }
    if (worst)
        *worst = id;
    return max;
}

uint64_t budget_share(const struct budget *b, unsigned pool, unsigned nconns)
{
    uint64_t s = budget_shareable(b, pool);
    uint64_t share = s / (nconns ? nconns : 1);
    unsigned p = budget_pool_pressure(b, pool);

    /* Full share up to BUDGET_SQUEEZE, then linearly down to nothing: the
     * closer the pool is to its reserve, the less anyone may add. */
    if (p > BUDGET_SQUEEZE)
        share = share * (BUDGET_PRESSURE_MAX - p) / (BUDGET_PRESSURE_MAX - BUDGET_SQUEEZE);
    return share;
}

uint32_t budget_send_room(const struct budget *b, const struct budget_cost *cost,
                          const uint64_t held[BUDGET_POOLS], unsigned nconns, uint32_t mss, uint32_t limit)
{
    uint64_t room = limit;
    bool holds_nothing = true;

    for (unsigned i = 0; i < BUDGET_POOLS; i++)
        if (held[i])
            holds_nothing = false;
    for (unsigned i = 0; i < BUDGET_POOLS; i++) {
        uint64_t per_seg = cost->per_seg[i] + (uint64_t)cost->per_byte[i] * mss;
        uint64_t share, more, head;

        if (per_seg == 0)
            continue;
        share = budget_share(b, i, nconns);
        more = share > held[i] ? share - held[i] : 0;
        head = budget_headroom(b, i);
        if (holds_nothing) {
            /* One segment, so the connection moves at all, out of the
             * reserve if need be: that is what the reserve is for (a new
             * connection's first answer). */
            uint64_t t = b->pool[i].total, u = b->pool[i].used;
            if (more < per_seg)
                more = per_seg;
            head = t > u ? t - u : 0;
            if (more > per_seg && more > budget_headroom(b, i))
                more = budget_headroom(b, i) > per_seg ? budget_headroom(b, i) : per_seg;
        }
        if (more > head)
            more = head; /* never into the reserve, but for that one segment */
        /* Whole segments only: a partial one costs a segment all the same. */
        uint64_t bytes = more / per_seg * mss;
        if (bytes < room)
            room = bytes;
    }
    return (uint32_t)room;
}

bool budget_admit(const struct budget *b)
{
    if (b->pcbs_used >= b->pcbs_total)
        return false;
    for (unsigned i = 0; i < BUDGET_POOLS; i++) {
        const struct budget_pool *p = &b->pool[i];

        if (p->total && p->used + p->per_conn_reserve > p->total)
            return false;
    }
    return true;
}

unsigned budget_ooseq_pbufs(unsigned pressure)
{
    if (pressure <= BUDGET_SQUEEZE)
        return BUDGET_OOSEQ_MAX;
    if (pressure >= BUDGET_PRESSURE_MAX)
        return BUDGET_OOSEQ_MIN;
    return BUDGET_OOSEQ_MIN + (BUDGET_OOSEQ_MAX - BUDGET_OOSEQ_MIN) * (BUDGET_PRESSURE_MAX - pressure) /
                                  (BUDGET_PRESSURE_MAX - BUDGET_SQUEEZE);
}

int budget_pick_victim(const struct budget_conn *c, unsigned n, unsigned pressure, uint32_t stall_ms)
{
    int best = -1;

    if (pressure < BUDGET_SHED)
        return -1;
    for (unsigned i = 0; i < n; i++) {
        if (c[i].stalled_ms < stall_ms || c[i].cost == 0)
            continue;
        if (best < 0 || c[i].cost > c[best].cost ||
            (c[i].cost == c[best].cost && c[i].age_ms < c[best].age_ms))
            best = (int)i;
    }
    return best;
}
