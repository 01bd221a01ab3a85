"""The table of `make bench` (issue 8) and docs/benchmarks.md.

Results are kept as Results: for each (target, row) a list of samples and a
list of failure reasons. A row's cell is "median [min-max]" over the runs
that gave a number, and says how many runs failed and why.
"""
import datetime
import os
import platform
import re
import statistics
import subprocess
from collections import defaultdict

TARGETS = ("ours", "linux", "native")
LABELS = {"ours": "ours", "linux": "Linux", "native": "native"}

HIGHER, LOWER = "higher", "lower"


class Row:
    def __init__(self, key, label, unit, better, alias=None):
        # alias: {target: other row key} - that target's samples come from another row.
        self.key, self.label, self.unit, self.better, self.alias = key, label, unit, better, alias or {}


ROWS = [
    Row("boot.kernel.seabios", "boot to first HTTP 200, `-kernel` (ours: kernel.elf, Linux: vmlinuz), SeaBIOS",
        "ms", LOWER),
    Row("boot.kernel.qboot", "boot to first HTTP 200, `-kernel` (kernel.elf / vmlinuz), qboot", "ms", LOWER),
    Row("boot.pvh.seabios", "boot to first HTTP 200, `-kernel`, SeaBIOS; Linux as uncompressed PVH vmlinux "
        "(ours: the kernel.elf boots above)", "ms", LOWER, {"ours": "boot.kernel.seabios"}),
    Row("boot.pvh.qboot", "boot to first HTTP 200, `-kernel`, qboot; Linux as uncompressed PVH vmlinux "
        "(ours: the kernel.elf boots above)", "ms", LOWER, {"ours": "boot.kernel.qboot"}),
    Row("boot.iso.seabios", "boot to first HTTP 200, GRUB ISO (`-cdrom`), SeaBIOS", "ms", LOWER),
    Row("wrk1.rps", "wrk 1 connection, keep-alive, GET /hello: requests/s", "req/s", HIGHER),
    Row("wrk1.p50", "wrk 1 connection, keep-alive, GET /hello: p50 latency", "ms", LOWER),
    Row("wrk1.p99", "wrk 1 connection, keep-alive, GET /hello: p99 latency", "ms", LOWER),
    Row("wrk64.rps", "wrk 64 connections, keep-alive, GET /hello: requests/s", "req/s", HIGHER),
    Row("wrk64.p50", "wrk 64 connections, keep-alive, GET /hello: p50 latency", "ms", LOWER),
    Row("wrk64.p99", "wrk 64 connections, keep-alive, GET /hello: p99 latency", "ms", LOWER),
    Row("wrk612.rps", "wrk 30 connections, keep-alive, GET /bytes/612 (Unikraft's nginx setup): requests/s",
        "req/s", HIGHER),
    Row("wrk612.p50", "wrk 30 connections, GET /bytes/612: p50 latency", "ms", LOWER),
    Row("wrk612.p99", "wrk 30 connections, GET /bytes/612: p99 latency", "ms", LOWER),
    Row("conn.rps", "new connections/s: ab, no keep-alive, 16 concurrent, GET /hello", "conn/s", HIGHER),
    Row("bulk.mbs", "bulk, guest sends: curl GET /bytes/N to /dev/null", "MB/s", HIGHER),
    Row("upload.mbs", "bulk, guest receives: curl -T of N bytes to PUT /sink (byte count checked)", "MB/s",
        HIGHER),
    Row("iperf.mbs", "bulk: iperf 2 client to the server's iperf", "MB/s", HIGHER),
    Row("ping.rtt", "ping RTT (average, -i 0.01)", "ms", LOWER),
    Row("mvm.boot.kernel.qboot", "microvm (virtio-mmio, ACPI on), qboot: boot to first HTTP 200, `-kernel` "
        "multiboot (ours: kernel.elf)", "ms", LOWER),
    Row("mvm.boot.pvh.qboot", "microvm, qboot: boot to first HTTP 200, PVH entry (ours: kernel-pvh.elf, "
        "Linux: vmlinux)", "ms", LOWER),
    Row("mvm.wrk1.rps", "microvm, PVH: wrk 1 connection, keep-alive, GET /hello: requests/s", "req/s", HIGHER),
    Row("mvm.wrk1.p99", "microvm, PVH: wrk 1 connection, GET /hello: p99 latency", "ms", LOWER),
    Row("mvm.wrk64.rps", "microvm, PVH: wrk 64 connections, keep-alive, GET /hello: requests/s", "req/s",
        HIGHER),
    Row("mem.min", "smallest `-m` that boots and serves (searched once)", "MiB", LOWER),
    Row("mem.rss", "RSS under load (wrk 64 connections): QEMU, native: echo_server", "MiB", LOWER),
    Row("size.image", "image: kernel.elf / vmlinuz + initrd.img / native: echo_server (static)", "KiB", LOWER),
    Row("size.stripped", "image without symbols: kernel.elf stripped / vmlinuz / echo_server stripped", "KiB",
        LOWER),
    Row("size.iso", "image: bootable GRUB ISO (`make iso`)", "KiB", LOWER),
]
ROW = {r.key: r for r in ROWS}


