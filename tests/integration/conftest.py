"""QEMU harness for the integration tests.

Every test boots the real kernel image under QEMU (TCG by default: see
shared guide, /dev/kvm here is a slow PVM backend), reads the serial log
(written to a file), and asserts on what the kernel printed and on QEMU's exit
status. The kernel ends a test run through isa-debug-exit: status
(code << 1) | 1, so EXIT_OK (0x10) is 33 and EXIT_FAILURE (0x11) is 35.

QEMU processes are killed by PID in the fixture's finalizer, whatever happens.
"""
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build"
KERNEL = BUILD / "kernel.elf"
KERNEL_PVH = BUILD / "kernel-pvh.elf"
ISO = BUILD / "unikernel.iso"
OVMF = Path("/usr/share/ovmf/OVMF.fd")

STATUS_OK = (0x10 << 1) | 1
STATUS_FAIL = (0x11 << 1) | 1

ACCEL = os.environ.get("ACCEL", "tcg")


class Qemu:
    """One QEMU process running the kernel, with its serial log in a file."""

    def __init__(self, workdir, name="qemu"):
        self.workdir = Path(workdir)
        self.name = name
        self.serial_path = self.workdir / f"{name}-serial.log"
        self.qmp_path = self.workdir / f"{name}-qmp.sock"
        self.proc = None
        self.started_at = None
        self._qmp = None
        self._qmp_buf = b""

    def start(self, *, kernel=None, iso=None, cmdline="", machine="q35", firmware="bios",
              smp=1, mem="256M", devices=(), extra=(), netns=None, wrap=(), debug_exit=True):
        # debug_exit=False: no isa-debug-exit, so the kernel's power-off path is what ends QEMU.
        args = ["qemu-system-x86_64", "-accel", ACCEL, "-M", machine, "-m", mem,
                "-smp", str(smp), "-cpu", "max", "-display", "none", "-no-reboot",
                "-serial", f"file:{self.serial_path}",
                "-qmp", f"unix:{self.qmp_path},server=on,wait=off"]
        if debug_exit:
            args += ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
        if firmware == "uefi":
            args += ["-bios", str(OVMF)]
        elif firmware == "qboot":
            args += ["-bios", "/usr/share/qemu/qboot.rom"]
        if kernel is not None:
            args += ["-kernel", str(kernel), "-append", cmdline]
        elif iso is not None:
            args += ["-cdrom", str(iso)]
        else:
            args += ["-net", "none"]
        if not any(a.startswith("-netdev") or a == "-nic" or a == "-net" for a in list(devices) + list(extra)):
            args += ["-nic", "none"]
        args += list(devices) + list(extra)
        if netns:
            args = ["ip", "netns", "exec", netns] + args
        self.args = list(wrap) + args
        self.stderr_path = self.workdir / f"{self.name}-stderr.log"
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(self.stderr_path, "wb"))
        return self

    # ------------------------------------------------------------ serial log
    @property
    def log(self):
        try:
            return self.serial_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for(self, pattern, timeout=60):
        """Wait until the serial log matches @pattern (a regex); return the match."""
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.log)
            if m:
                return m
            if self.proc.poll() is not None:
                m = rx.search(self.log)
                if m:
                    return m
                raise AssertionError(f"QEMU exited ({self.proc.returncode}) before /{pattern}/ appeared.\n"
                                     f"{self.describe()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"/{pattern}/ did not appear within {timeout}s.\n{self.describe()}")
            time.sleep(0.05)

    def wait_exit(self, timeout=60):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"QEMU still running after {timeout}s.\n{self.describe()}")

    def describe(self):
        err = ""
        if getattr(self, "stderr_path", None) and self.stderr_path.exists():
            err = self.stderr_path.read_text(errors="replace")[-2000:]
        return (f"command: {' '.join(self.args)}\n--- serial log (tail) ---\n{self.log[-6000:]}"
                f"\n--- qemu stderr ---\n{err}")

    # ------------------------------------------------------------ QMP
    def qmp(self, command, **arguments):
        if self._qmp is None:
            deadline = time.monotonic() + 10
            while True:
                try:
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.connect(str(self.qmp_path))
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            s.settimeout(20)
            self._qmp = s
            self._qmp_read()  # greeting
            self._qmp_send({"execute": "qmp_capabilities"})
        return self._qmp_send({"execute": command, "arguments": arguments})

    def hmp(self, command_line):
        """A human monitor command (e.g. 'info pci'), its text output."""
        return self.qmp("human-monitor-command", **{"command-line": command_line})

    def _qmp_send(self, msg):
        self._qmp.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = self._qmp_read()
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                raise RuntimeError(f"QMP {msg}: {reply['error']}")

    def _qmp_read(self):
        while b"\n" not in self._qmp_buf:
            chunk = self._qmp.recv(65536)
            if not chunk:
                raise RuntimeError("QMP connection closed")
            self._qmp_buf += chunk
        line, self._qmp_buf = self._qmp_buf.split(b"\n", 1)
        return json.loads(line)

    def pid(self):
        return self.proc.pid

    def stop(self):
        if self._qmp is not None:
            try:
                self._qmp.close()
            except OSError:
                pass
            self._qmp = None
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


