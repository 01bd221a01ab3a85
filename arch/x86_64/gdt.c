/* GDT, TSS and IST stacks: Intel SDM vol. 3, 3.4.5 (descriptors), 7.7 (64-bit TSS). */
#include "arch/x86_64/gdt.h"
#include <stddef.h>
#include <string.h>

#define IST_STACK_SIZE 16384
#define IST_COUNT      4

struct tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __attribute__((packed));
_Static_assert(sizeof(struct tss64) == 104, "SDM vol. 3, figure 7-11");

static struct tss64 tss;
static uint8_t ist_stacks[IST_COUNT][IST_STACK_SIZE] __attribute__((aligned(16)));

/* null, code, data, then the 16-byte TSS descriptor (two slots). */
static uint64_t gdt[5];

struct __attribute__((packed)) gdt_ptr {
    uint16_t limit;
    uint64_t base;
};

void gdt_init(void)
{
    gdt[0] = 0;
    gdt[1] = 0x00AF9A000000FFFFull; /* present, ring 0, code, L=1 */
    gdt[2] = 0x00CF92000000FFFFull; /* present, ring 0, data, writable */

    memset(&tss, 0, sizeof(tss));
    for (int i = 0; i < IST_COUNT; i++)
        tss.ist[i] = (uint64_t)(uintptr_t)&ist_stacks[i][IST_STACK_SIZE];
    tss.iomap_base = sizeof(tss); /* no I/O permission bitmap */

    uint64_t base = (uint64_t)(uintptr_t)&tss;
    uint64_t limit = sizeof(tss) - 1;
    gdt[3] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) |
             (0x89ull << 40) /* present, 64-bit TSS available */
             | (((limit >> 16) & 0xF) << 48) | (((base >> 24) & 0xFF) << 56);
    gdt[4] = base >> 32;

    struct gdt_ptr ptr = {sizeof(gdt) - 1, (uint64_t)(uintptr_t)gdt};
    __asm__ volatile("lgdt %0\n\t"
                     /* Reload CS with a far return, then the data segments. */
                     "pushq %1\n\t"
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1:\n\t"
                     "movw %w2, %%ax\n\t"
                     "movw %%ax, %%ds\n\t"
                     "movw %%ax, %%es\n\t"
                     "movw %%ax, %%ss\n\t"
                     "ltr %w3\n\t"
                     :
                     : "m"(ptr), "i"(GDT_KERNEL_CODE), "i"(GDT_KERNEL_DATA), "r"((uint16_t)GDT_TSS)
                     : "rax", "memory");
}

void gdt_ist_range(int ist, uintptr_t *bottom, uintptr_t *top)
{
    if (ist < 1 || ist > IST_COUNT) {
        *bottom = *top = 0;
        return;
    }
    *bottom = (uintptr_t)&ist_stacks[ist - 1][0];
    *top = (uintptr_t)&ist_stacks[ist - 1][IST_STACK_SIZE];
}
