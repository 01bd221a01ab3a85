#!/usr/bin/env python3
"""Draws the book's figures (docs/figures/*.svg) from the sources they describe.

    python3 scripts/figures.py            write every figure
    python3 scripts/figures.py --check    fail if a committed figure differs from what the script draws

Where a figure shows a layout, the numbers come from the code, not from this
file: the virtio PCI register blocks from drivers/virtio_pci_regs.h and the
receive buffer from drivers/virtio_net.c, both measured by compiling a small
program with the host's gcc (offsetof/sizeof; the kernel is x86_64 too); the
BAR windows from the constants in platform_pci() and a boot log under
qboot (docs/figures/data/qboot-q35.log, made by the command in its first
line). Bit fields (MSI-X, IO-APIC) come from the masks in arch/x86_64/irq.c
and arch/x86_64/ioapic.h. The ring across a wrap-around is a replay, in
fig_ring_wrap(), of the index and free-list arithmetic of drivers/vring.c. Python 3 and gcc only (Debian: python3, gcc).
"""
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "figures"
FONT = "font-family=\"DejaVu Sans Mono, monospace\""

COL = {"driver": "#dbeafe", "device": "#fde68a", "ro": "#e5e7eb", "free": "#f3f4f6", "hot": "#fca5a5",
       "ok": "#bbf7d0", "line": "#111827", "accent": "#1d4ed8", "grey": "#6b7280"}


class Svg:
    def __init__(self, w, h, title):
        self.w, self.h, self.items = w, h, []
        self.title = title

    def rect(self, x, y, w, h, fill="#fff", stroke=COL["line"], sw=1, rx=0, dash=None):
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.items.append(f'<rect x="{x:g}" y="{y:g}" width="{w:g}" height="{h:g}" rx="{rx}" fill="{fill}" '
                          f'stroke="{stroke}" stroke-width="{sw}"{d}/>')

    def text(self, x, y, s, size=12, anchor="start", weight="normal", fill=COL["line"], italic=False):
        st = ' font-style="italic"' if italic else ""
        self.items.append(f'<text x="{x:g}" y="{y:g}" font-size="{size}" text-anchor="{anchor}" '
                          f'font-weight="{weight}" fill="{fill}"{st}>{escape(str(s))}</text>')

    def line(self, x1, y1, x2, y2, stroke=COL["line"], sw=1, arrow=False, dash=None):
        a = ' marker-end="url(#arrow)"' if arrow else ""
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.items.append(f'<line x1="{x1:g}" y1="{y1:g}" x2="{x2:g}" y2="{y2:g}" stroke="{stroke}" '
                          f'stroke-width="{sw}"{a}{d}/>')

    def path(self, d, stroke=COL["line"], sw=1, arrow=False, fill="none"):
        a = ' marker-end="url(#arrow)"' if arrow else ""
        self.items.append(f'<path d="{d}" stroke="{stroke}" stroke-width="{sw}" fill="{fill}"{a}/>')

    def render(self):
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.w}" height="{self.h}" '
                f'viewBox="0 0 {self.w} {self.h}" {FONT}>\n'
                f'<title>{escape(self.title)}</title>\n'
                '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
                'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
                f'fill="{COL["line"]}"/></marker></defs>\n'
                f'<rect width="{self.w}" height="{self.h}" fill="#ffffff"/>\n')
        return head + "\n".join(self.items) + "\n</svg>\n"


# ------------------------------------------------------------------ data from the code

def gcc_layout(prelude, struct, fields, includes=()):
    """offsetof and sizeof of @fields of @struct, from a program the host's gcc compiles."""
    prog = "#include <stdio.h>\n#include <stddef.h>\n" + prelude + "\nint main(void) {\n"
    prog += f'    printf("sizeof %zu\\n", sizeof(struct {struct}));\n'
    for f in fields:
        prog += (f'    printf("{f} %zu %zu\\n", offsetof(struct {struct}, {f}), '
                 f'sizeof(((struct {struct} *)0)->{f}));\n')
    prog += "    return 0;\n}\n"
    with tempfile.TemporaryDirectory() as d:
        src, exe = Path(d) / "layout.c", Path(d) / "layout"
        src.write_text(prog)
        cmd = ["gcc", "-std=gnu11", "-I", str(ROOT)] + [a for i in includes for a in ("-isystem", str(ROOT / i))]
        subprocess.run(cmd + ["-o", str(exe), str(src)], check=True)
        out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    res = {}
    for ln in out.splitlines():
        parts = ln.split()
        res[parts[0]] = tuple(int(x) for x in parts[1:])
    return res


def struct_fields(text, struct):
    """Field names and comments of `struct NAME { ... };` in @text, in order."""
    m = re.search(r"^struct " + struct + r" \{\n(.*?)^\};", text, re.S | re.M)
    body = m.group(1)
    fields = []
    for ln in body.splitlines():
        fm = re.match(r"\s*(?:struct\s+)?[\w]+\s+\**\s*([a-z_]\w*)(\[\d+\])?;\s*(?:/\*\s*(.*?)\s*\*/)?", ln)
        if fm:
            fields.append((fm.group(1), fm.group(3) or ""))
    return m.group(0), fields


