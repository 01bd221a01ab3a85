/*
 * The kernel log: one line per call, prefixed with a timestamp and the level,
 * written to the serial console (COM1).
 *
 *   [    1.234567] I virtio-net: link up
 *
 * Messages start with their module ("pci: ", "virtio-net: ").
 */
#ifndef LIB_KLOG_H
#define LIB_KLOG_H

#include <stdarg.h>

enum klog_level {
    LOG_ERR = 0,
    LOG_WARN = 1,
    LOG_INFO = 2,
    LOG_DEBUG = 3,
};

/** klog() - log one message at @level if the level is enabled (log= on the command line). */
void klog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vklog(int level, const char *fmt, va_list ap);

/** klog_set_level() - messages above @level are dropped. Default LOG_INFO. */
void klog_set_level(int level);
int klog_get_level(void);

/** klog_level_from_name() - "err", "warn", "info", "debug" (or 0-3) to a level; -1 if unknown. */
int klog_level_from_name(const char *name);

/**
 * klog_set_sink() - where finished lines go (the serial console). @write gets
 * one whole line including its newline, and must not interleave it with others.
 */
void klog_set_sink(void (*write)(const char *line, unsigned len));

/** klog_set_clock() - the timestamp source, in ns since boot (0 until one is set). */
void klog_set_clock(unsigned long long (*now_ns)(void));

/*
 * Rate limiting for messages a packet or a device could trigger: at most
 * @burst messages per @interval_ms, then one "N messages suppressed" line.
 *   static struct klog_ratelimit rl = KLOG_RATELIMIT_INIT(1000, 5);
 *   if (klog_ratelimit(&rl)) klog(LOG_WARN, "virtio-net: dropped ...");
 */
struct klog_ratelimit {
    unsigned interval_ms, burst;
    unsigned long long window_start_ns;
    unsigned printed, suppressed;
};
#define KLOG_RATELIMIT_INIT(interval_ms, burst)                                                              \
    {                                                                                                        \
        (interval_ms), (burst), 0, 0, 0                                                                      \
    }

/** klog_ratelimit() - true if the caller may log now. */
int klog_ratelimit(struct klog_ratelimit *rl);

#endif
