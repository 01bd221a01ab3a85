"""The benchmarks' peers (issue 8, bench/README.md): the Linux guest and the
native echo server, what they are checked against, and how to start them.

    build()                       make bench-peer: build/bench/echo_server and
                                  build/bench/linux/{vmlinuz,initrd.img}
    Namespace()                   a network namespace with tap0 (10.77.0.1/24)
    LinuxGuest(ns, workdir)       .start(); .wait_ready() -> ms; .stop()
    linux_qemu_args(...)          the guest's whole QEMU command line
    native_argv(port, addr)       the echo server run natively (inside the namespace)
    CASES, fetch_all(), compare() the byte-identity check
    python3 bench/peer.py         (bench/check-peer.sh) all of it, end to end

Everything here sends traffic only inside a namespace it was given (sockets
are made in it with setns(2) from a helper thread), and kills only the
processes it started, by PID. Every wait has a deadline: the Linux guest
under QEMU 7.2/TCG stalls its virtio-net transmit queue in about 1 boot of 10
(shared/guide/testing.md); that ends as a Stall with the serial log, never
as a hang.
"""
import argparse
import ctypes
import hashlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ECHO_SERVER = ROOT / "build" / "bench" / "echo_server"
LINUX_DIR = ROOT / "build" / "bench" / "linux"
VMLINUZ = LINUX_DIR / "vmlinuz"  # Debian's bzImage, decompresses itself
VMLINUX = LINUX_DIR / "vmlinux"  # the same kernel decompressed, started at its PVH entry
INITRD = LINUX_DIR / "initrd.img"
KERNEL = ROOT / "build" / "kernel.elf"

HOST4 = "10.77.0.1"  # the namespace's end of tap0
GUEST4 = "10.77.0.2"  # the guest (ours or Linux)

# Serial console markers of the Linux guest's /init (bench/linux-guest.sh).
READY = r"BENCH-READY (\S+)"
ERROR = r"BENCH-ERROR (.*)"
# virtio_net's tx watchdog (KERN_ERR, shown at loglevel=4), and the core's.
TX_STALL = r"TX timeout on queue|NETDEV WATCHDOG"
# Our kernel's line once the network is up (tests/integration/conftest.py).
OURS_READY = r"net: en0 MAC \S+ IPv4 \S+"


class Stall(AssertionError):
    """A guest stopped answering (or never started to) within its deadline."""


def build():
    """Build the echo server and the Linux guest (incremental; needs `sh scripts/setup.sh bench`)."""
    subprocess.run(["make", "-C", str(ROOT), "--no-print-directory", "bench-peer"], check=True)


# ------------------------------------------------------------ namespace

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


