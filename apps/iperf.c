/* The iperf 2 server: lwIP's lwiperf (apps/iperf.h). */
#include "apps/iperf.h"

#include <errno.h>

#include "apps/app.h"
#include "lib/stats.h"
#include "lib/klog.h"
#include "lwip/apps/lwiperf.h"

static struct {
    uint64_t sessions, aborted, bytes;
    uint32_t last_bytes, last_ms, last_kbps;
} st;

static void iperf_report(void *arg, enum lwiperf_report_type type, const ip_addr_t *local_addr,
                         u16_t local_port, const ip_addr_t *remote_addr, u16_t remote_port, u32_t bytes,
                         u32_t ms, u32_t kbps)
{
    (void)arg;
    (void)local_addr;
    (void)local_port;
    if (type != LWIPERF_TCP_DONE_SERVER) {
        st.aborted++;
        klog(LOG_WARN, "iperf: session from %s:%u ended early (%d)", ipaddr_ntoa(remote_addr), remote_port,
             (int)type);
        return;
    }
    st.sessions++;
    st.bytes += bytes;
    st.last_bytes = bytes;
    st.last_ms = ms;
    st.last_kbps = kbps;
    klog(LOG_INFO, "iperf: %s:%u sent %u bytes in %u ms: %u kbit/s", ipaddr_ntoa(remote_addr), remote_port,
         bytes, ms, kbps);
}

static void write_iperf_stats(struct json_out *o, void *ctx)
{
    (void)ctx;
    json_begin_object(o);
    json_kv_u64(o, "sessions", st.sessions);
    json_kv_u64(o, "aborted", st.aborted);
    json_kv_u64(o, "bytes", st.bytes);
    json_kv_u64(o, "last_bytes", st.last_bytes);
    json_kv_u64(o, "last_ms", st.last_ms);
    json_kv_u64(o, "last_kbit_s", st.last_kbps);
    json_end_object(o);
}

static int iperf_start(uint16_t port)
{
    /* IP_ANY_TYPE: lwiperf's listening pcb takes IPv4 and IPv6. */
    if (!lwiperf_start_tcp_server(IP_ANY_TYPE, port, iperf_report, NULL))
        return -EBUSY;
    stats_register("iperf", write_iperf_stats, NULL);
    return 0;
}

static const struct app iperf_app = {
    .name = "iperf",
    .port = IPERF_DEFAULT_PORT,
    .default_on = true,
    .start = iperf_start,
};
APP_REGISTER(iperf_app);
