/*
 * Network applications: how an app is declared, found and started.
 *
 * An app is one .c file in apps/ that fills in a `struct app` and registers
 * it with APP_REGISTER(); adding the file to APP_SRCS in the Makefile is all
 * it takes (nothing in the kernel names it). At boot, once the network is
 * up, the boot sequence (boot/main.c) calls apps_start(), which starts the
 * apps the command line asks for and registers their ticks with the main
 * loop (net/loop.h):
 *
 *   apps=http,echo     only these (in registration order)
 *   apps=all           every registered app
 *   apps=none          none
 *   (no apps=)         the apps marked .default_on; `make APPS=http,iperf`
 *                      bakes in another default list
 *   http_port=8080     any app's port: <name>_port=
 *
 * Apps use lwIP's raw API (lwip/tcp.h, lwip/udp.h) directly. The rules of
 * this kernel (lwIP runs with NO_SYS=1): every callback runs in the main
 * loop, never in an interrupt handler, so apps need no locks; nothing may
 * block or sleep; an app that calls tcp_abort() inside a callback must
 * return ERR_ABRT from it. docs/apps.md walks through a complete example
 * (apps/hello.c).
 */
#ifndef APPS_APP_H
#define APPS_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwip/tcp.h"
#include "lwip/udp.h"

/**
 * struct app - one application.
 * @name: its name on the command line (apps=NAME, NAME_port=), [a-z0-9_].
 * @port: the default port; NAME_port= overrides it. 0: the app has no port.
 * @default_on: started when the command line has no apps= option.
 * @start: bring the app up on @port (open its listening pcbs). Called once,
 *	from the main loop. Return 0, or a negative errno (logged; the other
 *	apps still start).
 * @tick: optional; called about once a second from the main loop (apps_tick()).
 */
struct app {
    const char *name;
    uint16_t port;
    bool default_on;
    int (*start)(uint16_t port);
    void (*tick)(void);
};

/*
 * APP_REGISTER(var) adds `static const struct app var` to the registry: a pointer
 * to it goes into the linker section ".apps", which linker.ld keeps (KEEP,
 * despite --gc-sections) between __apps_start and __apps_end. The section
 * holds pointers, not structures, so it is an array of equal entries
 * whatever the compiler does with alignment.
 */
#if defined(__clang__)
#define APP_NO_ASAN __attribute__((no_sanitize("address")))
#else
#define APP_NO_ASAN
#endif
#define APP_REGISTER(var)                                                                                    \
    static const struct app *const app_ptr_##var                                                             \
        __attribute__((used, section(".apps"), aligned(sizeof(void *)))) APP_NO_ASAN = &(var)

/**
 * apps_start() - start the apps @apps_option names ("http,echo", "all",
 * "none"; NULL: the default set), each on its port, and their ticks.
 * Logs one line per app. Unknown names are logged and skipped.
 * Context: boot/main.c, once, after the network interfaces are up, before loop_run().
 */
void apps_start(const char *apps_option);

/** apps_tick() - run the running apps' ticks. Context: the main loop, once a second. */
void apps_tick(void);

/** app_find() - the registered app called @name, or NULL. */
const struct app *app_find(const char *name);

/** app_is_running() - true if @name was started successfully. */
bool app_is_running(const char *name);

/* ---- helpers for apps ---- */

/**
 * app_cycles_begin() / app_cycles_end() - count the time an lwIP callback of
 * an app takes in /stats "cycles" (section "app"):
 *   uint64_t t0 = app_cycles_begin(); err = work(...); app_cycles_end(t0);
 */
uint64_t app_cycles_begin(void);
void app_cycles_end(uint64_t start);

/**
 * app_tcp_listen() - a TCP listener on @port for IPv4 and IPv6, with
 * @accept called (with @arg) for each new connection. Failures are logged
 * with @who as the prefix.
 * Return: the listening pcb, or NULL (port in use, out of pcbs).
 */
struct tcp_pcb *app_tcp_listen(const char *who, uint16_t port, tcp_accept_fn accept, void *arg);

/** app_udp_bind() - a UDP pcb bound to @port (IPv4 and IPv6) calling @recv. Return: it, or NULL. */
struct udp_pcb *app_udp_bind(const char *who, uint16_t port, udp_recv_fn recv, void *arg);

/**
 * struct app_buf - bytes an app has received but not yet used (it is
 * waiting for room to send). Copying out of the pbufs lets lwIP (and the
 * NIC driver behind it) have its receive buffers back at once; the peer is
 * held back by the TCP window instead, by calling tcp_recved() only for
 * bytes actually used.
 */
struct app_buf {
    char *data;
    size_t off, len, cap; /* the bytes are data[off, off + len) */
};

/** app_buf_append() - copy @p's bytes from @offset on. Return: 0, or -ENOMEM. */
int app_buf_append(struct app_buf *b, const struct pbuf *p, size_t offset);

/** app_buf_consume() - forget the first @n bytes. */
void app_buf_consume(struct app_buf *b, size_t n);

/** app_buf_free() - release the memory; the buffer is empty and usable again. */
void app_buf_free(struct app_buf *b);

static inline const char *app_buf_bytes(const struct app_buf *b)
{
    return b->data + b->off;
}

#endif