class Namespace:
    """A network namespace with tap0 = 10.77.0.1/24 (the guide's recipe, and
    ARP retried for up to a second).

    Use as a context manager, or create()/destroy(); destroy() kills the
    processes started with popen() (by PID) and deletes the namespace."""

    def __init__(self, prefix="kb"):
        self.name = f"{prefix}{os.getpid()}x{int(time.monotonic() * 1000) % 100000}"
        self.procs = []

    def run(self, *cmd, check=True, timeout=60, **kw):
        return subprocess.run(["ip", "netns", "exec", self.name, *cmd], check=check, timeout=timeout,
                              capture_output=True, text=True, **kw)

    def popen(self, *cmd, **kw):
        p = subprocess.Popen(["ip", "netns", "exec", self.name, *cmd], **kw)
        self.procs.append(p)
        return p

    def create(self):
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        try:
            self.run("ip", "link", "set", "lo", "up")
            self.run("ip", "tuntap", "add", "dev", "tap0", "mode", "tap")
            self.run("ip", "addr", "add", f"{HOST4}/24", "dev", "tap0")
            self.run("ip", "link", "set", "tap0", "up")
            # ARP: ask again every 10 ms while a guest boots, but for up to
            # a second before a connect fails with EHOSTUNREACH (the default
            # 3 tries): a Linux guest under TCG on a loaded host may answer
            # its first ARP request later than 30 ms after BENCH-READY.
            self.run("sysctl", "-q", "-w", "net.ipv4.neigh.tap0.retrans_time_ms=10",
                     "net.ipv4.neigh.tap0.mcast_solicit=100", "net.ipv4.neigh.tap0.ucast_solicit=100")
        except BaseException:
            self.destroy()
            raise
        return self

    def destroy(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
        subprocess.run(["ip", "netns", "del", self.name], check=False)

    def __enter__(self):
        return self.create()

    def __exit__(self, *exc):
        self.destroy()


def in_netns(ns_name, fn):
    """Run @fn in a thread that has joined the namespace; return its result."""
    out = {}

    def worker():
        fd = os.open(f"/var/run/netns/{ns_name}", os.O_RDONLY)
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
        finally:
            os.close(fd)
        try:
            out["value"] = fn()
        except BaseException as e:  # handed to the caller
            out["error"] = e

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


def connect(ns_name, addr, port, timeout):
    """A TCP connection made inside the namespace (it stays there)."""
    s = in_netns(ns_name, lambda: socket.create_connection((addr, port), timeout=timeout))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(timeout)
    return s


# ------------------------------------------------------------ the Linux guest

def linux_cmdline(ip=f"{GUEST4}/24", gw=None, extra=""):
    """The guest's kernel command line. loglevel=4: quiet, but errors (the tx stall) show."""
    words = ["console=ttyS0", "loglevel=4", "panic=-1", f"benchip={ip}"]
    if gw:
        words.append(f"benchgw={gw}")
    return " ".join(words + ([extra] if extra else []))


def linux_qemu_args(serial, *, kernel="vmlinuz", accel=None, machine="pc", mem="256M", cpu="max", smp=1,
                    netdev="tap,id=n0,ifname=tap0,script=no,downscript=no", nic_options="",
                    cmdline=None, extra=(), nic_model="virtio-net-pci"):
    """QEMU's command line for the Linux guest. @serial: a path (the console log).
    @kernel: "vmlinuz" (Debian's image as shipped) or "vmlinux" (PVH, no
    decompression: boots seconds sooner under TCG), or a path.

    Keep machine, cpu, accel, -m and the NIC options the same as our kernel's
    run being compared: only -kernel/-initrd/-append differ."""
    accel = accel or os.environ.get("ACCEL", "tcg")
    kernel = {"vmlinuz": VMLINUZ, "vmlinux": VMLINUX}.get(kernel, kernel)
    # @nic_model: virtio-net-device on microvm (virtio-mmio, no PCI).
    nic = f"{nic_model},netdev=n0" + (f",{nic_options}" if nic_options else "")
    return ["qemu-system-x86_64", "-accel", accel, "-M", machine, "-m", mem, "-smp", str(smp),
            "-cpu", cpu, "-display", "none", "-no-reboot", "-serial", f"file:{serial}",
            "-kernel", str(kernel), "-initrd", str(INITRD), "-append", cmdline or linux_cmdline(),
            "-netdev", netdev, "-device", nic, *extra]


class LinuxGuest:
    """The Linux guest in QEMU inside a namespace, its console in a file."""

    def __init__(self, ns, workdir, name="linux", **qemu_kw):
        self.ns = ns
        self.serial = Path(workdir) / f"{name}-serial.log"
        self.stderr_path = Path(workdir) / f"{name}-stderr.log"
        self.qemu_kw = qemu_kw
        self.proc = None
        self.started_at = None

    def start(self):
        for p in (VMLINUZ, VMLINUX, INITRD):
            if not p.exists():
                raise FileNotFoundError(f"{p} missing: make bench-peer")
        self.serial.write_bytes(b"")
        self.args = linux_qemu_args(self.serial, **self.qemu_kw)
        self.started_at = time.monotonic()
        self.proc = self.ns.popen(*self.args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=open(self.stderr_path, "wb"))
        return self

    @property
    def log(self):
        try:
            return self.serial.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def describe(self):
        err = self.stderr_path.read_text(errors="replace")[-2000:] if self.stderr_path.exists() else ""
        stall = re.search(TX_STALL, self.log)
        note = (f"\nThe guest's virtio-net tx watchdog fired ({stall.group(0)}): the known QEMU 7.2/TCG "
                "tx stall of a Linux guest (shared/guide/testing.md); boot it again.") if stall else ""
        return (f"command: {' '.join(self.args)}{note}\n--- serial log (tail) ---\n{self.log[-4000:]}"
                f"\n--- qemu stderr ---\n{err}")

    def wait_ready(self, timeout=120):
        """Wait for BENCH-READY; return ms since QEMU started. Raises Stall with the log."""
        deadline = self.started_at + timeout
        while True:
            log = self.log
            m = re.search(ERROR, log)
            if m:
                raise Stall(f"the Linux guest's /init failed: {m.group(1)}\n{self.describe()}")
            if re.search(READY, log):
                return (time.monotonic() - self.started_at) * 1000
            if self.proc.poll() is not None:
                raise Stall(f"QEMU exited ({self.proc.returncode}) before BENCH-READY\n{self.describe()}")
            if time.monotonic() > deadline:
                raise Stall(f"no BENCH-READY within {timeout}s\n{self.describe()}")
            time.sleep(0.02)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


def first_200_ms(ns_name, addr, started_at, port=80, timeout=120):
    """Poll GET /bytes/0 until a 200: ms from @started_at (time.monotonic()). Raises Stall."""
    deadline = started_at + timeout
    req = b"GET /bytes/0 HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n"
    while True:
        try:
            s = connect(ns_name, addr, port, timeout=1)
            try:
                s.sendall(req)
                if s.recv(12).startswith(b"HTTP/1.1 200"):
                    return (time.monotonic() - started_at) * 1000
            finally:
                s.close()
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise Stall(f"no HTTP 200 from {addr}:{port} within {timeout}s")
        time.sleep(0.01)


# ------------------------------------------------------------ the native server

def native_argv(port=80, addr=None, options=()):
    """The echo server as a host process; start it inside the namespace
    (ns.popen(*native_argv())); it prints "echo_server: listening ..." when ready."""
    argv = [str(ECHO_SERVER), "--port", str(port)]
    if addr:
        argv += ["--addr", addr]
    return argv + list(options)


def start_native(ns, port=80, addr=None, options=(), timeout=10):
    """Start the native server in @ns and wait for its ready line; return the Popen."""
    if not ECHO_SERVER.exists():
        raise FileNotFoundError(f"{ECHO_SERVER} missing: make bench-echo")
    p = ns.popen(*native_argv(port, addr, options), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                 stderr=subprocess.STDOUT)
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("line", p.stdout.readline()), daemon=True)
    t.start()
    t.join(timeout)
    line = box.get("line", b"")
    if not line.startswith(b"echo_server: listening"):
        raise AssertionError(f"echo_server did not start: {line!r} (exit {p.poll()})")
    return p


