/*
 * Ending a run: QEMU's isa-debug-exit device for tests (the exit status tells
 * the test what happened), ACPI S5 for a real power-off, and fallbacks.
 */
#ifndef ARCH_X86_64_POWER_H
#define ARCH_X86_64_POWER_H

/* Codes for power_exit(). QEMU exits with status (code << 1) | 1. */
#define QEMU_EXIT_OK      0x10 /* QEMU status 33 */
#define QEMU_EXIT_FAILURE 0x11 /* QEMU status 35 */

/**
 * power_exit() - end the run with @code: isa-debug-exit (port 0xf4) when QEMU
 * has it, else power off, else halt forever with interrupts off. Never returns.
 */
void power_exit(int code) __attribute__((noreturn));

/**
 * power_off() - ACPI S5 if available (PM1 blocks, or the hardware-reduced
 * sleep control register), then the QEMU/Bochs PM1 ports, then a reset
 * (which QEMU's -no-reboot and Firecracker turn into the VM's end), then halt.
 */
void power_off(void) __attribute__((noreturn));

/** cpu_halt_forever() - interrupts off, hlt in a loop. */
void cpu_halt_forever(void) __attribute__((noreturn));

#endif
