/*
 * The echo app ("echo", port 7): the Echo Protocol of RFC 862 over TCP and
 * over UDP on the same port (echo_port= moves both). TCP echoes under flow
 * control: bytes are acknowledged (tcp_recved) only once they are queued
 * back, so a client that does not read its echoes is slowed down by its own
 * closed window rather than filling our memory. UDP sends each datagram
 * back to where it came from. A TCP client silent for echo_idle_ms= (default
 * 5 minutes, 0: never) is reset. Counters appear in /stats as "echo".
 */
#ifndef APPS_ECHO_H
#define APPS_ECHO_H

#define ECHO_DEFAULT_PORT    7
#define ECHO_DEFAULT_IDLE_MS (5 * 60 * 1000)

#endif
