/*
 * The /stats document: a registry of providers, each contributing one
 * member of the top-level JSON object, so that the NIC glue, the interrupt
 * code, lwIP's counters and the apps can show their counters without the
 * HTTP server knowing them (and without them knowing HTTP). It lives in lib/
 * so that any layer may register without including a layer above it.
 *
 *   {"uptime_ms":12345,             stats_set_clock()'s clock
 *    "lwip":{...},                  net/stack_stats.c: pools, heap, protocol counters, pcbs
 *    "<provider name>":<its value>, in registration order
 *    ...}
 *
 * A provider writes exactly one JSON value, usually an object, with the
 * writer in lib/json.h:
 *
 *   static void vnet_stats(struct json_out *o, void *ctx)
 *   {
 *       struct vnet *vn = ctx;
 *       json_begin_object(o);
 *       json_kv_u64(o, "rx_packets", vn->rx_packets);
 *       json_end_object(o);
 *   }
 *   stats_register("virtio_net", vnet_stats, vn);
 *
 * A provider that leaves containers open or writes nothing still yields
 * valid JSON (the registry closes them or writes null).
 *
 * Conventions the status page (GET /) understands, so that it can draw them:
 *  - virtqueues: an array member named "queues" (anywhere in a provider's
 *    value) whose elements are objects with
 *      "name"        string, e.g. "rx0"
 *      "size"        ring entries (required: an element without it is skipped)
 *      "avail_idx"   the driver's next avail index (free-running, mod 2^16)
 *      "used_idx"    the device's used index (free-running, mod 2^16)
 *      "last_used"   how far the driver has consumed the used ring (optional)
 *      "in_flight"   buffers the device holds (optional: else avail - used)
 *    Any other members of the element are shown as text next to its ring.
 *  - interrupt counts: an object member named "vectors" mapping the vector
 *    number (as a string) to its count, e.g. "interrupts":{"vectors":{"33":12}}.
 *  - cycle counters: the top-level "cycles" (net/netif.c) with "tsc_hz" and
 *    "sections":{"<name>":{"calls","cycles","cycles_per_call","ns_per_call","ns"}}.
 *  - everything else is shown as a table of name: value.
 *
 * Context: everything here runs in the main loop (providers are called while
 * an HTTP response is built). A provider reading counters that interrupt
 * handlers update reads each once; exact consistency is not needed.
 */
#ifndef LIB_STATS_H
#define LIB_STATS_H

#include "lib/json.h"

#include <stdint.h>

#define STATS_MAX_PROVIDERS 16

typedef void (*stats_write_fn)(struct json_out *out, void *ctx);

/** stats_set_clock() - the clock of "uptime_ms" (milliseconds since boot). Before it: 0. */
void stats_set_clock(uint64_t (*now_ms)(void));

/**
 * stats_register() - add @write (called with @ctx) as the member @name of
 * /stats. @name must stay valid (a string literal).
 * Return: 0, -EINVAL (no name or function, or "uptime_ms"), -EEXIST
 * (name taken), -ENOSPC (STATS_MAX_PROVIDERS already registered).
 */
int stats_register(const char *name, stats_write_fn write, void *ctx);

/** stats_unregister() - remove @name. Return: 0 or -ENOENT. */
int stats_unregister(const char *name);

/** stats_write() - the whole /stats document as one JSON object. */
void stats_write(struct json_out *out);

#endif
