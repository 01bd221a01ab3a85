/*
 * The app registry (apps/app.h): the .apps linker section, the apps= and
 * NAME_port= options, the once-a-second tick, and small helpers for apps
 * over lwIP's raw API (lwIP 2.1.3 doc/rawapi.txt).
 */
#include "apps/app.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/stats.h"
#include "lib/cmdline.h"
#include "lib/klog.h"
#include "lib/prof.h"
#include "net/loop.h"
#include "net/net_budget.h"

/* The default list when the command line has no apps= (make APPS=...). */
#ifndef APPS_DEFAULT
#define APPS_DEFAULT ""
#endif

#define APPS_MAX 32

/* Bounds of the .apps section (linker.ld). */
extern const struct app *const __apps_start[];
extern const struct app *const __apps_end[];

struct running {
    const struct app *app;
    uint16_t port;
};

static struct running running[APPS_MAX];
static unsigned nrunning;

const struct app *app_find(const char *name)
{
    for (const struct app *const *a = __apps_start; a < __apps_end; a++)
        if (strcmp((*a)->name, name) == 0)
            return *a;
    return NULL;
}

bool app_is_running(const char *name)
{
    for (unsigned i = 0; i < nrunning; i++)
        if (strcmp(running[i].app->name, name) == 0)
            return true;
    return false;
}

/* Is @name an item of the comma-separated @list? */
static bool list_has(const char *list, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);

        if (len == n && strncmp(p, name, n) == 0)
            return true;
        if (!comma)
            break;
        p = comma + 1;
    }
    return false;
}

/* Names in @list that no app has: a typo on the command line deserves a word. */
static void warn_unknown(const char *list)
{
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char name[32];

        if (len > 0 && len < sizeof(name)) {
            memcpy(name, p, len);
            name[len] = 0;
            if (strcmp(name, "all") != 0 && strcmp(name, "none") != 0 && !app_find(name))
                klog(LOG_WARN, "apps: no app called '%s'", name);
        }
        if (!comma)
            break;
        p = comma + 1;
    }
}

static bool wanted(const struct app *a, const char *list)
{
    if (!list)
        return a->default_on;
    if (list_has(list, "all"))
        return true;
    return list_has(list, a->name);
}

static uint16_t app_port(const struct app *a)
{
    char key[48];
    uint64_t port;

    if (a->port == 0)
        return 0;
    snprintf(key, sizeof(key), "%s_port", a->name);
    port = cmdline_get_u64(key, a->port);
    if (port == 0 || port > 65535) {
        klog(LOG_WARN, "apps: %s=%llu is not a port, using %u", key, (unsigned long long)port, a->port);
        return a->port;
    }
    return (uint16_t)port;
}

void apps_tick(void)
{
    for (unsigned i = 0; i < nrunning; i++)
        if (running[i].app->tick)
            running[i].app->tick();
}

static void write_apps_stats(struct json_out *o, void *ctx)
{
    (void)ctx;
    json_begin_array(o);
    for (unsigned i = 0; i < nrunning; i++) {
        json_begin_object(o);
        json_kv_string(o, "name", running[i].app->name);
        json_kv_u64(o, "port", running[i].port);
        json_end_object(o);
    }
    json_end_array(o);
}

void apps_start(const char *apps_option)
{
    const char *list = apps_option;

    if (!list && APPS_DEFAULT[0])
        list = APPS_DEFAULT;
    if (list)
        warn_unknown(list);
    for (const struct app *const *p = __apps_start; p < __apps_end; p++) {
        const struct app *a = *p;
        uint16_t port;
        int err;

        if (!wanted(a, list))
            continue;
        if (app_is_running(a->name)) {
            klog(LOG_WARN, "apps: %s registered twice", a->name);
            continue;
        }
        if (nrunning == APPS_MAX) {
            klog(LOG_ERR, "apps: more than %d apps", APPS_MAX);
            break;
        }
        port = app_port(a);
        err = a->start(port);
        if (err < 0) {
            klog(LOG_ERR, "apps: %s did not start (error %d)", a->name, err);
            continue;
        }
        running[nrunning++] = (struct running){a, port};
        if (port)
            klog(LOG_INFO, "apps: %s on port %u", a->name, port);
        else
            klog(LOG_INFO, "apps: %s started", a->name);
    }
    if (nrunning == 0)
        klog(LOG_WARN, "apps: none running");
    stats_register("apps", write_apps_stats, NULL);
    loop_register_tick(apps_tick);
}

