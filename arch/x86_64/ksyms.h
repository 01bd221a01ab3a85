/*
 * The kernel's own symbol table, linked into the image so a fault dump can
 * name functions. The build links the kernel twice: the first link gives the
 * addresses, scripts/gen-ksyms.sh turns `nm` output into ksyms.S, and the
 * second link places that table after all code, so no function moves.
 */
#ifndef ARCH_X86_64_KSYMS_H
#define ARCH_X86_64_KSYMS_H

#include <stdint.h>

/**
 * ksyms_lookup() - the function containing @addr.
 * @offset: receives @addr minus the function's start.
 * Return: its name, or NULL when @addr is outside the kernel's text.
 */
const char *ksyms_lookup(uint64_t addr, uint64_t *offset);

/** ksyms_find() - the address of the function named @name, or 0. */
uint64_t ksyms_find(const char *name);

#endif
