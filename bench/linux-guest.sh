#!/bin/sh
# Builds the benchmarks' Linux guest (issue 8, bench/README.md) from Debian
# packages only:
#   OUT/vmlinuz      Debian's kernel, the one linux-image-amd64 depends on
#   OUT/vmlinux      the same kernel decompressed: an ELF with a PVH entry
#                    point, which QEMU's -kernel starts directly, skipping
#                    the bzImage's xz decompression (seconds under TCG)
#   OUT/initrd.img   a busybox-static initramfs: the virtio-net modules (and
#                    what they need, from modules.dep), ECHO_SERVER on :80,
#                    iperf 2 (-s, :5001) with the shared libraries ldd lists,
#                    and an /init that brings eth0 up from the kernel command
#                    line and prints BENCH-READY on the console
#
#   sh bench/linux-guest.sh ECHO_SERVER OUT [DEBS]
#   (make bench-peer: ECHO_SERVER=build/bench/echo_server OUT=build/bench/linux)
#
# The kernel, its modules and busybox come from DEBS (third_party/bench):
# Debian's packages as `sh scripts/setup.sh guest` (or `bench`) unpacks them
# there, DEBS/linux-image-<version>/{boot,lib/modules/<version>} and
# DEBS/busybox-static/bin/busybox. Never from /boot, /lib/modules or
# /bin/busybox: the host need not have them, and if it does they play no part.
# iperf and its libraries are the host's (scripts/setup.sh bench installs it
# as a benchmark client anyway).
#
# The guest's command line (bench/peer.py has the whole QEMU command):
#   console=ttyS0 loglevel=4 benchip=10.77.0.2/24 [benchgw=10.77.0.1]
# loglevel=4 keeps the boot quiet but lets errors through, among them
# virtio_net's "TX timeout on queue" (the tx stall of shared/guide/testing.md).
#
# Idempotent: the inputs' hashes go to OUT/inputs; when they and the outputs
# are unchanged nothing is rebuilt. The archive has sorted names and fixed
# times (uncompressed: see below), so its contents depend only on the inputs;
# its bytes do not quite (busybox's cpio writes inode numbers).
set -eu

echo_server=${1:?usage: linux-guest.sh ECHO_SERVER OUT [DEBS]}
out=${2:?usage: linux-guest.sh ECHO_SERVER OUT [DEBS]}
top=$(cd "$(dirname "$0")/.." && pwd)
debs=${3:-$top/third_party/bench}
self="$top/bench/linux-guest.sh"

say() { echo "linux-guest: $*"; }
die() {
    echo "linux-guest: error: $*" >&2
    exit 1
}

# ---------------------------------------------------------------- inputs
[ -x "$echo_server" ] || die "$echo_server missing: make bench-echo"
fetch="sh scripts/setup.sh guest"
# stamp DIR: the version in DIR's .fetched-<version> stamp (setup.sh writes it last).
stamp() {
    for f in "$1"/.fetched-*; do
        [ -f "$f" ] && echo "${f##*/.fetched-}" && return 0
    done
    return 1
}
bbver=$(stamp "$debs/busybox-static") || die "no busybox-static in $debs: $fetch"
busybox=$debs/busybox-static/bin/busybox
[ -x "$busybox" ] || die "$busybox missing: rm -rf $debs/busybox-static; $fetch"
iperf=/usr/bin/iperf
[ -x "$iperf" ] || die "iperf is not installed: sh scripts/setup.sh bench"

# The kernel linux-image-amd64 depended on when setup.sh fetched it (it
# keeps one).
kdir=""
for d in "$debs"/linux-image-*-amd64; do
    [ -d "$d" ] || continue
    [ -z "$kdir" ] || die "more than one kernel in $debs: ${kdir##*/}, ${d##*/}"
    kdir=$d
