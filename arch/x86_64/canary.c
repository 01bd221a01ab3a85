/*
 * Stack-smashing protector runtime; see canary.h for the contract and the
 * ordering rule at boot. gcc, -fstack-protector-strong: "Options That
 * Control Optimization" / "Instrumentation Options" in the gcc manual.
 */
#include "arch/x86_64/canary.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/ksyms.h"
#include "arch/x86_64/power.h"
#include "arch/x86_64/serial.h"
#include "arch/x86_64/trap.h"
#include <stdbool.h>

/* Non-zero until canary_init(), so frames protected before then (none are
 * expected) still get a check; in .data, never written again after boot. */
uintptr_t __stack_chk_guard = 0x595e9fbd94fda700ull;

const char *canary_init(void)
{
    uint64_t v;
    const char *src = "rdrand";

    if (!cpu_seed64(&v))
        src = "tsc";
    /* Low byte zero, as Linux and glibc: a strcpy overrun ends at the NUL. */
    __stack_chk_guard = (uintptr_t)(v & ~0xffull);
    if (!__stack_chk_guard)
        __stack_chk_guard = 0x595e9fbd94fda700ull;
    return src;
}

static bool in_stack_chk_fail;

/*
 * Called from the epilogue of the function whose canary no longer matches,
 * before it returns, so the return address names it and its frame pointer
 * still leads up the stack. panic() and what it calls are protected, but
 * cannot recurse here: each new frame copies the current canary and finds
 * it again. The flag covers the one way they could (their own frames being
 * smashed while reporting): a fixed line straight to the UART, and stop.
 */
void __stack_chk_fail(void)
{
    uint64_t ret = (uint64_t)(uintptr_t)__builtin_return_address(0) - 1;
    uint64_t off = 0;
    const char *fn;

    __asm__ volatile("cli");
    if (in_stack_chk_fail) {
        static const char msg[] = "\n*** stack smashing detected while reporting one\n";
        serial_write(msg, sizeof(msg) - 1);
        power_exit(QEMU_EXIT_FAILURE);
    }
    in_stack_chk_fail = true;
    fn = ksyms_lookup(ret, &off);
    panic("stack smashing detected: the stack canary of %s+0x%llx was overwritten (a buffer on its stack "
          "overflowed)",
          fn ? fn : "?", (unsigned long long)off);
}
