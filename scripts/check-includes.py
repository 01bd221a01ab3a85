#!/usr/bin/env python3
"""Checks that includes point down only (docs/layout.md):

    apps -> net -> drivers -> arch -> lib, and boot/main.c above them all.

Every quoted #include of every .c, .h and .S file under boot/ arch/ drivers/
net/ lib/ apps/ is read and classified by the folder it names:

    lib/      may include lib/ only (freestanding: no lwIP, no arch)
    arch/     lib/, boot/multiboot.h and boot/pvh.h (the loaders' wire layouts)
    drivers/  arch/ and lib/ (no lwIP: the stack sees drivers/nic.h)
    net/      drivers/nic.h (the NIC interface), arch/'s clocks and CPU
              (timer.h, cpu.h: time, the cycle counter, idle; trap.h: panic),
              lib/ and lwIP
    apps/     net/, lib/, lwIP and http-parser
    boot/     boot/main.c anything: it is the boot sequence
and each layer its own folder. An include naming none of these (a relative
"foo.h") is an error too: it would hide where the file lives.

Usage: check-includes.py [ROOT]      check the tree at ROOT (default: the repository)
       check-includes.py --self-test  show that a wrong include fails the check
Exit status 0 when every include follows the rule, 1 otherwise (each offending
line printed as FILE:LINE: ...).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

LAYERS = ("boot", "arch", "drivers", "net", "lib", "apps")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')

# What each layer may include besides itself: folder names, or exact files.
ALLOWED = {
    "lib": set(),
    "arch": {"lib", "boot/multiboot.h", "boot/pvh.h"},
    "drivers": {"arch", "lib"},
    "net": {"lib", "lwip", "drivers/nic.h", "arch/x86_64/timer.h", "arch/x86_64/cpu.h", "arch/x86_64/trap.h"},
    "apps": {"net", "lib", "lwip", "http-parser"},
    "boot": {"multiboot-only"},
}
ANYTHING = {"boot/main.c"}

# Not yet following the rule, each with the reason; the list only shrinks.
# (Empty since the virtio-net driver stopped speaking lwIP's pbufs: drivers/nic.h.)
KNOWN = {}


def kind(path):
    """The layer (or third-party package) an include path names, or None."""
    top = path.split("/", 1)[0]
    if top in LAYERS:
        return top
    if top in ("lwip", "netif") or path in ("lwipopts.h", "arch/cc.h"):
        return "lwip"
    if path.startswith("third_party/http-parser/"):
        return "http-parser"
    if path.startswith("third_party/lwip/"):
        return "lwip"
    return None


def allowed(src, inc):
    layer = src.split("/", 1)[0]
    if src in ANYTHING:
        return True
    k = kind(inc)
    if k is None:
        return False
    if k == layer and not (layer == "boot" and inc not in ("boot/multiboot.h", "boot/pvh.h")):
        return True
    rules = ALLOWED[layer]
    return k in rules or inc in rules


def sources(root):
    for layer in LAYERS:
        for dirpath, _, files in os.walk(os.path.join(root, layer)):
            for f in sorted(files):
                if f.endswith((".c", ".h", ".S")):
                    yield os.path.relpath(os.path.join(dirpath, f), root)


def check(root):
    problems = []
    for src in sorted(sources(root)):
        with open(os.path.join(root, src), encoding="utf-8", errors="replace") as fh:
            for n, line in enumerate(fh, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                inc = m.group(1)
                if allowed(src, inc) or inc in KNOWN.get(src, ()):
                    continue
                layer = src.split("/", 1)[0]
                what = kind(inc) or "an unknown folder"
                problems.append(f"{src}:{n}: includes \"{inc}\" ({what}): {layer}/ may include only "
                                f"{', '.join(sorted(ALLOWED[layer] | {layer + '/'})) or layer + '/'}")
    return problems


def main_check(root):
    problems = check(root)
    for p in problems:
        print(p, file=sys.stderr)
    n = sum(1 for _ in sources(root))
    for src, incs in sorted(KNOWN.items()):
        print(f"check-includes: known exception, to be removed: {src}: {', '.join(incs)}")
    if problems:
        print(f"check-includes: {len(problems)} include(s) against the rule in {n} files", file=sys.stderr)
        return 1
    print(f"check-includes: {n} files, every include points down")
    return 0


def self_test():
    """Copies the tree, breaks one rule at a time, and expects the check to fail on exactly that line."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cases = [
        ("lib/klog.c", '#include "arch/x86_64/paging.h"'),
        ("arch/x86_64/serial.c", '#include "drivers/pci.h"'),
        ("drivers/vring.c", '#include "lwip/pbuf.h"'),
        ("drivers/pci.c", '#include "net/loop.h"'),
        ("net/loop.c", '#include "drivers/virtio_net.h"'),
        ("net/loop.c", '#include "apps/app.h"'),
        ("apps/echo.c", '#include "arch/x86_64/timer.h"'),
        ("lib/heap.c", '#include "heap.h"'),
    ]
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for layer in LAYERS:
            shutil.copytree(os.path.join(here, layer), os.path.join(tmp, layer))
        clean = subprocess.run([sys.executable, os.path.abspath(__file__), tmp], capture_output=True, text=True)
        if clean.returncode != 0:
            print("self-test: the unmodified tree does not pass:\n" + clean.stderr, file=sys.stderr)
            return 1
        for path, line in cases:
            full = os.path.join(tmp, path)
            with open(full) as fh:
                orig = fh.read()
            with open(full, "w") as fh:
                fh.write(line + "\n" + orig)
            r = subprocess.run([sys.executable, os.path.abspath(__file__), tmp], capture_output=True, text=True)
            with open(full, "w") as fh:
                fh.write(orig)
            if r.returncode != 1 or f"{path}:1:" not in r.stderr:
                print(f"self-test: {path} with {line} was not caught (exit {r.returncode})", file=sys.stderr)
                failures += 1
            else:
                print(f"self-test: caught {path}: {line}")
    if failures:
        return 1
    print(f"check-includes self-test: the clean tree passes, {len(cases)} wrong includes each fail")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--self-test":
        sys.exit(self_test())
    sys.exit(main_check(sys.argv[1] if len(sys.argv) > 1 else
                        os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
