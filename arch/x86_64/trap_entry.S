/*
 * Entry stubs for all 256 IDT vectors (Intel SDM vol. 3, 6.14 "Exception and
 * interrupt handling in 64-bit mode").
 *
 * The CPU pushes SS, RSP, RFLAGS, CS, RIP and, for some exceptions, an error
 * code. Each stub pushes a dummy error code where the CPU did not, then its
 * vector number, so every frame has the same shape (struct trap_frame in
 * trap.h). Stubs are 16 bytes apart: the IDT entry of vector n points at
 * trap_stubs + 16 * n.
 */
    .section .text
    .align 16
    .global trap_stubs
trap_stubs:
    .set vec, 0
    .rept 256
    .align 16
    /* Vectors with a CPU-pushed error code: #DF #TS #NP #SS #GP #PF #AC #CP #VC #SX */
    .if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    .else
    pushq $0
    .endif
    pushq $vec
    jmp trap_common
    .set vec, vec + 1
    .endr

trap_common:
    /* Save the general registers in the order of struct trap_frame. */
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    cld
    /* 15 registers + vector + error + 5 CPU words = 22 * 8 bytes: the CPU
     * aligned RSP to 16 before its pushes, so RSP is 16-aligned here, as
     * the System V ABI wants at a call. */
    movq %rsp, %rdi
    call trap_dispatch
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    addq $16, %rsp          /* vector and error code */
    iretq
