/*
 * Solution of exercise "udp" (docs/exercises/README.md). Three things the
 * check catches:
 * - the datagram may be a chain (a frame in two receive buffers, or a
 *   reassembled one): p->len is the first pbuf's bytes, p->tot_len all of
 *   them, so walk the chain (or pbuf_copy_partial() it);
 * - udp_sendto() does not take the pbuf it sends: lwIP adds its headers in
 *   front (the PBUF_TRANSPORT room) and the netif's driver takes its own
 *   reference if it holds the frame, so the reply is freed here;
 * - the recv callback owns @p: freed here too, whatever happens.
 * The reply goes to @addr:@port, the sender, as given to the callback (do
 * not keep them: the next datagram may be someone else's).
 */
#include <stdint.h>

#include "lwip/pbuf.h"
#include "lwip/udp.h"

static void upper_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
    struct pbuf *r = pbuf_alloc(PBUF_TRANSPORT, p->tot_len, PBUF_RAM);

    (void)arg;
    if (r) {
        /* PBUF_RAM is one pbuf: its payload holds all tot_len bytes. */
        char *out = r->payload;
        u16_t n = pbuf_copy_partial(p, out, p->tot_len, 0);

        for (u16_t i = 0; i < n; i++)
            if (out[i] >= 'a' && out[i] <= 'z')
                out[i] = (char)(out[i] - 'a' + 'A');
        udp_sendto(pcb, r, addr, port); /* an error (no route, no memory) drops the answer, as UDP may */
        pbuf_free(r);
    }
    pbuf_free(p);
}

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
