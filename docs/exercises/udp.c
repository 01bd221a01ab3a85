/*
 * Exercise "udp" (docs/exercises/README.md, chapter 8): a UDP app. Answer
 * every datagram that arrives on @port, to the address and port it came
 * from, with the same bytes with a-z in upper case (every other byte as it
 * is). lwIP's raw API (lwip/udp.h, lwIP's doc/rawapi.txt): udp_new(),
 * udp_bind(), udp_recv(), and in the callback pbuf_alloc(), udp_sendto(),
 * pbuf_free(). The check runs it on lwIP built for the host.
 * Check with: make exercise N=udp
 */
#include <stdint.h>

#include "lwip/pbuf.h"
#include "lwip/udp.h"

static void upper_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
    (void)arg, (void)pcb, (void)addr, (void)port;
    pbuf_free(p); /* TODO: answer first */
}

/* Open the app's pcb on @port. Return 0, or -1 if lwIP said no. */
int ex_udp_start(uint16_t port)
{
    struct udp_pcb *pcb = udp_new();

    if (!pcb)
        return -1;
    if (udp_bind(pcb, IP_ADDR_ANY, port) != ERR_OK) {
        udp_remove(pcb);
        return -1;
    }
    udp_recv(pcb, upper_recv, NULL);
    return 0;
}
