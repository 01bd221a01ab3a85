#!/bin/sh
# Checks a linked kernel for what the boot loaders rely on:
#  - the text symbols did not move between the two links (ksyms stays right);
#  - every loadable segment has the same (file offset - address), so QEMU's
#    multiboot a.out-kludge load of [load_addr, load_end_addr) is exact;
#  - both multiboot headers are found where the specs say (via grub-file when installed).
set -eu
nm=$1 pass1=$2 final=$3
tmp=${TMPDIR:-/tmp}/check-image.$$
trap 'rm -f $tmp.1 $tmp.2' EXIT
"$nm" -n --defined-only "$pass1" | awk '$2 ~ /^[tTwW]$/' > $tmp.1
"$nm" -n --defined-only "$final" | awk '$2 ~ /^[tTwW]$/' > $tmp.2
if ! cmp -s $tmp.1 $tmp.2; then
    echo "check-image: text symbols moved between the two links (ksyms would be wrong)" >&2
    diff $tmp.1 $tmp.2 | head >&2
    exit 1
fi
# LOAD lines: Type Offset VirtAddr PhysAddr FileSiz ...; segments with no file bytes (bss) do not count.
deltas=$(LC_ALL=C readelf -lW "$final" | awk '$1 == "LOAD" && $5 != "0x000000" { print $2, $3 }' |
    while read -r off addr; do echo $((addr - off)); done | sort -u | wc -l)
if [ "$deltas" -ne 1 ]; then
    echo "check-image: loadable segments are not laid out linearly in $final:" >&2
    readelf -lW "$final" >&2
    exit 1
fi
if command -v grub-file >/dev/null 2>&1; then
    grub-file --is-x86-multiboot "$final" || { echo "check-image: no valid multiboot1 header" >&2; exit 1; }
    grub-file --is-x86-multiboot2 "$final" || { echo "check-image: no valid multiboot2 header" >&2; exit 1; }
fi
