/*
 * The main loop: everything network-related happens in it (lwIP NO_SYS=1).
 * It knows the NICs' netifs (net/netif.h) and lwIP's timers, nothing above:
 * whatever must run once a second (the apps' ticks, trace's rate limits)
 * registers a tick with loop_register_tick() before loop_run().
 *
 * Command line: stats_interval=SECONDS (print nif_dump() that often).
 */
#ifndef NET_LOOP_H
#define NET_LOOP_H

#define LOOP_MAX_TICKS 8

/**
 * loop_register_tick() - call @fn about once a second from the main loop,
 * in registration order. Return: 0, -EINVAL (NULL), -ENOSPC (LOOP_MAX_TICKS taken).
 */
int loop_register_tick(void (*fn)(void));

/**
 * loop_run() - the main loop: poll the NICs, run lwIP's timers and the
 * registered ticks; sleep in hlt when idle. Never returns.
 */
void loop_run(void) __attribute__((noreturn));

#endif
