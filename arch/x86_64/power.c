/* Exit and power-off paths. */
#include "arch/x86_64/power.h"
#include "arch/x86_64/io.h"
#include "lib/klog.h"

#define DEBUG_EXIT_PORT 0xf4 /* -device isa-debug-exit,iobase=0xf4,iosize=0x04 */

/* The ACPI module's S5 power-off; weak so the kernel links before it exists. */
void acpi_poweroff(void) __attribute__((weak));

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
    klog(LOG_ERR, "power: could not power off; halting");
    cpu_halt_forever();
}

void power_exit(int code)
{
    /* On QEMU with isa-debug-exit this write never returns. */
    outb(DEBUG_EXIT_PORT, (uint8_t)code);
    power_off();
}
