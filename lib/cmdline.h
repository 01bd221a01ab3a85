/*
 * The kernel command line, as key=value options:
 *   ip=10.0.2.15/24 gw=10.0.2.2 log=debug trace=virtq,net apps=http,echo test=pagefault
 * A bare word is an option with an empty value. The first word is skipped when
 * it is the kernel's path (boot loaders put it there).
 */
#ifndef LIB_CMDLINE_H
#define LIB_CMDLINE_H

#include <stdbool.h>
#include <stdint.h>

#define CMDLINE_MAX      1024
#define CMDLINE_MAX_OPTS 32

/** cmdline_parse() - copy and split @s. Later calls replace earlier ones. Return: options found. */
int cmdline_parse(const char *s);

/** cmdline_get() - the value of @key, "" for a bare word, NULL when absent. */
const char *cmdline_get(const char *key);

/** cmdline_get_u64() - the value of @key as a number (0x.. accepted), or @def when absent/invalid. */
uint64_t cmdline_get_u64(const char *key, uint64_t def);

/** cmdline_has_item() - true if @key's comma-separated value contains @item (trace=virtq,net). */
bool cmdline_has_item(const char *key, const char *item);

/** cmdline_raw() - the command line as given (for the boot log). */
const char *cmdline_raw(void);

#endif
