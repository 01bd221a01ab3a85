/*
 * TCP's front door (net/tcp_guard.h): RFC 6528 ISNs and SYN cookies (RFC
 * 4987 3.6) for lwIP 2.1.3, through its hooks, with no change to lwIP.
 *
 * A SYN to a listener goes one of two ways, decided in the input hook
 * before tcp_listen_input() sees it:
 *   - below the half-open bounds: lwIP's own path (a SYN_RCVD pcb, its
 *     SYN-ACK with an RFC 6528 ISN, retransmissions, all options kept);
 *   - at a bound: we answer with a SYN-ACK whose ISN is a cookie and drop
 *     the SYN, keeping nothing. A bare ACK to a listener is checked as a
 *     cookie; a good one becomes an ESTABLISHED pcb, set up as
 *     tcp_listen_input() and tcp_process()'s SYN_RCVD -> ESTABLISHED would,
 *     and is handed to the listener's accept. A bad one goes on to lwIP,
 *     which answers it with a RST as before.
 * The hook runs in tcp_input() after the demultiplexing and right before
 * tcp_listen_input(), which itself registers pcbs and calls nothing else
 * afterwards, so creating a pcb and calling accept here is what lwIP does
 * at that point too.
 *
 * Half-open pcbs that lwIP did create are aged out by a scan every
 * TCP_SLOW_INTERVAL: lwIP keeps them TCP_SYN_RCVD_TIMEOUT (20 s, not an
 * option) when the peer never answers, which is every spoofed SYN.
 */
#include "net/tcp_guard.h"
#include "lib/json.h"
#include "lib/stats.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/timer.h"
#include "lib/klog.h"
#include "net/tcp_cookie.h"
#include "lwip/etharp.h"
#include "lwip/inet_chksum.h"
#include "lwip/ip.h"
#include "lwip/memp.h"
#include "lwip/netif.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/stats.h"
#include "lwip/timeouts.h"
#include <stdbool.h>

_Static_assert(TCP_GUARD_HALF_OPEN_LISTENER <= TCP_GUARD_HALF_OPEN_GLOBAL,
               "per-listener bound within the global");
_Static_assert(TCP_GUARD_HALF_OPEN_GLOBAL + TCP_GUARD_PCB_FREE_MIN < MEMP_NUM_TCP_PCB / 4,
               "half-open pcbs stay a small part of the pool");

static struct tcp_cookie_keys keys;
static bool keys_ready;
static bool keys_strong;

static struct {
    uint64_t cookies_sent, cookies_send_failed, cookies_accepted, cookies_rejected;
    uint64_t cookie_accept_nomem, cookie_accept_refused, cookie_data_dropped;
    uint64_t cookie_mode_entered, half_open_aged;
    uint64_t syn_unresolved, arp_asked, syn_dropped_pool, time_wait_reused;
    unsigned half_open_peak;
    bool cookie_mode;
} st;

static void tuple_of(struct tcp_tuple *t, const ip_addr_t *lip, u16_t lport, const ip_addr_t *rip,
                     u16_t rport)
{
    for (unsigned i = 0; i < 4; i++)
        t->local[i] = t->remote[i] = 0;
    t->v6 = IP_IS_V6(lip);
    if (t->v6) {
        for (unsigned i = 0; i < 4; i++) {
            t->local[i] = ip_2_ip6(lip)->addr[i];
            t->remote[i] = ip_2_ip6(rip)->addr[i];
        }
    } else {
        t->local[0] = ip_2_ip4(lip)->addr;
        t->remote[0] = ip_2_ip4(rip)->addr;
    }
    t->local_port = lport;
    t->remote_port = rport;
}

/* The secrets: 256 bits from RDRAND; without it, the TSC at four moments of
 * boot, mixed. The TSC's value at boot is guessable to within a few bits of
 * its low end, so those ISNs are weak and the log says so. */
