/*
 * 8259A initialisation sequence (8259A data sheet, "Initialization Command
 * Words"): ICW1 starts it, ICW2 is the vector base, ICW3 describes the
 * cascade on IRQ 2, ICW4 selects 8086 mode; then OCW1 masks every line.
 */
#include "arch/x86_64/pic.h"

#include "arch/x86_64/io.h"
#include "lib/klog.h"

void pic_disable(void)
{
    outb(PIC1_CMD, PIC_ICW1_INIT | PIC_ICW1_ICW4);
    io_wait();
    outb(PIC2_CMD, PIC_ICW1_INIT | PIC_ICW1_ICW4);
    io_wait();
    outb(PIC1_DATA, PIC_VECTOR_BASE);
    io_wait();
    outb(PIC2_DATA, PIC_VECTOR_BASE + 8);
    io_wait();
    outb(PIC1_DATA, 1 << 2); /* master: a slave on IRQ 2 */
    io_wait();
    outb(PIC2_DATA, 2); /* slave: cascade identity 2 */
    io_wait();
    outb(PIC1_DATA, PIC_ICW4_8086);
    io_wait();
    outb(PIC2_DATA, PIC_ICW4_8086);
    io_wait();
    outb(PIC1_DATA, 0xff);
    outb(PIC2_DATA, 0xff);
    klog(LOG_INFO, "pic: 8259s remapped to vectors %u-%u and masked", PIC_VECTOR_BASE, PIC_VECTOR_BASE + 15);
}
