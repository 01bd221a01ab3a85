/*
 * Command-line parsing: one copy of the line, split in place into
 * NUL-terminated keys and values, so lookups return pointers into it.
 */
#include "lib/cmdline.h"
#include <stdlib.h>
#include <string.h>

static char raw[CMDLINE_MAX];
static char buf[CMDLINE_MAX];
static struct {
    const char *key, *val;
} opts[CMDLINE_MAX_OPTS];
static int nopts;

int cmdline_parse(const char *s)
{
    nopts = 0;
    if (!s)
        s = "";
    strlcpy(raw, s, sizeof(raw));
    strlcpy(buf, s, sizeof(buf));

    char *p = buf;
    bool first = true;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            *p++ = '\0';
        if (!*p)
            break;
        char *word = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (*p)
            *p++ = '\0';
        char *eq = strchr(word, '=');
        /* GRUB and QEMU put the kernel's file name first. */
        if (first && !eq && strchr(word, '/')) {
            first = false;
            continue;
        }
        first = false;
        if (nopts == CMDLINE_MAX_OPTS)
            break;
        if (eq)
            *eq = '\0';
        opts[nopts].key = word;
        opts[nopts].val = eq ? eq + 1 : "";
        nopts++;
    }
    return nopts;
}

const char *cmdline_get(const char *key)
{
    /* The last occurrence wins, as on Linux. */
    for (int i = nopts - 1; i >= 0; i--)
        if (strcmp(opts[i].key, key) == 0)
            return opts[i].val;
    return NULL;
}

uint64_t cmdline_get_u64(const char *key, uint64_t def)
{
    const char *v = cmdline_get(key);
    char *end;
    if (!v || !*v)
        return def;
    uint64_t n = strtoull(v, &end, 0);
    return *end ? def : n;
}

bool cmdline_has_item(const char *key, const char *item)
{
    const char *v = cmdline_get(key);
    size_t len = strlen(item);
    while (v && *v) {
        const char *comma = strchr(v, ',');
        size_t n = comma ? (size_t)(comma - v) : strlen(v);
        if (n == len && strncmp(v, item, len) == 0)
            return true;
        v = comma ? comma + 1 : NULL;
    }
    return false;
}

const char *cmdline_raw(void)
{
    return raw;
}