def c_define(path, name):
    """The value of `#define NAME expr` in @path (integer constants, <<, |, parentheses)."""
    m = re.search(rf"^#define\s+{name}\s+([^/\n]+)", (ROOT / path).read_text(), re.M)
    expr = re.sub(r"\b(0x[0-9a-fA-F]+|\d+)[uUlL]*\b", r"\1", m.group(1).strip())
    if not re.fullmatch(r"[0-9a-fA-Fx()<|\s]+", expr):
        raise ValueError(f"{path}: {name} = {expr!r} is not a constant this script can read")
    return int(eval(expr, {"__builtins__": {}}))


# ------------------------------------------------------------------ figures

def fig_ring_wrap():
    num, avail_idx, used_idx, last_used = 8, 11, 10, 9
    # Replay, in batches as the driver and the device really go: the driver
    # publishes 6 chains, the device uses them, the driver collects them
    # (vring_get_used() pushes each freed descriptor on the free list's head,
    # so the list comes back reversed); then 5 more, of which the device uses
    # 4 and the driver collects 3.
    schedule = [("publish", 6), ("use", 6), ("collect", 6), ("publish", 5), ("use", 4), ("collect", 3)]
    free, desc_of = list(range(num)), {}
    published = used = collected = 0
    for what, n in schedule:
        for _ in range(n):
            if what == "publish":
                assert published - collected < num, "ring full"
                desc_of[published] = free.pop(0)
                published += 1
            elif what == "use":
                assert used < published
                used += 1
            else:
                assert collected < used
                free.insert(0, desc_of[collected])
                collected += 1
    assert (published, used, collected) == (avail_idx, used_idx, last_used)
    in_device = list(range(used_idx, avail_idx))          # published, not used
    done_uncollected = list(range(last_used, used_idx))   # used, not collected

    s = Svg(1060, 560, "The split ring across a wrap-around")
    s.text(20, 26, f"A split ring of {num} entries after {avail_idx} chains: avail.idx = {avail_idx}, "
           f"used.idx = {used_idx}, last_used = {last_used} (slot = idx & {num - 1})", 14, weight="bold")
    # left panel: guest-private
    s.rect(15, 45, 360, 495, fill="#f8fafc", rx=8)
    s.text(30, 70, "guest-private: struct vring", 13, weight="bold")
    s.text(30, 88, "drivers/vring.c; the device never sees it", 11, fill=COL["grey"], italic=True)
    rows = [("avail_idx", f"{avail_idx}  (shadow of avail.idx)"), ("last_used", f"{last_used}  (next used entry to read)"),
            ("in_flight", f"{avail_idx - last_used}"), ("num_free", f"{len(free)}"),
            ("free_head", f"{free[0]}")]
    y = 115
    for k, v in rows:
        s.text(35, y, f"{k:<10} {v}", 12)
        y += 20
    s.text(35, y + 10, "state[d]: the chain descriptor d carries", 12, weight="bold")
    y += 30
    for d in range(num):
        chain = next((k for k, dd in desc_of.items() if dd == d and k >= last_used), None)
        if chain is None:
            label, fill = "free", COL["free"]
        elif chain in in_device:
            label, fill = f"chain {chain}: the device holds it", COL["device"]
        else:
            label, fill = f"chain {chain}: used, not collected", COL["ok"]
        s.rect(35, y - 13, 320, 18, fill=fill)
        s.text(40, y, f"[{d}] {label}", 11)
        y += 20
    s.text(35, y + 12, "free list (state[].next): " + " -> ".join(str(d) for d in free), 11)
    s.text(35, y + 32, "the indices run free (16 bits); only their", 11, fill=COL["grey"])
    s.text(35, y + 46, "difference matters: avail_idx - last_used", 11, fill=COL["grey"])
    s.text(35, y + 60, f"= {avail_idx - last_used} chains not yet back", 11, fill=COL["grey"])

    # right panel: shared memory
    x0 = 395
    s.rect(x0, 45, 650, 495, fill="#fffbeb", rx=8)
    s.text(x0 + 15, 70, "shared with the device (one DMA block)", 13, weight="bold")
    s.text(x0 + 15, 88, "driver writes: blue    device writes: yellow", 11, fill=COL["grey"], italic=True)
    # available ring
    ay = 120
    s.text(x0 + 15, ay, f"available ring   flags 0   idx {avail_idx}", 12, weight="bold")
    cw = 76
    for slot in range(num):
        # the newest index written at this slot
        ks = [k for k in range(avail_idx) if k % num == slot]
        k = ks[-1]
        fill = COL["device"] if k in in_device else (COL["ok"] if k in done_uncollected else COL["driver"])
        s.rect(x0 + 15 + slot * cw, ay + 12, cw, 44, fill=fill)
        s.text(x0 + 15 + slot * cw + cw / 2, ay + 30, f"ring[{slot}]", 10, "middle")
        s.text(x0 + 15 + slot * cw + cw / 2, ay + 48, f"desc {desc_of[k]} (#{k})", 9, "middle")
    s.text(x0 + 15 + num * cw, ay, "then used_event (le16)", 10, "end", fill=COL["grey"])
    # wrap arrow
    wslot = (avail_idx - 1) % num
    s.text(x0 + 15, ay + 118, f"#{num}..#{avail_idx - 1} wrapped to slots 0..{wslot}: "
           f"idx {avail_idx} & {num - 1} = {avail_idx % num} is where chain #{avail_idx} will go", 11)
    s.path(f"M{x0 + 15 + (num - 1) * cw + cw / 2},{ay + 58} C{x0 + 15 + (num - 1) * cw + cw / 2},{ay + 100} "
           f"{x0 + 15 + cw / 2},{ay + 100} {x0 + 15 + cw / 2},{ay + 60}", stroke=COL["accent"], arrow=True)
    # used ring
    uy = 265
    s.text(x0 + 15, uy, f"used ring   flags 0   idx {used_idx}", 12, weight="bold")
    for slot in range(num):
        ks = [k for k in range(used_idx) if k % num == slot]
        k = ks[-1]
        fill = COL["ok"] if k in done_uncollected else COL["free"]
        s.rect(x0 + 15 + slot * cw, uy + 12, cw, 44, fill=fill)
        s.text(x0 + 15 + slot * cw + cw / 2, uy + 30, f"ring[{slot}]", 10, "middle")
        s.text(x0 + 15 + slot * cw + cw / 2, uy + 48, f"id {desc_of[k]} (#{k})", 9, "middle")
    s.text(x0 + 15 + num * cw, uy, "then avail_event (le16)", 10, "end", fill=COL["grey"])
    # index line
    ly = 380
    s.text(x0 + 15, ly - 16, "the three indices, mod 2^16 (one tick per chain):", 12, weight="bold")
    base, step = 8, 55
    s.line(x0 + 15, ly + 20, x0 + 630, ly + 20, arrow=True)
    for k in range(base - 1, avail_idx + 3):
        x = x0 + 20 + (k - (base - 1)) * step
        s.line(x, ly + 15, x, ly + 25)
        s.text(x, ly + 40, k, 10, "middle")
    for name, v, dy in (("last_used", last_used, 0), ("used.idx", used_idx, 16), ("avail.idx", avail_idx, 32)):
        x = x0 + 20 + (v - (base - 1)) * step
        s.line(x, ly + 50 + dy, x, ly + 27, stroke=COL["accent"], arrow=True)
        s.text(x + 4, ly + 60 + dy, name, 11, fill=COL["accent"])
    xa, xb, xc = (x0 + 20 + (v - (base - 1)) * step for v in (last_used, used_idx, avail_idx))
    s.rect(xa, ly + 2, xb - xa, 10, fill=COL["ok"])
    s.rect(xb, ly + 2, xc - xb, 10, fill=COL["device"])
    s.text(x0 + 15, ly + 110, "green: used by the device, not yet collected by vring_get_used()", 11)
    s.text(x0 + 15, ly + 126, "yellow: published, the device holds it (avail.idx - used.idx)", 11)
    s.text(x0 + 15, ly + 142, "blue: published and long since collected (stale ring entries)", 11)
    return s


