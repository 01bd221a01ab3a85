/*
 * libFuzzer target for the packed virtqueue (drivers/vring_packed.c, through
 * drivers/vring.c as every caller reaches it), the packed twin of
 * fuzz_vring.c: the input is a program. Its first bytes pick the queue (any
 * size 1..64 or 256, features); each following opcode either calls the driver
 * API or acts as the device - honestly through the packed device model
 * (tests/unit/pdev_model.c: pop, complete) or by writing what the device can
 * write: used descriptors with any id, length and flags at any position,
 * scribbles over the shared ring, its event suppression structure.
 *
 * Invariants checked after every step (abort() on violation):
 *  - nothing crashes or touches memory out of bounds (ASan, UBSan);
 *  - a cookie comes back only if it was added and is still outstanding, and
 *    each at most once; after a final drain, every one has come back;
 *  - num_free <= num, in_flight equals our count of outstanding cookies, and
 *    num_free == num when nothing is in flight;
 *  - broken is sticky until vring_reset(), and a broken queue returns -EIO
 *    from vring_add() and NULL from vring_get_used();
 *  - a device that never lied never breaks the queue, and the device model
 *    never sees a malformed chain from the driver;
 *  - while the device is honest, each cookie comes back with exactly the
 *    length the device completed its chain with (each chain's first segment
 *    starts at an address unique to its cookie, so the device side can tell
 *    which cookie a popped chain carries).
 *
 * Build and run: make -f tests/fuzz/fuzz.mk fuzz (see fuzz.mk).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/virtio_ring.h"
#include "drivers/vring.h"
#include "lib/klog.h"
#include "pdev_model.h"
#include "vdev_model.h"

#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "fuzz_vring_packed: invariant failed at line %d: %s\n", __LINE__, #cond);        \
            abort();                                                                                         \
        }                                                                                                    \
    } while (0)

#define MAX_TOKENS   2048
#define MAX_POPPED   128
#define MAX_CHAIN    40 /* below the model's VDEV_MAX_SEGS */
#define TOKEN_STRIDE 32 /* chain k's first segment starts at buffers[k * TOKEN_STRIDE] */

struct input {
    const uint8_t *p;
    size_t left;
};

static uint32_t take(struct input *in, unsigned bytes)
{
    uint32_t v = 0;

    while (bytes--) {
        v <<= 8;
        if (in->left) {
            v |= *in->p++;
            in->left--;
        }
    }
    return v;
}

struct world {
    struct vring *vr;
    struct pdev_model m;
    unsigned num;
    uint64_t features;
    bool lied; /* the device wrote something on its own since the last reset */
    bool was_broken;
    unsigned next_token;
    unsigned live; /* outstanding cookies */
    bool token_live[MAX_TOKENS];
    bool token_done[MAX_TOKENS];    /* completed honestly by the device... */
    uint32_t token_len[MAX_TOKENS]; /* ...with this length */
    struct pdev_elem popped[MAX_POPPED];
    unsigned n_popped;
};

static char tokens[MAX_TOKENS];
static uint8_t buffers[1 << 16];          /* what the chains point into */
static const uint8_t pattern[4096] = {1}; /* what the device writes */

static void irq(void *ctx)
{
    struct world *w = ctx;

    (void)vring_interrupt(w->vr);
}

static void attach_model(struct world *w)
{
    struct vring_addrs a;

    vring_get_addrs(w->vr, &a);
    pdev_init(&w->m, &a, w->num, w->features, irq, w);
    w->n_popped = 0;
    w->lied = false;
}

/* A cookie came back from the driver: it must be ours, outstanding, and only
 * once; through the used ring (@len not NULL) of an honest device, completed
 * by the device and with the length it gave. */
static void returned(struct world *w, void *cookie, const uint32_t *len)
{
    uintptr_t k;

    CHECK((char *)cookie >= tokens && (char *)cookie < tokens + MAX_TOKENS);
    k = (uintptr_t)((char *)cookie - tokens);
    CHECK(w->token_live[k]);
    if (len && !w->lied) {
        CHECK(w->token_done[k]);
        CHECK(*len == w->token_len[k]);
    }
    w->token_live[k] = false;
    w->token_done[k] = false;
    w->live--;
}

/* The cookie of a chain the device popped, from its first segment's address. */
static unsigned chain_token(const struct pdev_elem *e)
{
    const struct vdev_seg *first = e->n_out ? &e->out[0] : &e->in[0];
    uintptr_t off = (uintptr_t)((uint8_t *)first->addr - buffers);

    CHECK(e->n_out + e->n_in > 0 && off < sizeof(buffers) && off % TOKEN_STRIDE == 0);
    return (unsigned)(off / TOKEN_STRIDE);
}

