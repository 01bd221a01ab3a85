/*
 * The netif glue: the NIC as an lwIP netif (lwIP NO_SYS=1: lwIP is only
 * ever called from the main loop, net/loop.c, never from an interrupt
 * handler), its addressing, the trace=net and cycle-count hooks in front of
 * lwIP and the driver, and the /stats sections of the data path.
 */
#include "net/netif.h"
#include "net/tcp_guard.h"
#include "net/stack_stats.h"
#include "lib/json.h"
#include "lib/stats.h"
#include "drivers/vring.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/timer.h"
#include "drivers/virtio_net.h"
#include "lib/cmdline.h"
#include "lib/klog.h"
#include "lib/prof.h"
#include "lib/trace.h"
#include "net/txhold.h"
#include "net/net_budget.h"
#include "lwip/dhcp.h"
#include "lwip/init.h"
#include "lwip/ip4_addr.h"
#include "lwip/netif.h"
#include "lwip/memp.h"
#include "lwip/stats.h"
#include "lwip/timeouts.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct netif nif;
static struct vnet *vn;
static bool configured;
static bool use_dhcp;
static uint64_t dhcp_deadline_ns;

/* What the netif called before nif_init() put its hooks in front. */
static netif_input_fn stack_input;        /* ethernet_input */
static netif_linkoutput_fn driver_output; /* the NIC driver's */

struct netif *nif_default(void)
{
    return vn ? &nif : NULL;
}

/* ---- the netif hooks: trace=net and the lwip_input / tx cycle counters ---- */

static void __attribute__((noinline, cold)) trace_pbuf(const char *dir, const struct pbuf *p)
{
    uint8_t head[TRACE_FRAME_CAP];
    u16_t n = pbuf_copy_partial(p, head, sizeof(head), 0);

    trace_frame(dir, head, n, p->tot_len);
}

/* netif->input: every received frame, on its way into lwIP. */
static err_t net_input(struct pbuf *p, struct netif *netif)
{
    if (trace_on(TRACE_NET))
        trace_pbuf("rx", p);
    uint64_t t0 = cycles_now();
    err_t err = stack_input(p, netif);
    prof_add(PROF_LWIP_INPUT, cycles_now() - t0);
    return err;
}

/* netif->linkoutput: every frame lwIP sends, on its way to the driver. */
static err_t net_linkoutput(struct netif *netif, struct pbuf *p)
{
    if (trace_on(TRACE_NET))
        trace_pbuf("tx", p);
    uint64_t t0 = cycles_now();
    err_t err = driver_output(netif, p);
    prof_add(PROF_TX, cycles_now() - t0);
    return err;
}

/* "10.0.0.2/24" -> address and netmask. Return: false if malformed. */
static bool parse_cidr(const char *s, ip4_addr_t *addr, ip4_addr_t *mask)
{
    char buf[32];
    strlcpy(buf, s, sizeof(buf));
    char *slash = strchr(buf, '/');
    unsigned prefix = 24;
    if (slash) {
        *slash = '\0';
        char *end;
        prefix = (unsigned)strtoul(slash + 1, &end, 10);
        if (*end || prefix > 32)
            return false;
    }
    if (!ip4addr_aton(buf, addr))
        return false;
    ip4_addr_set_u32(mask, prefix ? lwip_htonl(0xFFFFFFFFu << (32 - prefix)) : 0);
    return true;
}

static void set_static(const char *ip, const char *gw, const char *why)
{
    ip4_addr_t a, m, g;
    if (!parse_cidr(ip, &a, &m)) {
        klog(LOG_ERR, "net: bad address '%s' (want ADDR/PREFIX)", ip);
        return;
    }
    ip4_addr_set_zero(&g);
    if (gw && !ip4addr_aton(gw, &g))
        klog(LOG_ERR, "net: bad gateway '%s'", gw);
    netif_set_addr(&nif, &a, &m, &g);
    klog(LOG_INFO, "net: static IPv4 %s (%s)", ip, why);
}