def fig_request_timeline():
    """One HTTP request under TCG, in order (not to scale): who runs where."""
    lanes = [("client (host)", "#f3f4f6"), ("QEMU main loop thread (slirp, virtio-net)", COL["device"]),
             ("guest vCPU (TCG thread)", COL["driver"])]
    steps = [
        (0, "curl sends GET /hello to 127.0.0.1:8080 (hostfwd)"),
        (1, "slirp makes a TCP segment; virtio_net_receive() takes an rx buffer (virtqueue_pop)"),
        (1, "writes the frame, pushes the used entry, virtio_should_notify() reads used_event"),
        (1, "MSI-X write: the vCPU is kicked out of its translated block"),
        (2, "vector 49: vnet_rx_irq() sets a flag; loop_run() wakes from hlt"),
        (2, "vnet_poll(): vring_get_used(), ethif_rx(): rx_pbuf(), netif->input"),
        (2, "lwIP tcp_input(); http_recv() parses, queues the answer with tcp_write()"),
        (2, "tcp_output() -> ethif_linkoutput() -> vnet_xmit(): vring_add() on tx0"),
        (2, "vring_kick(): avail_event says kick; the notify write is an MMIO exit"),
        (1, "virtio_net_handle_tx_bh -> virtio_net_tx_bh -> virtio_net_flush_tx"),
        (1, "slirp sends the bytes to curl; the used entry goes back on tx0"),
        (0, "curl reads HTTP/1.1 200 OK"),
        (1, "slirp ACKs the data: a frame into an rx buffer, an MSI-X message"),
        (2, "vnet_reclaim_tx() -> ethif_tx_done() frees the sent pbuf; lwIP calls http_sent() for the ACK"),
    ]
    lw, top, rowh = 300, 70, 38
    s = Svg(60 + lw * 3 + 40, top + rowh * len(steps) + 80, "One request, a guest-vCPU lane and a QEMU-thread lane")
    s.text(20, 26, "One request through the user network under TCG (order of events, not to scale)", 14, weight="bold")
    for i, (name, fill) in enumerate(lanes):
        x = 40 + i * lw
        s.rect(x, top - 30, lw - 10, rowh * len(steps) + 40, fill=fill, stroke=COL["grey"], rx=6)
        s.text(x + (lw - 10) / 2, top - 12, name, 12, "middle", "bold")
    prev = None
    for j, (lane, what) in enumerate(steps):
        x = 40 + lane * lw + 8
        y = top + 10 + j * rowh
        s.rect(x, y, lw - 26, rowh - 10, fill="#ffffff", stroke=COL["line"], rx=4)
        words, lines, cur = what.split(), [], ""
        for w in words:
            if len(cur) + len(w) + 1 > 42:
                lines.append(cur)
                cur = w
            else:
                cur = (cur + " " + w).strip()
        lines.append(cur)
        for n, t in enumerate(lines[:2]):
            s.text(x + 5, y + 12 + n * 12, t, 10)
        if prev is not None and prev[0] != lane:
            px, py = prev[1], prev[2]
            s.line(px + (lw - 26) / 2, py + rowh - 10, x + (lw - 26) / 2, y, stroke=COL["accent"], arrow=True)
        prev = (lane, x, y)
    s.text(20, top + rowh * len(steps) + 40, "Crossings (arrows): an MSI-X message into the guest, an MMIO "
           "doorbell out of it. How long each takes is measured in docs/tracing.md.", 11)
    return s


