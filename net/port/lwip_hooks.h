/*
 * lwIP 2.1.3's hooks (opt.h, "Hooks"), included by lwIP's sources through
 * LWIP_HOOK_FILENAME (net/port/lwipopts.h). Both are net/tcp_guard.c's.
 *
 * The host unit tests build lwIP without these hooks: they link no
 * tcp_guard (its secrets come from RDRAND and its stats from apps/), and
 * lwIP then falls back to its own ISNs and has no SYN cookies.
 */
#ifndef NET_PORT_LWIP_HOOKS_H
#define NET_PORT_LWIP_HOOKS_H

#ifndef HOST_TEST
#include "lwip/arch.h"
#include "lwip/err.h"
#include "lwip/ip_addr.h"

struct tcp_pcb;
struct tcp_hdr;
struct pbuf;

/* RFC 6528 ISNs: called by tcp_next_iss() for every new connection. */
u32_t tcp_guard_isn(const ip_addr_t *local_ip, u16_t local_port, const ip_addr_t *remote_ip,
                    u16_t remote_port);
#define LWIP_HOOK_TCP_ISN(local_ip, local_port, remote_ip, remote_port)                                      \
    tcp_guard_isn((local_ip), (local_port), (remote_ip), (remote_port))

/* SYN cookies: every segment, before tcp_input() hands it to its pcb
 * (listeners included); != ERR_OK drops it. */
err_t tcp_guard_inpacket(struct tcp_pcb *pcb, struct tcp_hdr *hdr, u16_t optlen, u16_t opt1len, u8_t *opt2,
                         struct pbuf *p);
#define LWIP_HOOK_TCP_INPACKET_PCB(pcb, hdr, optlen, opt1len, opt2, p)                                       \
    tcp_guard_inpacket((pcb), (hdr), (optlen), (opt1len), (opt2), (p))
#endif

#endif