static void draw_secrets(void)
{
    uint64_t seed[4];
    keys_strong = true;
    for (unsigned i = 0; i < 4; i++) {
        if (!cpu_random64(&seed[i])) {
            keys_strong = false;
            break;
        }
    }
    if (!keys_strong) {
        struct siphash_key mix = {0x736563726574ull, 0x74736366616c6c62ull};
        for (unsigned i = 0; i < 4; i++) {
            uint64_t t[2] = {rdtsc(), i};
            seed[i] = siphash24(&mix, t, sizeof(t));
            mix.k0 ^= seed[i];
        }
    }
    tcp_cookie_keys_init(&keys, seed);
    keys_ready = true;
}

u32_t tcp_guard_isn(const ip_addr_t *local_ip, u16_t local_port, const ip_addr_t *remote_ip,
                    u16_t remote_port)
{
    struct tcp_tuple t;
    if (!keys_ready)
        draw_secrets();
    tuple_of(&t, local_ip, local_port, remote_ip, remote_port);
    return tcp_isn(&keys, &t, clock_ns());
}

/* ---- half-open accounting ---- */

/* SYN_RCVD pcbs per listener are its accepts_pending: lwIP counts a pcb from
 * its SYN until accept (tcp_backlog_accepted()) or its end (tcp_pcb_purge()).
 * No app here delays accepts (tcp_backlog_delayed()), so nothing else is in it. */
static unsigned half_open_total(void)
{
    unsigned n = 0;
    for (struct tcp_pcb_listen *l = tcp_listen_pcbs.listen_pcbs; l; l = l->next)
        n += l->accepts_pending;
    return n;
}

static unsigned pcbs_free(void)
{
    const struct stats_mem *m = lwip_stats.memp[MEMP_TCP_PCB];
    return m->used < m->avail ? (unsigned)(m->avail - m->used) : 0;
}

/* Every TCP_SLOW_INTERVAL: drop SYN_RCVD pcbs older than the bound, without
 * a RST (their peer never answered; a RST would only cost another ARP). */
static void scan_half_open(void *arg)
{
    (void)arg;
    const u32_t max_ticks = TCP_GUARD_SYN_RCVD_MAX_MS / TCP_SLOW_INTERVAL;
    struct tcp_pcb *pcb = tcp_active_pcbs;
    while (pcb) {
        struct tcp_pcb *next = pcb->next;
        if (pcb->state == SYN_RCVD && (u32_t)(tcp_ticks - pcb->tmr) >= max_ticks) {
            st.half_open_aged++;
            tcp_abandon(pcb, 0);
        }
        pcb = next;
    }
    if (st.cookie_mode && half_open_total() < TCP_GUARD_HALF_OPEN_LISTENER / 2)
        st.cookie_mode = false;
    sys_timeout(TCP_SLOW_INTERVAL, scan_half_open, NULL);
}

/* ---- the SYN side ---- */

static u8_t opt_byte(const struct tcp_hdr *hdr, u16_t opt1len, const u8_t *opt2, u16_t i)
{
    return i < opt1len ? ((const u8_t *)(hdr + 1))[i] : opt2[i - opt1len];
}

/* The SYN's MSS and window scale (RFC 9293 3.2, RFC 7323 2.2). No MSS
 * option means 536; a malformed option list ends the walk, as lwIP's
 * tcp_parseopt() does. */