def bitfield(s, x, y, width_px, fields, title, nbits=32, lo=0):
    """A register drawn as boxes from bit nbits-1+lo (left) to lo (right)."""
    s.text(x, y - 28, title, 13, weight="bold")
    bw = width_px / nbits
    for hi, low, name, fill in fields:
        fx = x + (nbits - 1 - (hi - lo)) * bw
        w = (hi - low + 1) * bw
        s.rect(fx, y, w, 40, fill=fill)
        s.text(fx + w / 2, y + 25, name if len(name) * 6.5 < w else name[: max(1, int(w / 6.5))], 10, "middle")
        s.text(fx + 2, y - 4, hi, 9, fill=COL["grey"])
        if hi != low:
            s.text(fx + w - 2, y - 4, low, 9, "end", fill=COL["grey"])


def fig_msix_ioapic():
    base = c_define("arch/x86_64/irq.c", "MSI_ADDR_BASE")
    dshift = c_define("arch/x86_64/irq.c", "MSI_ADDR_DEST_SHIFT")
    vec_mask = c_define("arch/x86_64/ioapic.h", "IOAPIC_RTE_VECTOR_MASK")
    dest_shift = c_define("arch/x86_64/ioapic.h", "IOAPIC_RTE_DEST_SHIFT")
    bits = {n: c_define("arch/x86_64/ioapic.h", n).bit_length() - 1 for n in (
        "IOAPIC_RTE_DEST_LOGICAL", "IOAPIC_RTE_PENDING", "IOAPIC_RTE_ACTIVE_LOW", "IOAPIC_RTE_REMOTE_IRR",
        "IOAPIC_RTE_LEVEL", "IOAPIC_RTE_MASKED")}
    s = Svg(1060, 520, "MSI-X address and data, IO-APIC redirection entry")
    s.text(20, 26, "What the kernel writes to raise an interrupt at a vector (irq.c, ioapic.c; SDM 11.11, "
           "82093AA 3.2.4)", 14, weight="bold")
    fixed = f"0x{base >> 20:03X}"
    bitfield(s, 30, 90, 1000, [(31, 20, f"{fixed} (MSI_ADDR_BASE)", COL["ro"]),
                               (19, dshift, "destination APIC id", COL["driver"]),
                               (dshift - 1, 4, "reserved", COL["free"]), (3, 3, "RH", COL["free"]),
                               (2, 2, "DM", COL["free"]), (1, 0, "--", COL["free"])],
             "MSI / MSI-X message address (low 32 bits; the high half is 0)")
    bitfield(s, 30, 200, 1000, [(31, 16, "reserved", COL["free"]), (15, 15, "TM", COL["free"]),
                                (14, 14, "LV", COL["free"]), (13, 11, "-", COL["free"]),
                                (10, 8, "delivery 000", COL["free"]), (7, 0, "vector", COL["driver"])],
             "MSI / MSI-X message data (edge, fixed delivery: only the vector is set)")
    s.text(30, 262, f"irq.c: address = 0x{base:08x} | dest << {dshift}; data = vector. "
           "An MSI-X table entry holds both, plus a mask bit in its vector-control word.", 11)
    # IO-APIC, 64-bit
    fl = [(63, dest_shift + 32, "dest", COL["driver"]), (55, 17, "reserved", COL["free"]),
          (16, 16, "M", COL["hot"]), (15, 15, "L", COL["driver"]), (14, 14, "IRR", COL["ro"]),
          (13, 13, "LO", COL["driver"]), (12, 12, "P", COL["ro"]), (11, 11, "LG", COL["free"]),
          (10, 8, "DM", COL["free"]), (7, 0, "vector", COL["driver"])]
    assert bits["IOAPIC_RTE_MASKED"] == 16 and bits["IOAPIC_RTE_LEVEL"] == 15 and vec_mask == 0xff
    bitfield(s, 30, 350, 1000, fl, "IO-APIC redirection entry (64 bits: REDTBL 0x10 + 2*GSI, low word then high)",
             nbits=64)
    legend = [f"M  masked (bit {bits['IOAPIC_RTE_MASKED']})", f"L  level-triggered (bit {bits['IOAPIC_RTE_LEVEL']})",
              f"IRR remote IRR, read-only (bit {bits['IOAPIC_RTE_REMOTE_IRR']})",
              f"LO active low (bit {bits['IOAPIC_RTE_ACTIVE_LOW']})",
              f"P  delivery pending, read-only (bit {bits['IOAPIC_RTE_PENDING']})",
              f"LG logical destination (bit {bits['IOAPIC_RTE_DEST_LOGICAL']}; we use physical)",
              f"dest: APIC id in bits 63-{dest_shift + 32} (IOAPIC_RTE_DEST_SHIFT {dest_shift} of the high word)"]
    for i, t in enumerate(legend):
        s.text(30 + (i % 2) * 500, 425 + (i // 2) * 18, t, 11)
    s.text(30, 505, "blue: what our code sets; red: what it clears to unmask; grey: read-only state", 11,
           fill=COL["grey"])
    return s


def fig_virtio_pci():
    hdr = (ROOT / "drivers/virtio_pci_regs.h").read_text()
    _, common = struct_fields(hdr, "virtio_pci_common_cfg")
    _, cap = struct_fields(hdr, "virtio_pci_cap")
    pre = '#include "drivers/virtio_pci_regs.h"'
    lc = gcc_layout(pre, "virtio_pci_common_cfg", [f for f, _ in common])
    lp = gcc_layout(pre, "virtio_pci_cap", [f for f, _ in cap])
    rowh = 24
    h = 90 + rowh * (len(common) + 1) + 40
    s = Svg(1060, max(h, 560), "virtio common_cfg register map and struct virtio_pci_cap")
    s.text(20, 26, "The modern virtio PCI interface (offsets measured with gcc from drivers/virtio_pci_regs.h)",
           14, weight="bold")
    x, y = 20, 60
    s.text(x, y, f"struct virtio_pci_common_cfg ({lc['sizeof'][0]} bytes, in the BAR the cap names)", 12,
           weight="bold")
    y += 12
    for name, comment in common:
        off, size = lc[name]
        acc = comment.split(":")[0].strip() if comment else ""
        fill = COL["ro"] if acc.startswith("ro") else COL["driver"]
        if name.startswith("queue_"):
            fill = "#c7d2fe" if acc.startswith("rw") else COL["ro"]
        s.rect(x, y, 620, rowh, fill=fill)
        s.text(x + 6, y + 16, f"0x{off:02x}", 11)
        s.text(x + 50, y + 16, f"{size * 8:>2} bit", 11, fill=COL["grey"])
        s.text(x + 110, y + 16, name, 11, weight="bold")
        s.text(x + 300, y + 16, comment if len(comment) <= 52 else comment[:50] + "..", 10)
        y += rowh
    s.text(x, y + 18, "light blue: per queue, selected by queue_select; grey: read-only for the driver", 11,
           fill=COL["grey"])
    # cap
    cx, cy = 670, 60
    s.text(cx, cy, f"struct virtio_pci_cap ({lp['sizeof'][0]} bytes, config space)", 12, weight="bold")
    cy += 12
    for name, comment in cap:
        off, size = lp[name]
        s.rect(cx, cy, 370, rowh, fill=COL["ro"])
        s.text(cx + 6, cy + 16, f"+{off:<2} {size}B {name}", 11, weight="bold")
        s.text(cx + 170, cy + 16, comment.replace("ro: ", "").split(";")[0].split(",")[0][:28], 10)
        cy += rowh
    cy += 20
    s.text(cx, cy, "cfg_type: 1 common, 2 notify, 3 ISR, 4 device,", 11)
    s.text(cx, cy + 16, "5 PCI access. vp_find_modern() keeps the first", 11)
    s.text(cx, cy + 32, "usable one of each; vp_map_cap() checks", 11)
    s.text(cx, cy + 48, "offset + length lies inside the BAR.", 11)
    s.text(cx, cy + 80, "notify cap: + notify_off_multiplier (le32);", 11)
    s.text(cx, cy + 96, "queue q's doorbell = offset +", 11)
    s.text(cx, cy + 112, "  queue_notify_off(q) * multiplier", 11)
    return s


def fig_rxbuf():
    drv = (ROOT / "drivers/virtio_net.c").read_text()
    decl, fields = struct_fields(drv, "vnet_rxbuf")
    lay = gcc_layout("#include <stdbool.h>\n#include <stdint.h>\n" + decl, "vnet_rxbuf", [f for f, _ in fields])
    glue = (ROOT / "net/ethif.c").read_text()
    gdecl, gfields = struct_fields(glue, "ethif_rxbuf")
    lwip_inc = ("net/port", "third_party/lwip/src/include")
    glay = gcc_layout('#include "lwip/pbuf.h"\nstruct ethif;\n' + gdecl, "ethif_rxbuf", [f for f, _ in gfields],
                      includes=lwip_inc)
    pc = gcc_layout('#include "lwip/pbuf.h"', "pbuf", ["next", "payload", "tot_len", "len", "type_internal", "flags",
                                                        "ref", "if_idx"],
                    includes=lwip_inc)
    bufsize = c_define("drivers/virtio_net.c", "RX_BUF_SIZE")
    s = Svg(1060, 490, "vnet_rxbuf, ethif_rxbuf and their receive buffer")
    s.text(20, 26, "A receive buffer: the driver's and the glue's records (heap, sizes measured with gcc), and the "
           "DMA memory", 14, weight="bold")
    x, y = 20, 60

    def record(y, title, fields, lay, fill_name, fill):
        s.text(x, y, f"{title} ({lay['sizeof'][0]} bytes)", 12, weight="bold")
        y += 12
        for name, comment in fields:
            off, size = lay[name]
            s.rect(x, y, 430, 26, fill=fill if name == fill_name else "#fff")
            s.text(x + 6, y + 17, f"+{off:<3} {name} ({size} B)", 11, weight="bold")
            s.text(x + 160, y + 17, comment if len(comment) <= 44 else comment.split(" (")[0][:44], 10)
            y += 26
        return y

    y = record(y, "struct vnet_rxbuf, drivers/virtio_net.c", fields, lay, "data", COL["device"])
    s.text(x, y + 16, "One per buffer; its index is the buffer's id in the NIC", 11)
    s.text(x, y + 32, "interface (struct nic_rx_frag, nic_ops.rx_release).", 11)
    y = record(y + 60, "struct ethif_rxbuf, net/ethif.c", gfields, glay, "pc", COL["driver"])
    s.text(x, y + 18, f"pc = struct pbuf_custom: a struct pbuf ({pc['sizeof'][0]} B) + its free", 11)
    s.text(x, y + 34, "function, ethif_rxbuf_free(). First, so lwIP's pointer to", 11)
    s.text(x, y + 50, "the pbuf is the record. One per buffer id: the id is all", 11)
    s.text(x, y + 66, "the glue knows of the driver's buffer.", 11)
    s.text(x, 470, "pbuf fields: " + ", ".join(f"{k} +{v[0]}" for k, v in pc.items() if k != "sizeof"), 10,
           fill=COL["grey"])
    # the DMA buffer
    bx, by, bw = 500, 90, 540
    s.text(bx, by - 20, f"data: {bufsize} bytes of DMA memory (RX_BUF_SIZE), one descriptor", 12, weight="bold")
    # The DHCP offer that docs/gdb/rx.gdb stops at: a UDP datagram.
    parts = [(12, "hdr", COL["device"]), (14, "Eth", COL["ok"]), (20, "IPv4", COL["ok"]),
             (8, "UDP", COL["ok"]), (bufsize - 54, "DHCP payload ... (the rest of the frame, then unused)", "#fff")]
    scale = bw / 400.0  # the first 400 bytes, then a break
    px = bx
    off = 0
    for n, name, fill in parts:
        w = min(n, 400 - off) * scale if off < 400 else 0
        w = max(w, 4)
        s.rect(px, by, w, 50, fill=fill)
        s.text(px + w / 2, by + 30, name if w > len(name) * 6 else "", 10, "middle")
        s.text(px, by + 66, off, 9, fill=COL["grey"])
        px += w
        off += n
    s.text(bx + bw, by + 66, f"... {bufsize}", 9, "end", fill=COL["grey"])
    arrows = [(12, "the driver's fragment, rx_pbuf()'s payload: data + hdr_len (12)"),
              (54, "in udp_input(), headers taken off: payload = data + 54")]
    for i, (o, t) in enumerate(arrows):
        ax = bx + o * scale
        s.line(ax, by + 130 + i * 40, ax, by + 52, stroke=COL["accent"], arrow=True)
        s.text(ax + 6, by + 126 + i * 40, t, 11, fill=COL["accent"])
    s.text(bx, by + 230, "Who owns it, in turn: the pool (rx_free), the device (posted by vnet_fill_rx()),", 11)
    s.text(bx, by + 246, "lwIP (lent: a PBUF_REF custom pbuf, ref 1), then the pool again when pbuf_free()", 11)
    s.text(bx, by + 262, "calls ethif_rxbuf_free() -> vnet_rx_release(id). Past rx_lend_max lent buffers", 11)
    s.text(bx, by + 278, "the frame goes up to be copied into a PBUF_RAM pbuf instead, and the buffer", 11)
    s.text(bx, by + 294, "goes straight back (docs/rx.md).", 11)
    s.text(bx, by + 318, "Offsets 12 and 54: what docs/gdb/rx.gdb prints for the DHCP offer (hdr = virtio_net_hdr).", 10,
           fill=COL["grey"])
    return s


def fig_pci_windows():
    log = (OUT / "data" / "qboot-q35.log").read_text()
    bars = re.findall(r"pci: (\w\w:\w\w\.\w): BAR(\d) assigned: (memory at|I/O ports at) 0x(\w+) "
                      r"\[size=(\d+)([KMG]?)\]", log)
    mem, io = [], []
    for bdf, bar, kind, addr, size, unit in bars:
        sz = int(size) << {"": 0, "K": 10, "M": 20, "G": 30}[unit]
        (mem if kind == "memory at" else io).append((int(addr, 16), sz, f"{bdf} BAR{bar}"))
    s = Svg(1060, 470, "PCI BAR assignment windows")
    s.text(20, 26, "Where pci_assign_unassigned() puts the BARs qboot leaves at 0 (q35, 256 MiB; "
           "docs/figures/data/qboot-q35.log)", 14, weight="bold")
    # 4 GiB overview
    x, y, w = 30, 70, 1000
    G = 1 << 32

    def px(a):
        return x + w * a / G
    s.text(x, y - 8, "the 32-bit physical address space (to scale)", 12, weight="bold")
    regions = [(0, 256 << 20, "RAM", COL["ok"]), (0xB0000000, 0xC0000000, "ECAM", COL["ro"]),
               (0xC0000000, 0xFEC00000, "BAR window", COL["driver"]), (0xFEC00000, 0xFEC01000, "", COL["hot"]),
               (0xFEE00000, 0xFEE01000, "", COL["hot"]), (0xFFFC0000, G, "", COL["ro"])]
    s.rect(x, y, w, 40, fill="#fff")
    for a, b, name, fill in regions:
        s.rect(px(a), y, max(px(b) - px(a), 2), 40, fill=fill)
        if name:
            s.text(px(a) + 4, y + 25, name, 10)
    ticks = ((0, "0", "start"), (256 << 20, "256M", "start"), (0xB0000000, "0xB0000000", "end"),
             (0xC0000000, "0xC0000000", "start"), (0xFEC00000, "0xFEC00000: IO-APIC, then LAPIC, flash", "end"))
    for i, (a, t_, anchor) in enumerate(ticks):
        s.line(px(a), y + 40, px(a), y + 50 + (i % 2) * 12)
        s.text(px(a) + (2 if anchor == "start" else -2), y + 60 + (i % 2) * 12, t_, 9, anchor)
    # zoom on what was assigned
    if mem:
        lo = min(a for a, _, _ in mem)
        hi = max(a + n for a, n, _ in mem)
        zy = 175
        s.text(x, zy - 10, f"memory BARs assigned, 0x{lo:x}-0x{hi:x} (largest first, naturally aligned, "
               "a page at least)", 12, weight="bold")
        bw = w / len(mem)
        for i, (a, n, who) in enumerate(sorted(mem)):
            bx = x + i * bw
            s.rect(bx, zy, bw, 40, fill=COL["driver"] if i % 2 == 0 else "#c7d2fe")
            s.text(bx + bw / 2, zy + 17, who, 10, "middle")
            s.text(bx + bw / 2, zy + 32, f"{n >> 20}M" if n >= 1 << 20 else f"{n >> 10}K", 10, "middle")
            s.text(bx + 2, zy + 54, f"0x{a:x}", 9, fill=COL["grey"])
        s.text(x, zy + 74, "(boxes in address order, not to scale: the VGA BAR is 16 MiB, the rest 4-16 KiB)", 10,
               fill=COL["grey"])
    if io:
        iy = 330
        ilo, ihi = 0xC000, 0x10000
        s.text(x, iy - 10, "I/O port BARs, window 0xC000-0xFFFF (below it: legacy devices, ACPI, SMBus)", 12,
               weight="bold")
        bw = w / 8
        for i, (a, n, who) in enumerate(sorted(io)):
            bx = x + i * bw
            s.rect(bx, iy, bw, 36, fill=COL["device"])
            s.text(bx + bw / 2, iy + 15, who, 10, "middle")
            s.text(bx + bw / 2, iy + 29, f"{n} ports", 10, "middle")
            s.text(bx + 2, iy + 50, f"0x{a:x}", 9, fill=COL["grey"])
        s.text(x, iy + 70, "(address order; the 64-port SMBus block first: largest first, each aligned to its size)",
               10, fill=COL["grey"])
    s.text(x, 450, "Windows: platform_pci() (the BAR window from max(0xC0000000, end of RAM, end of ECAM) to "
           "the IO-APIC; I/O from 0xC000)", 10, fill=COL["grey"])
    return s


def fig_tcp_swimlane():
    """One connection to /hello: the wire lines are docs/figures/data/tcp-hello-trace.log (trace=net);
    the calls are what our code and lwIP 2.1.3 run for each."""
    wire = []
    for ln in (OUT / "data" / "tcp-hello-trace.log").read_text().splitlines():
        m = re.search(r"\] T net (rx|tx) \d+ bytes: (.*)$", ln)
        if not m:
            continue
        what = m.group(2)
        tm = re.search(r"TCP \d+ > \d+ (\[\S+\]) seq=(\d+)(?: ack=(\d+))? win=\d+ len=(\d+)", what)
        label = (f"{tm.group(1)} seq={tm.group(2)}" + (f" ack={tm.group(3)}" if tm.group(3) else "") +
                 f" len={tm.group(4)}") if tm else what.split(": ", 1)[-1]
        wire.append((m.group(1), label))
    assert len(wire) == 10, wire
    # (lane, text): lanes 1 NIC+ring, 2 lwIP, 3 app; ("w", i): wire line i (client <-> NIC)
    rows = [("w", 0),
            (1, "vnet_poll(): vnet_receive_one(), ethif_rx(): rx_pbuf(), a custom PBUF_REF"),
            (2, "ethernet_input, ip4_input, tcp_input; hook tcp_guard_inpacket(): bounds"),
            (2, "tcp_listen_input(): pcb in SYN_RCVD, ISN from tcp_guard_isn(); SYN|ACK queued"),
            ("w", 1), ("w", 2),
            (1, "netif->linkoutput: ethif_linkoutput(), vnet_xmit(); kick at the loop's turn"),
            ("w", 3), ("w", 4),
            (2, "tcp_process(): SYN_RCVD -> ESTABLISHED, TCP_EVENT_ACCEPT"),
            (3, "http_accept(): admit, set the callbacks"),
            ("w", 5),
            (2, "tcp_receive(): in order, TCP_EVENT_RECV"),
            (3, "http_recv(): copy, pbuf_free(), tcp_recved()"),
            (3, "conn_send(): tcp_write() no copy (ROM)"),
            ("w", 6),
            (2, "ACK covers the 173 bytes: TCP_EVENT_SENT"),
            (3, "http_sent(): chunk_retire() (txhold)"),
            ("w", 7),
            (2, "FIN in order: TCP_EVENT_CLOSED (recv with p = NULL); CLOSE_WAIT"),
            (3, "conn_close(): tcp_close(): our FIN"),
            ("w", 8), ("w", 9),
            (2, "LAST_ACK acked: pcb freed (no TIME_WAIT here: the client closed first)"),
            ]
    lanes = ["client (curl via slirp, 10.0.2.2)", "NIC + ring (drivers/virtio_net.c)",
             "lwIP 2.1.3 (third_party/lwip)", "app (apps/http.c)"]
    lw, top, rowh, x0 = 258, 72, 24, 10
    s = Svg(x0 * 2 + lw * 4, top + rowh * len(rows) + 56, "One TCP connection through lwIP")
    s.text(x0 + 6, 22, "GET /hello, one connection: wire lines from trace=net (docs/figures/data/tcp-hello-trace.log), "
           "and the functions each runs", 12, weight="bold")
    fills = ["#f3f4f6", COL["device"], COL["ok"], COL["driver"]]
    for i, name in enumerate(lanes):
        s.rect(x0 + i * lw + 2, top - 36, lw - 4, rowh * len(rows) + 46, fill=fills[i], stroke=COL["grey"], rx=6)
        s.text(x0 + i * lw + lw / 2, top - 18, name, 11, "middle", "bold")
    for j, row in enumerate(rows):
        y = top + j * rowh
        if row[0] == "w":
            d, label = wire[row[1]]
            xa, xb = x0 + lw * 0.5, x0 + lw * 1.5
            if d == "rx":
                s.line(xa, y + 15, xb, y + 15, stroke=COL["accent"], arrow=True)
            else:
                s.line(xb, y + 15, xa, y + 15, stroke="#b91c1c", arrow=True)
            s.text(x0 + 8, y + 10, label, 9, fill=COL["accent"] if d == "rx" else "#b91c1c")
        else:
            lane, text = row
            bx = x0 + lane * lw + 6
            span = lw * (4 - lane) - 12 if len(text) * 5.6 > lw - 12 else lw - 12
            s.rect(bx, y + 2, span, rowh - 4, fill="#ffffff", rx=3)
            s.text(bx + 4, y + 16, text, 9)
    s.text(x0 + 6, top + rowh * len(rows) + 30, "blue: received (rx), red: sent (tx). A box wider than its lane runs "
           "on into the lanes to its right only for room: each call is in the lane where it starts.", 10,
           fill=COL["grey"])
    return s


FIGURES = {
    "ring-wrap.svg": fig_ring_wrap,
    "request-timeline.svg": fig_request_timeline,
    "msix-ioapic.svg": fig_msix_ioapic,
    "virtio-pci-cfg.svg": fig_virtio_pci,
    "rxbuf.svg": fig_rxbuf,
    "pci-windows.svg": fig_pci_windows,
    "tcp-swimlane.svg": fig_tcp_swimlane,
}


def main():
    check = "--check" in sys.argv[1:]
    OUT.mkdir(parents=True, exist_ok=True)
    stale = []
    for name, fn in FIGURES.items():
        svg = fn().render()
        path = OUT / name
        if check:
            if not path.exists() or path.read_text() != svg:
                stale.append(name)
        else:
            path.write_text(svg)
            print(f"figures: wrote {path.relative_to(ROOT)}")
    if stale:
        print("figures: out of date (run python3 scripts/figures.py): " + ", ".join(stale))
        return 1
    if check:
        print(f"figures: {len(FIGURES)} up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
