#!/bin/sh
# Boots the kernel stopped at its first instruction with QEMU's gdb stub on
# 127.0.0.1:$GDB_PORT (1234), and starts gdb with scripts/kernel.gdb (symbols,
# hbreak at $GDB_STOP, default kmain). The NIC is on QEMU's user network as in `make run` (guest
# port 80 on 127.0.0.1:$HTTP_PORT), the serial console goes to
# build/debug-serial.log. GDB_SCRIPT=file runs those gdb commands after
# kernel.gdb and exits (gdb's batch mode): a session that can be replayed.
set -eu
kernel=$1 cmdline=${2:-}
port=${HTTP_PORT:-8080}
gdb_port=${GDB_PORT:-1234}
nic_opts=${NIC_OPTS:+,$NIC_OPTS}
qemu-system-x86_64 -accel "${ACCEL:-tcg}" -M "${MACHINE:-q35}" -m "${MEM:-256M}" -cpu max \
    -display none -serial file:build/debug-serial.log -no-reboot -S -gdb "tcp:127.0.0.1:$gdb_port" \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-:80" -device "virtio-net-pci,netdev=n0$nic_opts" \
    -kernel "$kernel" -append "$cmdline" &
qemu=$!
trap 'kill $qemu 2>/dev/null || true' EXIT
echo "debug: QEMU pid $qemu, gdb stub on 127.0.0.1:$gdb_port, serial log in build/debug-serial.log"
if [ -n "${GDB_SCRIPT:-}" ]; then
    GDB_PORT=$gdb_port gdb -q -batch -x scripts/kernel.gdb -x "$GDB_SCRIPT" "$kernel"
else
    GDB_PORT=$gdb_port gdb -q -x scripts/kernel.gdb "$kernel"
fi
