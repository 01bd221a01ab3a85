/*
 * The kernel log. Formats each message into one line with a timestamp and a
 * level letter, then hands the whole line to the sink (the serial console),
 * so lines from interrupt handlers never land in the middle of another.
 */
#include "lib/klog.h"
#include "lib/printf.h"
#include <string.h>

#define KLOG_LINE_MAX 512

static int current_level = LOG_INFO;
static void (*sink)(const char *line, unsigned len);
static unsigned long long (*clock_fn)(void);

static const char level_letter[] = {'E', 'W', 'I', 'D'};

void klog_set_level(int level)
{
    if (level < LOG_ERR)
        level = LOG_ERR;
    if (level > LOG_DEBUG)
        level = LOG_DEBUG;
    current_level = level;
}

int klog_get_level(void)
{
    return current_level;
}

int klog_level_from_name(const char *name)
{
    static const char *const names[] = {"err", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    if (name[0] >= '0' && name[0] <= '3' && name[1] == '\0')
        return name[0] - '0';
    return -1;
}

void klog_set_sink(void (*write)(const char *line, unsigned len))
{
    sink = write;
}

void klog_set_clock(unsigned long long (*now_ns)(void))
{
    clock_fn = now_ns;
}

void vklog(int level, const char *fmt, va_list ap)
{
    char line[KLOG_LINE_MAX];
    int n;

    if (level > current_level || !sink)
        return;
    if (level < LOG_ERR)
        level = LOG_ERR;
    unsigned long long ns = clock_fn ? clock_fn() : 0;
    n = snprintf(line, sizeof(line), "[%5llu.%06llu] %c ", ns / 1000000000ull, (ns / 1000ull) % 1000000ull,
                 level_letter[level]);
    n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    if (n > KLOG_LINE_MAX - 2) {
        /* Truncated: say so rather than silently cutting. */
        n = KLOG_LINE_MAX - 2;
        memcpy(line + n - 3, "...", 3);
    }
    while (n > 0 && line[n - 1] == '\n')
        n--;
    line[n++] = '\n';
    sink(line, (unsigned)n);
}

void klog(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vklog(level, fmt, ap);
    va_end(ap);
}

int klog_ratelimit(struct klog_ratelimit *rl)
{
    unsigned long long now = clock_fn ? clock_fn() : 0;
    unsigned long long interval = (unsigned long long)rl->interval_ms * 1000000ull;

    if (rl->window_start_ns == 0 || now - rl->window_start_ns >= interval) {
        if (rl->suppressed)
            klog(LOG_WARN, "klog: %u messages suppressed", rl->suppressed);
        rl->window_start_ns = now ? now : 1;
        rl->printed = 0;
        rl->suppressed = 0;
    }
    if (rl->printed < rl->burst) {
        rl->printed++;
        return 1;
    }
    rl->suppressed++;
    return 0;
}