# ------------------------------------------------------------ the byte-identity check

def _req(method, target, headers=(), body=b"", version="HTTP/1.1"):
    return (f"{method} {target} {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
            + "\r\n").encode("latin-1") + body


H = [("Host", "peer")]
CHUNKED = b"5\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"

# name: (segments sent in order, the status codes expected in order). After
# the last segment the client half-closes and reads to EOF, except "keep-alive"
# cases, which read the expected responses on an open connection.
CASES = {
    "get": ([_req("GET", "/hello?x=1", H + [("X-A", "b")])], [200]),
    "head": ([_req("HEAD", "/hello", H)], [200]),
    "post": ([_req("POST", "/p", H + [("Content-Length", "5")], b"abcde")], [200]),
    "post-json": ([_req("POST", "/j?q=1", H + [("Accept", "application/json"), ("X-Q", 'say "hi"'),
                                               ("Content-Length", "260")], bytes(range(256)) + b'"\\/x')],
                  [200]),
    "head-json": ([_req("HEAD", "/j", H + [("Accept", "text/html, Application/JSON")])], [200]),
    "pipelined": ([_req("GET", "/1", H) + _req("POST", "/2", H + [("Content-Length", "3")], b"abc")
                   + _req("HEAD", "/3", H) + _req("GET", "/bytes/10", H)], [200, 200, 200, 200]),
    "chunked": ([_req("POST", "/c", H + [("Transfer-Encoding", "chunked")], CHUNKED)], [200]),
    "chunked-split": ([_req("PUT", "/c", H + [("Transfer-Encoding", "chunked")])[:-1], b"\n5\r\nhel",
                       b"lo\r\n0\r\n\r\n"], [200]),
    "expect-continue": ([_req("POST", "/e", H + [("Expect", "100-continue"), ("Content-Length", "2")]),
                         b"ok"], [100, 200]),
    "http10": ([_req("GET", "/old", H, version="HTTP/1.0")], [200]),
    "http10-keepalive": ([_req("GET", "/k", H + [("Connection", "keep-alive")], version="HTTP/1.0") * 2],
                         [200, 200]),
    "close": ([_req("GET", "/bye", H + [("Connection", "close")]) + _req("GET", "/never", H)], [200]),
    "page": ([_req("GET", "/", H), _req("HEAD", "/?x", H)], [200, 200]),
    "bytes-1000": ([_req("GET", "/bytes/1000", H), _req("HEAD", "/bytes/1000", H)], [200, 200]),
    "bytes-0": ([_req("GET", "/bytes/0?a", H)], [200]),
    "bytes-300000": ([_req("GET", "/bytes/300000", H)], [200]),
    "bytes-bad": ([_req("GET", "/bytes/12x", H)], [400]),
    "bytes-huge": ([_req("HEAD", "/bytes/18446744073709551615", H)], [200]),
    "bytes-overflow": ([_req("GET", "/bytes/18446744073709551616", H)], [400]),
    # /sink: the body counted and dropped, past http_max_body (1 MiB), then keep-alive.
    "sink": ([_req("PUT", "/sink", H + [("Content-Length", str(3 << 20))]), b"s" * (3 << 20),
              _req("POST", "/sink?x", H + [("Transfer-Encoding", "chunked")], CHUNKED)], [200, 200]),
    "400-garbage": ([b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40], [400]),
    "400-header": ([b"GET / HTTP/1.1\r\nno colon\r\n\r\n"], [400]),
    "400-after-good": ([_req("GET", "/ok", H) + b"GET / HTTP/1.1\r\nContent-Length: 1\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\n"], [200, 400]),
    "413": ([_req("PUT", "/", H + [("Content-Length", str(2 << 20))])], [413]),
    "413-chunked": ([_req("PUT", "/", H + [("Transfer-Encoding", "chunked")]),
                     b"100000\r\n" + b"x" * 0x100000 + b"\r\n1\r\nx\r\n0\r\n\r\n"], [413]),
    "431": ([_req("GET", "/", H + [("X-Pad", "p" * 9000)])], [431]),
    "431-fields": ([_req("GET", "/", [("A", "b")] * 200)], [431]),
    "501": ([_req("BREW", "/pot", H)], [501]),
    "501-connect": ([_req("CONNECT", "peer:443", H)], [501]),
    "505": ([_req("GET", "/", H, version="HTTP/2.0")], [505]),
    "keep-alive": ([_req("GET", "/a", H), _req("POST", "/b", H + [("Content-Length", "1")], b"z"),
                    _req("GET", "/bytes/70000", H)], [200, 200, 200]),
}


