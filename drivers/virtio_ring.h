/*
 * The split virtqueue as it lies in memory shared with the device
 * (virtio 1.2 spec 2.7 "Split Virtqueues"; the same layout as virtio 1.0 2.4
 * and the legacy 0.9.5 "vring").
 *
 * A virtqueue is three areas, each written by one side only:
 *
 *   descriptor table (descriptor area)  16 * num bytes, 16-aligned  driver writes
 *   available ring   (driver area)     6 + 2 * num bytes, 2-aligned driver writes
 *   used ring        (device area)     6 + 8 * num bytes, 4-aligned device writes
 *
 * The available ring ends with used_event and the used ring with avail_event;
 * both exist in memory whatever was negotiated, and mean something only with
 * VIRTIO_RING_F_EVENT_IDX (2.7.7, 2.7.10).
 *
 * All fields are little-endian (2.4, and guest-native for legacy devices,
 * 2.7.3); on x86 both are the CPU's own order, so fields are read and written
 * as plain integers and this header refuses to build anywhere else.
 *
 * This header includes only <stdint.h> and <stddef.h>: the host tests and the
 * device model in tests/unit/ use it unchanged.
 */
#ifndef DRIVERS_VIRTIO_RING_H
#define DRIVERS_VIRTIO_RING_H

#include <stddef.h>
#include <stdint.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "virtio_ring.h: fields are accessed without byte swapping (little-endian only)"
#endif

/* Little-endian wire types: they say "the device reads this", nothing more. */
typedef uint16_t le16;
typedef uint32_t le32;
typedef uint64_t le64;

/* The largest queue size a split ring can have (2.7): the 16-bit ring
 * indices must tell a full ring from an empty one. */
#define VRING_MAX_NUM 32768u

/* Feature bits of the ring itself (6 "Reserved Feature Bits"). */
#define VIRTIO_RING_F_INDIRECT_DESC 28 /* descriptors may point at indirect tables, 2.7.5.3 */
#define VIRTIO_RING_F_EVENT_IDX     29 /* used_event / avail_event replace the flags, 2.7.7 */

/* 2.7.5 The Virtqueue Descriptor Table. */
struct vring_desc {
    le64 addr;  /* guest-physical address of the buffer */
    le32 len;   /* its length in bytes; for INDIRECT, the table's length */
    le16 flags; /* VRING_DESC_F_* */
    le16 next;  /* index of the next descriptor if flags & NEXT */
};
#define VRING_DESC_F_NEXT     0x1 /* the chain continues at .next */
#define VRING_DESC_F_WRITE    0x2 /* device-writable (otherwise device-readable) */
#define VRING_DESC_F_INDIRECT 0x4 /* .addr/.len hold a table of descriptors, 2.7.5.3 */

_Static_assert(sizeof(struct vring_desc) == 16, "virtio 2.7.5: descriptors are 16 bytes");
_Static_assert(offsetof(struct vring_desc, len) == 8, "virtio 2.7.5");
_Static_assert(offsetof(struct vring_desc, flags) == 12, "virtio 2.7.5");
_Static_assert(offsetof(struct vring_desc, next) == 14, "virtio 2.7.5");

/* 2.7.6 The Virtqueue Available Ring: ring[num] then le16 used_event. */
struct vring_avail {
    le16 flags; /* VRING_AVAIL_F_NO_INTERRUPT, only without EVENT_IDX */
    le16 idx;   /* where the driver puts the next entry; free-running */
    le16 ring[];
};
#define VRING_AVAIL_F_NO_INTERRUPT 0x1 /* 2.7.7: "don't interrupt me" (a hint) */

_Static_assert(offsetof(struct vring_avail, idx) == 2, "virtio 2.7.6");
_Static_assert(offsetof(struct vring_avail, ring) == 4, "virtio 2.7.6");

/* 2.7.8 The Virtqueue Used Ring: ring[num] then le16 avail_event. */
struct vring_used_elem {
    le32 id;  /* head of the chain the device is done with (32 bits for padding) */
    le32 len; /* bytes the device wrote into the chain's writable part */
};
struct vring_used {
    le16 flags; /* VRING_USED_F_NO_NOTIFY, only without EVENT_IDX */
    le16 idx;   /* where the device puts the next entry; free-running */
    struct vring_used_elem ring[];
};
#define VRING_USED_F_NO_NOTIFY 0x1 /* 2.7.10: "don't kick me" (a hint) */

_Static_assert(sizeof(struct vring_used_elem) == 8, "virtio 2.7.8");
_Static_assert(offsetof(struct vring_used_elem, len) == 4, "virtio 2.7.8");
_Static_assert(offsetof(struct vring_used, idx) == 2, "virtio 2.7.8");
_Static_assert(offsetof(struct vring_used, ring) == 4, "virtio 2.7.8");

/* used_event sits just past the available ring's entries (2.7.6). */
static inline le16 *vring_used_event(struct vring_avail *avail, unsigned num)
{
    return &avail->ring[num];
}

/* avail_event sits just past the used ring's entries (2.7.8). */
static inline le16 *vring_avail_event(struct vring_used *used, unsigned num)
{
    return (le16 *)(void *)&used->ring[num];
}

/*
 * vring_need_event() - with EVENT_IDX, does moving an index from @old to @new
 * cross @event (2.7.7, 2.7.10)? The other side asked to be told once the entry
 * numbered @event has been written, i.e. once the index passes event + 1.
 * Everything is modulo 2^16: (new - event - 1) counts how far past the event we
 * are, (new - old) how far we moved; we crossed it if the first is smaller.
 */
static inline int vring_need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
    return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

