/*
 * Built-in self tests, chosen with test=NAME on the kernel command line, so
 * the QEMU integration tests can make the kernel do something on purpose and
 * check what it printed and how it exited:
 *
 *   test=exit        boot fully, then exit QEMU with success
 *   test=mmio        with mmio=PHYS,LEN: map that device memory, check the host's pattern
 *   test=pagefault   read an unmapped address: the fault dump must name it
 *   test=nullptr     read address 0 (the unmapped null page)
 *   test=wx          write to the kernel's own code: W^X must stop it
 *   test=nx          jump into a data page: NX must stop it
 *   test=stack       overflow the boot stack into its guard page
 *   test=panic       call panic() with a message
 *   test=canary      overrun a stack buffer: the stack protector must panic
 *   test=heap        exercise the heap and page allocator, report, exit
 *   test=sleep2      sleep 2 s on the kernel's clock between two log lines, exit
 */
#ifndef ARCH_X86_64_SELFTEST_H
#define ARCH_X86_64_SELFTEST_H

/** selftest_run_early() - tests that need only memory management (before interrupts). */
void selftest_run_early(const char *name);

/** selftest_run() - tests run once the kernel is fully up; unknown names are logged. */
void selftest_run(const char *name);

#endif