class Results:
    def __init__(self):
        self.samples = defaultdict(list)  # (target, row) -> [float]
        self.failures = defaultdict(list)  # (target, row) -> [reason]
        self.notes = []
        self.retransmits = defaultdict(list)  # (target, figure) -> [{counter: delta}] per repetition
        self.profiles = defaultdict(list)  # (target, figure) -> [profile_delta()] per repetition

    def add(self, target, row, value):
        self.samples[(target, row)].append(float(value))

    def fail(self, target, row, reason):
        self.failures[(target, row)].append(reason)

    def variants(self, target, row):
        """The measured variants of @target for @row: "ours@qemu64", "ours@max" (a
        guest per CPU model, targets.CPUS), or just "native"."""
        key = ROW[row].alias.get(target.split("@")[0], row) if row in ROW else row
        seen = {t for (t, r) in list(self.samples) + list(self.failures) if r == key}
        return key, sorted(t for t in seen if t == target or t.startswith(target + "@"))

    def best(self, target, row):
        """(variant, samples, failures) of @target's best variant for @row: the
        highest median for rates, the lowest for times and sizes. A variant
        named in full ("linux@max") is that one; with no numbers at all, the
        failures of every variant and variant None."""
        key, names = self.variants(target, row)
        if "@" in target or len(names) <= 1:
            v = names[0] if names else target
            return v, self.samples.get((v, key), []), self.failures.get((v, key), [])
        measured = [v for v in names if self.samples.get((v, key))]
        if not measured:
            return None, [], [r for v in names for r in self.failures.get((v, key), [])]
        sign = -1 if row in ROW and ROW[row].better == HIGHER else 1
        v = min(measured, key=lambda n: sign * statistics.median(self.samples[(n, key)]))
        return v, self.samples[(v, key)], self.failures.get((v, key), [])

    def cell_data(self, target, row):
        _, xs, fails = self.best(target, row)
        return xs, fails

    def median(self, target, row):
        xs, _ = self.cell_data(target, row)
        return statistics.median(xs) if xs else None

    def to_json(self):
        return {"samples": {f"{t}/{r}": v for (t, r), v in self.samples.items()},
                "failures": {f"{t}/{r}": v for (t, r), v in self.failures.items()},
                "client_retransmits": {f"{t}/{f}": v for (t, f), v in self.retransmits.items()},
                "profiles": {f"{t}/{f}": v for (t, f), v in self.profiles.items()},
                "notes": self.notes}


def num(x):
    if x is None:
        return "—"
    a = abs(x)
    if x == int(x) and a < 1000:
        return str(int(x))
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def short_reason(reasons):
    """The most common reason, shortened: 'tx stall', 'no HTTP 200 within 60 s', ..."""
    r = re.sub(r"\s+", " ", max(set(reasons), key=reasons.count))
    return r if len(r) <= 90 else r[:89] + "…"


def cpu_of(variant):
    """ "linux@qemu64" -> "qemu64"; "native" -> None."""
    return variant.split("@", 1)[1] if variant and "@" in variant else None


def cell(results, target, row, measured):
    if target.split("@")[0] not in measured:
        return "—"
    variant, xs, fails = results.best(target, row)
    if not xs and not fails:
        return "—"
    text = num(statistics.median(xs)) if xs else "failed"
    if len(xs) > 1:
        text += f" [{num(min(xs))}–{num(max(xs))}]"
    cpu = cpu_of(variant) if "@" not in target else None
    if cpu and len(results.variants(target, row)[1]) > 1:
        text += f" ({cpu})"
    if fails:
        text += f" ({len(fails)} of {len(xs) + len(fails)} failed: {short_reason(fails)})"
    return text


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}"