static void syn_options(const struct tcp_hdr *hdr, u16_t optlen, u16_t opt1len, const u8_t *opt2, u16_t *mss,
                        unsigned *ws)
{
    *mss = 536;
    *ws = TCP_COOKIE_WS_NONE;
    for (u16_t i = 0; i < optlen;) {
        u8_t kind = opt_byte(hdr, opt1len, opt2, i);
        if (kind == 0)
            break;
        if (kind == 1) {
            i++;
            continue;
        }
        if (i + 1 >= optlen)
            break;
        u8_t len = opt_byte(hdr, opt1len, opt2, (u16_t)(i + 1));
        if (len < 2 || i + len > optlen)
            break;
        if (kind == 2 && len == 4) {
            u16_t m = (u16_t)(opt_byte(hdr, opt1len, opt2, (u16_t)(i + 2)) << 8 |
                              opt_byte(hdr, opt1len, opt2, (u16_t)(i + 3)));
            *mss = m ? m : TCP_MSS;
        } else if (kind == 3 && len == 3) {
            u8_t s = opt_byte(hdr, opt1len, opt2, (u16_t)(i + 2));
            *ws = s > 14 ? 14 : s;
        }
        i = (u16_t)(i + len);
    }
}

static struct netif *route(const struct tcp_pcb_listen *lpcb, const ip_addr_t *src, const ip_addr_t *dst)
{
    if (lpcb->netif_idx != NETIF_NO_INDEX)
        return netif_get_by_index(lpcb->netif_idx);
    return ip_route(src, dst);
}

/* A SYN-ACK with @cookie as its ISN, built as tcp_enqueue_flags() and
 * tcp_output_control_segment() build lwIP's: MSS option, window scale if
 * the SYN had one, the window unscaled (RFC 7323 2.2), the checksum left to
 * the NIC exactly when the netif says so (NETIF_CHECKSUM_GEN_TCP off). */
static err_t send_cookie_synack(const struct tcp_pcb_listen *lpcb, const struct tcp_hdr *hdr, u32_t cookie,
                                bool ws)
{
    const ip_addr_t *src = ip_current_dest_addr(), *dst = ip_current_src_addr();
    struct netif *netif = route(lpcb, src, dst);
    if (!netif)
        return ERR_RTE;
    u16_t optlen = (u16_t)(ws ? 8 : 4);
    struct pbuf *p = pbuf_alloc(PBUF_IP, (u16_t)(TCP_HLEN + optlen), PBUF_RAM);
    if (!p)
        return ERR_MEM;
    struct tcp_hdr *th = (struct tcp_hdr *)p->payload;
    th->src = lwip_htons(lpcb->local_port);
    th->dest = lwip_htons(hdr->src);
    th->seqno = lwip_htonl(cookie);
    th->ackno = lwip_htonl(hdr->seqno + 1);
    TCPH_HDRLEN_FLAGS_SET(th, 5 + optlen / 4, TCP_SYN | TCP_ACK);
    th->wnd = lwip_htons(TCPWND_MIN16(TCP_WND));
    th->chksum = 0;
    th->urgp = 0;
    u8_t *o = (u8_t *)(th + 1);
    u32_t mss_opt = TCP_BUILD_MSS_OPTION(tcp_eff_send_mss_netif(TCP_MSS, netif, dst));
    u32_t ws_opt = PP_HTONL(0x01030300 | TCP_RCV_SCALE); /* NOP, kind 3, length 3, our shift */
    MEMCPY(o, &mss_opt, 4);
    if (ws)
        MEMCPY(o + 4, &ws_opt, 4);
#if CHECKSUM_GEN_TCP
    IF__NETIF_CHECKSUM_ENABLED(netif, NETIF_CHECKSUM_GEN_TCP)
    {
        th->chksum = ip_chksum_pseudo(p, IP_PROTO_TCP, p->tot_len, src, dst);
    }
#endif
    TCP_STATS_INC(tcp.xmit);
    err_t err = ip_output_if(p, src, dst, lpcb->ttl, lpcb->tos, IP_PROTO_TCP, netif);
    pbuf_free(p);
    return err;
}

