/*
 * hello: the example app of docs/apps.md. Greets each TCP client with one
 * line and hangs up:  nc <guest> 8000  ->  "hello, visitor 1"
 * Enable it with apps=http,hello (it is not in the default set).
 */
#include <errno.h>
#include <stdio.h>

#include "apps/app.h"

static unsigned visitors;

/* The greeting has been acknowledged: hang up. */
static err_t hello_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    (void)arg;
    (void)len;
    tcp_sent(pcb, NULL);
    if (tcp_close(pcb) != ERR_OK) { /* no memory for the FIN */
        tcp_abort(pcb);
        return ERR_ABRT; /* the rule: after tcp_abort() in a callback, return ERR_ABRT */
    }
    return ERR_OK;
}

static err_t hello_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    char line[48];
    int n;

    (void)arg;
    if (err != ERR_OK || pcb == NULL) /* lwIP ran out of pcbs */
        return ERR_VAL;
    n = snprintf(line, sizeof(line), "hello, visitor %u\n", ++visitors);
    /* COPY: line is on our stack, so lwIP must keep its own copy. */
    if (tcp_write(pcb, line, (u16_t)n, TCP_WRITE_FLAG_COPY) != ERR_OK)
        return ERR_MEM; /* any error return makes lwIP abort the connection */
    tcp_sent(pcb, hello_sent);
    tcp_output(pcb);
    return ERR_OK;
}

static int hello_start(uint16_t port)
{
    return app_tcp_listen("hello", port, hello_accept, NULL) ? 0 : -EBUSY;
}

static const struct app hello_app = {
    .name = "hello",
    .port = 8000,
    .default_on = false,
    .start = hello_start,
};
APP_REGISTER(hello_app);
