#!/bin/sh
# Checks a linked kernel for what the boot loaders rely on:
#  - the text symbols did not move between the two links (ksyms stays right);
#  - every loadable segment has the same (file offset - address), so QEMU's
#    multiboot a.out-kludge load of [load_addr, load_end_addr) is exact;
#  - KIND multiboot (the default, build/kernel.elf): both multiboot headers are
#    found where the specs say (via grub-file when installed), and the PVH note;
#  - KIND pvh (build/kernel-pvh.elf): the PVH note, and no multiboot header
#    (QEMU's -kernel would take it before PVH).
# Usage: check-image.sh NM PASS1.elf FINAL.elf [multiboot|pvh]
set -eu
nm=$1 pass1=$2 final=$3 kind=${4:-multiboot}
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
# The PVH note: owner "Xen", type 0x12 (XEN_ELFNOTE_PHYS32_ENTRY), in a PT_NOTE segment.
if ! LC_ALL=C readelf -nW "$final" | grep -q 'Xen .*0x00000012'; then
    echo "check-image: no PVH entry note (Xen, type 18) in $final" >&2
    exit 1
fi
if command -v grub-file >/dev/null 2>&1; then
    if [ "$kind" = pvh ]; then
        if grub-file --is-x86-multiboot "$final" || grub-file --is-x86-multiboot2 "$final"; then
            echo "check-image: $final has a multiboot header: QEMU's -kernel would not enter it through PVH" >&2
            exit 1
        fi
    else
        grub-file --is-x86-multiboot "$final" || { echo "check-image: no valid multiboot1 header" >&2; exit 1; }
        grub-file --is-x86-multiboot2 "$final" || { echo "check-image: no valid multiboot2 header" >&2; exit 1; }
    fi
fi
