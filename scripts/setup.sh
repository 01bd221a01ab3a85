#!/bin/sh
# Installs what the project needs on a Debian machine and fetches the
# third-party sources it builds against. Called by `make run`, `make test`
# and .ci/run; safe to run again (quick when everything is there).
#
#   sh scripts/setup.sh run     what `make run` needs (toolchain, QEMU, GRUB, lwIP)
#   sh scripts/setup.sh test    that, plus the test tools
#   sh scripts/setup.sh bench   what `make run` needs, plus the benchmark tools and peers
#   sh scripts/setup.sh sources only fetch the third-party sources (what `make` needs)
#
# Debian packages are installed with apt-get, as root or through sudo.
# lwIP and http-parser come from Debian's *source* packages, fetched with
# `apt-get source` through a private sources list and private list/cache
# folders, so the system's apt configuration is never changed (and no root is
# needed for that part). apt checks them as it checks any download: the
# Release file's signature against the archive keyring, then each file's hash.
set -eu

mode=${1:-run}
top=$(cd "$(dirname "$0")/.." && pwd)
third=$top/third_party

say() { echo "setup: $*"; }
die() { echo "setup: error: $*" >&2; exit 1; }

# ---------------------------------------------------------------- packages
pkgs_run="gcc make binutils libc6-dev git qemu-system-x86 grub-pc-bin grub-efi-amd64-bin grub-common xorriso mtools ovmf dpkg-dev"
pkgs_test="libcmocka-dev python3 python3-pytest clang clang-format libclang-rt-14-dev iproute2 iputils-ping curl dnsmasq-base netcat-openbsd wrk apache2-utils iperf chromium tshark"
# make bench: its clients and the Linux guest's parts (bench/README.md); not the test set.
pkgs_bench="python3 iproute2 iputils-ping curl wrk iperf apache2-utils linux-image-amd64 busybox-static xz-utils"

case $mode in
sources) want="dpkg-dev" ;;
run) want=$pkgs_run ;;
test) want="$pkgs_run $pkgs_test" ;;
bench) want="$pkgs_run $pkgs_bench" ;;
*) die "unknown mode '$mode' (run, test, bench or sources)" ;;
esac

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
    say "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine may have no package lists yet, or stale ones.
    if ! $sudo apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1; then
        $sudo apt-get update -q >/dev/null || die "apt-get update failed"
        $sudo apt-get install -y -q --no-install-recommends $missing ||
            die "could not install:$missing"
    fi
fi

# ---------------------------------------------------------------- sources
# fetch_source PACKAGE UPSTREAM_VERSION DIR: unpack Debian's source package
# into third_party/DIR unless a matching copy is already there.
apt_dir=$third/.apt
fetch_source() {
    pkg=$1 version=$2 dest=$third/$3
    stamp=$dest/.fetched-$version
    [ -f "$stamp" ] && return 0

    if [ ! -f "$apt_dir/sources.list" ]; then
        mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
        codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
        [ -n "$codename" ] || die "cannot tell the Debian release from /etc/os-release"
        # The archive the system's own apt sources use for that release.
        uri=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
            awk -v c="$codename" '$2 == c { print $1; exit }')
        [ -n "$uri" ] || uri=http://deb.debian.org/debian/
        keyring=/usr/share/keyrings/debian-archive-keyring.gpg
        signed=""
        [ -f "$keyring" ] && signed="[signed-by=$keyring] "
        echo "deb-src ${signed}${uri} ${codename} main" > "$apt_dir/sources.list"
    fi
    aptopts="-o Dir::Etc::SourceList=$apt_dir/sources.list -o Dir::Etc::SourceParts=/dev/null
        -o Dir::State::Lists=$apt_dir/lists -o Dir::Cache=$apt_dir/cache -o Debug::NoLocking=1
        -o APT::Sandbox::User=$(id -un)"
    if [ ! -f "$apt_dir/lists/.updated" ]; then
        say "reading Debian's source index ($(cat "$apt_dir/sources.list"))"
        # shellcheck disable=SC2086
        apt-get $aptopts -q update >/dev/null || die "apt-get update of the private source list failed"
        touch "$apt_dir/lists/.updated"
    fi

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
    say "$pkg $version ready in ${dest#$top/}"
}

fetch_source lwip 2.1.3 lwip
fetch_source http-parser 2.9.4 http-parser
