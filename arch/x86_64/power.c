/* Exit and power-off paths. */
#include "arch/x86_64/power.h"
#include "arch/x86_64/io.h"
#include "lib/klog.h"

#define DEBUG_EXIT_PORT 0xf4 /* -device isa-debug-exit,iobase=0xf4,iosize=0x04 */

/* The ACPI module's S5 power-off and reset; weak so the kernel links before they exist. */
void acpi_poweroff(void) __attribute__((weak));
void acpi_reset(void) __attribute__((weak, noreturn));

void cpu_halt_forever(void)
{
    for (;;)
        __asm__ volatile("cli; hlt");
}

void power_off(void)
{
    if (acpi_poweroff)
        acpi_poweroff();
    /* Without ACPI: the PM1a control ports QEMU uses on q35/pc (0x604) and
     * older Bochs/QEMU (0xB004), writing SLP_EN with the S5 type. */
    outw(0x604, 0x2000);
    outw(0xB004, 0x2000);
    /* No power-off at all: QEMU's microvm with acpi=off (no FADT, no GED,
     * no PM1 ports). A reset is then the way out that monitors honour as an
     * end: QEMU with -no-reboot exits (status 0), Firecracker stops the VM on
     * the 8042 reset. Halting instead would leave the VM running for ever. */
    if (acpi_reset) {
        klog(LOG_WARN,
             "power: no way to power off; resetting instead (QEMU -no-reboot and Firecracker end the VM)");
        acpi_reset();
    }
    klog(LOG_ERR, "power: could not power off; halting");
    cpu_halt_forever();
}

void power_exit(int code)
{
    /* On QEMU with isa-debug-exit this write never returns. */
    outb(DEBUG_EXIT_PORT, (uint8_t)code);
    power_off();
}