static void summary(const char *how)
{
    char v4[16], mask[16], gw[16];
    strlcpy(v4, ip4addr_ntoa(netif_ip4_addr(&nif)), sizeof(v4));
    strlcpy(mask, ip4addr_ntoa(netif_ip4_netmask(&nif)), sizeof(mask));
    strlcpy(gw, ip4addr_ntoa(netif_ip4_gw(&nif)), sizeof(gw));
    char v6[200];
    size_t n = 0;
    v6[0] = '\0';
    for (int i = 0; i < LWIP_IPV6_NUM_ADDRESSES; i++) {
        if (ip6_addr_isinvalid(netif_ip6_addr_state(&nif, i)))
            continue;
        int w = snprintf(v6 + n, sizeof(v6) - n, "%s%s", n ? "," : "", ip6addr_ntoa(netif_ip6_addr(&nif, i)));
        if (w > 0 && (size_t)w < sizeof(v6) - n)
            n += (size_t)w;
    }
    const uint8_t *mac = nif.hwaddr;
    klog(LOG_INFO,
         "net: %c%c%u MAC %02x:%02x:%02x:%02x:%02x:%02x IPv4 %s netmask %s gw %s (%s) IPv6 %s link %s",
         nif.name[0], nif.name[1], nif.num, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], v4, mask, gw, how,
         n ? v6 : "none", netif_is_link_up(&nif) ? "up" : "down");
}

/* lwIP calls this on any address change, IPv6 ones too (when an address
 * becomes valid or stops being so): log each. */
static void status_changed(struct netif *netif)
{
    static ip4_addr_t last;
    static unsigned valid6; /* bit i: IPv6 address slot i was valid */
    (void)netif;
    if (configured && !ip4_addr_cmp(&last, netif_ip4_addr(&nif)))
        klog(LOG_INFO, "net: IPv4 address now %s", ip4addr_ntoa(netif_ip4_addr(&nif)));
    ip4_addr_copy(last, *netif_ip4_addr(&nif));
    for (int i = 0; i < LWIP_IPV6_NUM_ADDRESSES; i++) {
        bool valid = ip6_addr_isvalid(netif_ip6_addr_state(&nif, i));
        if (valid != ((valid6 >> i) & 1))
            klog(LOG_INFO, "net: IPv6 address %s %s", ip6addr_ntoa(netif_ip6_addr(&nif, i)),
                 valid ? "valid" : "gone");
        valid6 = valid ? valid6 | 1u << i : valid6 & ~(1u << i);
    }
}

static void config_step(uint64_t now)
{
    if (configured)
        return;
    if (use_dhcp && dhcp_supplied_address(&nif)) {
        configured = true;
        summary("dhcp");
    } else if (use_dhcp && now >= dhcp_deadline_ns) {
        dhcp_stop(&nif);
        klog(LOG_WARN, "net: no DHCP answer in %llu s; using the fallback address",
             (unsigned long long)cmdline_get_u64("dhcp_timeout", 10));
        const char *ip = cmdline_get("ip_fallback");
        const char *gw = cmdline_get("gw_fallback");
        set_static(ip ? ip : "10.0.2.15/24", ip ? gw : (gw ? gw : "10.0.2.2"), "fallback");
        configured = true;
        summary("static fallback");
    }
}

/* ---- /stats providers: the NIC, its rings, the netif, interrupts ---- */

