/*
 * The netif glue: every NIC (drivers/nic.h) as its own lwIP netif, en0,
 * en1, ... in probe order (lwIP NO_SYS=1: lwIP is only ever called from the
 * main loop, net/loop.c, never from an interrupt handler), each with its own
 * addressing, the trace=net and cycle-count hooks in front of lwIP and the
 * driver, and the /stats sections of the data path.
 */
#include "net/netif.h"
#include "net/lwip_mem.h"
#include "net/ethif.h"
#include "net/tcp_guard.h"
#include "net/stack_stats.h"
#include "lib/json.h"
#include "lib/stats.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/timer.h"
#include "drivers/nic.h"
#include "lib/cmdline.h"
#include "lib/klog.h"
#include "lib/prof.h"
#include "lib/trace.h"
#include "net/net_budget.h"
#include "net/txhold.h"
#include "lwip/dhcp.h"
#include "lwip/init.h"
#include "lwip/ip4_addr.h"
#include "lwip/netif.h"
#include "lwip/memp.h"
#include "lwip/stats.h"
#include "lwip/timeouts.h"
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One interface: its netif (first, so that a netif pointer is its iface) and addressing. */
struct iface {
    struct netif netif;
    struct nic *nic;
    char name[8]; /* "en0": also the prefix of its command-line options */
    bool configured;
    bool use_dhcp;
    const char *how; /* "static", "dhcp", "static fallback", or NULL while asking */
    uint64_t dhcp_deadline_ns;
    /* What the netif called before nif_init() put its hooks in front. */
    netif_input_fn stack_input;        /* ethernet_input */
    netif_linkoutput_fn driver_output; /* the NIC driver's */
    ip4_addr_t last;                   /* for status_changed() */
    unsigned valid6;                   /* bit i: IPv6 address slot i was valid */
};

static struct iface ifaces[NIC_MAX];
static unsigned nifaces;
static unsigned poll_first; /* the interface polled first this turn: round robin */

static struct iface *iface_of(struct netif *netif)
{
    return (struct iface *)netif;
}
_Static_assert(offsetof(struct iface, netif) == 0, "iface_of()");

struct netif *nif_default(void)
{
    return nifaces ? &ifaces[0].netif : NULL;
}

unsigned nif_count(void)
{
    return nifaces;
}

struct netif *nif_get(unsigned i)
{
    return i < nifaces ? &ifaces[i].netif : NULL;
}

/* An option of this interface: "en1.ip"; en0 also answers to the bare "ip". */
static const char *opt(const struct iface *f, const char *key)
{
    char k[48];
    snprintf(k, sizeof(k), "%s.%s", f->name, key);
    const char *v = cmdline_get(k);
    if (!v && f == &ifaces[0])
        v = cmdline_get(key);
    return v;
}

static uint64_t opt_u64(const struct iface *f, const char *key, uint64_t def)
{
    char k[48];
    snprintf(k, sizeof(k), "%s.%s", f->name, key);
    if (cmdline_get(k))
        return cmdline_get_u64(k, def);
    return cmdline_get_u64(key, def);
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
    err_t err = iface_of(netif)->stack_input(p, netif);
    prof_add(PROF_LWIP_INPUT, cycles_now() - t0);
    return err;
}

/* netif->linkoutput: every frame lwIP sends, on its way to the driver. */
static err_t net_linkoutput(struct netif *netif, struct pbuf *p)
{
    if (trace_on(TRACE_NET))
        trace_pbuf("tx", p);
    uint64_t t0 = cycles_now();
    err_t err = iface_of(netif)->driver_output(netif, p);
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

static void set_static(struct iface *f, const char *ip, const char *gw, const char *why)
{
    ip4_addr_t a, m, g;
    if (!parse_cidr(ip, &a, &m)) {
        klog(LOG_ERR, "net: bad address '%s' (want ADDR/PREFIX) for %s", ip, f->name);
        return;
    }
    ip4_addr_set_zero(&g);
    if (gw && !ip4addr_aton(gw, &g))
        klog(LOG_ERR, "net: bad gateway '%s' for %s", gw, f->name);
    netif_set_addr(&f->netif, &a, &m, &g);
    klog(LOG_INFO, "net: static IPv4 %s (%s) on %s", ip, why, f->name);
}

static void summary(struct iface *f, const char *how)
{
    struct netif *nif = &f->netif;
    char v4[16], mask[16], gw[16];
    f->how = how;
    strlcpy(v4, ip4addr_ntoa(netif_ip4_addr(nif)), sizeof(v4));
    strlcpy(mask, ip4addr_ntoa(netif_ip4_netmask(nif)), sizeof(mask));
    strlcpy(gw, ip4addr_ntoa(netif_ip4_gw(nif)), sizeof(gw));
    char v6[200];
    size_t n = 0;
    v6[0] = '\0';
    for (int i = 0; i < LWIP_IPV6_NUM_ADDRESSES; i++) {
        if (ip6_addr_isinvalid(netif_ip6_addr_state(nif, i)))
            continue;
        int w = snprintf(v6 + n, sizeof(v6) - n, "%s%s", n ? "," : "", ip6addr_ntoa(netif_ip6_addr(nif, i)));
        if (w > 0 && (size_t)w < sizeof(v6) - n)
            n += (size_t)w;
    }
    const uint8_t *mac = nif->hwaddr;
    klog(LOG_INFO, "net: %s MAC %02x:%02x:%02x:%02x:%02x:%02x IPv4 %s netmask %s gw %s (%s) IPv6 %s link %s",
         f->name, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], v4, mask, gw, how, n ? v6 : "none",
         netif_is_link_up(nif) ? "up" : "down");
}