done
[ -n "$kdir" ] || die "no linux-image-<version>-amd64 in $debs: $fetch"
kpkg=${kdir##*/}
kdebver=$(stamp "$kdir") || die "$kdir is incomplete (no .fetched-* stamp): rm -rf $kdir; $fetch"
kver=${kpkg#linux-image-}
vmlinuz=$kdir/boot/vmlinuz-$kver
moddir=$kdir/lib/modules/$kver
[ -f "$vmlinuz" ] || die "$vmlinuz missing (package $kpkg)"
[ -f "$moddir/modules.dep" ] || die "$moddir/modules.dep missing (package $kpkg): rm -rf $kdir; $fetch"

# The NIC: virtio_pci or virtio_mmio (the transports: PCI on pc/q35, MMIO on
# microvm, which Debian's kernel finds through ACPI's LNRO0005 devices, having
# no VIRTIO_MMIO_CMDLINE_DEVICES) and virtio_net, each after what it needs.
want_modules="virtio_pci virtio_mmio virtio_net"

# The modules named, and their dependencies from modules.dep, each once and
# every dependency before its users (depth first). Names match with - or _.
modules=$(awk -F: -v want="$want_modules" '
    function base(p) { sub(/.*\//, "", p); sub(/\.ko(\.(xz|zst|gz))?$/, "", p); gsub(/-/, "_", p); return p }
    function visit(p,    d, n, i) {
        if (p in seen) return
        seen[p] = 1
        n = split(deps[p], d, " ")
        for (i = 1; i <= n; i++) visit(d[i])
        print p
    }
    { deps[$1] = $2; path[base($1)] = $1 }
    END {
        n = split(want, w, " ")
        for (i = 1; i <= n; i++) {
            if (!(w[i] in path)) { print "missing:" w[i]; exit 1 }
            visit(path[w[i]])
        }
    }' "$moddir/modules.dep") || die "module $(echo "$modules" | sed -n 's/^missing://p') is not in $moddir/modules.dep"

# iperf's shared libraries and the loader, as ldd resolves them here.
iperf_libs=$(ldd "$iperf" | awk '/=> \// { print $3 } /^[[:space:]]*\/[^ ]*ld-linux/ { print $1 }' | sort -u)
[ -n "$iperf_libs" ] || die "ldd $iperf found no libraries"

manifest=$(mktemp)
trap 'rm -f "$manifest"' EXIT
{
    echo "kernel $kpkg $kdebver"
    echo "busybox-static $bbver"
    # shellcheck disable=SC2086
    sha256sum "$self" "$echo_server" "$busybox" "$iperf" "$vmlinuz" $iperf_libs
    for m in $modules; do sha256sum "$moddir/$m"; done
} > "$manifest"

if [ -f "$out/vmlinuz" ] && [ -f "$out/vmlinux" ] && [ -f "$out/initrd.img" ] && [ -f "$out/inputs" ] &&
    cmp -s "$manifest" "$out/inputs"; then
    say "up to date ($out, kernel $kver)"
    exit 0
fi
# Where each input comes from, relative to the repository where it is in it.
rel() { echo "${1#"$top"/}"; }
say "kernel: $(rel "$vmlinuz") ($kpkg $kdebver)"
say "modules: $(rel "$moddir")/{$(echo "$modules" | sed 's|.*/||' | tr '\n' ' ' | sed 's/ $//; s/ /,/g')}"
say "busybox: $(rel "$busybox") (busybox-static $bbver)"
say "iperf: $iperf and $(echo "$iperf_libs" | tr '\n' ' ' | sed 's/ $//')"

# ---------------------------------------------------------------- initramfs tree
say "building from $kpkg, busybox-static, iperf and $(rel "$echo_server")"
mkdir -p "$out"
stage="$out/.stage"
rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/sbin" "$stage/usr/bin" "$stage/usr/sbin" "$stage/proc" "$stage/sys" \
    "$stage/dev" "$stage/tmp" "$stage/etc" "$stage/lib/modules" "$stage/root"

cp "$busybox" "$stage/bin/busybox"
# The applets as links now, so the guest spends no boot time on --install.
for a in $("$busybox" --list); do
    [ "$a" = busybox ] || ln -s busybox "$stage/bin/$a"
done

cp "$echo_server" "$stage/bin/echo_server"
strip "$stage/bin/echo_server" 2>/dev/null || true
cp "$iperf" "$stage/bin/iperf"
for l in $iperf_libs; do
    mkdir -p "$stage$(dirname "$l")"
    cp -L "$l" "$stage$l"
done
# The loader is asked for as /lib64/ld-linux-x86-64.so.2: make sure that path exists.
interp=$(readelf -l "$iperf" | sed -n 's/.*interpreter: \(.*\)]$/\1/p')
if [ -n "$interp" ] && [ ! -e "$stage$interp" ]; then
    mkdir -p "$stage$(dirname "$interp")"
    cp -L "$interp" "$stage$interp"
fi

# Modules, decompressed here (busybox insmod may not read compressed ones),
# loaded in this order by /init.
: > "$stage/etc/modules"
for m in $modules; do
    name=$(basename "$m")
    case $name in
    *.ko.xz) unpack="xz -dc" name=${name%.xz} ;;
    *.ko.zst) unpack="zstd -qdc" name=${name%.zst} ;;
    *.ko.gz) unpack="$busybox gzip -dc" name=${name%.gz} ;;
    *) unpack="cat" ;;
    esac
    $unpack "$moddir/$m" > "$stage/lib/modules/$name" || die "cannot unpack $moddir/$m"
    echo "$name" >> "$stage/etc/modules"
done

cat > "$stage/init" << 'EOF'
#!/bin/sh
# The benchmarks' Linux guest (bench/linux-guest.sh made this). Console
# markers: BENCH-READY <ip> once the echo server (:80) and iperf (:5001)
# listen; BENCH-ERROR <what> when something fails (then it powers off).
export PATH=/bin
fail() {
    echo "BENCH-ERROR $*"
    poweroff -f
}
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
while read -r m; do
    insmod "/lib/modules/$m" || fail "insmod $m"
done < /etc/modules

arg() { # the value of NAME= on the kernel command line
    for w in $(cat /proc/cmdline); do
        case $w in "$1"=*) echo "${w#*=}" ;; esac
    done
}
ip=$(arg benchip)
gw=$(arg benchgw)
[ -n "$ip" ] || fail "no benchip= on the kernel command line"
ip link set lo up
dev=""
for d in /sys/class/net/*; do
    case ${d##*/} in lo) ;; *) dev=${d##*/}; break ;; esac
done
[ -n "$dev" ] || fail "no network interface (virtio-net modules loaded: $(cat /etc/modules))"
ip addr add "$ip" dev "$dev" || fail "ip addr add $ip dev $dev"
ip link set "$dev" up || fail "ip link set $dev up"
[ -z "$gw" ] || ip route add default via "$gw" || fail "ip route add default via $gw"

echo_server --port 80 > /dev/null &
iperf -s > /dev/null 2>&1 &
i=0
until netstat -ltn | grep -q ':80 ' && netstat -ltn | grep -q ':5001 '; do
    i=$((i + 1))
    [ $i -lt 500 ] || fail "servers not listening after 5 s: $(netstat -ltn | tr '\n' ' ')"
    usleep 10000
done
echo "BENCH-READY ${ip%/*} dev $dev kernel $(uname -r) uptime $(cut -d' ' -f1 /proc/uptime) s"
# init must never exit: stay here, reaping orphans.
while :; do wait; sleep 3600; done
EOF
chmod 755 "$stage/init"

# ---------------------------------------------------------------- vmlinux
# u32le FILE OFFSET / u8 FILE OFFSET: a little-endian field of the file.
u32le() { od -An -t u4 -j "$2" -N 4 "$1" | tr -d ' '; }
u8() { od -An -t u1 -j "$2" -N 1 "$1" | tr -d ' '; }

# extract_vmlinux BZIMAGE DEST: the compressed kernel inside a bzImage, by the
# x86 boot protocol (Documentation/arch/x86/boot.rst, "The Real-Mode Kernel
# Header"): "HdrS" at 0x202, protocol >= 2.08 at 0x206 for payload_offset
# (0x248, from the start of the protected-mode code, which follows the
# (setup_sects + 1) * 512 bytes of real-mode code; setup_sects at 0x1f1)
# and payload_length (0x24c). The payload's last 4 bytes are the
# uncompressed size (the kernel build's size_append), checked here.
extract_vmlinux() {
    [ "$(od -An -c -j 514 -N 4 "$1" | tr -d ' ')" = HdrS ] || die "$1: no x86 boot header"
    proto=$(od -An -t u2 -j 518 -N 2 "$1" | tr -d ' ')
    [ "$proto" -ge 520 ] || die "$1: boot protocol $proto < 2.08, no payload fields"
    sects=$(u8 "$1" 497)
    [ "$sects" -ne 0 ] || sects=4
    start=$(((sects + 1) * 512 + $(u32le "$1" 584)))
    len=$(u32le "$1" 588)
    payload="$2.payload"
    tail -c +$((start + 1)) "$1" | head -c "$len" > "$payload"
    want=$(u32le "$payload" $((len - 4)))
    case $(od -An -t x1 -N 4 "$payload" | tr -d ' ') in
    fd377a58) unpack="xz -dc --single-stream" ;; # busybox unxz lacks the x86 BCJ filter
    1f8b*) unpack="$busybox gzip -dc" ;;
    28b52ffd) unpack="zstd -qdc" ;;
    *) die "$1: payload compressed in a way this script does not know" ;;
    esac
    # Only the size trailer follows the stream; the size check decides.
    $unpack "$payload" > "$2" 2> "$2.err" || true
    rm -f "$payload"
    got=$(wc -c < "$2")
    [ "$got" -eq "$want" ] || die "$1: decompressed $got bytes, the header says $want: $(cat "$2.err")"
    rm -f "$2.err"
    # XEN_ELFNOTE_PHYS32_ENTRY (18): the PVH entry QEMU's ELF loader looks for.
    readelf -n "$2" | grep -q 'Unknown note type: (0x00000012)' ||
        die "$1: the kernel has no PVH entry note (CONFIG_PVH)"
}

# ---------------------------------------------------------------- archive
# Uncompressed: under TCG the guest decompressing gzip costs more than QEMU
# loading the extra bytes (5 paired boots of vmlinux: uncompressed first to
# BENCH-READY in all 5, median 6.0 s against 6.9 s with gzip -9).
find "$stage" -exec touch -h -d @0 {} +
(cd "$stage" && find . | LC_ALL=C sort | "$busybox" cpio -o -H newc 2> /dev/null) > "$out/initrd.img.tmp"
mv "$out/initrd.img.tmp" "$out/initrd.img"
cp "$vmlinuz" "$out/vmlinuz"
extract_vmlinux "$out/vmlinuz" "$out/vmlinux.tmp"
mv "$out/vmlinux.tmp" "$out/vmlinux"
rm -rf "$stage"
cp "$manifest" "$out/inputs"
say "$out/vmlinuz ($(wc -c < "$out/vmlinuz") bytes, $kver), $out/vmlinux ($(wc -c < "$out/vmlinux") bytes)," \
    "$out/initrd.img ($(wc -c < "$out/initrd.img") bytes)"
