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

#endif
