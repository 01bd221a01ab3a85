#!/usr/bin/env python3
"""`make bench` (issue 8): our kernel, the Linux guest and the native
echo_server measured side by side, interleaved, with medians and ranges;
the table is printed and written to docs/benchmarks.md (its first section
says how each figure is taken).

    make bench                      (setup, build, then this script)
    /usr/bin/python3 bench/run.py   (as root: it creates a network namespace)

Knobs (environment): BENCH_REPS=N (3; quick: 1), BENCH_QUICK=1 (a smoke run:
short figures, one repetition), BENCH_ONLY=ours,linux,native, BENCH_MICROVM=0|only
(skip the -M microvm rows, or measure only them), BENCH_OUT=path
(docs/benchmarks.md; quick: build/bench/benchmarks-quick.md), ACCEL=tcg|kvm,
MACHINE=q35|pc, MEM=256M, BENCH_NIC_OPTS=... (options for our kernel's
virtio-net-pci, e.g. packed=on: "ours, packed ring"), BENCH_RING=0 (skip the
ring-layout rows: ours with packed virtqueues beside split ones). Work files (serial logs, results.json) go to
build/bench/run/ (BENCH_WORKDIR=dir: elsewhere, e.g. for a test).

Every QEMU and server process is started inside the bench's namespace and
killed by its PID, and the namespace is deleted, on success, failure,
Ctrl-C or SIGTERM alike.
"""
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import charts  # noqa: E402
import figures  # noqa: E402
import peer  # noqa: E402
import report  # noqa: E402
import targets  # noqa: E402
from figures import Failure  # noqa: E402

ROOT = peer.ROOT
WORKDIR = ROOT / "build" / "bench" / "run"

LOAD_ROWS = ["wrk1.rps", "wrk1.p50", "wrk1.p99", "wrk64.rps", "wrk64.p50", "wrk64.p99", "mem.rss",
             "wrk612.rps", "wrk612.p50", "wrk612.p99", "conn.rps", "bulk.mbs", "upload.mbs", "iperf.mbs", "ping.rtt"]