/* ---- next hops that never answer ARP ----
 *
 * Every SYN-ACK to an address without an ARP entry makes lwIP create one
 * (etharp_query(), recycling the oldest: stable entries go before pending
 * ones) and queue the frame on it. Spoofed on-link sources would churn the
 * 64-entry table in milliseconds and take the real clients' entries with
 * them, so their answers would wait on ARP as well. Under pressure (half the
 * half-open bounds), a SYN whose next hop has no entry therefore gets no
 * SYN-ACK and no state: only an ARP request, at most one per address per
 * second and TCP_GUARD_ARP_ASK_PER_S in all. A real peer answers it (lwIP
 * makes the entry from the reply) and its retransmitted SYN is served;
 * Linux clients have usually made the entry already, by asking for our
 * address before their first SYN. IPv6 (neighbour cache) is not covered. */

static bool under_pressure(const struct tcp_pcb_listen *lpcb, unsigned total, unsigned free)
{
    return lpcb->accepts_pending >= TCP_GUARD_HALF_OPEN_LISTENER / 2 || total >= TCP_GUARD_HALF_OPEN_ARP ||
           free <= TCP_GUARD_PCB_FREE_MIN;
}

/* The next hop etharp_output() would use for @peer: itself on the subnet, else the gateway. */
static const ip4_addr_t *next_hop(struct netif *netif, const ip4_addr_t *peer)
{
    if (ip4_addr_netcmp(peer, netif_ip4_addr(netif), netif_ip4_netmask(netif)) || ip4_addr_islinklocal(peer))
        return peer;
    return netif_ip4_gw(netif);
}

static bool may_ask(const ip4_addr_t *hop)
{
    static struct {
        u32_t addr, at_ms;
    } asked[64];
    static u32_t tokens, refill_ms;
    u32_t now = sys_now();
    unsigned i = (unsigned)((ip4_addr_get_u32(hop) * 2654435761u) >> 26);

    if (asked[i].addr == ip4_addr_get_u32(hop) && now - asked[i].at_ms < 1000)
        return false;
    if (now - refill_ms >= 1000) {
        tokens = TCP_GUARD_ARP_ASK_PER_S;
        refill_ms = now;
    }
    if (!tokens)
        return false;
    tokens--;
    asked[i].addr = ip4_addr_get_u32(hop);
    asked[i].at_ms = now;
    return true;
}

/* True if the SYN may go on: IPv6, or an IPv4 next hop with an ARP entry. */
static bool next_hop_known(const struct tcp_pcb_listen *lpcb)
{
    if (!IP_IS_V4(ip_current_src_addr()))
        return true;
    struct netif *netif = route(lpcb, ip_current_dest_addr(), ip_current_src_addr());
    if (!netif)
        return true; /* lwIP will find no route either */
    const ip4_addr_t *hop = next_hop(netif, ip_2_ip4(ip_current_src_addr()));
    if (ip4_addr_isany(hop))
        return true; /* no gateway: lwIP will not send either */
    struct eth_addr *eth;
    const ip4_addr_t *ip;
    if (etharp_find_addr(netif, hop, &eth, &ip) >= 0)
        return true;
    if (may_ask(hop) && etharp_request(netif, hop) == ERR_OK)
        st.arp_asked++;
    return false;
}

/* Cookies promise pcbs without taking them. A burst of real SYNs beyond the
 * pool (hundreds from one client at once) would all get cookies before the
 * first ACK takes a pcb, and the clients past the pool would believe they
 * were connected. So the cookies sent to each source (hashed into 256
 * buckets) and not yet redeemed count against the free pcbs; one source's
 * burst is then cut at the pool's size, and a flood from other addresses,
 * spread over the buckets, does not take a legitimate client's share.
 *
 * A promise lives from its cookie until its ACK, or for two to three
 * seconds (PROMISE_SECONDS one-second slots): a burst's ACKs come in
 * behind it, often in a later second than their cookies. Forgetting
 * the count at each new second (as this did first) let a burst straddling
 * the boundary promise pcbs twice, and 602 clients of a 600-pcb pool
 * believed they were in. A spoofed source's promises, whose ACKs never
 * come, end with their slot. */
#define PROMISE_SECONDS 3