def better(results, row):
    o, lx = results.median("ours", row.key), results.median("linux", row.key)
    if o is None and lx is not None and results.cell_data("ours", row.key)[1]:
        return "Linux (ours fails)"
    if lx is None and o is not None and results.cell_data("linux", row.key)[1]:
        return "ours (Linux fails)"
    if o is None or lx is None:
        return "—"
    if o == lx:
        return "="
    winner = "ours" if (o > lx) == (row.better == HIGHER) else "Linux"
    return winner + (" (ranges overlap)" if overlap(results, row.key) else "")


def overlap(results, row):
    """True when ours' and Linux's [min, max] over the repetitions overlap: a
    winner by the medians alone is then within the noise of this run."""
    a, _ = results.cell_data("ours", row)
    b, _ = results.cell_data("linux", row)
    if len(a) < 2 or len(b) < 2:
        return False
    return min(a) <= max(b) and min(b) <= max(a)


def cpu_table(results, measured, cpus):
    """Every row measured per CPU model: each guest with each -cpu, median [min-max]."""
    cols = [(t, c) for t in TARGETS[:2] if t in measured for c in cpus]
    if not cols:
        return ""
    lines = ["| figure | unit | " + " | ".join(f"{LABELS[t]}, `-cpu {c}`" for t, c in cols) + " |",
             "|---|---|" + "---|" * len(cols)]
    for row in ROWS:
        cells = [cell(results, f"{t}@{c}", row.key, measured) for t, c in cols]
        if sum(c != "—" for c in cells) < 2:
            continue
        lines.append(f"| {row.label} | {row.unit} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdicts(results):
    """Sentences for the page: every row Linux at its best wins, each peer's CPU model named,
    then how many ours wins. Written from the numbers, so the page cannot hide a loss."""
    out, ours_wins = [], []
    for row in ROWS:
        if row.alias or row.key.startswith("size."):
            continue
        vo, xo, _ = results.best("ours", row.key)
        vl, xl, _ = results.best("linux", row.key)
        if not xo or not xl:
            continue
        o, lx = statistics.median(xo), statistics.median(xl)
        if o == lx:
            continue
        who = "ours" if (o > lx) == (row.better == HIGHER) else "Linux"
        cpus = f"ours `-cpu {cpu_of(vo)}`, Linux `-cpu {cpu_of(vl)}`" if cpu_of(vo) else ""
        noise = "; the ranges overlap, within this run's noise" if overlap(results, row.key) else ""
        if who == "Linux":
            out.append(f"**Linux wins** {row.label}: {num(lx)} {row.unit} against our {num(o)} "
                       f"(ours/Linux {o / lx:.2f}; {cpus}{noise})")
        else:
            ours_wins.append(f"{row.label.split(':')[0]} ({o / lx:.2f})" if row.better == HIGHER else
                             f"{row.label.split(':')[0]}")
    if ours_wins:
        out.append(f"Ours wins the other {len(ours_wins)} rows measured on both (sizes aside).")
    return out


def ring_table(results, packed, cpu):
    """Packed against split virtqueues (issue 17: packed at least as fast on
    every row): ours@@cpu (split) beside @packed@@cpu, every row both have,
    median [min-max], packed/split, and which is better (within the noise when
    the ranges overlap). Return: (table, sentences), or None with no figures."""
    split, pk = f"ours@{cpu}", f"{packed}@{cpu}"
    measured = ["ours", packed]
    lines = ["| figure | unit | split | packed | packed/split | better |", "|---|---|---|---|---|---|"]
    losses, wins, ties = [], 0, 0
    for row in ROWS:
        if row.alias or not (results.samples.get((split, row.key)) or results.samples.get((pk, row.key))):
            continue
        a, b = cell(results, split, row.key, measured), cell(results, pk, row.key, measured)
        xs, ys = results.samples.get((split, row.key), []), results.samples.get((pk, row.key), [])
        verdict = "—"
        if xs and ys:
            ms, mp = statistics.median(xs), statistics.median(ys)
            noisy = len(xs) > 1 and len(ys) > 1 and min(xs) <= max(ys) and min(ys) <= max(xs)
            if ms == mp:
                verdict = "="
            else:
                verdict = "packed" if (mp > ms) == (row.better == HIGHER) else "split"
            if noisy and verdict != "=":
                verdict += " (ranges overlap)"
            if verdict == "split":
                losses.append(f"{row.label}: packed {num(mp)} against split {num(ms)} {row.unit}")
            elif verdict.startswith("packed"):
                wins += 1
            else:
                ties += 1
        lines.append(f"| {row.label} | {row.unit} | {a} | {b} | "
                     f"{ratio(results.median(pk, row.key), results.median(split, row.key))} | {verdict} |")
    if len(lines) == 2:
        return None
    said = [f"**Split is faster beyond this run's noise** on {x}" for x in losses]
    said.append(f"Packed is better on {wins} of the {len(lines) - 2} rows (by the medians, noise included), "
                f"split beyond the noise on {len(losses)}" + (f", equal on {ties}" if ties else "") + ".")
    return "\n".join(lines), said, cpu


def table(results, measured):
    lines = ["| figure | unit | ours | Linux | native | ours/Linux | ours/native | better |",
             "|---|---|---|---|---|---|---|---|"]
    for row in ROWS:
        cells = [cell(results, t, row.key, measured) for t in TARGETS]
        if all(c == "—" for c in cells) or (row.alias and cells[1] == "—"):
            continue
        o = results.median("ours", row.key)
        lines.append(f"| {row.label} | {row.unit} | " + " | ".join(cells)
                     + f" | {ratio(o, results.median('linux', row.key))}"
                     + f" | {ratio(o, results.median('native', row.key))} | {better(results, row)} |")
    return "\n".join(lines)


# ------------------------------------------------------------ the machine

def machine_info():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kib = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))
            mem = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, AttributeError):
        pass
    qemu = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True, text=True).stdout
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem, "qemu": qemu.splitlines()[0] if qemu else "?",
            "kernel": platform.release(), "load": load}


