/*
 * Exceptions, the IDT, and what the kernel does when it must stop: panic()
 * and assertion failures print the reason, the registers and a backtrace with
 * symbol names, then end the run (QEMU's isa-debug-exit with a failure code
 * under test, otherwise power off or halt).
 */
#ifndef ARCH_X86_64_TRAP_H
#define ARCH_X86_64_TRAP_H

#include <stdint.h>

/* The stack layout trap_entry.S builds (lowest address first). */
struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

/** trap_init() - install the IDT: every exception vector, every interrupt vector. */
void trap_init(void);

/** panic() - report a fatal error with a backtrace and stop. Never returns. */
void panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/** backtrace_print() - walk the frame-pointer chain from @rbp, printing symbol+offset. */
void backtrace_print(uint64_t rip, uint64_t rbp);

#endif
