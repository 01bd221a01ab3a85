#!/bin/sh
# Builds the benchmarks' peers and checks them: the Linux guest boots in a
# network namespace, answers every request of bench/peer.py's CASES byte for
# byte as the native echo_server and our kernel do, and its boot time is
# printed. Options go to bench/peer.py (--boots N, --kernel vmlinuz|vmlinux|both,
# --no-ours, --machine, --mem, --timeout). Needs root; run as `sh bench/check-peer.sh`.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
python=/usr/bin/python3
[ -x "$python" ] || python=python3
exec "$python" "$top/bench/peer.py" "$@"