# ------------------------------------------------------------ docs/benchmarks.md

KEEP_MARKER = "<!-- bench/run.py writes everything above this line; text below it is kept -->"

METHOD = """\
# Benchmarks: our kernel beside a Linux guest and the host

`make bench` measures our unikernel, a small Linux guest running the same
HTTP server, and that server run natively on the host, in one run, and
writes this page. The peers are described in `bench/README.md`: the Linux
guest is Debian's kernel with a busybox initramfs that runs `echo_server`
(our kernel's own HTTP code, `apps/http_proto.c`, over epoll: byte for byte
the same answers) and `iperf -s`; native is the same `echo_server` run as a
process in the namespace, the host-side limit.

How it is measured (`bench/run.py`, `bench/figures.py`, `bench/targets.py`):

- **Same setup.** Every guest runs in the same QEMU with the same `-accel`,
  `-M`, `-smp 1`, `-m` and `-device virtio-net-pci` on a TAP
  device in a network namespace the bench creates (10.77.0.1 on tap0, the
  guest 10.77.0.2); every client runs inside that namespace
  (`ip netns exec`), so no traffic leaves it. Native clients talk to
  10.77.0.1 (the host's loopback path).
- **Each guest at its best CPU model.** Under TCG the CPU model QEMU
  emulates changes a guest's speed more than one would guess: a Linux guest
  sends bulk data 2–3 times faster with QEMU's default model (`qemu64`, what
  a command line without `-cpu` gets) than with `-cpu max`. So every guest,
  ours and Linux, is measured with both, and each figure of the main table
  is each peer's best of the two, the model that gave it in brackets
  (`(qemu64)`, `(max)`): no row compares one peer at its best with another
  at its worst. The table after it gives every figure per model.
- **Interleaved.** Each repetition measures ours, then Linux, then native;
  the table gives the median and [min–max] over the repetitions. In a
  repetition a guest is booted once per boot variant and CPU model for the
  boot-time figures, and its `-kernel`, SeaBIOS boot stays up for the load
  figures, once with each CPU model (which one goes first alternates between
  repetitions).
- **Checked.** Before any load figure, each server must answer a reference
  request (an echo, and `GET /bytes/612`) with exactly the documented bytes.
  After a failed figure the bench asks whether the guest still answers; a
  dead guest (e.g. the Linux guest's virtio-net tx stall under TCG, 1 boot
  in 10 here) fails the rest of that repetition's figures, which the table
  reports ("1 of 3 failed: tx stall"), and the run goes on.
- **Boot** is from QEMU's process start to the first `HTTP/1.1 200` to a
  `GET /bytes/0` polled from the namespace (fresh connects every 20 ms).
  Our ISO is `make iso`'s with the bench's address on GRUB's multiboot2
  line (`build/bench/unikernel-bench.iso`, made by `scripts/mkiso.sh`).
  Both kernels log only warnings and errors to the serial console (ours
  `log=warn`, Linux `loglevel=4`): under TCG every console byte is an
  emulated port write, and a verbose boot log alone costs a few ms.
- **microvm rows.** The same guests on `-M microvm` (ACPI on: its DSDT
  names the virtio-mmio transports, for ours and for Debian's kernel, whose
  `virtio_mmio` module has no command-line devices), qboot, the NIC a
  `-device virtio-net-device`: ours from `build/kernel.elf` (multiboot) and
  from `build/kernel-pvh.elf` (PVH entry), Linux as the uncompressed PVH
  vmlinux; the PVH boot of each stays up for wrk with 1 and 64 connections.
  `BENCH_MICROVM=only` measures only these rows, `BENCH_MICROVM=0` skips them.
- **Ring layout.** Each repetition also boots ours once more with the
  NIC's packed virtqueues (`-device virtio-net-pci,...,packed=on`, QEMU's
  default CPU model) and takes every load figure again: the table after the
  per-model one sets it beside the split rings of the same repetition.
  `BENCH_RING=0` skips it.
- **wrk** runs one thread for 5 s with `--latency`; **ab** without `-k`
  opens a connection per request; **bulk, guest sends** is one `curl`
  download of `/bytes/N` (all N bytes counted); **bulk, guest receives** is
  one `curl -T` upload of an N-byte file to `PUT /sink`, whose answer must be
  N in decimal (the same `apps/http_proto.c` route on all three servers:
  the body is read and dropped); **iperf** is `iperf -c` (iperf 2; our kernel runs lwIP's
  lwiperf); **ping** is `ping -i 0.01`. MB is 10^6 bytes.
- **qboot** (`-bios /usr/share/qemu/qboot.rom`) starts only `-kernel` images:
  the bench checks once that it does not boot the ISO, and times each
  `-kernel` image with it and with QEMU's default SeaBIOS.
- **Memory**: the smallest `-m` (MiB) with which the guest boots and answers
  the reference request, found by bisection (once per run, not per
  repetition, with QEMU's default CPU model); RSS is the peak `VmRSS` of
  the QEMU process (native: of `echo_server`) while wrk runs 64 connections.
- **Reading the table**: "ours/Linux" and "ours/native" are ratios of the
  medians (each at its best CPU model); "better" says which of ours and Linux wins the row (more is
  better for rates, less for times, memory and sizes), and "ranges overlap"
  when the two [min–max] ranges do: a lead within this run's noise.
- Knobs: `BENCH_REPS=N` repetitions, `BENCH_QUICK=1` a smoke run of a minute
  or two (short figures, one repetition; not for quoting), `BENCH_ONLY=ours,
  linux,native` a subset, `ACCEL=kvm` on machines with real VT-x/AMD-V
  (TCG is the default: here `/dev/kvm` is a slow PVM backend),
  `MACHINE=q35|pc`, `BENCH_OUT=file` where to write this page. Raw samples
  and every guest's serial log are kept in `build/bench/run/`.
"""