static void check_state(struct world *w)
{
    struct vring_state s;
    struct vring_stats st;

    vring_get_state(w->vr, &s);
    vring_get_stats(w->vr, &st);
    /* Exactly one log line per breakage, however much the device keeps lying. */
    CHECK(vdev_klog_count_level(LOG_ERR) == st.broken);
    CHECK(s.num == w->num);
    CHECK(s.num_free <= s.num);
    CHECK(s.in_flight == w->live);
    CHECK(s.in_flight <= s.num);
    if (s.in_flight == 0)
        CHECK(s.num_free == s.num);
    CHECK(s.broken == vring_is_broken(w->vr));
    if (w->was_broken)
        CHECK(s.broken);
    w->was_broken = s.broken;
    if (!w->lied) {
        CHECK(!s.broken);
        if (w->m.errors)
            fprintf(stderr, "fuzz_vring_packed: device model: %s\n", w->m.last_error);
        CHECK(w->m.errors == 0);
    }
}

static void op_add(struct world *w, struct input *in)
{
    struct vring_seg segs[MAX_CHAIN];
    unsigned n_out = take(in, 1) % 8, n_in = take(in, 1) % 8, i, total;
    bool broken = vring_is_broken(w->vr);
    unsigned k;
    int rc;

    if (n_out == 7)
        n_out = take(in, 1) % (MAX_CHAIN - 7); /* sometimes long chains */
    total = n_out + n_in;
    if (w->next_token >= MAX_TOKENS)
        return;
    k = w->next_token;
    for (i = 0; i < total; i++) {
        uint32_t off = i ? take(in, 2) % sizeof(buffers) : k * TOKEN_STRIDE;
        uint32_t len = take(in, 2) % (sizeof(buffers) - off);

        segs[i].addr = &buffers[off];
        segs[i].len = len;
    }
    rc = vring_add(w->vr, segs, n_out, n_in, &tokens[k]);
    if (broken) {
        CHECK(rc == -EIO);
    } else if (total == 0 || total > w->num) {
        CHECK(rc == -EINVAL);
    } else {
        CHECK(rc == 0 || rc == -ENOSPC);
        if (rc == -ENOSPC)
            CHECK(vring_num_free(w->vr) < total);
    }
    if (rc == 0) {
        w->next_token++;
        w->token_live[k] = true;
        w->live++;
    }
}

static void op_get_used(struct world *w, struct input *in)
{
    unsigned n = 1 + take(in, 1) % 16;
    bool broken = vring_is_broken(w->vr);
    uint32_t len;
    void *c;

    while (n-- && (c = vring_get_used(w->vr, &len)) != NULL) {
        CHECK(!broken);
        returned(w, c, &len);
    }
}

static void op_device_pop(struct world *w, struct input *in)
{
    unsigned n = 1 + take(in, 1) % 8;

    /* A device that lied may have written over available descriptors (a used
     * descriptor's len where a buffer's was): it pops nothing more until the
     * reset, so the model never writes through a length the driver did not give. */
    if (w->lied)
        return;
    while (n-- && w->n_popped < MAX_POPPED && pdev_pop(&w->m, &w->popped[w->n_popped]) == 1)
        w->n_popped++;
}

static void op_device_complete(struct world *w, struct input *in)
{
    unsigned i = take(in, 1), len;
    struct pdev_elem *e;

    if (!w->n_popped)
        return;
    i %= w->n_popped;
    e = &w->popped[i];
    len = take(in, 4) % ((uint64_t)e->in_len + 1);
    pdev_write(e, pattern, len < sizeof(pattern) ? len : sizeof(pattern));
    if (!w->lied) {
        /* After a lie the driver may already have reused what this chain pointed at. */
        unsigned k = chain_token(e);
        w->token_done[k] = true;
        w->token_len[k] = len;
    }
    pdev_push(&w->m, e, len);
    w->popped[i] = w->popped[--w->n_popped];
    if (take(in, 1) & 1)
        pdev_notify(&w->m);
}