class Config:
    def __init__(self, env):
        self.quick = env.get("BENCH_QUICK", "") not in ("", "0")
        self.reps = int(env.get("BENCH_REPS") or (1 if self.quick else 3))
        self.only = [t.strip() for t in (env.get("BENCH_ONLY") or "ours,linux,native").split(",") if t.strip()]
        self.accel = env.get("ACCEL") or "tcg"
        self.machine = env.get("MACHINE") or "q35"
        # The -M microvm rows (issue 17): "1" beside the others, "0" not, "only" alone.
        self.microvm = env.get("BENCH_MICROVM") or "1"
        self.mem = env.get("MEM") or "256M"
        default_out = "build/bench/benchmarks-quick.md" if self.quick else "docs/benchmarks.md"
        self.out = ROOT / (env.get("BENCH_OUT") or default_out)
        self.command = env.get("BENCH_COMMAND") or "/usr/bin/python3 bench/run.py"
        # The command that reproduces this run: the knobs that differ from the defaults.
        knobs = [f"{k}={env[k]}" for k in ("BENCH_REPS", "BENCH_QUICK", "BENCH_ONLY", "BENCH_MICROVM", "BENCH_OUT",
                                           "BENCH_NIC_OPTS", "BENCH_RING")
                 if env.get(k)]
        self.nic_opts = env.get("BENCH_NIC_OPTS") or ""
        # The ring-layout rows (packed against split), unless BENCH_RING=0 or
        # the run's own NIC options choose the layout already.
        self.ring = env.get("BENCH_RING", "1") != "0" and "packed" not in self.nic_opts
        knobs += [f"{k}={v}" for k, v, d in (("ACCEL", self.accel, "tcg"), ("MACHINE", self.machine, "q35"),
                                              ("MEM", self.mem, "256M")) if v != d]
        if self.command.startswith("make"):
            self.command_line = " ".join([self.command] + knobs)
        else:
            self.command_line = " ".join(knobs + [self.command])
        # Figure sizes: the full run must fit `make bench` in 15 minutes with a fresh install.
        if self.quick:
            self.secs, self.bulk_bytes, self.pings = 1, 8_000_000, 30
        else:
            self.secs, self.bulk_bytes, self.pings = 5, 100_000_000, 200
        self.workdir = ROOT / env["BENCH_WORKDIR"] if env.get("BENCH_WORKDIR") else WORKDIR
        self.upload = None  # the file curl -T sends (figures.upload_file)
        # The charts go beside the page: docs/figures/ for docs/benchmarks.md.
        self.charts_dir = self.out.parent / "figures"
        self.ns = None

    def check(self):
        bad = [t for t in self.only if t not in report.TARGETS]
        if bad or not self.only:
            sys.exit(f"bench: BENCH_ONLY: unknown target(s) {bad} (ours, linux, native)")
        if self.microvm not in ("0", "1", "only"):
            sys.exit(f"bench: BENCH_MICROVM={self.microvm}: 0, 1 or only")
        if self.reps < 1:
            sys.exit("bench: BENCH_REPS must be at least 1")
        if self.accel not in ("tcg", "kvm"):
            sys.exit(f"bench: ACCEL={self.accel}: tcg or kvm")
        if self.accel == "kvm" and not os.access("/dev/kvm", os.W_OK):
            sys.exit("bench: ACCEL=kvm but /dev/kvm is not usable")
        if os.geteuid() != 0:
            sys.exit("bench: needs root (it creates a network namespace with a TAP device)")
        tools = ["qemu-system-x86_64", "wrk", "ab", "curl", "iperf", "ping", "ip", "ss", "strip"]
        missing = [t for t in tools if not shutil.which(t)]
        classes = {"ours": targets.Ours, "linux": targets.Linux, "native": targets.Native}
        for t in self.only:
            missing += classes[t].missing()
        if missing:
            sys.exit(f"bench: missing {', '.join(missing)}: run `make bench` (it installs and builds them)")


def say(msg):
    print(f"bench: {msg}", flush=True)


def rel(path):
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def mib(mem):
    m = re.fullmatch(r"(\d+)([MG]?)", mem)
    if not m:
        sys.exit(f"bench: MEM={mem}: say e.g. 256M")
    return int(m.group(1)) * (1024 if m.group(2) == "G" else 1)


# ------------------------------------------------------------ the load figures

