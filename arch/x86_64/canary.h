/*
 * The stack-smashing protector's runtime (gcc/clang -fstack-protector-strong
 * with -mstack-protector-guard=global): the canary __stack_chk_guard that
 * every protected frame copies below its return address and compares before
 * returning, and __stack_chk_fail(), called when the copy was overwritten.
 *
 * Ordering (the one rule): a protected frame that is live while the canary
 * changes fails its check when it returns. So canary_init() runs first in
 * kmain(), and neither it nor kmain() is protected (NO_STACK_PROTECTOR);
 * kmain() never returns anyway. Functions canary_init() calls may be
 * protected: they return before the canary is written.
 */
#ifndef ARCH_X86_64_CANARY_H
#define ARCH_X86_64_CANARY_H

#include <stdint.h>

#define NO_STACK_PROTECTOR __attribute__((no_stack_protector))

extern uintptr_t __stack_chk_guard;

/**
 * canary_init() - set __stack_chk_guard from RDRAND, or from TSC readings
 * when the CPU has no working RDRAND; its low byte is zero, so a string copy
 * that overruns a buffer stops at (and cannot reproduce) the canary.
 * Context: first thing in kmain(), before any protected frame that returns.
 * Return: where the value came from, "rdrand" or "tsc", for the boot log.
 */
const char *canary_init(void) NO_STACK_PROTECTOR;

/** __stack_chk_fail() - a frame's canary was overwritten: panic, naming it. */
void __stack_chk_fail(void) __attribute__((noreturn)) NO_STACK_PROTECTOR;

#endif
