/*
 * A fake PCI configuration space for host tests of drivers/pci.c, plugged in
 * through struct pci_cfg_ops, and a map_mmio() double that hands out host
 * buffers for physical ranges the test registers.
 *
 * Each fake function is 256 bytes of configuration space plus two masks:
 * which bits are writable and which are write-1-to-clear. That is enough to
 * model BAR sizing the way hardware does it: the low address bits of a BAR
 * are read-only zero, so writing all ones reads back the size mask, and the
 * type bits are read-only. Functions that were not added read as all ones.
 */
#ifndef TESTS_UNIT_FAKE_PCICFG_H
#define TESTS_UNIT_FAKE_PCICFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/pci_cfg.h"

struct fake_pcifn {
    uint8_t bus, dev, fn;
    bool alias_all_fns; /* answers for every function number, like old single-function devices */
    uint8_t cfg[256];
    uint8_t wmask[256]; /* 1: bit is writable */
    uint8_t w1c[256];   /* 1: writing 1 clears the bit */
    /* What the code under test did to this function. */
    unsigned reads, writes;
    unsigned cmd_writes;               /* writes that touched the command register */
    unsigned bar_sized_while_decoding; /* all-ones written to a live BAR with decode on */
};

extern const struct pci_cfg_ops fake_pci_ops;

/** fake_pci_reset() - remove every function and every MMIO region, zero counters. */
void fake_pci_reset(void);

/**
 * fake_pci_add() - a function with the given IDs, 24-bit class code and raw
 * header type byte (bit 7: multi-function). Command (IO, MEM, MASTER,
 * INTx disable), interrupt line and cache line are writable; status bits
 * 15:11 and 8 are write-1-to-clear.
 */
struct fake_pcifn *fake_pci_add(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t vendor, uint16_t device,
                                uint32_t class_code, uint8_t hdr_type);

/** fake_pci_add_all_ones() - a function whose every register reads 0xFF and ignores writes. */
struct fake_pcifn *fake_pci_add_all_ones(uint8_t bus, uint8_t dev, uint8_t fn);

/* BARs, sized like hardware: @size is a power of two, @addr aligned to it. */
void fake_pci_bar_io(struct fake_pcifn *f, int bar, uint16_t port, uint32_t size);
void fake_pci_bar_mem32(struct fake_pcifn *f, int bar, uint32_t addr, uint32_t size, bool pref);
void fake_pci_bar_mem64(struct fake_pcifn *f, int bar, uint64_t addr, uint64_t size, bool pref);

/** fake_pci_bridge() - bus numbers of a type 1 header (writable, as in hardware). */
void fake_pci_bridge(struct fake_pcifn *f, uint8_t primary, uint8_t secondary, uint8_t subordinate);

/** fake_pci_cap_head() - set the capabilities pointer at 0x34 and the status bit. */
void fake_pci_cap_head(struct fake_pcifn *f, uint8_t first);

/** fake_pci_cap() - a capability header at @off: ID and next pointer (raw, unchecked). */
void fake_pci_cap(struct fake_pcifn *f, uint8_t off, uint8_t id, uint8_t next);

/* Raw register access, bypassing the masks (for setup and assertions). */
void fake_pci_set8(struct fake_pcifn *f, uint8_t off, uint8_t v);
void fake_pci_set16(struct fake_pcifn *f, uint8_t off, uint16_t v);
void fake_pci_set32(struct fake_pcifn *f, uint8_t off, uint32_t v);
uint8_t fake_pci_get8(const struct fake_pcifn *f, uint8_t off);
uint16_t fake_pci_get16(const struct fake_pcifn *f, uint8_t off);
uint32_t fake_pci_get32(const struct fake_pcifn *f, uint8_t off);
void fake_pci_wmask16(struct fake_pcifn *f, uint8_t off, uint16_t mask);
void fake_pci_wmask32(struct fake_pcifn *f, uint8_t off, uint32_t mask);

/* --- map_mmio() double --- */

/** fake_mmio_add() - map_mmio() of any range inside [phys, phys+len) returns @host + offset. */
void fake_mmio_add(uint64_t phys, void *host, size_t len);

struct fake_mmio_call {
    uint64_t phys;
    size_t len;
};
extern struct fake_mmio_call fake_mmio_calls[64];
extern unsigned fake_mmio_ncalls; /* calls made, including failed ones */

#endif