def load_figures(cfg, res, name, addr, pid, fatal):
    """Every load figure against one running server; a failure is recorded, and
    if the server is dead the rest of this repetition's figures fail with the reason."""
    ns = cfg.ns.name
    url = f"http://{addr}:{figures.PORT}"
    try:
        figures.verify(ns, addr)
    except Failure as e:
        for row in LOAD_ROWS:
            res.fail(name, row, str(e))
        say(f"  {name}: {e}; no load figure measured")
        return

    def wrk_rows(prefix, conns, path, rss=False):
        def run():
            sampler = figures.RssSampler(pid) if rss else None
            # Our kernel's cycle counters around the figure: where each request's time goes.
            c0 = figures.cycles(cfg.ns, addr)
            if sampler:
                with sampler:
                    w = figures.wrk(cfg.ns, url + path, conns, cfg.secs)
            else:
                w = figures.wrk(cfg.ns, url + path, conns, cfg.secs)
            c1 = figures.cycles(cfg.ns, addr) if c0 else None
            if c0 and c1:
                res.profiles[(name, prefix)].append(report.profile_delta(c0, c1, w["requests"]))
            out = {f"{prefix}.rps": w["rps"], f"{prefix}.p50": w["p50"], f"{prefix}.p99": w["p99"]}
            if sampler:
                out["mem.rss"] = sampler.peak_mib
            return out
        return run

    steps = [
        ("wrk -c1", ["wrk1.rps", "wrk1.p50", "wrk1.p99"], wrk_rows("wrk1", 1, "/hello")),
        ("wrk -c64", ["wrk64.rps", "wrk64.p50", "wrk64.p99", "mem.rss"], wrk_rows("wrk64", 64, "/hello", True)),
        ("wrk -c30 /bytes/612", ["wrk612.rps", "wrk612.p50", "wrk612.p99"], wrk_rows("wrk612", 30, "/bytes/612")),
        ("ab", ["conn.rps"], lambda: {"conn.rps": figures.ab(cfg.ns, url + "/hello", 16, cfg.secs)}),
        ("curl", ["bulk.mbs"], lambda: {"bulk.mbs": figures.bulk(cfg.ns, addr, cfg.bulk_bytes)}),
        ("curl -T", ["upload.mbs"], lambda: {"upload.mbs": figures.upload(cfg.ns, addr, cfg.upload, cfg.bulk_bytes)}),
        ("iperf", ["iperf.mbs"], lambda: {"iperf.mbs": figures.iperf(cfg.ns, addr, cfg.secs)}),
        ("ping", ["ping.rtt"], lambda: ping_rows(cfg, res, name, addr)),
    ]
    for i, (label, rows, run) in enumerate(steps):
        before = figures.tcp_counters(cfg.ns)
        values, error = None, None
        try:
            values = run()
        except Failure as e:
            error = str(e)
        # Alive after the figure? A guest that froze half-way leaves wrk with
        # a low rate and no error (it does not count requests still in flight),
        # so a figure counts only if the server still answers after it.
        why = fatal()
        if why is None and not figures.alive(ns, addr):
            why = "stopped answering"
        if why:
            for row in rows:
                res.fail(name, row, why)
            for _, later, _ in steps[i + 1:]:
                for row in later:
                    res.fail(name, row, why)
            say(f"  {name}: {label}: FAILED: {error or 'finished'}, then the server was gone ({why}): "
                "the rest of this repetition is not measured")
            return
        if error:
            for row in rows:
                res.fail(name, row, error)
            say(f"  {name}: {label}: FAILED: {error}")
            continue
        for row, v in values.items():
            res.add(name, row, v)
        after = figures.tcp_counters(cfg.ns)
        rexmit = {k: after[k] - before.get(k, 0) for k in after}
        res.retransmits[(name, label)].append(rexmit)
        say(f"  {name}: {label}: " + ", ".join(f"{k} {report.num(v)}" for k, v in values.items())
            + (f" (client retransmissions {rexmit.get('TcpRetransSegs', 0)}, timeouts "
               f"{rexmit.get('TcpExtTCPTimeouts', 0)})" if rexmit.get("TcpRetransSegs") else ""))


def ping_rows(cfg, res, name, addr):
    rtt, lost = figures.ping(cfg.ns, addr, cfg.pings)
    if lost:
        res.notes.append(f"{name}: ping lost {lost} of {cfg.pings} packets in one repetition")
    return {"ping.rtt": rtt}


# ------------------------------------------------------------ one repetition of one target

def run_vm(cfg, res, target, rep):
    plan = target.boots()
    # The boots before the last (which stays up for the load figures) take
    # turns at going first, so no variant always meets the same host state;
    # each is made with every CPU model, and so are the load boots, whose
    # order alternates between repetitions.
    k = (rep - 1) % max(1, len(plan) - 1)
    cpus = targets.CPUS if rep % 2 else tuple(reversed(targets.CPUS))
    boot_only = plan[:-1][k:] + plan[:-1][:k]
    plan = [(b.with_cpu(c), False) for b in boot_only for c in cpus] + [(plan[-1].with_cpu(c), True) for c in cpus]
    for boot, load in plan:
        name = f"{target.name}@{boot.cpu}"
        g = target.guest(boot).start()
        try:
            try:
                ms = g.first_200(target.boot_timeout)
            except Failure as e:
                reason = str(e)
                res.fail(name, boot.row, reason)
                say(f"  {target.name}: boot {boot}: FAILED: {reason}")
                if load:
                    for row in LOAD_ROWS:
                        res.fail(name, row, f"boot failed: {reason}")
                continue
            res.add(name, boot.row, ms)
            say(f"  {target.name}: boot {boot}: first HTTP 200 after {ms:.0f} ms")
            if load:
                load_figures(cfg, res, name, target.addr, g.pid, g.fatal)
        finally:
            g.stop()