/* Sizes and alignments of the three areas (2.7, table "Virtqueue Part"). */
#define VRING_DESC_ALIGN  16
#define VRING_AVAIL_ALIGN 2
#define VRING_USED_ALIGN  4

static inline size_t vring_desc_size(unsigned num)
{
    return sizeof(struct vring_desc) * num;
}

/* flags + idx + ring[num] + used_event */
static inline size_t vring_avail_size(unsigned num)
{
    return sizeof(le16) * (3 + (size_t)num);
}

/* flags + idx + ring[num] + avail_event */
static inline size_t vring_used_size(unsigned num)
{
    return sizeof(le16) * 3 + sizeof(struct vring_used_elem) * num;
}

static inline size_t vring_align_up(size_t x, size_t align)
{
    return (x + align - 1) & ~(align - 1);
}

/*
 * The virtio 1.x layout we use for one contiguous block: table, then the
 * available ring right behind it (16 * num is even), then the used ring at the
 * next multiple of 4.
 */
static inline size_t vring_used_offset(unsigned num)
{
    return vring_align_up(vring_desc_size(num) + vring_avail_size(num), VRING_USED_ALIGN);
}

static inline size_t vring_size(unsigned num)
{
    return vring_used_offset(num) + vring_used_size(num);
}

/*
 * Legacy layout (2.7.2): a legacy device is only told the page frame of the
 * table and computes the rest itself, so the used ring must start at the next
 * 4096-byte boundary ("Queue Align") after the available ring, and the whole
 * queue takes both parts rounded up to that boundary.
 */
#define VRING_LEGACY_ALIGN 4096

static inline size_t vring_legacy_used_offset(unsigned num)
{
    return vring_align_up(vring_desc_size(num) + vring_avail_size(num), VRING_LEGACY_ALIGN);
}

static inline size_t vring_legacy_size(unsigned num)
{
    return vring_legacy_used_offset(num) + vring_align_up(vring_used_size(num), VRING_LEGACY_ALIGN);
}

/*
 * The packed virtqueue (virtio 1.2 spec 2.8 "Packed Virtqueues",
 * VIRTIO_F_RING_PACKED): one ring of descriptors that both sides write, plus
 * two 4-byte event suppression structures, each written by one side:
 *
 *   descriptor ring       (descriptor area)  16 * num bytes, 16-aligned  both write
 *   driver event suppr.   (driver area)      4 bytes, 4-aligned          driver writes
 *   device event suppr.   (device area)      4 bytes, 4-aligned          device writes
 *
 * The driver makes a descriptor available by writing it with AVAIL = its
 * avail wrap counter and USED = the inverse; the device marks the first
 * descriptor of a completed chain used by writing AVAIL = USED = its used wrap
 * counter (2.8.1). Both counters start at 1 and flip each time their side
 * passes the end of the ring.
 */
#define VIRTIO_RING_F_PACKED 34 /* = VIRTIO_F_RING_PACKED (6 "Reserved Feature Bits") */

/* 2.8.13: a packed descriptor; in a used descriptor addr is unused, len is
 * the bytes written, id the buffer id the driver gave the chain. */
struct vring_packed_desc {
    le64 addr;
    le32 len;
    le16 id;
    le16 flags; /* VRING_DESC_F_NEXT/WRITE/INDIRECT as in a split ring, plus AVAIL/USED */
};
#define VRING_PACKED_DESC_F_AVAIL 7  /* bit number: 2.8.1 */
#define VRING_PACKED_DESC_F_USED  15 /* bit number */

_Static_assert(sizeof(struct vring_packed_desc) == 16, "virtio 2.8.13");
_Static_assert(offsetof(struct vring_packed_desc, len) == 8, "virtio 2.8.13");
_Static_assert(offsetof(struct vring_packed_desc, id) == 12, "virtio 2.8.13");
_Static_assert(offsetof(struct vring_packed_desc, flags) == 14, "virtio 2.8.13");

/* 2.8.14: event suppression, the driver's (in the driver area: may the device
 * interrupt us?) and the device's (device area: should we notify it?). */
struct vring_packed_event {
    le16 off_wrap; /* bits 0-14 descriptor offset, bit 15 its wrap counter (DESC mode) */
    le16 flags;    /* VRING_PACKED_EVENT_FLAG_* */
};
#define VRING_PACKED_EVENT_FLAG_ENABLE  0 /* notify on every event */
#define VRING_PACKED_EVENT_FLAG_DISABLE 1 /* do not notify */
#define VRING_PACKED_EVENT_FLAG_DESC    2 /* notify when off_wrap is reached (needs EVENT_IDX) */
#define VRING_PACKED_EVENT_F_WRAP_CTR   15

_Static_assert(sizeof(struct vring_packed_event) == 4, "virtio 2.8.14");
_Static_assert(offsetof(struct vring_packed_event, flags) == 2, "virtio 2.8.14");

/* The largest packed queue (2.8.10.1: offsets are 15 bits). */
#define VRING_PACKED_MAX_NUM     32768u
#define VRING_PACKED_DESC_ALIGN  16
#define VRING_PACKED_EVENT_ALIGN 4

/* Our layout in one block: the ring, the driver area right behind it, the device area after that. */
static inline size_t vring_packed_driver_offset(unsigned num)
{
    return sizeof(struct vring_packed_desc) * (size_t)num;
}

static inline size_t vring_packed_device_offset(unsigned num)
{
    return vring_packed_driver_offset(num) + sizeof(struct vring_packed_event);
}

static inline size_t vring_packed_size(unsigned num)
{
    return vring_packed_device_offset(num) + sizeof(struct vring_packed_event);
}

#endif
