#!/bin/sh
# Builds a hybrid GRUB ISO (BIOS and UEFI) around the kernel with grub-mkrescue.
# Usage: mkiso.sh kernel.elf out.iso [extra kernel command line]
set -eu
kernel=$1 iso=$2 extra=${3:-}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/boot/grub"
cp "$kernel" "$dir/boot/kernel.elf"
cat > "$dir/boot/grub/grub.cfg" <<CFG
set timeout=0
set default=0
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
menuentry "unikernel" {
    multiboot2 /boot/kernel.elf $extra
    boot
}
CFG
# grub-mkrescue builds BIOS (i386-pc) and UEFI (x86_64-efi) boot images when
# both GRUB platforms are installed (grub-pc-bin, grub-efi-amd64-bin).
if ! out=$(grub-mkrescue -o "$iso" "$dir" 2>&1); then
    echo "$out" >&2
    echo "mkiso: grub-mkrescue failed (needs grub-pc-bin, grub-efi-amd64-bin, xorriso, mtools: run 'sh scripts/setup.sh run')" >&2
    exit 1
fi
