/*
 * The PVH entry (Xen's docs/misc/pvh.pandoc; boot/pvh.h): an ELF note
 * XEN_ELFNOTE_PHYS32_ENTRY naming the 32-bit entry point, and that entry.
 * The loader starts it in 32-bit protected mode with paging off, flat CS/DS,
 * no stack, and EBX = the physical address of struct hvm_start_info. From
 * there the path is multiboot's (_start32 in boot/boot.S): EAX tells
 * bootinfo_parse() which structure EBX points to, so the entry puts the start
 * info's own magic there.
 */
#include "boot/pvh.h"

    /* An ELF note (System V gABI "Note Section"): namesz, descsz, type, the
     * name padded to 4 bytes, the descriptor. QEMU reads the descriptor as
     * 64 bits (it aligns by the PT_NOTE segment's p_align, 4 here), Linux's
     * vmlinux carries a .quad too; the high half is 0. */
    .section .note.Xen, "a", @note
    .align 4
    .long 2f - 1f                   /* namesz */
    .long 4f - 3f                   /* descsz */
    .long PVH_ELFNOTE_PHYS32_ENTRY
1:  .asciz PVH_ELFNOTE_NAME
2:  .align 4
3:  .quad _start_pvh
4:  .align 4

    .section .text.boot, "ax"
    .code32
    .global _start_pvh
_start_pvh:
    movl $PVH_START_MAGIC, %eax
    jmp _start32
