/*
 * libFuzzer target for lib/trace.c's frame decoder: trace=net decodes
 * whatever arrives on the wire. The input is the frame; its last two bytes
 * (when there are some) choose the frame length the decoder is told about
 * (at least what was captured, as the NIC would say) and the size of the
 * output buffer.
 *
 * Checked (abort() on violation): no read outside the captured bytes (the
 * frame is copied into a heap block of exactly that size, for ASan), no
 * write past the output size, a NUL-terminated result whose length is the
 * return value, and the same text however large the buffer beyond it.
 *
 * Build and run: make -f tests/fuzz/fuzz.mk fuzz (see fuzz.mk).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/trace.h"

#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "fuzz_trace: check failed at line %d: %s\n", __LINE__, #cond);                   \
            abort();                                                                                         \
        }                                                                                                    \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t extra = 0, outsize = 256;
    char big[512], small[257];

    if (size >= 2) {
        extra = data[size - 2] * 8u;
        outsize = data[size - 1] + 1u;
        size -= 2;
    }
    uint8_t *frame = malloc(size ? size : 1);
    CHECK(frame);
    memcpy(frame, data, size);

    size_t n = trace_frame_decode(frame, size, size + extra, big, sizeof(big));
    CHECK(n < sizeof(big) && big[n] == '\0' && strlen(big) == n);

    /* A smaller buffer holds a prefix of the same text, and nothing past it is touched. */
    memset(small, '#', sizeof(small));
    size_t m = trace_frame_decode(frame, size, size + extra, small, outsize);
    CHECK(m < outsize && small[m] == '\0' && strlen(small) == m);
    CHECK(m == (n < outsize - 1 ? n : outsize - 1));
    CHECK(memcmp(small, big, m) == 0);
    if (outsize < sizeof(small))
        CHECK(small[outsize] == '#');

    free(frame);
    return 0;
}
