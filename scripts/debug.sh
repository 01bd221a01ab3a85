#!/bin/sh
# Boots the kernel stopped at its first instruction with QEMU's gdb stub on
# localhost:1234, and starts gdb with scripts/kernel.gdb (symbols, break at kmain).
set -eu
kernel=$1 cmdline=${2:-}
qemu-system-x86_64 -accel "${ACCEL:-tcg}" -M "${MACHINE:-q35}" -m "${MEM:-256M}" -cpu max \
    -display none -serial file:build/debug-serial.log -no-reboot -S -gdb tcp:127.0.0.1:1234 \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
    -kernel "$kernel" -append "$cmdline" &
qemu=$!
trap 'kill $qemu 2>/dev/null || true' EXIT
echo "debug: QEMU pid $qemu, serial log in build/debug-serial.log"
gdb -q -x scripts/kernel.gdb "$kernel"