struct promised {
    u32_t second[PROMISE_SECONDS]; /* slot i holds the promises made in second[i] */
    u32_t count[PROMISE_SECONDS];
};

/* The bucket of @src, its slots older than PROMISE_SECONDS emptied. */
static struct promised *promised_for(const ip_addr_t *src)
{
    static struct promised table[256];
    u32_t h = ip_2_ip4(src)->addr;
    if (IP_IS_V6(src))
        h = ip_2_ip6(src)->addr[0] ^ ip_2_ip6(src)->addr[1] ^ ip_2_ip6(src)->addr[2] ^ ip_2_ip6(src)->addr[3];
    struct promised *p = &table[(h * 2654435761u) >> 24];
    u32_t now = sys_now() / 1000;
    for (unsigned i = 0; i < PROMISE_SECONDS; i++) {
        if (p->count[i] && now - p->second[i] >= PROMISE_SECONDS)
            p->count[i] = 0;
    }
    unsigned cur = now % PROMISE_SECONDS;
    if (p->second[cur] != now) {
        p->second[cur] = now;
        p->count[cur] = 0;
    }
    return p;
}

static u32_t promises(const struct promised *p)
{
    u32_t n = 0;
    for (unsigned i = 0; i < PROMISE_SECONDS; i++)
        n += p->count[i];
    return n;
}

static void promise_made(struct promised *p)
{
    p->count[(sys_now() / 1000) % PROMISE_SECONDS]++;
}

/* A cookie's ACK made a pcb: the oldest promise is kept. */
static void promise_kept(struct promised *p)
{
    unsigned oldest = PROMISE_SECONDS;
    for (unsigned i = 0; i < PROMISE_SECONDS; i++) {
        if (p->count[i] && (oldest == PROMISE_SECONDS || p->second[i] < p->second[oldest]))
            oldest = i;
    }
    if (oldest < PROMISE_SECONDS)
        p->count[oldest]--;
}

/* Answer the SYN on @lpcb with a cookie SYN-ACK, keeping nothing. */
static bool answer_with_cookie(const struct tcp_pcb_listen *lpcb, const struct tcp_hdr *hdr, u16_t optlen,
                               u16_t opt1len, const u8_t *opt2)
{
    u16_t mss;
    unsigned ws;
    struct tcp_tuple t;
    syn_options(hdr, optlen, opt1len, opt2, &mss, &ws);
    tuple_of(&t, ip_current_dest_addr(), lpcb->local_port, ip_current_src_addr(), hdr->src);
    u32_t cookie = tcp_cookie_make(&keys, &t, hdr->seqno, clock_ns(), mss, ws);
    if (send_cookie_synack(lpcb, hdr, cookie, ws != TCP_COOKIE_WS_NONE) != ERR_OK) {
        st.cookies_send_failed++;
        return false;
    }
    st.cookies_sent++;
    return true;
}