def _read_response(s, buf, head_only):
    """One response from @s (bytes already read in @buf[0]); return its bytes."""
    while b"\r\n\r\n" not in buf[0]:
        c = s.recv(65536)
        if not c:
            raise AssertionError(f"EOF inside a response head: {buf[0][:300]!r}")
        buf[0] += c
    head, rest = buf[0].split(b"\r\n\r\n", 1)
    m = re.search(rb"\r\nContent-Length: (\d+)", head)
    n = int(m.group(1)) if m and not head_only else 0
    while len(rest) < n:
        c = s.recv(65536)
        if not c:
            raise AssertionError("EOF inside a response body")
        rest += c
    buf[0] = rest[n:]
    return head + b"\r\n\r\n" + rest[:n]


def fetch(ns_name, addr, port, name, timeout=15):
    """The bytes a server answers to CASES[name]. Raises Stall on a timeout."""
    segments, statuses = CASES[name]
    try:
        s = connect(ns_name, addr, port, timeout)
    except OSError as e:
        raise Stall(f"{addr}:{port}: cannot connect for case {name}: {e}") from e
    out = b""
    try:
        if name == "keep-alive":
            # Each request on an open connection, its answer read before the next.
            buf = [b""]
            for seg, status in zip(segments, statuses):
                s.sendall(seg)
                out += _read_response(s, buf, seg.startswith(b"HEAD "))
            return out
        for i, seg in enumerate(segments):
            s.sendall(seg)
            if name == "expect-continue" and i == 0:
                # The body only after the 100 Continue, as a client waiting for it would.
                while b"\r\n\r\n" not in out:
                    c = s.recv(4096)
                    if not c:
                        break
                    out += c
        s.shutdown(socket.SHUT_WR)
        while True:
            c = s.recv(1 << 20)
            if not c:
                return out
            out += c
    except socket.timeout as e:
        raise Stall(f"{addr}:{port}: case {name}: no answer within {timeout}s "
                    f"({len(out)} bytes so far: {out[:200]!r})") from e
    except ConnectionResetError as e:
        raise AssertionError(f"{addr}:{port}: case {name}: reset after {len(out)} bytes") from e
    finally:
        s.close()