static void op_device_lie(struct world *w, struct input *in)
{
    unsigned what = take(in, 1) % 5, pos;
    uint16_t flags;

    w->lied = true;
    switch (what) {
    case 0: /* any used descriptor */
        flags = (uint16_t)take(in, 2);
        pdev_push_raw(&w->m, (uint16_t)take(in, 2), take(in, 4), flags, take(in, 1) % 4);
        break;
    case 1: /* a plausible id, with the right flags, any length, skipping 0..3 */
        pdev_push_raw(&w->m, (uint16_t)(take(in, 1) % (w->num + 2)), take(in, 2), pdev_used_flags(&w->m),
                      take(in, 1) % 4);
        break;
    case 2: /* a plausible used descriptor with one wrap bit wrong */
        flags = pdev_used_flags(&w->m) ^ (take(in, 1) & 1 ? 0x80 : 0x8000);
        pdev_push_raw(&w->m, (uint16_t)(take(in, 1) % w->num), 0, flags, 1);
        break;
    case 3: /* a scribble anywhere on the ring: both sides may write it */
        pos = take(in, 2) % w->num;
        w->m.ring[pos].id = (uint16_t)take(in, 2);
        w->m.ring[pos].len = take(in, 4);
        w->m.ring[pos].flags = (uint16_t)take(in, 2);
        break;
    default: /* the device loses its place */
        pdev_push_raw(&w->m, (uint16_t)take(in, 2), take(in, 2), (uint16_t)take(in, 2), 0);
        w->m.next_used = take(in, 2) % w->num;
        break;
    }
}

static void op_device_hints(struct world *w, struct input *in)
{
    /* Not lies: the device area is the device's to set as it likes (2.8.10). */
    pdev_set_device_event(&w->m, (uint16_t)take(in, 2), (uint16_t)(take(in, 1) % 4));
}

static void op_callbacks(struct world *w, struct input *in)
{
    unsigned last;

    switch (take(in, 1) % 7) {
    case 0:
        vring_disable_cb(w->vr);
        break;
    case 1:
        (void)vring_enable_cb(w->vr);
        break;
    case 2:
        (void)vring_enable_cb_delayed(w->vr);
        break;
    case 3:
        last = vring_enable_cb_prepare(w->vr);
        if (take(in, 1) & 1)
            op_device_complete(w, in);
        (void)vring_poll(w->vr, last);
        break;
    case 4:
        (void)vring_interrupt(w->vr);
        break;
    case 5:
        if (vring_is_broken(w->vr))
            CHECK(!vring_has_used(w->vr));
        break;
    default:
        (void)vring_kick_prepare(w->vr);
        break;
    }
}

/* Device reset: reclaim everything, start the queue and the device afresh. */
static void op_reset(struct world *w)
{
    void *c;

    while ((c = vring_detach_unused(w->vr)) != NULL)
        returned(w, c, NULL);
    CHECK(w->live == 0);
    CHECK(vring_num_free(w->vr) == w->num);
    CHECK(vring_reset(w->vr) == 0);
    CHECK(!vring_is_broken(w->vr));
    w->was_broken = false;
    attach_model(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct world w;
    struct input in = {data, size};
    struct vring_config cfg;
    long dma_before = vdev_dma_outstanding;
    unsigned first = take(&in, 1), steps = 0;
    void *c;

    memset(&w, 0, sizeof(w));
    w.num = (first & 7) == 7 ? 256 : 1 + take(&in, 1) % 64;
    w.features = ((first >> 3) & 1 ? 1ull << VIRTIO_RING_F_INDIRECT_DESC : 0) |
                 ((first >> 4) & 1 ? 1ull << VIRTIO_RING_F_EVENT_IDX : 0);
    memset(&cfg, 0, sizeof(cfg));
    cfg.index = 0;
    cfg.num = w.num;
    cfg.features = w.features | 1ull << VIRTIO_RING_F_PACKED;
    cfg.notify = pdev_kick;
    cfg.notify_ctx = &w.m;
    vdev_klog_clear();
    w.vr = vring_create(&cfg);
    CHECK(w.vr != NULL);
    attach_model(&w);

    while (in.left && steps++ < 4096) {
        switch (take(&in, 1) % 10) {
        case 0:
        case 1:
            op_add(&w, &in);
            break;
        case 2:
            (void)vring_kick(w.vr);
            break;
        case 3:
            op_get_used(&w, &in);
            break;
        case 4:
            op_device_pop(&w, &in);
            break;
        case 5:
            op_device_complete(&w, &in);
            break;
        case 6:
            op_device_lie(&w, &in);
            break;
        case 7:
            op_device_hints(&w, &in);
            break;
        case 8:
            op_callbacks(&w, &in);
            break;
        default:
            if (take(&in, 1) == 0xa5)
                op_reset(&w);
            break;
        }
        check_state(&w);
    }

    while ((c = vring_detach_unused(w.vr)) != NULL)
        returned(&w, c, NULL);
    CHECK(w.live == 0);
    CHECK(vring_num_free(w.vr) == w.num);
    vring_destroy(w.vr);
    CHECK(vdev_dma_outstanding == dma_before);
    return 0;
}