static err_t syn_to_listener(struct tcp_pcb_listen *lpcb, struct tcp_hdr *hdr, u16_t optlen, u16_t opt1len,
                             const u8_t *opt2)
{
    static struct klog_ratelimit rl = KLOG_RATELIMIT_INIT(10000, 1);
    unsigned total = half_open_total(), free = pcbs_free();

    if (total > st.half_open_peak)
        st.half_open_peak = total;
    if (under_pressure(lpcb, total, free) && !next_hop_known(lpcb)) {
        st.syn_unresolved++;
        return ERR_ABRT; /* dropped: the peer's ARP reply, then its SYN again */
    }
    struct promised *pr = promised_for(ip_current_src_addr());
    if (lpcb->accepts_pending < TCP_GUARD_HALF_OPEN_LISTENER && total < TCP_GUARD_HALF_OPEN_GLOBAL) {
        /* lwIP's own path, a full pool included (tcp_alloc() fails, accept
         * hears ERR_MEM); but not into the pcbs this source's cookies were
         * promised (its retransmitted SYNs would take them from its ACKs). */
        if (promises(pr) && free <= TCP_GUARD_PCB_FREE_MIN + promises(pr)) {
            st.syn_dropped_pool++;
            return ERR_ABRT;
        }
        return ERR_OK;
    }
    if (free <= TCP_GUARD_PCB_FREE_MIN + promises(pr)) {
        /* A cookie would promise a pcb the pool may not have when the ACK
         * comes, and the client would believe it is connected: drop the SYN,
         * as a full pool does, and let the client send it again. */
        st.syn_dropped_pool++;
        return ERR_ABRT;
    }
    if (!st.cookie_mode) {
        st.cookie_mode = true;
        st.cookie_mode_entered++;
    }
    if (klog_ratelimit(&rl))
        klog(LOG_WARN,
             "tcp: port %u: %u half-open here, %u in all (bounds %u, %u), %u pcbs free: answering SYNs with "
             "cookies",
             lpcb->local_port, lpcb->accepts_pending, total, TCP_GUARD_HALF_OPEN_LISTENER,
             TCP_GUARD_HALF_OPEN_GLOBAL, free);

    if (answer_with_cookie(lpcb, hdr, optlen, opt1len, opt2))
        promise_made(pr);
    return ERR_ABRT; /* handled: lwIP drops the SYN */
}

/* ---- a new SYN on a 4-tuple in TIME_WAIT ----
 *
 * lwIP answers it with an ACK (tcp_timewait_input()) and ignores the RST the
 * client sends back, so a client that reuses a port within 2 MSL (120 s)
 * cannot connect until the TIME_WAIT ends: a Linux client cycling through
 * its ports hit one after 69,218 connections in a CI run and timed out. Linux accepts
 * such a SYN when its sequence number is past the old connection's
 * (tcp_timewait_state_process(); RFC 6191 without timestamps, RFC 1122
 * 4.2.2.13): the old connection can send nothing that lands in the new one.
 * We do the same: drop the TIME_WAIT (tcp_abort() frees it, no RST) and
 * answer the SYN with a cookie SYN-ACK on the listener's behalf, since
 * tcp_listen_input() cannot be reached from here; the client's ACK then
 * finds the listener and becomes the connection. A SYN not past the old one
 * goes on to lwIP's ACK, as before. */
static struct tcp_pcb_listen *listener_for(const struct tcp_pcb *pcb)
{
    for (struct tcp_pcb_listen *l = tcp_listen_pcbs.listen_pcbs; l; l = l->next) {
        if (l->local_port == pcb->local_port && IP_ADDR_PCB_VERSION_MATCH(l, ip_current_dest_addr()) &&
            (ip_addr_isany(&l->local_ip) || ip_addr_cmp(&l->local_ip, ip_current_dest_addr())))
            return l;
    }
    return NULL;
}

static err_t syn_to_time_wait(struct tcp_pcb *pcb, struct tcp_hdr *hdr, u16_t optlen, u16_t opt1len,
                              const u8_t *opt2)
{
    if ((TCPH_FLAGS(hdr) & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN)) != TCP_SYN ||
        !TCP_SEQ_GT(hdr->seqno, pcb->rcv_nxt))
        return ERR_OK;
    struct tcp_pcb_listen *lpcb = listener_for(pcb);
    if (!lpcb)
        return ERR_OK;
    tcp_abort(pcb); /* in TIME_WAIT: freed at once, no RST; tcp_input() only frees the pbuf after us */
    st.time_wait_reused++;
    answer_with_cookie(lpcb, hdr, optlen, opt1len, opt2);
    return ERR_ABRT;
}

/* ---- the ACK side ---- */

/* A good cookie: the pcb tcp_listen_input() would have made, moved on to
 * ESTABLISHED as tcp_process() does when the SYN-ACK is acknowledged. */