/* lwIP calls this on any address change, IPv6 ones too (when an address
 * becomes valid or stops being so): log each. */
static void status_changed(struct netif *netif)
{
    struct iface *f = iface_of(netif);
    if (f->configured && !ip4_addr_cmp(&f->last, netif_ip4_addr(netif)))
        klog(LOG_INFO, "net: IPv4 address now %s on %s", ip4addr_ntoa(netif_ip4_addr(netif)), f->name);
    ip4_addr_copy(f->last, *netif_ip4_addr(netif));
    for (int i = 0; i < LWIP_IPV6_NUM_ADDRESSES; i++) {
        bool valid = ip6_addr_isvalid(netif_ip6_addr_state(netif, i));
        if (valid != ((f->valid6 >> i) & 1))
            klog(LOG_INFO, "net: IPv6 address %s %s on %s", ip6addr_ntoa(netif_ip6_addr(netif, i)),
                 valid ? "valid" : "gone", f->name);
        f->valid6 = valid ? f->valid6 | 1u << i : f->valid6 & ~(1u << i);
    }
}

static void config_step(struct iface *f, uint64_t now)
{
    if (f->configured)
        return;
    if (f->use_dhcp && dhcp_supplied_address(&f->netif)) {
        f->configured = true;
        summary(f, "dhcp");
    } else if (f->use_dhcp && now >= f->dhcp_deadline_ns) {
        dhcp_stop(&f->netif);
        klog(LOG_WARN, "net: no DHCP answer in %llu s on %s; using the fallback address",
             (unsigned long long)opt_u64(f, "dhcp_timeout", 10), f->name);
        const char *ip = opt(f, "ip_fallback");
        const char *gw = opt(f, "gw_fallback");
        f->configured = true;
        /* QEMU's user network is en0's default; another interface has none. */
        if (!ip && f != &ifaces[0]) {
            summary(f, "no address");
            return;
        }
        set_static(f, ip ? ip : "10.0.2.15/24", ip ? gw : (gw ? gw : "10.0.2.2"), "fallback");
        summary(f, "static fallback");
    }
}

/* ---- /stats providers: the NICs, their netifs ---- */

static void stats_driver0(struct json_out *o, void *ctx)
{
    (void)ctx;
    ifaces[0].nic->ops->write_stats(ifaces[0].nic, o);
}

static void ip_kv(struct json_out *o, const char *key, const ip4_addr_t *a)
{
    json_kv_string(o, key, ip4addr_ntoa(a));
}

/* "interfaces":{"en0":{...},"en1":{...}}: the netif and the device-independent counters;
 * en0's driver section is the top-level one ("virtio_net"), the others' are nested here. */
static void stats_interfaces(struct json_out *o, void *ctx)
{
    (void)ctx;
    json_begin_object(o);
    for (unsigned i = 0; i < nifaces; i++) {
        struct iface *f = &ifaces[i];
        struct netif *nif = &f->netif;
        struct nic_counters c;
        char mac[18];
        f->nic->ops->counters(f->nic, &c);
        snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", nif->hwaddr[0], nif->hwaddr[1],
                 nif->hwaddr[2], nif->hwaddr[3], nif->hwaddr[4], nif->hwaddr[5]);
        json_key(o, f->name);
        json_begin_object(o);
        json_kv_string(o, "name", f->name);
        json_kv_string(o, "driver", f->nic->driver);
        json_kv_string(o, "mac", mac);
        ip_kv(o, "ipv4", netif_ip4_addr(nif));
        ip_kv(o, "netmask", netif_ip4_netmask(nif));
        ip_kv(o, "gw", netif_ip4_gw(nif));
        json_kv_string(o, "config", f->how ? f->how : "dhcp pending");
        json_kv_u64(o, "mtu", nif->mtu);
        json_kv_bool(o, "link_up", netif_is_link_up(nif));
        json_kv_bool(o, "dhcp", f->use_dhcp && dhcp_supplied_address(nif));
        json_kv_u64(o, "rx_packets", c.rx_packets);
        json_kv_u64(o, "rx_bytes", c.rx_bytes);
        json_kv_u64(o, "tx_packets", c.tx_packets);
        json_kv_u64(o, "tx_bytes", c.tx_bytes);
        json_kv_u64(o, "rx_drops", c.rx_drops);
        json_kv_u64(o, "tx_drops", c.tx_drops);
        json_kv_u64(o, "link_changes", c.link_changes);
        struct ethif_stats es;
        ethif_get_stats(nif, &es);
        json_kv_u64(o, "rx_csum_trusted", es.rx_csum_trusted);
        json_kv_u64(o, "rx_csum_completed", es.rx_csum_completed);
        json_kv_u64(o, "rx_csum_fragment", es.rx_csum_fragment);
        json_kv_u64(o, "rx_drop_bad", es.rx_drop_bad);
        json_kv_u64(o, "rx_gso", es.rx_gso);
        json_kv_u64(o, "rx_gso_bytes", es.rx_gso_bytes);
        json_kv_u64(o, "rx_gso_bad", es.rx_gso_bad);
        json_kv_u64(o, "tx_csum_offload", es.tx_csum_offload);
        json_kv_u64(o, "tx_copied", es.tx_copied);
        json_kv_u64(o, "tx_drop_nomem", es.tx_drop_nomem);
        json_kv_u64(o, "tx_gso_frames", es.tx_gso_frames);
        json_kv_u64(o, "tx_gso_segments", es.tx_gso_segments);
        json_kv_u64(o, "tx_gso_dropped", es.tx_gso_dropped);
        if (i > 0) {
            json_key(o, f->nic->driver);
            f->nic->ops->write_stats(f->nic, o);
        }
        json_end_object(o);
    }
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