static void stats_vnet(struct json_out *o, void *ctx)
{
    (void)ctx;
    struct vnet_stats st;
    vnet_get_stats(vn, &st);
    json_begin_object(o);
    json_kv_u64(o, "rx_packets", st.rx_packets);
    json_kv_u64(o, "rx_bytes", st.rx_bytes);
    json_kv_u64(o, "rx_drop_short", st.rx_drop_short);
    json_kv_u64(o, "rx_drop_oversize", st.rx_drop_oversize);
    json_kv_u64(o, "rx_drop_bad_merge", st.rx_drop_bad_merge);
    json_kv_u64(o, "rx_drop_nomem", st.rx_drop_nomem);
    json_kv_u64(o, "rx_copied", st.rx_copied);
    json_kv_u64(o, "rx_drop_copy_nomem", st.rx_drop_copy_nomem);
    json_kv_u64(o, "rx_pool_total", st.rx_pool_total);
    json_kv_u64(o, "rx_pool_free", st.rx_pool_free);
    json_kv_u64(o, "rx_posted", st.rx_posted);
    json_kv_u64(o, "rx_lent", st.rx_lent);
    json_kv_u64(o, "rx_lend_max", st.rx_lend_max);
    json_kv_u64(o, "rx_merged", st.rx_merged);
    json_kv_u64(o, "rx_csum_partial", st.rx_csum_partial);
    json_kv_u64(o, "rx_csum_completed", st.rx_csum_completed);
    json_kv_u64(o, "rx_csum_valid", st.rx_csum_valid);
    json_kv_u64(o, "rx_refills", st.rx_refills);
    json_kv_u64(o, "rx_polls", st.rx_polls);
    json_kv_u64(o, "rx_budget_exhausted", st.rx_budget_exhausted);
    json_kv_u64(o, "tx_packets", st.tx_packets);
    json_kv_u64(o, "tx_bytes", st.tx_bytes);
    json_kv_u64(o, "tx_segments", st.tx_segments);
    json_kv_u64(o, "tx_csum_offload", st.tx_csum_offload);
    json_kv_u64(o, "tx_completed", st.tx_completed);
    json_kv_u64(o, "tx_ring_full_waits", st.tx_ring_full_waits);
    json_kv_u64(o, "tx_drop_ring_full", st.tx_drop_ring_full);
    json_kv_u64(o, "tx_watchdog_kicks", st.tx_watchdog_kicks);
    json_kv_u64(o, "link_changes", st.link_changes);
    json_kv_u64(o, "ctrl_timeouts", st.ctrl_timeouts);
    json_kv_u64(o, "announces_deferred", st.announces_deferred);
    json_kv_u64(o, "rx_csum_fragment", st.rx_csum_fragment);
    json_kv_u64(o, "irq_storms", st.irq_storms);
    json_key(o, "queues");
    json_begin_array(o);
    for (unsigned i = 0; i < vnet_num_queues(vn); i++) {
        struct vring *vr = vnet_queue(vn, i);
        struct vring_state rs;
        struct vring_stats vs;
        vring_get_state(vr, &rs);
        vring_get_stats(vr, &vs);
        json_begin_object(o);
        json_kv_string(o, "name", vnet_queue_name(i));
        json_kv_u64(o, "size", rs.num);
        json_kv_u64(o, "avail_idx", rs.avail_idx);
        json_kv_u64(o, "used_idx", rs.used_idx);
        json_kv_u64(o, "last_used", rs.last_used_idx);
        json_kv_u64(o, "in_flight", rs.in_flight);
        json_kv_u64(o, "free_descriptors", rs.num_free);
        json_kv_u64(o, "added", vs.added);
        json_kv_u64(o, "used", vs.used);
        json_kv_u64(o, "kicks", vs.kicks);
        json_kv_u64(o, "kicks_suppressed", vs.kicks_suppressed);
        json_kv_u64(o, "interrupts", vs.interrupts);
        json_kv_u64(o, "interrupts_suppressed", vs.interrupts_suppressed);
        json_kv_u64(o, "ring_full", vs.ring_full);
        json_kv_bool(o, "broken", rs.broken);
        json_end_object(o);
    }
    json_end_array(o);
    json_end_object(o);
}

static void stats_netif(struct json_out *o, void *ctx)
{
    (void)ctx;
    char mac[18];
    snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", nif.hwaddr[0], nif.hwaddr[1], nif.hwaddr[2],
             nif.hwaddr[3], nif.hwaddr[4], nif.hwaddr[5]);
    json_begin_object(o);
    json_kv_string(o, "name", "en0");
    json_kv_string(o, "mac", mac);
    json_kv_string(o, "ipv4", ip4addr_ntoa(netif_ip4_addr(&nif)));
    json_kv_u64(o, "mtu", nif.mtu);
    json_kv_bool(o, "link_up", netif_is_link_up(&nif));
    json_kv_bool(o, "dhcp", use_dhcp && dhcp_supplied_address(&nif));
    json_end_object(o);
}

/* The data path's cycle counters (lib/prof.h), with the TSC rate to read them by. */
static void stats_cycles(struct json_out *o, void *ctx)
{
    (void)ctx;
    uint64_t hz = timer_tsc_hz();
    json_begin_object(o);
    json_kv_u64(o, "tsc_hz", hz);
    json_key(o, "sections");
    json_begin_object(o);
    for (unsigned i = 0; i < PROF_SECTIONS; i++) {
        struct prof_counter c = prof_get(i);
        uint64_t ns = prof_cycles_to_ns(c.cycles, hz);
        json_key(o, prof_name(i));
        json_begin_object(o);
        json_kv_u64(o, "calls", c.calls);
        json_kv_u64(o, "cycles", c.cycles);
        json_kv_u64(o, "cycles_per_call", c.calls ? c.cycles / c.calls : 0);
        json_kv_u64(o, "ns_per_call", c.calls ? ns / c.calls : 0);
        json_kv_u64(o, "ns", ns);
        json_end_object(o);
    }
    json_end_object(o);
    json_end_object(o);
}

