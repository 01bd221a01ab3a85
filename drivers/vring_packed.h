/*
 * The driver side of a packed virtqueue (virtio 1.2 spec 2.8, negotiated with
 * VIRTIO_F_RING_PACKED). Nobody but drivers/vring.c calls this: it creates a
 * packed queue when the config's features carry VIRTIO_RING_F_PACKED and
 * forwards every vring_*() call here, so transports and device drivers see
 * one interface (drivers/vring.h) whatever the layout. Each function below
 * has the contract of the vring_*() function of the same name there.
 *
 * The device is not trusted, as for the split ring: a used descriptor whose
 * wrap flags make no sense, whose buffer id is out of range or not in flight
 * (completed twice), or whose length exceeds the chain's writable bytes marks
 * the queue broken (logged once) until vring_packed_reset().
 */
#ifndef DRIVERS_VRING_PACKED_H
#define DRIVERS_VRING_PACKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/vring.h"

struct vring_packed;

/** vring_packed_mem_size() - DMA bytes: ring, both event areas, indirect pool. 0 for a bad @num. */
size_t vring_packed_mem_size(unsigned num, uint64_t features);
/** vring_packed_create() - allocate and initialise (wrap counters 1, all free). NULL on bad cfg or no memory. */
struct vring_packed *vring_packed_create(const struct vring_config *cfg);
void vring_packed_destroy(struct vring_packed *pq);
/** vring_packed_reset() - back to the state after create; -EBUSY while chains are in flight. */
int vring_packed_reset(struct vring_packed *pq);
/** vring_packed_get_addrs() - descriptor ring, driver and device event suppression areas. */
void vring_packed_get_addrs(const struct vring_packed *pq, struct vring_addrs *addrs);
unsigned vring_packed_num(const struct vring_packed *pq);
unsigned vring_packed_num_free(const struct vring_packed *pq);
unsigned vring_packed_add_cost(const struct vring_packed *pq, unsigned nsegs);
/** vring_packed_add() - see vring_add(): same arguments, same errors. */
int vring_packed_add(struct vring_packed *pq, const struct vring_seg *segs, unsigned n_out, unsigned n_in,
                     void *cookie);
/** vring_packed_kick_prepare() - does the device want a notification (2.8.10, 2.8.21.3)? */
bool vring_packed_kick_prepare(struct vring_packed *pq);
/** vring_packed_notify() - ring the doorbell unconditionally (counted as a kick). */
void vring_packed_notify(struct vring_packed *pq);
/** vring_packed_get_used() - see vring_get_used(). */
void *vring_packed_get_used(struct vring_packed *pq, uint32_t *len);
bool vring_packed_has_used(const struct vring_packed *pq);
void vring_packed_disable_cb(struct vring_packed *pq);
/** vring_packed_enable_cb_prepare() - Return: the next used position and its wrap counter (bit 15). */
unsigned vring_packed_enable_cb_prepare(struct vring_packed *pq);
bool vring_packed_poll(struct vring_packed *pq, unsigned last);
bool vring_packed_enable_cb_delayed(struct vring_packed *pq);
bool vring_packed_interrupt(struct vring_packed *pq);
const char *vring_packed_name(const struct vring_packed *pq);
bool vring_packed_is_broken(const struct vring_packed *pq);
bool vring_packed_mark_broken(struct vring_packed *pq);
bool vring_packed_check(struct vring_packed *pq);
void *vring_packed_detach_unused(struct vring_packed *pq);
void vring_packed_get_stats(const struct vring_packed *pq, struct vring_stats *stats);
void vring_packed_get_state(const struct vring_packed *pq, struct vring_state *state);

#endif