@pytest.fixture
def qemu(tmp_path, request):
    """Factory: qemu(kernel=..., cmdline=...) starts a QEMU; all are killed at teardown."""
    started = []

    def start(**kwargs):
        q = Qemu(tmp_path, name=f"qemu{len(started)}")
        started.append(q)
        return q.start(**kwargs)

    yield start
    for q in started:
        q.stop()
        # Keep the serial log of a failed test where CI can show it.
        if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
            art = ROOT / "tests" / "artifacts"
            art.mkdir(parents=True, exist_ok=True)
            shutil.copy(q.serial_path, art / f"{request.node.name}-{q.name}.log")


# Under `make test` (and so CI) a skipped test is a test that did not run: STRICT_SKIPS=1 turns
# every skip into a failure unless ALLOW_SKIP (comma-separated words) names a word of its reason,
# e.g. ALLOW_SKIP=root,chromium. Run by hand, pytest only reports skips (-rs in the Makefile).
STRICT_SKIPS = os.environ.get("STRICT_SKIPS") == "1"
ALLOW_SKIP = [w.strip().lower() for w in os.environ.get("ALLOW_SKIP", "").split(",") if w.strip()]


def skip_allowed(reason):
    words = set(re.findall(r"[a-z0-9_-]+", reason.lower()))
    return any(w in words for w in ALLOW_SKIP)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if STRICT_SKIPS and rep.skipped and not hasattr(rep, "wasxfail"):
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        if not skip_allowed(reason):
            rep.outcome = "failed"
            rep.longrepr = (f"skipped under make test (STRICT_SKIPS=1): {reason}\n"
                            f"install what it needs (sh scripts/setup.sh test), run as root, or opt out "
                            f"by naming a word of the reason: ALLOW_SKIP=word")
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(scope="session")
def kernel():
    assert KERNEL.exists(), f"{KERNEL} missing: run make first"
    return KERNEL


def make_iso(tmp_path, cmdline):
    """An ISO of the current kernel with @cmdline added to GRUB's multiboot2 line."""
    iso = Path(tmp_path) / "test.iso"
    subprocess.run(["sh", str(ROOT / "scripts" / "mkiso.sh"), str(KERNEL), str(iso), cmdline],
                   check=True, cwd=ROOT)
    return iso


def kernel_symbol(name):
    """The address of @name in the kernel (from build/kernel.sym)."""
    for line in (BUILD / "kernel.sym").read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16)
    raise KeyError(name)


# ------------------------------------------------------------------ networks

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Netns:
    """A network namespace with a TAP device for QEMU: the guest's only peer.

    Addresses: the namespace side is 10.77.0.1/24 and fd77::1/64 on tap0; the
    guest is given 10.77.0.2/24. All traffic stays inside the namespace.
    """

    HOST4 = "10.77.0.1"
    GUEST4 = "10.77.0.2"
    HOST6 = "fd77::1"

    def __init__(self):
        self.name = f"kt{os.getpid()}x{int(time.monotonic() * 1000) % 100000}"
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
        self.run("ip", "link", "set", "lo", "up")
        self.run("ip", "tuntap", "add", "dev", "tap0", "mode", "tap")
        self.run("ip", "addr", "add", f"{self.HOST4}/24", "dev", "tap0")
        self.run("ip", "-6", "addr", "add", f"{self.HOST6}/64", "dev", "tap0", "nodad")
        self.run("ip", "link", "set", "tap0", "up")
        self.run("sysctl", "-q", "-w", "net.ipv4.neigh.tap0.retrans_time_ms=10")
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


@pytest.fixture
def netns():
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    ns = Netns().create()
    yield ns
    ns.destroy()


def tap_nic(model="virtio-net-pci", options=""):
    """QEMU arguments for a NIC on the namespace's tap0."""
    dev = f"{model},netdev=n0" + (f",{options}" if options else "")
    return ["-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no", "-device", dev]


def user_nic(hostfwd, model="virtio-net-pci", options=""):
    """QEMU user networking with @hostfwd = [(host_port, guest_port), ...] on 127.0.0.1."""
    fwd = "".join(f",hostfwd=tcp:127.0.0.1:{h}-:{g}" for h, g in hostfwd)
    dev = f"{model},netdev=n0" + (f",{options}" if options else "")
    return ["-netdev", f"user,id=n0{fwd}", "-device", dev]


NET_READY = r"net: en0 MAC (\S+) IPv4 (\S+) netmask \S+ gw \S+ \((\w[\w ]*)\) IPv6 (\S+) link (up|down)"


# What GET /bytes/N answers (apps/http_proto.c): this line over and over, cut at N bytes.
PATTERN = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+\n"


def pattern_md5(n):
    """The md5 of the first @n bytes of /bytes/N, without holding them."""
    h = hashlib.md5()
    block = PATTERN * 1024
    while n >= len(block):
        h.update(block)
        n -= len(block)
    h.update((PATTERN * (n // 64 + 1))[:n])
    return h.hexdigest()
