/*
 * The HTTP echo server app ("http", port 80): apps/http_proto.c's protocol
 * over lwIP's raw TCP API, with flow control, timeouts and connection
 * limits. docs/apps.md documents what it answers.
 *
 * Command line:
 *   http_port=80          where it listens
 *   http_max_body=1048576 request bodies over this get 413
 *   http_idle_ms=30000    a connection with no bytes received or acknowledged
 *                         for this long is closed (gracefully when nothing is
 *                         pending, else reset)
 *   http_request_ms=10000 a request (from its first byte to its last) that
 *                         takes longer gets 408 and the connection closes
 *                         (0 turns either timeout off)
 *   http_max_conns=N      connections beyond this get a 503 and are closed;
 *                         default 7/8 of lwIP's TCP pcb pool, so that the
 *                         refusal itself still finds a pcb
 *
 * Context: all of it runs in the main loop, from lwIP's callbacks.
 */
#ifndef APPS_HTTP_H
#define APPS_HTTP_H

#define HTTP_DEFAULT_PORT       80
#define HTTP_DEFAULT_IDLE_MS    30000
#define HTTP_DEFAULT_REQUEST_MS 10000

/* Stop parsing further pipelined requests while this much output is unsent. */
#define HTTP_OUT_HIGH (64 * 1024)

/** http_live_conns() - connection structures currently allocated (also in /stats). */
unsigned http_live_conns(void);

#endif
