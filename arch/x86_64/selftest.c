/* Self tests for the QEMU integration tests (see selftest.h). */
#include "arch/x86_64/selftest.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/power.h"
#include "arch/x86_64/timer.h"
#include "arch/x86_64/trap.h"
#include "lib/cmdline.h"
#include "lib/heap.h"
#include "lib/klog.h"
#include "lib/pmm.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* noinline, so each shows up by name in the fault's backtrace. */
static __attribute__((noinline)) void selftest_pagefault(void)
{
    uintptr_t addr = 0x0000700000000000ull; /* never mapped */
    klog(LOG_INFO, "selftest: reading unmapped address %#lx", (unsigned long)addr);
    (void)*(volatile uint64_t *)addr;
}

static __attribute__((noinline)) void selftest_nullptr(void)
{
    volatile int *p = NULL;
    klog(LOG_INFO, "selftest: reading the null page");
    (void)*p;
}

static __attribute__((noinline)) void selftest_wx(void)
{
    uintptr_t code = (uintptr_t)&selftest_wx;
    klog(LOG_INFO, "selftest: writing to kernel text at %#lx", (unsigned long)code);
    *(volatile uint8_t *)code = 0xC3;
    klog(LOG_ERR, "selftest: W^X FAILED: kernel text is writable");
}

static __attribute__((noinline)) void selftest_nx(void)
{
    static uint8_t data_page[16] = {0xC3}; /* ret, in .data */
    klog(LOG_INFO, "selftest: calling into .data at %p", (void *)data_page);
    ((void (*)(void))(uintptr_t)data_page)();
    klog(LOG_ERR, "selftest: NX FAILED: data is executable");
}

/* Recurses until the stack runs into its guard page; the bound only keeps
 * the compiler from calling it infinite (it is never reached). */
static __attribute__((noinline)) unsigned selftest_recurse(unsigned depth)
{
    volatile char pad[512];
    pad[0] = (char)depth;
    if (depth > (1u << 30))
        return 0;
    return selftest_recurse(depth + 1) + pad[0];
}

/* Overwrites its own buffer's end and the padding and canary above it, up
 * to (not including) the saved frame pointer, so the backtrace still climbs
 * past it; the write goes through a volatile pointer the compiler cannot
 * see the bounds of. Returning then trips the stack protector. */
static __attribute__((noinline)) void selftest_canary(void)
{
    char buf[16];
    volatile char *p = buf;
    size_t n = (size_t)((char *)__builtin_frame_address(0) - buf);

    klog(LOG_INFO, "selftest: writing %zu bytes into a %zu-byte stack buffer", n, sizeof(buf));
    for (size_t i = 0; i < n; i++)
        p[i] = 'A';
    __asm__ volatile("" : : "r"(buf) : "memory");
}

static void selftest_heap(void)
{
    struct heap_stats before, after;
    heap_stats(&before);
    void *blocks[64];
    for (int i = 0; i < 64; i++) {
        blocks[i] = malloc((size_t)(i + 1) * 97);
        if (!blocks[i])
            panic("selftest: malloc failed");
        memset(blocks[i], i, (size_t)(i + 1) * 97);
    }
    for (int i = 0; i < 64; i += 2)
        free(blocks[i]);
    void *big = malloc(1 << 20);
    if (!big)
        panic("selftest: 1 MiB malloc failed");
    for (int i = 1; i < 64; i += 2) {
        const uint8_t *b = blocks[i];
        for (size_t j = 0; j < (size_t)(i + 1) * 97; j++)
            if (b[j] != (uint8_t)i)
                panic("selftest: heap block %d corrupted", i);
        free(blocks[i]);
    }
    free(big);
    heap_stats(&after);
    klog(LOG_INFO, "selftest: heap ok, in use before %zu after %zu bytes", before.used_bytes,
         after.used_bytes);
    if (after.used_bytes != before.used_bytes)
        panic("selftest: heap leaked %zu bytes", after.used_bytes - before.used_bytes);
}