MICROVM_LOAD_ROWS = ["mvm.wrk1.rps", "mvm.wrk1.p99", "mvm.wrk64.rps"]


def microvm_load(cfg, res, name, addr, fatal):
    """The microvm rows' load figures: wrk with 1 and 64 connections on /hello."""
    ns = cfg.ns.name
    try:
        figures.verify(ns, addr)
    except Failure as e:
        for row in MICROVM_LOAD_ROWS:
            res.fail(name, row, str(e))
        say(f"  {name}: microvm: {e}; no load figure measured")
        return
    url = f"http://{addr}:{figures.PORT}/hello"
    for conns, rows in ((1, {"rps": "mvm.wrk1.rps", "p99": "mvm.wrk1.p99"}), (64, {"rps": "mvm.wrk64.rps"})):
        try:
            w = figures.wrk(cfg.ns, url, conns, cfg.secs)
        except Failure as e:
            w, error = None, str(e)
        why = fatal()
        if why is None and not figures.alive(ns, addr):
            why = "stopped answering"
        if w is None or why:
            for row in rows.values():
                res.fail(name, row, why or error)
            say(f"  {name}: microvm: wrk -c{conns}: FAILED: {why or error}")
            continue
        for k, row in rows.items():
            res.add(name, row, w[k])
        say(f"  {name}: microvm: wrk -c{conns}: " + ", ".join(f"{row} {report.num(w[k])}" for k, row in rows.items()))


def run_microvm(cfg, res, target, rep):
    """The -M microvm rows: every microvm boot of @target with each CPU model, the
    last one (PVH) staying up for two wrk figures. Order alternates between repetitions."""
    plan = target.microvm_boots()
    cpus = targets.CPUS if rep % 2 else tuple(reversed(targets.CPUS))
    if rep % 2 == 0:
        plan = plan[:-1][::-1] + plan[-1:]
    for boot in plan:
        for cpu in cpus:
            b = boot.with_cpu(cpu)
            name = f"{target.name}@{cpu}"
            g = target.guest(b).start()
            try:
                try:
                    ms = g.first_200(target.microvm_boot_timeout)
                except Failure as e:
                    res.fail(name, b.row, str(e))
                    say(f"  {target.name}: boot {b}: FAILED: {e}")
                    if boot is plan[-1]:
                        for row in MICROVM_LOAD_ROWS:
                            res.fail(name, row, f"boot failed: {e}")
                    continue
                res.add(name, b.row, ms)
                say(f"  {target.name}: boot {b}: first HTTP 200 after {ms:.0f} ms")
                if boot is plan[-1]:
                    microvm_load(cfg, res, name, target.addr, g.fatal)
            finally:
                g.stop()


def run_ring(cfg, res, target):
    """The ring-layout rows: our load boot with packed virtqueues, every load figure."""
    boot = target.ring_boot()
    name = f"{targets.RING_PACKED}@{boot.cpu}"
    g = target.guest(boot).start()
    try:
        try:
            ms = g.first_200(target.boot_timeout)
        except Failure as e:
            res.fail(name, boot.row, str(e))
            for row in LOAD_ROWS:
                res.fail(name, row, f"boot failed: {e}")
            say(f"  {name}: boot {boot}: FAILED: {e}")
            return
        layouts = figures.ring_layouts(cfg.ns, target.addr)
        if not layouts or set(layouts.values()) != {"packed"}:
            why = f"the NIC's queues are not all packed (/stats says {layouts or 'nothing'})"
            for row in [boot.row] + LOAD_ROWS:
                res.fail(name, row, why)
            say(f"  {name}: {why}")
            return
        res.add(name, boot.row, ms)
        say(f"  {name}: boot {boot}: first HTTP 200 after {ms:.0f} ms")
        load_figures(cfg, res, name, target.addr, g.pid, g.fatal)
    finally:
        g.stop()


