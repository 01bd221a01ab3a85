/*
 * The memory budget: pure arithmetic, no lwIP (docs/budget.md).
 *
 * Every pool connections draw from (lwIP's segments, pbuf headers, heap and
 * pbuf pool, the kernel heap the apps buffer into, the NIC's receive
 * buffers) is described by what it holds, what is in use and what one new
 * connection needs to be accepted and answered. From that:
 *
 *   reserve   = min(free pcb slots, reserve_slots) * per_conn_reserve
 *               untouchable by established connections' send queues;
 *   shareable = total - reserve;      headroom = shareable - used;
 *   pressure  = used / shareable, in per mille, the worst pool's;
 *   share     = shareable / connections, cut linearly to 0 as pressure goes
 *               from 1/2 to 1: what one connection may have queued.
 *
 * Linux's tcp_mem (pressure) and per-socket sndbuf autotuning are the model;
 * the reserve is what makes "N connections never exhaust what connection
 * N+1 needs" true by construction. net/net_budget.c fills the numbers in
 * from lwIP and asks this module; the host tests (tests/unit/test_budget.c)
 * check the arithmetic and the shedding policy.
 *
 * Context: any (no state of its own).
 */
#ifndef LIB_BUDGET_H
#define LIB_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

enum budget_pool_id {
    BUDGET_SEG,       /* lwIP TCP_SEG: one per queued segment */
    BUDGET_PBUF,      /* lwIP PBUF (REF/ROM headers): one per zero-copy segment */
    BUDGET_HEAP,      /* lwIP heap bytes: copied data, segment headers, rx copies */
    BUDGET_PBUF_POOL, /* lwIP PBUF_POOL: reassembly, ICMP */
    BUDGET_APPMEM,    /* kernel heap bytes the apps buffer requests and responses in */
    BUDGET_RXBUF,     /* NIC receive buffers lwIP holds (the rest belongs to the ring) */
    BUDGET_POOLS
};

struct budget_pool {
    uint64_t total;            /* what the pool holds */
    uint64_t used;             /* in use now */
    uint64_t per_conn_reserve; /* what one new connection needs */
};

struct budget {
    struct budget_pool pool[BUDGET_POOLS];
    uint32_t pcbs_total, pcbs_used; /* TCP pcbs (the connection slots) */
    uint32_t reserve_slots;         /* at most this many free slots get a reserve */
};

/* Pressure thresholds, per mille of the shareable part in use. */
#define BUDGET_SQUEEZE      500 /* shares start to shrink */
#define BUDGET_SHED         875 /* stalled connections are reset */
#define BUDGET_PRESSURE_MAX 1000

/* Out-of-order pbufs one connection may hold: BUDGET_OOSEQ_MAX, down to
 * BUDGET_OOSEQ_MIN at full pressure. */
#define BUDGET_OOSEQ_MAX 64
#define BUDGET_OOSEQ_MIN 4

/** budget_name() - the pool's name in /stats and the log ("tcp_seg", ...). */
const char *budget_name(unsigned pool);

/** budget_reserve() - what @pool keeps for connections not yet accepted. */
uint64_t budget_reserve(const struct budget *b, unsigned pool);

/** budget_shareable() - total less the reserve (0 if the reserve is larger). */
uint64_t budget_shareable(const struct budget *b, unsigned pool);

/** budget_headroom() - what established connections may still take from @pool (0 when none). */
uint64_t budget_headroom(const struct budget *b, unsigned pool);

/** budget_pool_pressure() - used / shareable of @pool, per mille, at most BUDGET_PRESSURE_MAX. */
unsigned budget_pool_pressure(const struct budget *b, unsigned pool);

/** budget_pressure() - the worst pool's pressure; its id in *@worst if @worst. */
unsigned budget_pressure(const struct budget *b, unsigned *worst);

/** budget_share() - what one of @nconns connections may hold of @pool now. */
uint64_t budget_share(const struct budget *b, unsigned pool, unsigned nconns);

/**
 * struct budget_cost - what a connection's queued send data costs: per
 * segment (of up to @mss bytes) and per byte, in each pool.
 */
struct budget_cost {
    uint32_t per_seg[BUDGET_POOLS];
    uint32_t per_byte[BUDGET_POOLS];
};

/**
 * budget_send_room() - how many more bytes a connection may queue for
 * sending (tcp_write), given what it holds already (@held, per pool),
 * @nconns connections sharing, segments of @mss bytes, and @limit (lwIP's
 * own room, tcp_sndbuf()). Never more than the headroom of any pool, so
 * the reserve stays whole, with one exception: a connection holding
 * nothing may always queue one segment while the pool has it, out of the
 * reserve if need be (a new connection's first answer; none starves).
 * Return: bytes, 0..@limit.
 */
uint32_t budget_send_room(const struct budget *b, const struct budget_cost *cost,
                          const uint64_t held[BUDGET_POOLS], unsigned nconns, uint32_t mss, uint32_t limit);

/**
 * budget_admit() - may a new connection be accepted: a pcb slot is free and
 * every pool still has what one connection needs (used + per_conn_reserve
 * <= total). False: refuse it (503 where an answer fits, else a reset).
 */
bool budget_admit(const struct budget *b);

/** budget_ooseq_pbufs() - out-of-order pbufs one connection may hold at @pressure. */
unsigned budget_ooseq_pbufs(unsigned pressure);

/**
 * struct budget_conn - a shedding candidate: @cost is what it holds (bytes,
 * all pools together), @stalled_ms how long it has made no progress (zero
 * window or no new acknowledgement with data outstanding; 0 when moving),
 * @age_ms how long it has existed.
 */
struct budget_conn {
    uint64_t cost;
    uint32_t stalled_ms;
    uint32_t age_ms;
};

/**
 * budget_pick_victim() - the connection to reset at @pressure: none below
 * BUDGET_SHED; else, among the connections stalled for @stall_ms or more,
 * the most expensive (on a tie, the newest). Moving connections are never
 * picked: the shares throttle them.
 * Return: the index in @c, or -1.
 */
int budget_pick_victim(const struct budget_conn *c, unsigned n, unsigned pressure, uint32_t stall_ms);

#endif
