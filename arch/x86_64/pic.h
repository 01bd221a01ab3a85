/*
 * The two legacy 8259A PICs (Intel 8259A data sheet; PIIX4/ICH9 datasheets,
 * "Interrupt Controller"). We never use them: they are remapped away from the
 * exception vectors and fully masked, so that a stray or spurious 8259
 * interrupt lands on vectors 32-47 (counted as unexpected) instead of looking
 * like a CPU exception.
 */
#ifndef ARCH_X86_64_PIC_H
#define ARCH_X86_64_PIC_H

#include <stdint.h>

#define PIC1_CMD        0x20
#define PIC1_DATA       0x21
#define PIC2_CMD        0xa0
#define PIC2_DATA       0xa1
#define PIC_ICW1_INIT   0x10 /* with ICW4 needed: 0x11 */
#define PIC_ICW1_ICW4   0x01
#define PIC_ICW4_8086   0x01
#define PIC_VECTOR_BASE 32 /* master IRQ 0-7 -> 32-39, slave IRQ 8-15 -> 40-47 */

/**
 * pic_disable() - reinitialise both 8259s with vector bases 32 and 40 and
 * mask all 16 lines. Context: boot, interrupts disabled.
 */
void pic_disable(void);

#endif
