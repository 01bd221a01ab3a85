/*
 * The status page (apps/status_page.html) as bytes in .rodata, for
 * apps/status_page.h. Kept as a real HTML file so it can be edited and
 * opened in a browser as is; the Makefile rebuilds this when it changes.
 */
    .section .rodata
    .globl status_page_html
    .type status_page_html, @object
status_page_html:
    .incbin "apps/status_page.html"
status_page_end:
    .byte 0
    .size status_page_html, . - status_page_html

    .balign 8
    .globl status_page_len
    .type status_page_len, @object
status_page_len:
    .quad status_page_end - status_page_html
    .size status_page_len, 8

    .section .note.GNU-stack, "", @progbits
