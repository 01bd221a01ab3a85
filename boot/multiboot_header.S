/*
 * The multiboot headers (Multiboot 0.6.96 section 3.1, Multiboot2 section
 * 3.1), in their own object so that build/kernel-pvh.elf can leave them out:
 * QEMU's -kernel tries multiboot before PVH, so an image that carries a
 * multiboot header is never entered through PVH there. Both headers lie in
 * the first 8 KiB of the image (linker.ld puts .multiboot first).
 */
#include "boot/multiboot.h"

    .section .multiboot, "a"

    /* Multiboot1 header, for QEMU's -kernel loader. QEMU refuses 64-bit ELF
     * files unless the header carries the a.out kludge addresses, so it
     * loads [load_addr, load_end_addr) straight from the file and zeroes up
     * to bss_end_addr. */
    .align 4
mb1_header:
    .long MB1_HEADER_MAGIC
    .long MB1_HEADER_MEMINFO | MB1_HEADER_AOUT_KLUDGE
    .long -(MB1_HEADER_MAGIC + (MB1_HEADER_MEMINFO | MB1_HEADER_AOUT_KLUDGE))
    .long mb1_header            /* header_addr */
    .long __kernel_start        /* load_addr */
    .long __load_end            /* load_end_addr */
    .long __bss_end             /* bss_end_addr */
    .long _start32              /* entry_addr */

    /* Multiboot2 header, for GRUB on BIOS and UEFI. GRUB loads the ELF by
     * its program headers and enters at e_entry in 32-bit protected mode. */
    .align 8
mb2_header:
    .long MB2_HEADER_MAGIC
    .long MB2_ARCH_I386
    .long mb2_header_end - mb2_header
    .long -(MB2_HEADER_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))
    .align 8
mb2_info_request:               /* optional: boot even if one is missing */
    .short MB2_HEADER_TAG_INFO_REQ, MB2_HEADER_TAG_OPTIONAL
    .long mb2_info_request_end - mb2_info_request
    .long MB2_TAG_CMDLINE, MB2_TAG_MMAP, MB2_TAG_ACPI_NEW, MB2_TAG_ACPI_OLD
mb2_info_request_end:
    .align 8
    .short MB2_HEADER_TAG_END, 0
    .long 8
mb2_header_end:

