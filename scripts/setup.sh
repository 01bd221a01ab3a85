#!/bin/sh
# Installs what the project needs on a Debian machine and fetches the
# third-party sources it builds against. Called by `make run`, `make test`
# and .ci/run; safe to run again (quick when everything is there).
#
#   sh scripts/setup.sh run     what `make run` needs (toolchain, QEMU, GRUB, lwIP)
#   sh scripts/setup.sh test    that, plus the test tools
#   sh scripts/setup.sh bench   what `make run` needs, plus the benchmark tools and peers
#   sh scripts/setup.sh sources only fetch the third-party sources (what `make` needs)
#   sh scripts/setup.sh guest   only fetch the Linux guest's kernel and busybox
#                               (what `make bench-peer` needs)
#
# Debian packages are installed with apt-get, as root or through sudo.
# Everything else comes from Debian's archive through a private apt
# configuration (a sources list, package lists and cache under
# third_party/.apt, no dpkg status), so the system's apt configuration and
# its installed packages are neither changed nor used, and no root is needed
# for that part. apt checks those downloads as it checks any: the Release
# file's signature against the archive keyring, then each file's hash.
#   - lwIP and http-parser: Debian's *source* packages (`apt-get source`),
#     unpacked into third_party/lwip and third_party/http-parser;
#   - the benchmarks' Linux guest (bench/README.md): the *binary* packages of
#     the kernel linux-image-amd64 depends on and busybox-static, fetched with
#     `apt-get download` and unpacked with `dpkg-deb -x` into
#     third_party/bench/linux-image-<version>/ and third_party/bench/busybox-static/,
#     never installed (installing them would run update-initramfs, pull in
#     initramfs-tools, and busybox-static would remove busybox). The kernel's
#     modules.dep, which its package's postinst would write, is made by
#     `depmod -b` there.
# Each unpacked folder holds a stamp .fetched-<version>; with the stamps there
# nothing is downloaded again. To move the guest to Debian's newest kernel:
# rm -rf third_party/bench third_party/.apt/lists/.updated
set -eu

mode=${1:-run}
top=$(cd "$(dirname "$0")/.." && pwd)
third=$top/third_party

say() { echo "setup: $*"; }
die() { echo "setup: error: $*" >&2; exit 1; }

# ---------------------------------------------------------------- packages
pkgs_run="gcc make binutils libc6-dev git gdb qemu-system-x86 grub-pc-bin grub-efi-amd64-bin grub-common xorriso mtools ovmf dpkg-dev"
# netbase (/etc/services, /etc/protocols: wrk and ab resolve a URL's scheme to a port through it,
# Python's socket module and scapy read protocol names from it) and procps (sysctl, pgrep, ps)
# are absent from a minimal root (debootstrap --variant=minbase, container images).
# python3-matplotlib: tests/integration/test_bench.py runs a quick `make bench`, which
# draws the charts too (a fresh minimal root failed both of its tests without it).
pkgs_test="libcmocka-dev python3 python3-pytest python3-matplotlib clang clang-format libclang-rt-14-dev iproute2 iputils-ping curl dnsmasq-base netcat-openbsd wrk apache2-utils iperf chromium tshark ethtool nftables netbase procps"
# make bench: its clients and the tools that build the Linux guest (bench/README.md): iperf
# (also copied into the guest), xz-utils (the kernel image is xz-compressed), kmod (depmod),
# python3-matplotlib (the SVG charts beside docs/benchmarks.md). The guest's kernel and
# busybox are fetched below, not installed. Not the test set.
pkgs_bench="python3 python3-matplotlib iproute2 iputils-ping curl wrk iperf apache2-utils xz-utils kmod netbase procps"

case $mode in
sources) want="dpkg-dev" ;;
guest) want="" ;;
run) want=$pkgs_run ;;
test) want="$pkgs_run $pkgs_test" ;;
bench) want="$pkgs_run $pkgs_bench" ;;
*) die "unknown mode '$mode' (run, test, bench, sources or guest)" ;;
esac

# why PACKAGE: what it is for, for the one line that says what is installed.
why() {
    case $1 in
    gcc | make | binutils | libc6-dev) echo "build" ;;
    git) echo "format check's file list" ;;
    gdb) echo "make debug" ;;
    qemu-system-x86) echo "QEMU" ;;
    grub-* | xorriso | mtools) echo "the ISO" ;;
    ovmf) echo "UEFI firmware" ;;
    dpkg-dev) echo "apt-get source of lwIP and http-parser" ;;
    libcmocka-dev | clang | libclang-rt-14-dev) echo "host unit tests and fuzzers" ;;
    clang-format) echo "format check" ;;
    python3 | python3-pytest) echo "integration tests" ;;
    netbase) echo "/etc/services for wrk and ab" ;;
    procps) echo "sysctl and pgrep in tests" ;;
    iproute2) echo "ip netns and ss in tests" ;;
    dnsmasq-base) echo "DHCP and router adverts in tests" ;;
    tshark) echo "pcap checks in tests" ;;
    ethtool) echo "offloads off on a veth: the host cuts TSO frames in software (test_offload_tx)" ;;
    nftables) echo "dropping chosen segments on a routed path (test_offload_tx)" ;;
    chromium) echo "headless: renders docs/figures (test_docs), the status page (test_apps, test_trace)" ;;
    xz-utils | kmod) echo "the bench's Linux guest" ;;
    python3-matplotlib) echo "the bench's charts (docs/figures/bench-*.svg)" ;;
    *) echo "a test client" ;;
    esac
}

missing=""
for p in $want; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done

if [ -n "$missing" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        sudo=""
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo="sudo"
    else
        die "missing Debian packages:$missing
  install them as root: apt-get install$missing"
    fi
    reasons=""
    for p in $missing; do reasons="$reasons${reasons:+, }$p: $(why "$p")"; done
    say "installing for '$mode': $reasons"
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine may have no package lists yet, or stale ones.
    if ! $sudo apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1; then
        $sudo apt-get update -q >/dev/null || die "apt-get update failed"
        $sudo apt-get install -y -q --no-install-recommends $missing ||
            die "could not install:$missing"
    fi
fi

# ---------------------------------------------------------------- private apt
# apt_private: set $aptopts to a private apt configuration under
# third_party/.apt and make sure its package lists are there. Its sources
# list names the archives the system's own apt uses for this Debian release
# (main component only): `deb` for the release and its -updates and -security
# suites where the system has them, `deb-src` for the release. The lists are
# read once; apt_refresh reads them again.
apt_dir=$third/.apt
aptopts=""
apt_private() {
    [ -z "$aptopts" ] || return 0
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    [ -n "$codename" ] || die "cannot tell the Debian release from /etc/os-release"
    targets=$(apt-get indextargets --format '$(TARGET_OF) $(REPO_URI) $(RELEASE)' 2>/dev/null | sort -u)
    uri=$(echo "$targets" | awk -v c="$codename" '$3 == c { print $2; exit }')
    [ -n "$uri" ] || uri=http://deb.debian.org/debian/
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    signed=""
    [ -f "$keyring" ] && signed="[signed-by=$keyring] "
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
    {
        echo "deb-src ${signed}${uri} ${codename} main"
        echo "$targets" | awk -v c="$codename" -v s="$signed" '
            $1 == "deb" && ($3 == c || $3 == c "-updates" || $3 == c "-security") { print "deb " s $2 " " $3 " main"; n++ }
            END { if (!n) exit 1 }' || echo "deb ${signed}${uri} ${codename} main"
    } > "$apt_dir/sources.list.new"
    # A sources list from an older setup.sh (deb-src only) means new lists.
    if cmp -s "$apt_dir/sources.list.new" "$apt_dir/sources.list"; then
        rm -f "$apt_dir/sources.list.new"
    else
        mv "$apt_dir/sources.list.new" "$apt_dir/sources.list"
        rm -f "$apt_dir/lists/.updated"
    fi
    # No dpkg status: what the system has installed plays no part in what
    # is resolved or fetched. No translations: only the package names matter.
    aptopts="-o Dir::Etc::SourceList=$apt_dir/sources.list -o Dir::Etc::SourceParts=/dev/null
        -o Dir::State::Lists=$apt_dir/lists -o Dir::Cache=$apt_dir/cache -o Dir::State::status=/dev/null
        -o Acquire::Languages=none -o Debug::NoLocking=1 -o APT::Sandbox::User=$(id -un)"
    [ -f "$apt_dir/lists/.updated" ] || apt_refresh
}

apt_refresh() {
    say "reading Debian's package index ($(grep -c . "$apt_dir/sources.list") sources in ${apt_dir#"$top"/}/sources.list)"
    # shellcheck disable=SC2086
    apt-get $aptopts -q update >/dev/null || die "apt-get update of the private source list failed"
    touch "$apt_dir/lists/.updated"
}

# ---------------------------------------------------------------- sources
# fetch_source PACKAGE UPSTREAM_VERSION DIR: unpack Debian's source package
# into third_party/DIR unless a matching copy is already there.
fetch_source() {
    pkg=$1 version=$2 dest=$third/$3
    stamp=$dest/.fetched-$version
    [ -f "$stamp" ] && return 0

    apt_private
    work=$third/.work-$pkg
    rm -rf "$work"
    mkdir -p "$work"
    say "fetching Debian source package $pkg"
    # shellcheck disable=SC2086
    (cd "$work" && apt-get $aptopts -q source "$pkg" >/dev/null 2>"$work/log") || {
        cat "$work/log" >&2
        die "apt-get source $pkg failed"
    }
    srcdir=$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -n 1)
    [ -n "$srcdir" ] || die "apt-get source $pkg unpacked nothing"
    got=$(cd "$srcdir" && dpkg-parsechangelog -S Version | sed 's/^[0-9]*://; s/[+~-].*//')
    [ "$got" = "$version" ] || die "$pkg: Debian offers upstream version $got, the build needs $version"
    rm -rf "$dest"
    mv "$srcdir" "$dest"
    rm -rf "$work"
    touch "$stamp"
    say "$pkg $version ready in ${dest#"$top"/}"
}

if [ "$mode" != guest ]; then
    fetch_source lwip 2.1.3 lwip
    fetch_source http-parser 2.9.4 http-parser
fi

# ---------------------------------------------------------------- the Linux guest
# Only for `bench` and `guest`: Debian's kernel and busybox-static as files
# under third_party/bench, for bench/linux-guest.sh.
case $mode in bench | guest) ;; *) exit 0 ;; esac
bench_dir=$third/bench

# guest_kernel: the kernel package linux-image-amd64 depends on, in the
# private lists (linux-image-<abi>-amd64; the signed image, as installing
# the metapackage would give).
guest_kernel() {
    # shellcheck disable=SC2086
    apt-cache $aptopts depends linux-image-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n 1
}

# fetch_debs PACKAGE...: download the packages that are not yet unpacked in
# third_party/bench (one `apt-get download`, each package's candidate) and
# unpack each into third_party/bench/PACKAGE. Returns 1 when the download
# fails (the lists may name a version the archive has dropped since), dies on
# anything else.
fetch_debs() {
    need=""
    for pkg; do
        ls "$bench_dir/$pkg"/.fetched-* >/dev/null 2>&1 || need="$need $pkg"
    done
    [ -n "$need" ] || return 0

    work=$bench_dir/.work
    rm -rf "$work"
    mkdir -p "$work"
    say "fetching Debian packages:$need"
    # shellcheck disable=SC2086
    (cd "$work" && apt-get $aptopts -q download $need >/dev/null 2>"$work/log") || {
        sed 's/^/setup:   /' "$work/log" >&2
        rm -rf "$work"
        return 1
    }
    for pkg in $need; do
        dest=$bench_dir/$pkg
        deb=$(ls "$work/${pkg}_"*.deb) || die "apt-get download $pkg saved no .deb"
        version=$(dpkg-deb -f "$deb" Version) || die "$deb: no version"
        mkdir "$work/$pkg"
        dpkg-deb -x "$deb" "$work/$pkg" || die "dpkg-deb -x $deb failed"
        case $pkg in
        linux-image-*)
            # modules.dep and friends: what the package's postinst runs depmod for.
            kver=${pkg#linux-image-}
            depmod=$(command -v depmod || echo /sbin/depmod)
            [ -x "$depmod" ] || die "depmod missing: install kmod (sh scripts/setup.sh bench)"
            "$depmod" -b "$work/$pkg" "$kver" || die "depmod -b for $pkg failed"
            [ -f "$work/$pkg/lib/modules/$kver/modules.dep" ] || die "$pkg: depmod wrote no modules.dep"
            ;;
        esac
        rm -rf "$dest"
        mv "$work/$pkg" "$dest" || die "cannot move $pkg into $dest"
        touch "$dest/.fetched-${version#*:}"
        say "$pkg $version unpacked in ${dest#"$top"/} ($(du -sh "$dest" | cut -f1))"
    done
    rm -rf "$work"
}

# Quick when both are there (a kernel of any version: the guest is rebuilt
# from whichever is; the header says how to move to a newer one).
if ! ls "$bench_dir"/linux-image-*/.fetched-* "$bench_dir"/busybox-static/.fetched-* >/dev/null 2>&1; then
    mkdir -p "$bench_dir"
    apt_private
    kpkg=$(guest_kernel)
    if [ -z "$kpkg" ] || ! fetch_debs "$kpkg" busybox-static; then
        say "the private package lists look stale: reading them again"
        apt_refresh
        kpkg=$(guest_kernel)
        [ -n "$kpkg" ] || die "linux-image-amd64 depends on no linux-image-<version>-amd64 in the private lists"
        fetch_debs "$kpkg" busybox-static || die "apt-get download $kpkg busybox-static failed"
    fi
    # One kernel at a time: bench/linux-guest.sh takes the one that is there.
    for d in "$bench_dir"/linux-image-*; do
        [ "$d" = "$bench_dir/$kpkg" ] || rm -rf "$d"
    done
fi