static void stats_trace(struct json_out *o, void *ctx)
{
    (void)ctx;
    struct trace_stats ts;
    char words[32];
    trace_get_stats(&ts);
    snprintf(words, sizeof(words), "%s%s%s", (trace_mask & TRACE_VIRTQ) ? "virtq," : "",
             (trace_mask & TRACE_NET) ? "net," : "", (trace_mask & TRACE_IRQ) ? "irq," : "");
    size_t n = strlen(words);
    if (n)
        words[n - 1] = '\0';
    json_begin_object(o);
    json_kv_string(o, "on", words);
    json_kv_u64(o, "lines", ts.lines);
    json_kv_u64(o, "suppressed", ts.suppressed);
    json_kv_u64(o, "unreported", ts.unreported);
    json_end_object(o);
}

int nif_init(void)
{
    lwip_init();
    stack_stats_register();
    vn = vnet_first();
    if (!vn) {
        klog(LOG_WARN, "net: no virtio-net device: no network");
        return -ENODEV;
    }
    if (vnet_netif_add(vn, &nif) < 0) {
        klog(LOG_ERR, "net: lwIP refused the netif");
        vn = NULL;
        return -EIO;
    }
    /* In front of lwIP and the driver: every frame passes these two hooks. */
    stack_input = nif.input;
    nif.input = net_input;
    driver_output = nif.linkoutput;
    nif.linkoutput = net_linkoutput;
    netif_set_default(&nif);
    stats_register("virtio_net", stats_vnet, NULL);
    stats_register("netif", stats_netif, NULL);
    stats_register("cycles", stats_cycles, NULL);
    stats_register("trace", stats_trace, NULL);
    tcp_guard_init();
    net_budget_init(vn);
    netif_set_status_callback(&nif, status_changed);
    netif_set_hostname(&nif, "unikernel");
    /* IPv6: a link-local address from the MAC, then SLAAC from router adverts. */
    netif_create_ip6_linklocal_address(&nif, 1);
    nif.ip6_autoconfig_enabled = 1;
    netif_set_up(&nif);

    const char *ip = cmdline_get("ip");
    if (ip) {
        set_static(ip, cmdline_get("gw"), "command line");
        configured = true;
        summary("static");
    } else {
        use_dhcp = true;
        dhcp_deadline_ns = clock_ns() + cmdline_get_u64("dhcp_timeout", 10) * 1000000000ull;
        if (dhcp_start(&nif) != ERR_OK)
            dhcp_deadline_ns = 0; /* fall back at once */
        klog(LOG_INFO, "net: asking for an address by DHCP");
    }
    return 0;
}

void nif_dump(void)
{
    if (vn)
        vnet_dump(vn);
    char line[400];
    size_t n = 0;
    for (int i = 0; i < MEMP_MAX; i++) {
        const struct stats_mem *m = lwip_stats.memp[i];
        if (!m)
            continue;
        int w =
            snprintf(line + n, sizeof(line) - n, " %s=%u/%u", m->name, (unsigned)m->used, (unsigned)m->avail);
        if (w > 0 && (size_t)w < sizeof(line) - n)
            n += (size_t)w;
        if (m->err)
            klog(LOG_INFO, "net: lwIP pool %s: %u allocation failures", m->name, (unsigned)m->err);
    }
    klog(LOG_INFO, "net: lwIP pools in use:%s; heap %u/%u bytes", line, (unsigned)lwip_stats.mem.used,
         (unsigned)lwip_stats.mem.avail);
}

bool nif_poll(unsigned budget)
{
    if (!vn)
        return false;
    uint64_t t0 = cycles_now();
    bool more = vnet_poll(vn, budget);
    prof_add(PROF_RX_POLL, cycles_now() - t0);
    return more;
}

void nif_flush(uint64_t now)
{
    if (!vn)
        return;
    vnet_flush(vn);
    config_step(now);
}

void nif_second(void)
{
    if (vn)
        vnet_watchdog(vn);
}

bool nif_has_work(void)
{
    return vn && vnet_has_work(vn);
}

unsigned nif_count(void)
{
    return vn ? 1 : 0;
}
