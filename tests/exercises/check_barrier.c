/*
 * Exercise "barrier" (docs/exercises/README.md): the ring code is compiled
 * here, in this file, on a simulated x86 store buffer (tests/exercises/exercise.h),
 * once as drivers/vring.c is and once with the full barrier of
 * vring_kick_prepare() removed (EX_VRING_SRC names which: the Makefile makes
 * the second copy). Your ex_barrier_lost_kicks() (docs/exercises/barrier.c)
 * must report no lost kick on the first and at least one on the second.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exercise.h"

/* ---- the store buffer ---- */

struct tso_store {
    void *p;
    unsigned size;
    uint64_t v;
};

static bool tso_on;
static struct tso_store tso_buf[64];
static unsigned tso_n;
static tso_hook_fn tso_hook;
static void *tso_hook_ctx;

static void tso_write(void *p, unsigned size, uint64_t v)
{
    if (size == 2)
        *(volatile uint16_t *)p = (uint16_t)v;
    else if (size == 4)
        *(volatile uint32_t *)p = (uint32_t)v;
    else
        abort();
}

static uint64_t tso_read(const void *p, unsigned size)
{
    if (size == 2)
        return *(const volatile uint16_t *)p;
    if (size == 4)
        return *(const volatile uint32_t *)p;
    abort();
}

void tso_enable(bool on)
{
    tso_on = on;
}

void tso_drain(void)
{
    for (unsigned i = 0; i < tso_n; i++)
        tso_write(tso_buf[i].p, tso_buf[i].size, tso_buf[i].v);
    tso_n = 0;
}

void tso_set_load_hook(tso_hook_fn fn, void *ctx)
{
    tso_hook = fn;
    tso_hook_ctx = ctx;
}

static void tso_store(void *p, unsigned size, uint64_t v)
{
    if (!tso_on) {
        tso_write(p, size, v);
        return;
    }
    if (tso_n == sizeof(tso_buf) / sizeof(tso_buf[0]))
        tso_drain(); /* a full store buffer drains, as a CPU's does */
    tso_buf[tso_n++] = (struct tso_store){p, size, v};
}

static uint64_t tso_load(const void *p, unsigned size)
{
    uint64_t v;
    unsigned i = tso_n;

    /* A CPU reads its own buffered stores (store forwarding). */
    while (i > 0 && tso_buf[i - 1].p != p)
        i--;
    v = i > 0 ? tso_buf[i - 1].v : tso_read(p, size);
    if (tso_hook)
        tso_hook(p, tso_hook_ctx);
    return v;
}

static void tso_fence(void)
{
    tso_drain();
}

/* ---- the ring code on it ---- */

#include "arch/x86_64/barrier.h"
#undef virt_mb
#define virt_mb()                     tso_fence()
#define __atomic_store_n(p, v, order) tso_store((void *)(p), sizeof(*(p)), (uint64_t)(v))
#define __atomic_load_n(p, order)     ((__typeof__(*(p)))tso_load((const void *)(p), sizeof(*(p))))

#include EX_VRING_SRC

#undef __atomic_store_n
#undef __atomic_load_n

unsigned ex_barrier_lost_kicks(void);

int main(void)
{
    unsigned lost = ex_barrier_lost_kicks();

    tso_enable(false);
    tso_drain();
#ifdef EX_NO_FENCE
    if (lost == 0) {
        printf("FAIL: without the barrier in vring_kick_prepare() your scenario lost no kick\n");
        return 1;
    }
    printf("without the barrier: %u kick(s) lost, as they should be\n", lost);
#else
    if (lost != 0) {
        printf("FAIL: with drivers/vring.c as it is, your scenario lost %u kick(s): the test is wrong\n",
               lost);
        return 1;
    }
    printf("with the barrier: no kick lost\n");
#endif
    return 0;
}