def statuses(data):
    """The status codes of the responses in @data, in order. A response to
    HEAD has a Content-Length but no body: the next response starts where
    "HTTP/1.1 " does (no body of ours starts with that)."""
    out, p = [], 0
    while p < len(data):
        m = re.compile(rb"HTTP/1\.1 (\d{3}) [^\r]*\r\n").match(data, p)
        if not m:
            return out + [f"garbage at byte {p}: {data[p:p + 40]!r}"]
        end = data.find(b"\r\n\r\n", p)
        if end < 0:
            return out + [f"incomplete head at byte {p}"]
        end += 4
        out.append(int(m.group(1)))
        n = re.search(rb"\r\nContent-Length: (\d+)\r\n", data[p:end])
        n = int(n.group(1)) if n else 0
        if end + n == len(data) or data.startswith(b"HTTP/1.1 ", end + n):
            p = end + n
        elif end == len(data) or data.startswith(b"HTTP/1.1 ", end):
            p = end  # the answer to HEAD
        else:
            return out + [f"response at byte {p}: its body does not end where another response starts"]
    return out


def fetch_all(ns_name, addr, port, names=None, timeout=15):
    return {n: fetch(ns_name, addr, port, n, timeout) for n in (names or CASES)}


def compare(ours, theirs, label_a="ours", label_b="peer"):
    """Differences between two fetch_all() results, as readable lines (empty: identical)."""
    bad = []
    for name in ours:
        a, b = ours[name], theirs.get(name)
        if a == b:
            continue
        if b is None:
            bad.append(f"{name}: missing from {label_b}")
            continue
        i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
        bad.append(f"{name}: {label_a} {len(a)} bytes, {label_b} {len(b)} bytes, first difference at "
                   f"byte {i}: {a[max(0, i - 40):i + 40]!r} vs {b[max(0, i - 40):i + 40]!r}")
    return bad


def digest(results):
    """One hash over all cases, for a log line."""
    h = hashlib.sha256()
    for name in sorted(results):
        h.update(name.encode() + b"\0" + results[name] + b"\0")
    return h.hexdigest()[:16]


# ------------------------------------------------------------ check-peer