/* Bring up the NIC @nic as the interface @f: netif, hooks, addressing. */
static int iface_up(struct iface *f, struct nic *nic)
{
    struct netif *nif = &f->netif;

    f->nic = nic;
    snprintf(f->name, sizeof(f->name), "en%u", nic->index);
    if (ethif_add(nif, nic) < 0) {
        klog(LOG_ERR, "net: no netif for %s (lwIP or the NIC refused, or no memory)", f->name);
        return -EIO;
    }
    /* In front of lwIP and the driver: every frame passes these two hooks. */
    f->stack_input = nif->input;
    nif->input = net_input;
    f->driver_output = nif->linkoutput;
    nif->linkoutput = net_linkoutput;
    netif_set_status_callback(nif, status_changed);
    netif_set_hostname(nif, "unikernel");
    /* IPv6: a link-local address from the MAC, then SLAAC from router adverts. */
    netif_create_ip6_linklocal_address(nif, 1);
    nif->ip6_autoconfig_enabled = 1;
    netif_set_up(nif);

    const char *ip = opt(f, "ip");
    if (ip) {
        set_static(f, ip, opt(f, "gw"), "command line");
        f->configured = true;
        summary(f, "static");
    } else {
        f->use_dhcp = true;
        f->dhcp_deadline_ns = clock_ns() + opt_u64(f, "dhcp_timeout", 10) * 1000000000ull;
        if (dhcp_start(nif) != ERR_OK)
            f->dhcp_deadline_ns = 0; /* fall back at once */
        klog(LOG_INFO, "net: asking for an address by DHCP on %s", f->name);
    }
    return 0;
}

int nif_init(void)
{
    lwip_init();
    lwip_mem_init();
    stack_stats_register();
    if (nic_count() == 0) {
        klog(LOG_WARN, "net: no NIC (no virtio-net device: no network)");
        return -ENODEV;
    }
    for (unsigned i = 0; i < nic_count(); i++)
        if (iface_up(&ifaces[nifaces], nic_get(i)) == 0)
            nifaces++;
    if (nifaces == 0)
        return -EIO;
    netif_set_default(&ifaces[0].netif);
    txhold_set_push(ethif_push_all);
    stats_register(ifaces[0].nic->driver, stats_driver0, NULL);
    stats_register("interfaces", stats_interfaces, NULL);
    stats_register("cycles", stats_cycles, NULL);
    stats_register("trace", stats_trace, NULL);
    tcp_guard_init();
    net_budget_init();
    return 0;
}

void nif_dump(void)
{
    for (unsigned i = 0; i < nifaces; i++)
        ifaces[i].nic->ops->dump(ifaces[i].nic);
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

/* Each NIC gets its own budget per turn, and the one polled first takes
 * turns: a busy en0 cannot starve en1, nor the other way round. */
bool nif_poll(unsigned budget)
{
    bool more = false;
    uint64_t t0 = cycles_now();
    for (unsigned k = 0; k < nifaces; k++) {
        struct iface *f = &ifaces[(poll_first + k) % nifaces];
        more |= f->nic->ops->poll(f->nic, budget);
    }
    if (nifaces)
        poll_first = (poll_first + 1) % nifaces;
    prof_add(PROF_RX_POLL, cycles_now() - t0);
    return more;
}

void nif_flush(uint64_t now)
{
    for (unsigned i = 0; i < nifaces; i++) {
        ethif_push(&ifaces[i].netif); /* what lwIP queued this round (TSO), then the kick */
        ifaces[i].nic->ops->flush(ifaces[i].nic);
        config_step(&ifaces[i], now);
    }
}

void nif_second(void)
{
    for (unsigned i = 0; i < nifaces; i++)
        ifaces[i].nic->ops->watchdog(ifaces[i].nic);
}

bool nif_has_work(void)
{
    for (unsigned i = 0; i < nifaces; i++)
        if (ifaces[i].nic->ops->has_work(ifaces[i].nic))
            return true;
    return false;
}
