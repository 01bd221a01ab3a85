#!/bin/sh
# Builds and runs an exercise's check (docs/exercises/README.md) on the host:
#   sh tests/exercises/run.sh NAME [DIR]   DIR/NAME.c against tests/exercises/check_NAME.c (DIR: docs/exercises)
#   sh tests/exercises/run.sh --check-all  every solution in docs/exercises/solutions passes, and every
#                                          unsolved skeleton in docs/exercises fails (so the checks bite)
# Called by `make exercise N=NAME [EX_DIR=DIR]` and by `make unit-test`, which pass HOST_CC and CFLAGS
# (the unit tests' flags: ASan, UBSan, -Werror).
set -eu
cc=${HOST_CC:-gcc}
cflags=${CFLAGS:--std=gnu11 -g -O1 -Wall -Wextra -Werror -DHOST_TEST -I. -Itests/unit}
exercises="barrier refill usedlen udp"
out=build/exercise

build() { # name dir tag extra-sources... -> prints the binary
    name=$1 dir=$2 tag=$3
    shift 3
    bin=$out/$tag/check_$name
    mkdir -p "$out/$tag"
    # shellcheck disable=SC2086
    $cc $cflags -o "$bin" "tests/exercises/check_$name.c" "$dir/$name.c" tests/exercises/fixture.c \
        tests/unit/vdev_model.c drivers/vring_packed.c lib/trace.c "$@" -lcmocka >&2
    echo "$bin"
}

# drivers/vring.c without the full barrier of vring_kick_prepare(): the one line the exercise is about.
nofence() {
    mkdir -p $out
    awk '/^bool vring_kick_prepare\(/ { inside = 1 }
         inside && !done && /^[ \t]*virt_mb\(\);/ { done = 1; next }
         { print }' drivers/vring.c > $out/vring_nofence.c
    nlines=$(diff drivers/vring.c $out/vring_nofence.c | grep -c "^<" || true)
    if [ "$nlines" != 1 ]; then
        echo "exercise: could not find the one virt_mb() in vring_kick_prepare() of drivers/vring.c" >&2
        exit 2
    fi
}

# lwIP 2.1.3 for the host with the kernel's lwipopts.h (udp only), built once into an archive and
# again when a source or a port header is newer. LWIP_SRCS comes from the Makefile (exercise.mk).
lwip_lib() {
    lib=$out/liblwip.a
    stale=yes
    if [ -f "$lib" ]; then
        # shellcheck disable=SC2086
        stale=$(find ${LWIP_SRCS:?LWIP_SRCS: run through make exercise} net/port -newer "$lib" | head -n 1)
    fi
    if [ -n "$stale" ]; then
        rm -rf "$out/lwip" "$lib"
        mkdir -p "$out/lwip"
        # shellcheck disable=SC2086
        printf '%s\n' $LWIP_SRCS | xargs -P "$(nproc)" -I{} sh -c \
            'o=$1/$(echo "$2" | tr / _).o; exec '"$cc $cflags"' -isystem net/port -isystem third_party/lwip/src/include -c -o "$o" "$2"' \
            sh "$out/lwip" {} >&2
        ar rcs "$lib" "$out"/lwip/*.o
    fi
}

run_one() { # name dir -> exit status 0 for PASS
    name=$1 dir=$2
    tag=$(echo "$dir" | tr / _)
    [ -f "$dir/$name.c" ] || { echo "exercise: no $dir/$name.c (one of: $exercises)" >&2; exit 2; }
    case $name in
    barrier)
        nofence
        a=$(build barrier "$dir" "$tag" "-DEX_VRING_SRC=\"drivers/vring.c\"")
        b=$(build barrier "$dir" "$tag-nofence" "-DEX_VRING_SRC=\"$out/vring_nofence.c\"" -DEX_NO_FENCE)
        ASAN_OPTIONS=detect_leaks=1 "$a" && ASAN_OPTIONS=detect_leaks=1 "$b"
        ;;
    udp)
        lwip_lib
        mkdir -p "$out/$tag"
        # shellcheck disable=SC2086
        $cc $cflags -isystem net/port -isystem third_party/lwip/src/include -o "$out/$tag/check_udp" \
            tests/exercises/check_udp.c "$dir/udp.c" "$out/liblwip.a" >&2
        ASAN_OPTIONS=detect_leaks=1 "$out/$tag/check_udp"
        ;;
    *)
        bin=$(build "$name" "$dir" "$tag" drivers/vring.c)
        ASAN_OPTIONS=detect_leaks=1 "$bin"
        ;;
    esac
}

if [ "${1:-}" = --check-all ]; then
    for n in $exercises; do
        if run_one "$n" docs/exercises/solutions > $out.log 2>&1; then
            echo "exercise $n: the solution passes"
        else
            cat $out.log
            echo "exercise $n: FAIL: the solution in docs/exercises/solutions/$n.c does not pass"
            exit 1
        fi
        if run_one "$n" docs/exercises > $out.log 2>&1; then
            cat $out.log
            echo "exercise $n: FAIL: the unsolved docs/exercises/$n.c passes: the check proves nothing"
            exit 1
        fi
        echo "exercise $n: the unsolved skeleton fails"
    done
    exit 0
fi

name=${1:?usage: run.sh NAME [DIR] (NAME: $exercises)}
if run_one "$name" "${2:-docs/exercises}"; then
    echo "exercise $name: PASS"
else
    echo "exercise $name: FAIL"
    exit 1
fi