def run_native(cfg, res, target, rep):
    srv = target.server()
    try:
        try:
            srv.start()
        except (Failure, AssertionError) as e:
            for row in LOAD_ROWS:
                res.fail(target.name, row, f"did not start: {e}")
            say(f"  native: FAILED to start: {e}")
            return
        load_figures(cfg, res, target.name, target.addr, srv.pid, srv.fatal)
    finally:
        srv.stop()


# ------------------------------------------------------------ once per run

def qboot_iso_check(cfg, res, ours):
    """qboot has no disk boot: check that it cannot start the ISO, once."""
    g = ours.guest(targets.Boot("boot.iso.qboot", "iso", "qboot")).start()
    try:
        ms = g.first_200(10)
        res.notes.append(f"qboot booted the GRUB ISO (first HTTP 200 after {ms:.0f} ms)")
    except Failure:
        out = g.log.strip()
        res.notes.append("qboot does not boot the GRUB ISO (it starts only `-kernel` images): "
                         f"no HTTP answer within 10 s, {'nothing' if not out else repr(out[:80])} on the serial port")
    finally:
        g.stop()


def min_memory(cfg, res, target):
    """Bisect the smallest -m (MiB) with which the load boot serves the reference
    requests (with QEMU's default CPU model)."""
    boot = target.boots()[-1].with_cpu(targets.CPUS[0])
    name = f"{target.name}@{boot.cpu}"
    step = 8 if cfg.quick and target.name == "linux" else 1
    hi = mib(cfg.mem)
    lo = 0
    why_lo = "-"
    tries = []

    # A guest short of memory may thrash silently instead of panicking: one
    # that does not serve within 4 times its usual boot time does not serve.
    usual = res.median(name, boot.row)
    timeout = min(target.boot_timeout, max(20.0, 4 * usual / 1000)) if usual else target.boot_timeout

    def serves(m):
        for attempt in (1, 2):
            g = target.guest(boot, mem=f"{m}M").start()
            try:
                g.first_200(timeout)
                figures.verify(cfg.ns.name, target.addr)
                return True, ""
            except Failure as e:
                why = str(e)
            finally:
                g.stop()
            if not why.startswith("tx stall") or attempt == 2:
                return False, why
            res.notes.append(f"{target.name}: memory search: a tx stall at -m {m}M, booted again")
        return False, why

    if not res.samples.get((name, "boot.kernel.seabios")) or boot.row != "boot.kernel.seabios":
        ok, why = serves(hi)
        if not ok:
            res.fail(name, "mem.min", f"does not serve with -m {hi}M: {why}")
            return
    while hi - lo > step:
        mid = (lo + hi) // 2
        ok, why = serves(mid)
        tries.append(f"{mid}{'+' if ok else '-'}")
        if ok:
            hi = mid
        else:
            lo, why_lo = mid, why
    res.add(name, "mem.min", hi)
    res.notes.append(f"{target.name}: smallest -m: {hi} MiB serves ({boot}), {lo} MiB does not "
                     f"({why_lo[:100]}); tried {' '.join(tries)} (+ serves, - does not)")
    say(f"  {target.name}: smallest -m that serves: {hi} MiB ({lo} MiB: {why_lo[:80]})")


def prepare_iso():
    """The ISO that boots ours with the bench's static address (grub.cfg's multiboot2 line)."""
    iso = targets.BENCH_ISO
    if iso.exists() and iso.stat().st_mtime >= targets.KERNEL.stat().st_mtime:
        return
    iso.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["sh", str(ROOT / "scripts" / "mkiso.sh"), str(targets.KERNEL), str(iso),
                    targets.OURS_CMDLINE], check=True, cwd=ROOT)


def shown(args):
    text = shlex.join(str(a) for a in args)
    text = re.sub(r"file:\S+\.log", "file:SERIAL.log", text)
    return text.replace(str(ROOT) + "/", "")


