/*
 * The virtio PCI transport (virtio 1.2 spec 4.1): finds virtio functions on
 * the PCI bus (vendor 0x1AF4), picks the modern interface (vendor
 * capabilities pointing into memory BARs) when the device has it and the
 * legacy 0.9.5 interface (registers in I/O BAR 0) otherwise, and hands a
 * struct virtio_device to the virtio driver for the device type.
 *
 * It registers itself with PCI_DRIVER(); nothing needs to call it.
 */
#ifndef DRIVERS_VIRTIO_PCI_H
#define DRIVERS_VIRTIO_PCI_H

#include "drivers/virtio.h"

/** virtio_pci_force_irq_mode() - for tests: start the interrupt fallback at @mode (virtio_irq=). */
void virtio_pci_force_irq_mode(enum virtio_irq_mode mode);

#endif