static err_t cookie_connection(struct tcp_pcb_listen *lpcb, const struct tcp_hdr *hdr, u16_t mss, unsigned ws,
                               const struct pbuf *p)
{
    struct tcp_pcb *npcb = tcp_alloc(lpcb->prio);
    err_t err;
    if (!npcb) {
        st.cookie_accept_nomem++;
        TCP_STATS_INC(tcp.memerr);
        TCP_EVENT_ACCEPT(lpcb, NULL, lpcb->callback_arg, ERR_MEM, err);
        LWIP_UNUSED_ARG(err);
        return ERR_MEM;
    }
    u32_t iss = hdr->ackno - 1;
    ip_addr_copy(npcb->local_ip, *ip_current_dest_addr());
    ip_addr_copy(npcb->remote_ip, *ip_current_src_addr());
    npcb->local_port = lpcb->local_port;
    npcb->remote_port = hdr->src;
    npcb->state = ESTABLISHED;
    npcb->rcv_nxt = hdr->seqno; /* the client's ISN + 1 */
    npcb->rcv_ann_right_edge = npcb->rcv_nxt;
    /* Our SYN (sequence number iss) is acknowledged: the next byte is iss + 1. */
    npcb->snd_nxt = npcb->lastack = npcb->snd_lbb = iss + 1;
    npcb->snd_wl1 = hdr->seqno;
    npcb->snd_wl2 = hdr->ackno;
    npcb->callback_arg = lpcb->callback_arg;
    npcb->listener = lpcb;
    npcb->so_options = lpcb->so_options & SOF_INHERITED;
    npcb->netif_idx = lpcb->netif_idx;
    if (ws != TCP_COOKIE_WS_NONE) {
        /* As tcp_parseopt() on a SYN with the option: both sides scale. */
        npcb->snd_scale = (u8_t)ws;
        npcb->rcv_scale = TCP_RCV_SCALE;
        tcp_set_flags(npcb, TF_WND_SCALE);
        npcb->rcv_wnd = npcb->rcv_ann_wnd = TCP_WND;
    }
    /* The ACK's window is scaled (RFC 7323 2.2: every segment but the SYNs). */
    npcb->snd_wnd = (tcpwnd_size_t)((u32_t)hdr->wnd << npcb->snd_scale);
    npcb->snd_wnd_max = npcb->snd_wnd;
    npcb->mss = LWIP_MIN(mss, TCP_MSS);
    npcb->mss = tcp_eff_send_mss(npcb->mss, &npcb->local_ip, &npcb->remote_ip);
    npcb->cwnd = (tcpwnd_size_t)LWIP_MIN(4U * npcb->mss, LWIP_MAX(2U * npcb->mss, 4380U)); /* RFC 3390 */
    TCP_REG_ACTIVE(npcb);
    MIB2_STATS_INC(mib2.tcppassiveopens);
    st.cookies_accepted++;
    promise_kept(promised_for(&npcb->remote_ip)); /* the pool counts this pcb now */

    /* Data (or a FIN) on this ACK is dropped: the client sends it again
     * when its retransmission timer fires, and the pcb then takes it. */
    if (p->tot_len > 0 || (TCPH_FLAGS(hdr) & TCP_FIN))
        st.cookie_data_dropped++;

    TCP_EVENT_ACCEPT(lpcb, npcb, npcb->callback_arg, ERR_OK, err);
    if (err != ERR_OK) {
        st.cookie_accept_refused++;
        if (err != ERR_ABRT)
            tcp_abort(npcb);
    }
    return ERR_ABRT;
}

err_t tcp_guard_inpacket(struct tcp_pcb *pcb, struct tcp_hdr *hdr, u16_t optlen, u16_t opt1len, u8_t *opt2,
                         struct pbuf *p)
{
    if (!keys_ready)
        draw_secrets();
    if (pcb->state == TIME_WAIT)
        return syn_to_time_wait(pcb, hdr, optlen, opt1len, opt2);
    if (pcb->state != LISTEN)
        return ERR_OK;
    struct tcp_pcb_listen *lpcb = (struct tcp_pcb_listen *)pcb;
    u8_t flags = TCPH_FLAGS(hdr);
    if (flags & TCP_RST)
        return ERR_OK; /* lwIP ignores it */
    if ((flags & (TCP_SYN | TCP_ACK)) == TCP_SYN)
        return syn_to_listener(lpcb, hdr, optlen, opt1len, opt2);
    if ((flags & (TCP_SYN | TCP_ACK)) != TCP_ACK)
        return ERR_OK;

