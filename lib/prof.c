/* The cycle counters of lib/prof.h. */
#include "lib/prof.h"

struct prof_counter prof_counters[PROF_SECTIONS];

static const char *const names[PROF_SECTIONS] = {
    [PROF_RX_POLL] = "rx_poll", [PROF_LWIP_INPUT] = "lwip_input", [PROF_APP] = "app",
    [PROF_TX] = "tx",           [PROF_TX_KICK] = "tx_kick",
};

static uint64_t (*counter)(void);

void prof_set_counter(uint64_t (*read)(void))
{
    counter = read;
}

uint64_t prof_now(void)
{
    return counter ? counter() : 0;
}

const char *prof_name(unsigned s)
{
    return s < PROF_SECTIONS ? names[s] : 0;
}

struct prof_counter prof_get(unsigned s)
{
    struct prof_counter z = {0, 0};

    return s < PROF_SECTIONS ? prof_counters[s] : z;
}

uint64_t prof_cycles_to_ns(uint64_t cycles, uint64_t hz)
{
    if (hz == 0)
        return 0;
    /* Whole seconds, then the rest: rest < hz, and hz * 1e9 fits in 64 bits
     * for any clock below 18 GHz. */
    return cycles / hz * 1000000000ull + cycles % hz * 1000000000ull / hz;
}