SECTIONS = [("rx_poll", "rx poll: used rx buffers into lwIP, refill (holds the three below)"),
            ("lwip_input", "lwIP input: one frame through ethernet, IP, TCP (holds the app and tx)"),
            ("app", "the HTTP app's callbacks: parse, answer"),
            ("tx", "tx: a frame into the ring (linkoutput)"),
            ("tx_kick", "tx kick: the notify write, a VM exit into QEMU")]
FIGURES = [("wrk1", "wrk -c1 /hello"), ("wrk64", "wrk -c64 /hello"), ("wrk612", "wrk -c30 /bytes/612")]


def profile_delta(c0, c1, requests):
    """Per request, between two /stats "cycles" snapshots: calls and ns of each section."""
    out = {"requests": requests}
    for key, _ in SECTIONS:
        a, b = c0["sections"].get(key), c1["sections"].get(key)
        if a and b and requests:
            out[key] = {"calls": (b["calls"] - a["calls"]) / requests, "ns": (b["ns"] - a["ns"]) / requests}
    return out


def profile_table(results, target="ours"):
    """Medians over the repetitions of each figure's per-request profile."""
    cols = [(k, label) for k, label in FIGURES if results.profiles.get((target, k))]
    if not cols:
        return ""
    head = "| section | " + " | ".join(f"{label}: calls / ns per request" for _, label in cols) + " |"
    lines = [head, "|---|" + "---|" * len(cols)]
    for key, label in SECTIONS:
        cells = []
        for fig, _ in cols:
            runs = [p[key] for p in results.profiles[(target, fig)] if key in p]
            if not runs:
                cells.append("—")
                continue
            calls = statistics.median(r["calls"] for r in runs)
            ns = statistics.median(r["ns"] for r in runs)
            cells.append(f"{calls:.2f} / {ns:,.0f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render(results, meta, measured, table_text, cpus=(), charts=(), ring=None):
    """The page. @charts: (title, path relative to the page) of the SVG charts;
    @ring: ring_table()'s (table, sentences)."""
    m = meta["machine"]
    out = [METHOD, f"## Results of {meta['date']}", "",
           f"Produced by `{meta['command']}` ({meta['reps']} repetition(s){', quick mode' if meta['quick'] else ''}, "
           f"{meta['elapsed']:.0f} s). Machine: {m['cpu']}, {m['cores']} cores, {m['memory']} memory, host Linux "
           f"{m['kernel']}, load average at the end {m['load']}. {m['qemu']}. Accel: **{meta['accel']}**, "
           f"machine `{meta['machine_type']}`, `-m {meta['mem']}` for all but the memory search.", "",
           "Each guest's figures are its best CPU model's (in brackets); the per-model figures follow.", "",
           table_text, ""]
    if meta.get("verdicts"):
        out += ["Where each side wins, at its best:", ""] + [f"- {v}" for v in meta["verdicts"]] + [""]
    detail = cpu_table(results, measured, cpus)
    if detail:
        out += ["Every guest figure per CPU model (`-cpu qemu64` is QEMU's default):", "", detail, ""]
    if ring:
        out += ["Our kernel with split and with packed virtqueues (virtio-net-pci `packed=on`), "
                f"`-cpu {ring[2]}`, the `-kernel` SeaBIOS boot, in the same repetitions "
                "(the split column is the per-model table's):", "", ring[0], ""]
        out += [f"- {v}" for v in ring[1]] + [""]
    if charts:
        out += ["The same figures as charts (medians, the bars' whiskers the [min–max] range, "
                "a logarithmic scale; each guest at its best CPU model, named under its bar):", ""]
        out += [f"![{title}]({path})" for title, path in charts] + [""]
    for variant in sorted({t for t, _ in results.profiles if t.split("@")[0] == "ours"}):
        prof = profile_table(results, variant)
        if not prof:
            continue
        cpu = cpu_of(variant)
        out += ["Where our kernel's time goes" + (f" (`-cpu {cpu}`)" if cpu else "") + ", from its TSC cycle "
                "counters (`GET /stats`, \"cycles\") read before and after each wrk figure, divided by the "
                "requests wrk counted (medians over the repetitions). The sections nest: rx poll holds lwIP "
                "input, which holds the app and most tx; what is left of a request's latency is QEMU and the "
                "host (the device model, the TAP, the client).", "", prof, ""]
    if results.notes:
        out += ["Notes from this run:", ""] + [f"- {n}" for n in results.notes] + [""]
    out += ["QEMU command lines, each run inside the namespace (`ip netns exec NS ...`); "
            "`-m` is changed only by the memory search:", "", "```"]
    for label, args in meta["commands"]:
        out += [f"# {label}", args]
    out += ["```", ""]
    out += ["Clients (inside `ip netns exec NS`, ADDR = 10.77.0.2 for guests, 10.77.0.1 for native):", ""]
    out += [f"- `{c}`" for c in meta["clients"]] + [""]
    return "\n".join(out)


def write_doc(path, text):
    """Write @text, keeping whatever follows KEEP_MARKER in the existing file."""
    kept = ""
    try:
        old = path.read_text()
        if KEEP_MARKER in old:
            kept = old.split(KEEP_MARKER, 1)[1]
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.rstrip() + "\n\n" + KEEP_MARKER + (kept if kept else "\n"))


def today():
    return datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