def _start_ours(ns, workdir, machine, mem):
    """Our kernel on the namespace's tap0 (the integration tests' setup). Return (Popen, start time)."""
    serial = Path(workdir) / "ours-serial.log"
    args = ["qemu-system-x86_64", "-accel", os.environ.get("ACCEL", "tcg"), "-M", machine, "-m", mem,
            "-cpu", "max", "-display", "none", "-no-reboot", "-serial", f"file:{serial}",
            "-kernel", str(KERNEL), "-append", f"ip={GUEST4}/24 gw={HOST4}",
            "-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no", "-device", "virtio-net-pci,netdev=n0"]
    t = time.monotonic()
    p = ns.popen(*args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return p, t


def _median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


def main(argv=None):
    ap = argparse.ArgumentParser(description="Boot the Linux guest in a namespace, check that its HTTP "
                                 "answers are byte for byte the native echo server's (and our kernel's), "
                                 "report its boot time.")
    ap.add_argument("--boots", type=int, default=1, help="boot each Linux kernel image this many times")
    ap.add_argument("--kernel", choices=["vmlinuz", "vmlinux", "both"], default="both")
    ap.add_argument("--no-build", action="store_true", help="do not run make bench-peer first")
    ap.add_argument("--no-ours", action="store_true", help="do not compare with build/kernel.elf")
    ap.add_argument("--machine", default="pc")
    ap.add_argument("--mem", default="256M")
    ap.add_argument("--timeout", type=float, default=120, help="seconds to BENCH-READY, and to the first 200")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("check-peer: needs root (network namespaces)")
    if not args.no_build:
        build()
    kernels = ["vmlinuz", "vmlinux"] if args.kernel == "both" else [args.kernel]

    failures = 0
    times = {k: [] for k in kernels}
    with tempfile.TemporaryDirectory(prefix="check-peer-") as work, Namespace() as ns:
        start_native(ns, port=80, addr=HOST4)
        native = fetch_all(ns.name, HOST4, 80)
        print(f"check-peer: native echo_server: {len(native)} cases, digest {digest(native)}")
        for name, (_, want) in CASES.items():
            got = statuses(native[name])
            if got != want:
                print(f"check-peer: FAIL native {name}: statuses {got}, expected {want}")
                failures += 1
        if not args.no_ours and KERNEL.exists():
            p, t0 = _start_ours(ns, work, args.machine, args.mem)
            try:
                ms = first_200_ms(ns.name, GUEST4, t0, timeout=args.timeout)
                ours = fetch_all(ns.name, GUEST4, 80)
            finally:
                p.kill()
                p.wait()
            bad = compare(ours, native, "kernel", "native")
            print(f"check-peer: our kernel: first HTTP 200 at {ms:.0f} ms after QEMU started, "
                  f"digest {digest(ours)}" + ("" if not bad else "  MISMATCH"))
            for line in bad:
                print(f"check-peer: FAIL {line}")
            failures += len(bad)

        for i in range(args.boots):
            for k in kernels:
                g = LinuxGuest(ns, work, name=f"linux-{k}-{i}", kernel=k, machine=args.machine, mem=args.mem)
                g.start()
                try:
                    ready = g.wait_ready(args.timeout)
                    first = first_200_ms(ns.name, GUEST4, g.started_at, timeout=args.timeout)
                    try:
                        linux = fetch_all(ns.name, GUEST4, 80)
                    except Stall as e:
                        raise Stall(f"{e}\n{g.describe()}") from e
                    bad = compare(linux, native, "linux", "native")
                    up = re.search(r"uptime (\S+) s", g.log)
                    print(f"check-peer: Linux {k} boot {i + 1}: BENCH-READY at {ready:.0f} ms "
                          f"(guest uptime {up.group(1) if up else '?'} s), first HTTP 200 at {first:.0f} ms "
                          f"after QEMU started, digest {digest(linux)}" + ("" if not bad else "  MISMATCH"))
                    times[k].append(first)
                    for line in bad:
                        print(f"check-peer: FAIL {line}")
                    failures += len(bad)
                except Stall as e:
                    print(f"check-peer: FAIL Linux {k} boot {i + 1}: {e}")
                    failures += 1
                finally:
                    g.stop()
    for k, xs in times.items():
        if xs:
            print(f"check-peer: Linux {k}: first HTTP 200 median {_median(xs):.0f} ms, "
                  f"min {min(xs):.0f}, max {max(xs):.0f} over {len(xs)} boot(s)")
    print(f"check-peer: vmlinuz {VMLINUZ.stat().st_size} bytes, vmlinux {VMLINUX.stat().st_size} bytes, "
          f"initrd.img {INITRD.stat().st_size} bytes")
    print("check-peer: " + ("OK" if failures == 0 else f"{failures} failure(s)"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