/*
 * test=mmio mmio=PHYS,LEN: map device memory the test filled in, e.g. an
 * ivshmem BAR backed by a file: the host wrote MMIO_PATTERN ^ address at
 * each address P with P % 2 MiB in {0, 4 KiB, 2 MiB - 4 KiB}, where a wrong
 * page size or alignment would show. First an unaligned slice (4 KiB pages
 * at its edges), then the whole region (large pages); each is checked and
 * gets MMIO_WRITTEN ^ address in its last word, which the host reads back.
 */
#define MMIO_PATTERN 0x4d4d494f50415454ull
#define MMIO_WRITTEN 0x4d4d494f57524954ull

static unsigned selftest_mmio_check(uint64_t phys, uint64_t len, unsigned *bad)
{
    volatile uint64_t *v = map_mmio(phys, (size_t)len);
    unsigned n = 0;

    if (!v)
        return 0;
    for (uint64_t off = 0; off + 8 <= len; off += 4096) {
        uint64_t p = phys + off, r = p & (2 * 1024 * 1024 - 1);
        if (r != 0 && r != 4096 && r != 2 * 1024 * 1024 - 4096)
            continue;
        n++;
        if (v[off / 8] != (MMIO_PATTERN ^ p))
            (*bad)++;
    }
    v[len / 8 - 1] = MMIO_WRITTEN ^ (phys + len - 8);
    return n;
}

static void selftest_mmio(void)
{
    const char *arg = cmdline_get("mmio");
    char *end;
    uint64_t phys = arg ? strtoull(arg, &end, 0) : 0,
             len = arg && *end == ',' ? strtoull(end + 1, NULL, 0) : 0;
    unsigned bad = 0, n;

    if (!phys || len < 3 * 4096 || (phys | len) & 4095) {
        klog(LOG_ERR, "selftest: mmio=PHYS,LEN (4 KiB aligned) needed");
        power_exit(QEMU_EXIT_FAILURE);
    }
    n = selftest_mmio_check(phys + 4096, len - 3 * 4096, &bad);
    n += selftest_mmio_check(phys, len, &bad);
    klog(LOG_INFO, "selftest: mmio %u words checked, %u wrong", n, bad);
    power_exit(n && !bad ? QEMU_EXIT_OK : QEMU_EXIT_FAILURE);
}

void selftest_run_early(const char *name)
{
    if (!name)
        return;
    if (strcmp(name, "pagefault") == 0)
        selftest_pagefault();
    else if (strcmp(name, "nullptr") == 0)
        selftest_nullptr();
    else if (strcmp(name, "wx") == 0)
        selftest_wx();
    else if (strcmp(name, "nx") == 0)
        selftest_nx();
    else if (strcmp(name, "stack") == 0)
        klog(LOG_INFO, "selftest: %u", selftest_recurse(0));
    else if (strcmp(name, "canary") == 0)
        selftest_canary();
    else if (strcmp(name, "panic") == 0)
        panic("selftest: panic on request");
    else
        return;
    /* A fault test that comes back means protection did not work. */
    klog(LOG_ERR, "selftest: '%s' did not fault", name);
    power_exit(QEMU_EXIT_FAILURE);
}

void selftest_run(const char *name)
{
    if (!name)
        return;
    if (strcmp(name, "heap") == 0) {
        selftest_heap();
        power_exit(QEMU_EXIT_OK);
    } else if (strcmp(name, "sleep2") == 0) {
        timer_selftest_sleep();
        power_exit(QEMU_EXIT_OK);
    } else if (strcmp(name, "mmio") == 0) {
        selftest_mmio();
    } else if (strcmp(name, "exit") == 0) {
        klog(LOG_INFO, "selftest: exit requested");
        power_exit(QEMU_EXIT_OK);
    } else {
        klog(LOG_WARN, "selftest: unknown test '%s'", name);
    }
}