    u16_t mss;
    unsigned ws;
    struct tcp_tuple t;
    tuple_of(&t, ip_current_dest_addr(), lpcb->local_port, ip_current_src_addr(), hdr->src);
    if (!tcp_cookie_check(&keys, &t, hdr->seqno - 1, hdr->ackno - 1, clock_ns(), &mss, &ws)) {
        st.cookies_rejected++;
        return ERR_OK; /* lwIP answers it with a RST */
    }
    return cookie_connection(lpcb, hdr, mss, ws, p);
}

/* ---- /stats ---- */

static void write_stats(struct json_out *o, void *ctx)
{
    (void)ctx;
    unsigned syn_rcvd = 0;
    for (struct tcp_pcb *pcb = tcp_active_pcbs; pcb; pcb = pcb->next)
        syn_rcvd += pcb->state == SYN_RCVD;
    json_begin_object(o);
    json_kv_string(o, "isn",
                   keys_strong ? "rfc6528 siphash, rdrand secret" : "rfc6528 siphash, tsc secret (weak)");
    json_kv_u64(o, "half_open", syn_rcvd);
    json_kv_u64(o, "half_open_peak", st.half_open_peak);
    json_kv_u64(o, "half_open_bound_listener", TCP_GUARD_HALF_OPEN_LISTENER);
    json_kv_u64(o, "half_open_bound_global", TCP_GUARD_HALF_OPEN_GLOBAL);
    json_kv_u64(o, "half_open_aged", st.half_open_aged);
    json_kv_bool(o, "cookie_mode", st.cookie_mode);
    json_kv_u64(o, "cookie_mode_entered", st.cookie_mode_entered);
    json_kv_u64(o, "syn_unresolved", st.syn_unresolved);
    json_kv_u64(o, "arp_asked", st.arp_asked);
    json_kv_u64(o, "syn_dropped_pool", st.syn_dropped_pool);
    json_kv_u64(o, "time_wait_reused", st.time_wait_reused);
    json_kv_u64(o, "cookies_sent", st.cookies_sent);
    json_kv_u64(o, "cookies_send_failed", st.cookies_send_failed);
    json_kv_u64(o, "cookies_accepted", st.cookies_accepted);
    json_kv_u64(o, "cookies_rejected", st.cookies_rejected);
    json_kv_u64(o, "cookie_accept_nomem", st.cookie_accept_nomem);
    json_kv_u64(o, "cookie_accept_refused", st.cookie_accept_refused);
    json_kv_u64(o, "cookie_data_dropped", st.cookie_data_dropped);
    json_end_object(o);
}

void tcp_guard_init(void)
{
    if (!keys_ready)
        draw_secrets();
    if (keys_strong)
        klog(LOG_INFO,
             "tcp: ISNs RFC 6528 (SipHash-2-4, secret from RDRAND); SYN cookies beyond %u half-open "
             "per listener, %u in all",
             TCP_GUARD_HALF_OPEN_LISTENER, TCP_GUARD_HALF_OPEN_GLOBAL);
    else
        klog(LOG_WARN, "tcp: no RDRAND: the ISN and SYN cookie secret comes from the TSC at boot, which an "
                       "attacker can narrow down: ISNs are weak (use a CPU with RDRAND, e.g. -cpu max)");
    sys_timeout(TCP_SLOW_INTERVAL, scan_half_open, NULL);
    stats_register("tcp_guard", write_stats, NULL);
}
