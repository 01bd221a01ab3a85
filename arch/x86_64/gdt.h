/*
 * The 64-bit GDT and TSS (Intel SDM vol. 3, 3.4.5 and 8.7). Long mode ignores
 * segmentation except for the code segment's L bit, but the TSS still matters:
 * its Interrupt Stack Table gives the fault handlers stacks of their own, so a
 * kernel stack overflow (a #PF on the guard page, then #DF) is reported instead
 * of becoming a triple fault and a silent reboot.
 */
#ifndef ARCH_X86_64_GDT_H
#define ARCH_X86_64_GDT_H

#include <stdint.h>

#define GDT_KERNEL_CODE 0x08
#define GDT_KERNEL_DATA 0x10
#define GDT_TSS         0x18

/* IST slots (1-based, as the IDT encodes them). */
#define IST_DOUBLE_FAULT  1
#define IST_NMI           2
#define IST_MACHINE_CHECK 3
#define IST_PAGE_FAULT    4

/** gdt_init() - load the kernel GDT and the TSS with its IST stacks. */
void gdt_init(void);

/** gdt_ist_range() - the bounds of IST stack @ist (for backtraces). */
void gdt_ist_range(int ist, uintptr_t *bottom, uintptr_t *top);

#endif
