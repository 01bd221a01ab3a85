/*
 * The virtio-mmio transport (virtio 1.2 spec 4.2): a virtio device as a
 * window of 32-bit registers in physical memory plus one interrupt line, as
 * microVM monitors (QEMU's -M microvm, Firecracker, Cloud Hypervisor) offer
 * them instead of PCI. Version 2 (modern, 4.2.2) and version 1 (legacy,
 * 4.2.4: GuestPageSize, QueuePFN and the legacy ring layout) sit behind the
 * same struct virtio_transport_ops as virtio-pci, so vring and the virtio
 * drivers are the same.
 *
 * There is no bus to enumerate: the monitor says where the devices are. QEMU's
 * microvm (auto-kernel-cmdline) and Firecracker put Linux's words on the
 * kernel command line,
 *     virtio_mmio.device=<size>@<base>:<irq>[:<id>]    e.g. 512@0xfeb00e00:12, 4K@0xd0000000:5
 * (size with an optional K/M/G suffix, base in C notation, irq the GSI), which
 * virtio_mmio_parse_cmdline() reads. Where ACPI is on, the DSDT lists them too,
 * as devices "LNRO0005" (virtio_mmio_scan_dsdt()). The device behind a window is not
 * trusted: magic, version and device ID are checked before anything else,
 * device ID 0 is an empty slot, queue sizes are bounded.
 */
#ifndef DRIVERS_VIRTIO_MMIO_H
#define DRIVERS_VIRTIO_MMIO_H

#include <stddef.h>
#include <stdint.h>

#include "drivers/virtio.h"

/* The most virtio_mmio.device= words one command line may name. */
#define VIRTIO_MMIO_MAX_DEVICES 16
/* The largest window accepted: the registers plus a generous config space. */
#define VIRTIO_MMIO_MAX_SIZE (1u << 20)

/* Where one device is: its register window and its interrupt. */
struct virtio_mmio_res {
    uint64_t base;      /* physical address of the window */
    uint64_t size;      /* its length in bytes, >= VIRTIO_MMIO_MIN_SIZE */
    uint32_t gsi;       /* the IO-APIC input (GSI) of its interrupt line */
    unsigned irq_flags; /* IRQ_TRIGGER_LEVEL / IRQ_POLARITY_LOW (arch/x86_64/irq.h) */
};

/**
 * virtio_mmio_parse_device() - parse the value of one virtio_mmio.device=
 * word, "<size>@<base>:<irq>[:<id>]", @len bytes at @s (not NUL-terminated).
 * Return: 0 and *@out filled (level-triggered, active high: the line QEMU and
 * Firecracker raise), -EINVAL for a malformed word or one out of bounds
 * (size below 0x100 or above VIRTIO_MMIO_MAX_SIZE, base 0 or base + size
 * wrapping, irq above 255).
 */
int virtio_mmio_parse_device(const char *s, size_t len, struct virtio_mmio_res *out);

/**
 * virtio_mmio_parse_cmdline() - every virtio_mmio.device= word of @cmdline,
 * in order, into @out (at most @max). Malformed words are logged and skipped.
 * Return: how many were stored.
 */
unsigned virtio_mmio_parse_cmdline(const char *cmdline, struct virtio_mmio_res *out, unsigned max);

/**
 * virtio_mmio_scan_dsdt() - the virtio-mmio devices an ACPI DSDT describes:
 * each Device whose _HID is the string "LNRO0005" and the first Memory32Fixed
 * and Extended Interrupt descriptors of its _CRS buffer (the form QEMU's
 * microvm writes). Not an AML interpreter: a bounded byte scan of the @len
 * bytes of AML at @aml (the table after its 36-byte header), every length
 * checked against the table's end. Devices without both resources are logged
 * and skipped.
 * Return: how many were stored in @out (at most @max).
 */
unsigned virtio_mmio_scan_dsdt(const uint8_t *aml, size_t len, struct virtio_mmio_res *out, unsigned max);

/**
 * virtio_mmio_probe() - map the window @res describes (map_mmio), check the
 * device (magic, version 1 or 2, a device ID other than 0), and hand it to the
 * virtio driver of its type (virtio_probe_device()).
 * Context: boot, after interrupts_init().
 * Return: the driver's probe result, -ENODEV for an empty slot or no driver,
 * -EIO for a window that is not a virtio device, -ENOMEM.
 */
int virtio_mmio_probe(const struct virtio_mmio_res *res);

/**
 * virtio_mmio_probe_all() - virtio_mmio_probe() each device @cmdline names,
 * or, when it names none, each device of the ACPI DSDT (acpi_get()).
 * Return: how many devices a driver took.
 */
unsigned virtio_mmio_probe_all(const char *cmdline);

#endif