def clients(cfg):
    n = cfg.secs
    return [f"wrk -t1 -c1 -d{n}s --latency --timeout 5s http://ADDR:80/hello",
            f"wrk -t1 -c64 -d{n}s --latency --timeout 5s http://ADDR:80/hello",
            f"wrk -t1 -c30 -d{n}s --latency --timeout 5s http://ADDR:80/bytes/612",
            f"ab -q -r -s 5 -c 16 -t {n} -n 10000000 http://ADDR:80/hello",
            f"curl -s -o /dev/null -w '%{{http_code}} %{{size_download}} %{{speed_download}}' "
            f"http://ADDR:80/bytes/{cfg.bulk_bytes}",
            f"curl -s -T FILE -w '\\n%{{http_code}} %{{size_upload}} %{{speed_upload}}' http://ADDR:80/sink "
            f"(FILE: {cfg.bulk_bytes} bytes; the answer must be {cfg.bulk_bytes})",
            f"iperf -c ADDR -t {n} -y C",
            f"ping -c {cfg.pings} -i 0.01 -q -W 2 ADDR"]


# ------------------------------------------------------------ main

def main():
    cfg = Config(os.environ)
    cfg.check()
    t_start = time.monotonic()
    # Ctrl-C raises KeyboardInterrupt; SIGTERM and SIGHUP are made to unwind the same way.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda s, f: sys.exit(128 + s))
    cfg.workdir.mkdir(parents=True, exist_ok=True)
    for old in cfg.workdir.iterdir():  # the previous run's files (only ours)
        if old.is_file() and re.search(r"\.(log|stderr)$|^results\.json$|\.stripped", old.name):
            old.unlink()
    if "ours" in cfg.only:
        prepare_iso()
    cfg.upload = figures.upload_file(cfg.workdir / "upload.bin", cfg.bulk_bytes)

    res = report.Results()
    make = {"ours": targets.Ours, "linux": targets.Linux, "native": targets.Native}
    tlist = [make[t](cfg) for t in report.TARGETS if t in cfg.only]
    say(f"{', '.join(t.name for t in tlist)}; {cfg.reps} repetition(s){' (quick)' if cfg.quick else ''}; "
        f"accel {cfg.accel}, machine {cfg.machine}, -m {cfg.mem}; logs in {rel(cfg.workdir)}/")
    with peer.Namespace(prefix="bench") as ns:
        cfg.ns = ns
        # Clients open many short connections: widen the ports, reuse TIME_WAIT ones.
        ns.run("sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=1024 65535", "net.ipv4.tcp_tw_reuse=1")
        for rep in range(1, cfg.reps + 1):
            for t in tlist:
                if cfg.microvm != "only":
                    say(f"repetition {rep}/{cfg.reps}: {t.name}")
                    (run_vm if t.vm else run_native)(cfg, res, t, rep)
                    if t.name == "ours" and cfg.ring:
                        say(f"repetition {rep}/{cfg.reps}: ours with packed virtqueues")
                        run_ring(cfg, res, t)
                if cfg.microvm != "0" and t.vm:
                    say(f"repetition {rep}/{cfg.reps}: {t.name} on -M microvm")
                    run_microvm(cfg, res, t, rep)
        for t in tlist if cfg.microvm != "only" else []:
            if t.name == "ours":
                qboot_iso_check(cfg, res, t)
            if t.vm:
                say(f"memory search: {t.name}")
                min_memory(cfg, res, t)
    for t in tlist:
        for row, v in t.sizes().items():
            res.add(t.name, row, v)

    boot_rows = [("kernel", "boot.kernel"), ("PVH vmlinux", "boot.pvh")]
    for t in tlist:
        if not t.vm:
            continue
        for what, row in boot_rows:
            s, q = res.median(t.name, f"{row}.seabios"), res.median(t.name, f"{row}.qboot")
            if t.name == "ours" and row == "boot.pvh":
                continue
            if s is not None and q is not None:
                qs = res.cell_data(t.name, f"{row}.qboot")[0]
                ss = res.cell_data(t.name, f"{row}.seabios")[0]
                faster = "qboot" if q < s else "SeaBIOS"
                verdict = (f"{faster} is faster here" if min(qs) > max(ss) or min(ss) > max(qs) else
                           f"{faster} by the medians, but the ranges overlap")
                res.notes.append(f"{t.name} {what}: {verdict}: qboot {q:.0f} ms [{min(qs):.0f}–{max(qs):.0f}], "
                                 f"SeaBIOS {s:.0f} ms [{min(ss):.0f}–{max(ss):.0f}] (boot to first HTTP 200)")
            elif s is not None and q is None and res.cell_data(t.name, f"{row}.qboot")[1]:
                why = report.short_reason(res.cell_data(t.name, f"{row}.qboot")[1])
                res.notes.append(f"{t.name} {what}: does not serve with qboot ({why}); SeaBIOS {s:.0f} ms")
    for t in tlist:
        per = []
        for (name, label), deltas in res.retransmits.items():
            segs = [d.get("TcpRetransSegs", 0) for d in deltas]
            if name.split("@")[0] == t.name and any(segs):
                tos = sum(d.get("TcpExtTCPTimeouts", 0) for d in deltas)
                cpu = f" (-cpu {report.cpu_of(name)})" if "@" in name else ""
                per.append(f"{label}{cpu} {'/'.join(map(str, segs))} ({tos} timeouts)")
        if per:
            res.notes.append(f"{t.name}: the clients retransmitted TCP segments (per repetition): " + "; ".join(per))
    by_reason = {}
    for (t, row), reasons in sorted(res.failures.items()):
        for r in set(reasons):
            by_reason.setdefault((t, r), []).append(f"{row} ({reasons.count(r)}x)")
    for (t, r), rows in sorted(by_reason.items()):
        res.notes.append(f"{t}: failed: {r}: {', '.join(rows)}")

    elapsed = time.monotonic() - t_start
    measured = [t.name for t in tlist]
    table = report.table(res, measured)
    commands = []
    for t in tlist:
        for variant, args in sorted(t.commands.items()):
            image, firmware, cpu, *extra = variant.split("+")
            where = "".join(f", NIC {x[4:]}" if x.startswith("nic:") else f", -M {x}" for x in extra)
            commands.append((f"{t.name}, {image}, {firmware}, -cpu {cpu}{where}", shown(args)))
    meta = {"date": report.today(), "command": cfg.command_line, "reps": cfg.reps, "quick": cfg.quick,
            "elapsed": elapsed, "machine": report.machine_info(), "accel": cfg.accel,
            "machine_type": cfg.machine, "mem": cfg.mem, "commands": commands, "clients": clients(cfg),
            "cpus": list(targets.CPUS), "verdicts": report.verdicts(res)}
    (cfg.workdir / "results.json").write_text(json.dumps({"meta": meta, **res.to_json()}, indent=1))
    drawn = charts.write(res, measured, cfg.charts_dir)
    shown_charts = [(title, os.path.relpath(path, cfg.out.parent)) for title, path in drawn]
    ring = report.ring_table(res, targets.RING_PACKED, targets.RING_CPU) if cfg.ring and "ours" in measured else None
    report.write_doc(cfg.out, report.render(res, meta, measured, table, targets.CPUS, shown_charts, ring))
    print()
    print(f"Accel {cfg.accel}, {cfg.reps} repetition(s), {elapsed:.0f} s; medians [min–max]:")
    print(table)
    print()
    print(report.cpu_table(res, measured, targets.CPUS))
    if ring:
        print()
        print(ring[0])
        for v in ring[1]:
            print(f"- {v}")
    for v in meta["verdicts"]:
        print(f"- {v}")
    if res.notes:
        print()
        for n in res.notes:
            print(f"- {n}")
    print()
    say(f"written to {rel(cfg.out)}" + (f" and {len(drawn)} charts in {rel(cfg.charts_dir)}/" if drawn else ""))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the guests and the namespace are gone already (finally blocks)
        print("\nbench: interrupted; QEMU processes killed, namespace deleted", file=sys.stderr)
        sys.exit(130)
