/*
 * Tracing on the serial console: trace=virtq,net,irq on the kernel command
 * line (docs/tracing.md). Each traced event is one line in the log's format,
 * with the letter T where klog puts the level:
 *
 *   [    2.345678] T virtq virtio0.tx0: add head=3 descs=2 bytes=66 avail_idx=18
 *   [    2.345702] T net tx 54 bytes: IPv4 10.0.2.15 > 10.0.2.2: TCP 80 > 51234 [S.] seq=6 ack=1 win=8192 len=0
 *   [    2.345950] T irq vector=50 virtio0.rx0
 *
 * Words: virtq (ring operations: add, kick or suppressed kick, interrupt,
 * used buffer), net (every frame in and out of the netif, decoded on one
 * line), irq (every interrupt but the LAPIC timer's), all (the three).
 *
 * Lines are rate-limited by a token bucket (TRACE_RATE lines a second, bursts
 * of TRACE_BURST), so tracing can neither flood the serial line nor make the
 * data path wait on it for long; what the bucket refuses is counted and
 * reported as "trace: N lines suppressed" (at most once a second while lines
 * are being refused, and by trace_tick() after the flood is over).
 *
 * Cost when off: trace_on() is one load of trace_mask and a branch the CPU
 * predicts not taken; the formatting is out of line.
 *
 * Context: trace_line() may be called from interrupt handlers and the main
 * loop alike: the bucket and the counters are updated with single atomic
 * instructions (one CPU: atomic with respect to interrupts), and the output
 * function writes a whole line at a time.
 *
 * The frame decoder (trace_frame_decode()) works on plain bytes and uses no
 * kernel service, so the host tests run it on crafted and random frames.
 */
#ifndef LIB_TRACE_H
#define LIB_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRACE_VIRTQ (1u << 0)
#define TRACE_NET   (1u << 1)
#define TRACE_IRQ   (1u << 2)
#define TRACE_ALL   (TRACE_VIRTQ | TRACE_NET | TRACE_IRQ)

/* Default rate limit: lines per second, and how many may go at once. */
#define TRACE_RATE  200
#define TRACE_BURST 400

/* Bytes of a frame trace_frame() decodes: Ethernet + IPv6 + extension headers + TCP with options. */
#define TRACE_FRAME_CAP 192

/* Which of TRACE_* are on. Written only by trace_init()/trace_set_mask(). */
extern unsigned trace_mask;

/** trace_on() - is any of @what (TRACE_*) being traced? The only cost when tracing is off. */
static inline bool trace_on(unsigned what)
{
    return __builtin_expect((trace_mask & what) != 0, 0);
}

/**
 * trace_parse() - turn the value of trace= into a TRACE_* mask.
 * @spec: comma-separated words: virtq, net, irq, all (empty words are ignored).
 * @bad: receives the first unknown word (cut to @bad_size - 1), "" if none.
 * Return: the number of unknown words; *@mask has the known ones either way.
 */
int trace_parse(const char *spec, unsigned *mask, char *bad, size_t bad_size);

/**
 * trace_set_output() - where lines go and where their timestamps come from:
 * @write gets one whole line with its newline (the console's klog sink);
 * @now_ns is the clock in ns since boot. Until this is called nothing is printed.
 */
void trace_set_output(void (*write)(const char *line, unsigned len), unsigned long long (*now_ns)(void));

/**
 * trace_init() - parse @spec (trace=, NULL when absent) and turn tracing on.
 * Logs an error naming each unknown word and the known ones, and one line
 * saying what is traced; the known words take effect even if some were unknown.
 * Context: boot, after trace_set_output() and once the clock runs.
 */
void trace_init(const char *spec);

/** trace_set_mask() - change what is traced (host tests; a debugger). */
void trace_set_mask(unsigned mask);

/**
 * trace_set_rate() - allow @per_sec lines a second in bursts of @burst
 * (both at least 1). Resets the bucket to full. Default TRACE_RATE, TRACE_BURST.
 */
void trace_set_rate(unsigned per_sec, unsigned burst);

/**
 * trace_line() - print one trace line (no newline in @fmt) if the rate limit
 * allows, else count it as suppressed. Callers check trace_on() first.
 * Context: any, including interrupt handlers.
 */
void trace_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/**
 * trace_tick() - report lines suppressed since the last report, if a second
 * has passed since it. Context: the main loop, about once a second.
 */
void trace_tick(void);

/**
 * trace_frame() - one "net rx|tx N bytes: <decoded>" line for a frame.
 * @dir: "rx" or "tx"; @f: the first @caplen bytes of a frame of @len bytes.
 */
void trace_frame(const char *dir, const uint8_t *f, size_t caplen, size_t len);

/**
 * trace_frame_decode() - describe an Ethernet frame on one line, tcpdump-like:
 *   ARP who-has 10.0.2.15 tell 10.0.2.2
 *   IPv4 10.0.2.2 > 10.0.2.15: TCP 51234 > 80 [S] seq=1 win=65535 len=0
 *   IPv6 fe80::1 > ff02::1: ICMPv6 router advertisement
 * @f: the first @caplen bytes of the frame; @len: its full length (for the
 * lengths that are not in a header). Never reads past @caplen; a header cut
 * short is shown as "[truncated]".
 * Return: the length of the text (cut to @size - 1; @out is NUL-terminated when @size > 0).
 */
size_t trace_frame_decode(const uint8_t *f, size_t caplen, size_t len, char *out, size_t size);

/** Counters since boot. */
struct trace_stats {
    uint64_t lines;      /* trace lines printed ("suppressed" reports not counted) */
    uint64_t suppressed; /* lines the rate limit refused */
    uint64_t unreported; /* ...of which no "N lines suppressed" line has told yet */
};
void trace_get_stats(struct trace_stats *st);

#endif
