/*
 * The first instructions of the kernel: the climb from 32-bit protected mode
 * (where both multiboot versions and PVH leave us: the headers are in
 * boot/multiboot_header.S and boot/pvh.S) to 64-bit long mode (Intel SDM vol. 3, 9.8.5 "Initializing IA-32e Mode"):
 *
 *   1. check the CPU can do long mode (CPUID 0x80000001 EDX.LM)
 *   2. clear .bss, so C starts from zeroed globals
 *   3. build temporary page tables identity-mapping the first 4 GiB with
 *      2 MiB pages (paging.c replaces them with the real W^X tables)
 *   4. CR4.PAE, EFER.LME (+ EFER.NXE when the CPU has NX), CR0.PG|WP
 *   5. load a 64-bit GDT and far-jump into a 64-bit code segment
 *   6. set the stack and call kmain(magic, info) with the boot loader's values
 */
    .section .text.boot, "ax"
    .code32
    .global _start32
_start32:
    cli
    cld
    /* .data is loaded from the file; .bss is about to be cleared. */
    movl %eax, boot_magic
    movl %ebx, boot_info_addr
    movl $boot_stack_top, %esp

    /* 1. Long mode available? */
    movl $0x80000000, %eax
    cpuid
    cmpl $0x80000001, %eax
    jb no_long_mode
    movl $0x80000001, %eax
    cpuid
    testl $(1 << 29), %edx
    jz no_long_mode
    movl %edx, boot_ext_features    /* bit 20: NX */

    /* 2. Clear .bss (QEMU and GRUB zero it too; a chain loader may not). */
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    shrl $2, %ecx                   /* both ends are page-aligned (linker.ld) */
    xorl %eax, %eax
    rep stosl                       /* TCG runs each iteration on its own: 4 bytes, not 1 */

    /* 3. Temporary identity map of [0, 4 GiB): PML4[0] -> PDPT,
     * PDPT[0..3] -> four page directories of 512 2-MiB pages each. */
    movl $boot_pd, %edi
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax                 /* present | writable | 2 MiB page */
    movl %eax, (%edi, %ecx, 8)
    incl %ecx
    cmpl $2048, %ecx
    jb 1b

    movl $boot_pdpt, %edi
    movl $boot_pd + 0x003, %eax     /* present | writable */
    movl %eax, 0(%edi)
    addl $0x1000, %eax
    movl %eax, 8(%edi)
    addl $0x1000, %eax
    movl %eax, 16(%edi)
    addl $0x1000, %eax
    movl %eax, 24(%edi)
    movl $boot_pdpt + 0x003, %eax
    movl %eax, boot_pml4

    /* 4. PAE, then long mode (and no-execute) in EFER, then paging. */
    movl $boot_pml4, %eax
    movl %eax, %cr3
    movl %cr4, %eax
    orl $(1 << 5), %eax             /* CR4.PAE */
    movl %eax, %cr4
    movl $0xC0000080, %ecx          /* IA32_EFER */
    rdmsr
    orl $(1 << 8), %eax             /* LME */
    testl $(1 << 20), boot_ext_features
    jz 2f
    orl $(1 << 11), %eax            /* NXE: honour the NX bit in page tables */
2:  wrmsr
    movl %cr0, %eax
    orl $((1 << 31) | (1 << 16) | 1), %eax  /* PG | WP (ring 0 obeys read-only) | PE */
    movl %eax, %cr0

    /* 5. Into 64-bit code. */
    lgdt gdt64_ptr
    ljmp $0x08, $_start64

no_long_mode:
    /* No C, no console driver yet: write straight to COM1. */
    movl $no_lm_msg, %esi
3:  lodsb
    testb %al, %al
    jz 4f
    movw $0x3F8, %dx
    outb %al, %dx
    jmp 3b
4:  cli
    hlt
    jmp 4b

    .code64
_start64:
    /* Tell debuggers this is the outermost frame: gdb's backtrace ends here
     * instead of reading the boot loader's leftovers as return addresses. */
    .cfi_sections .debug_frame
    .cfi_startproc
    .cfi_undefined rip
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    movabsq $boot_stack_top, %rsp
    xorl %ebp, %ebp                 /* ends every backtrace */
    /* 6. kmain(magic, info): System V ABI, first two args in edi, esi. */
    movl boot_magic, %edi
    movl boot_info_addr, %esi
    call kmain
5:  cli
    hlt
    jmp 5b
    .cfi_endproc

    .section .rodata
no_lm_msg:
    .asciz "boot: this CPU has no 64-bit long mode; cannot start\r\n"

    .align 16
gdt64:
    .quad 0                         /* null */
    .quad 0x00AF9A000000FFFF        /* 0x08: 64-bit code, ring 0 */
    .quad 0x00CF92000000FFFF        /* 0x10: data, ring 0 */
gdt64_end:
gdt64_ptr:
    .short gdt64_end - gdt64 - 1
    .quad gdt64

    .section .data
    .align 4
    .global boot_magic, boot_info_addr
boot_magic:
    .long 0
boot_info_addr:
    .long 0
boot_ext_features:
    .long 0

    .section .bss
    .align 4096
boot_pml4:
    .skip 4096
boot_pdpt:
    .skip 4096
boot_pd:
    .skip 4 * 4096
    /* The boot stack, with an unmapped guard page below it (paging.c):
     * an overflow faults instead of silently corrupting .bss. */
    .global boot_stack_guard, boot_stack_bottom, boot_stack_top
boot_stack_guard:
    .skip 4096
boot_stack_bottom:
    .skip 65536
boot_stack_top:
