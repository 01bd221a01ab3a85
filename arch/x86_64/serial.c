/*
 * 16550 UART driver, polled (PC16550D datasheet; the register set every PC
 * serial port still emulates). Registers are at COM1 base + offset:
 */
#include "arch/x86_64/serial.h"
#include "arch/x86_64/io.h"
#include "arch/x86_64/timer.h"

/* clang-format off */
#define COM1 0x3F8
#define UART_DATA 0      /* rw: rx/tx holding register (DLAB=0) */
#define UART_IER 1       /* rw: interrupt enable (DLAB=0) */
#define UART_DLL 0       /* rw: divisor latch low (DLAB=1) */
#define UART_DLM 1       /* rw: divisor latch high (DLAB=1) */
#define UART_FCR 2       /* wo: FIFO control */
#define   FCR_ENABLE 0x01
#define   FCR_CLEAR 0x06   /* clear rx and tx FIFOs */
#define UART_LCR 3       /* rw: line control */
#define   LCR_8N1 0x03
#define   LCR_DLAB 0x80
#define UART_MCR 4       /* rw: modem control */
#define   MCR_DTR_RTS 0x03
#define   MCR_LOOP 0x10
#define UART_LSR 5       /* ro: line status */
#define   LSR_DATA_READY 0x01
#define   LSR_THR_EMPTY 0x20
#define UART_SCR 7       /* rw: scratch */
/* clang-format on */

static bool present;
/* What the console costs: under TCG every byte is two port accesses QEMU emulates. */
static uint64_t bytes_written, cycles_writing;

bool serial_init(void)
{
    /* A UART keeps what we write in its scratch register; an empty port
     * reads back 0xFF. Without one, output is dropped instead of spinning. */
    outb(COM1 + UART_SCR, 0x5A);
    if (inb(COM1 + UART_SCR) != 0x5A)
        return false;
    outb(COM1 + UART_IER, 0x00);
    outb(COM1 + UART_LCR, LCR_DLAB);
    outb(COM1 + UART_DLL, 1); /* 115200 / 1 */
    outb(COM1 + UART_DLM, 0);
    outb(COM1 + UART_LCR, LCR_8N1);
    outb(COM1 + UART_FCR, FCR_ENABLE | FCR_CLEAR);
    outb(COM1 + UART_MCR, MCR_DTR_RTS);
    present = true;
    return true;
}

void serial_putc(char c)
{
    if (!present)
        return;
    /* Bounded wait: a wedged UART must not hang a panic. */
    for (int spins = 0; spins < 100000; spins++) {
        if (inb(COM1 + UART_LSR) & LSR_THR_EMPTY)
            break;
        cpu_relax();
    }
    outb(COM1 + UART_DATA, (uint8_t)c);
}

void serial_write(const char *s, size_t len)
{
    uint64_t t0 = cycles_now();
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\n')
            serial_putc('\r');
        serial_putc(s[i]);
    }
    bytes_written += len;
    cycles_writing += cycles_now() - t0;
}

void serial_cost(uint64_t *bytes, uint64_t *cycles)
{
    *bytes = bytes_written;
    *cycles = cycles_writing;
}

int serial_getc(void)
{
    if (!present || !(inb(COM1 + UART_LSR) & LSR_DATA_READY))
        return -1;
    return inb(COM1 + UART_DATA);
}