/* ------------------------------------------------------------ helpers */

uint64_t app_cycles_begin(void)
{
    return prof_now();
}

void app_cycles_end(uint64_t start)
{
    prof_add(PROF_APP, prof_now() - start);
}

struct tcp_pcb *app_tcp_listen(const char *who, uint16_t port, tcp_accept_fn accept, void *arg)
{
    /* IPADDR_TYPE_ANY: one pcb takes IPv4 and IPv6 connections. */
    struct tcp_pcb *pcb = tcp_new_ip_type(IPADDR_TYPE_ANY);
    struct tcp_pcb *lpcb;
    err_t err;

    if (!pcb) {
        klog(LOG_ERR, "%s: no TCP pcb for port %u", who, port);
        return NULL;
    }
    err = tcp_bind(pcb, IP_ANY_TYPE, port);
    if (err != ERR_OK) {
        klog(LOG_ERR, "%s: cannot bind TCP port %u (lwIP error %d)", who, port, err);
        tcp_close(pcb);
        return NULL;
    }
    /* tcp_listen() frees pcb and returns a smaller listening one, or NULL and keeps pcb. */
    lpcb = tcp_listen(pcb);
    if (!lpcb) {
        klog(LOG_ERR, "%s: cannot listen on TCP port %u", who, port);
        tcp_close(pcb);
        return NULL;
    }
    tcp_arg(lpcb, arg);
    tcp_accept(lpcb, accept);
    return lpcb;
}

struct udp_pcb *app_udp_bind(const char *who, uint16_t port, udp_recv_fn recv, void *arg)
{
    struct udp_pcb *pcb = udp_new_ip_type(IPADDR_TYPE_ANY);
    err_t err;

    if (!pcb) {
        klog(LOG_ERR, "%s: no UDP pcb for port %u", who, port);
        return NULL;
    }
    err = udp_bind(pcb, IP_ANY_TYPE, port);
    if (err != ERR_OK) {
        klog(LOG_ERR, "%s: cannot bind UDP port %u (lwIP error %d)", who, port, err);
        udp_remove(pcb);
        return NULL;
    }
    udp_recv(pcb, recv, arg);
    return pcb;
}

int app_buf_append(struct app_buf *b, const struct pbuf *p, size_t offset)
{
    size_t n = p->tot_len - offset;

    if (b->len == 0)
        b->off = 0;
    if (b->off + b->len + n > b->cap) {
        if (b->off) { /* slide down before growing */
            memmove(b->data, b->data + b->off, b->len);
            b->off = 0;
        }
        if (b->len + n > b->cap) {
            size_t cap = b->cap ? b->cap : 2048;
            char *nd;

            while (cap < b->len + n)
                cap *= 2;
            if (!net_budget_app_grow(b->cap, cap))
                return -ENOMEM; /* over this connection's share: the app drops it */
            nd = realloc(b->data, cap);
            if (!nd)
                return -ENOMEM;
            b->data = nd;
            b->cap = cap;
        }
    }
    pbuf_copy_partial(p, b->data + b->off + b->len, (u16_t)n, (u16_t)offset);
    b->len += n;
    return 0;
}

void app_buf_consume(struct app_buf *b, size_t n)
{
    if (n >= b->len) {
        b->off = b->len = 0;
        return;
    }
    b->off += n;
    b->len -= n;
}

void app_buf_free(struct app_buf *b)
{
    free(b->data);
    *b = (struct app_buf){0};
}
