/*
 * The 16550 UART on COM1 (I/O port 0x3F8): the kernel's console and log.
 * Polled, not interrupt-driven: output must work before interrupts do, and
 * inside a fault handler.
 */
#ifndef ARCH_X86_64_SERIAL_H
#define ARCH_X86_64_SERIAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/** serial_init() - 115200 baud, 8N1, FIFOs on. Return: false if no UART answers. */
bool serial_init(void);

/** serial_write() - write @len bytes, turning "\n" into "\r\n". Safe in any context. */
void serial_write(const char *s, size_t len);

/** serial_cost() - bytes given to serial_write() so far and the TSC cycles it spent on them. */
void serial_cost(uint64_t *bytes, uint64_t *cycles);

void serial_putc(char c);

/** serial_getc() - a received byte, or -1 when none is waiting. */
int serial_getc(void);

#endif
