#!/bin/sh
# Boots the ISO in QEMU with the serial console on this terminal and the
# guest's port 80 forwarded to 127.0.0.1:$HTTP_PORT. Quit with Ctrl-A X.
# PCAP=file records the guest's frames (QEMU's filter-dump, for tshark);
# NIC_OPTS=a=b,c=d adds options to the virtio-net-pci device (e.g. vectors=0).
# MACHINE=microvm (or microvm,acpi=off, ...): QEMU's microvm has no PCI and no
# CD-ROM: $KERNEL is booted with -kernel and qboot, the NIC is a
# virtio-net-device on a virtio-mmio transport (docs/pci.md, "Without PCI").
set -eu
iso=$1
accel=${ACCEL:-tcg}
machine=${MACHINE:-q35}
mem=${MEM:-256M}
port=${HTTP_PORT:-8080}
pcap=${PCAP:-}
nic_opts=${NIC_OPTS:+,$NIC_OPTS}

if [ "$accel" = kvm ] && [ ! -w /dev/kvm ]; then
    echo "run: ACCEL=kvm but /dev/kvm is not usable; use ACCEL=tcg" >&2
    exit 1
fi
dump=""
[ -n "$pcap" ] && dump="-object filter-dump,id=dump0,netdev=n0,file=$pcap"

case "$machine" in
microvm*)
    kernel=${KERNEL:-build/kernel.elf}
    nic="virtio-net-device,netdev=n0$nic_opts"
    boot="-bios /usr/share/qemu/qboot.rom -kernel $kernel"
    what=$kernel
    # Without ACPI nothing tells a multiboot kernel where the device is (QEMU
    # appends its virtio_mmio.device= words only to a Linux or PVH boot's
    # command line): name the slot QEMU 7.2 plugs the first device into.
    case "$machine" in
    *acpi=off*) CMDLINE="virtio_mmio.device=512@0xfeb00e00:12${CMDLINE:+ $CMDLINE}" ;;
    esac
    set -- -append "${CMDLINE:-}"
    ;;
*)
    nic="virtio-net-pci,netdev=n0$nic_opts"
    boot="-cdrom $iso"
    what=$iso
    set --
    ;;
esac

echo "run: booting $what (machine $machine, accel $accel, $mem); quit with Ctrl-A X"
echo "run: the HTTP server will answer at http://127.0.0.1:$port/"
# shellcheck disable=SC2086
exec qemu-system-x86_64 -accel "$accel" -M "$machine" -m "$mem" -cpu max \
    -display none -serial mon:stdio -no-reboot \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-:80" -device "$nic" $dump \
    $boot "$@"
