"""The measurements of `make bench` (issue 8, docs/benchmarks.md): each one
runs a real client inside the bench's network namespace against one server
address and returns numbers, or raises Failure with a reason the report can
print. Nothing here waits without a deadline: a guest that stops answering
(the Linux guest's TCG tx stall) ends as a Failure, never as a hang.

    first_200(...)         ms from QEMU's start to the first HTTP 200 (a fast poller)
    verify(ns, addr)       the reference requests answered with the expected bytes
    alive(ns, addr)        one quick GET, for telling a failed figure from a dead guest
    wrk / ab / bulk / upload / iperf / ping   the load figures
    RssSampler(pid)        the peak VmRSS of a process while a figure runs
"""
import errno
import re
import select
import socket
import json
import subprocess
import threading
import time

import peer

PORT = 80

# /bytes/N's body (docs/apps.md): byte i is PATTERN[i % 64].
PATTERN = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+\n"

# The reference request: our server and echo_server answer it with its own
# text as the body (docs/apps.md, "Echo, text").
REF_REQUEST = (b"GET /bench/reference?x=1 HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench/run.py\r\n"
               b"Accept: */*\r\n\r\n")


class Failure(Exception):
    """A measurement that gave no valid number; str() is the reason."""


def _response(ctype, body):
    return (f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
            "Connection: keep-alive\r\n\r\n").encode() + body


def pattern(n):
    return (PATTERN * (n // len(PATTERN) + 1))[:n]


REF_ANSWERS = [
    (REF_REQUEST, _response("text/plain", REF_REQUEST)),
    (b"GET /bytes/612 HTTP/1.1\r\nHost: bench\r\n\r\n", _response("application/octet-stream", pattern(612))),
]


# ------------------------------------------------------------ boot time

def first_200(ns_name, addr, started_at, proc, fatal, timeout):
    """Poll GET /bytes/0 on @addr until an HTTP 200; return ms since @started_at
    (time.monotonic() taken just before QEMU was started).

    Each attempt is a fresh non-blocking connect given 20 ms: a SYN the guest
    is not ready for is never left to TCP's 1 s retransmission, so the figure
    is accurate to a few tens of ms. @fatal(): a reason string when the guest
    is known dead (QEMU exited, panic, tx stall), checked between attempts."""
    req = b"GET /bytes/0 HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
    deadline = started_at + timeout

    def poll():
        checked = 0.0
        while True:
            now = time.monotonic()
            if now > deadline:
                raise Failure(f"no HTTP 200 within {timeout:.0f} s")
            if now - checked > 0.1:
                checked = now
                if proc is not None and proc.poll() is not None:
                    raise Failure(fatal() or f"QEMU exited ({proc.returncode}) before answering")
                why = fatal()
                if why:
                    raise Failure(why)
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.setblocking(False)
                err = s.connect_ex((addr, PORT))
                if err == errno.EINPROGRESS:
                    _, w, _ = select.select([], [s], [], 0.02)
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) if w else errno.ETIMEDOUT
                if err == 0:
                    s.setblocking(True)
                    s.settimeout(max(0.1, min(2.0, deadline - time.monotonic())))
                    try:
                        s.sendall(req)
                        head = s.recv(12)
                    except OSError:
                        head = b""
                    if head.startswith(b"HTTP/1.1 200"):
                        return (time.monotonic() - started_at) * 1000
                elif err == errno.ETIMEDOUT:
                    continue  # a fresh SYN at once
            finally:
                s.close()
            time.sleep(0.005)  # refused or unreachable: the guest is not listening yet

    return peer.in_netns(ns_name, poll)


# ------------------------------------------------------------ correctness and liveness

def _read_exact(s, n):
    data = b""
    while len(data) < n:
        c = s.recv(n - len(data))
        if not c:
            break
        data += c
    return data


def verify(ns_name, addr, timeout=15):
    """The reference requests, on one keep-alive connection, must get exactly
    the documented bytes: the three servers do the same work or none is measured."""
    try:
        s = peer.connect(ns_name, addr, PORT, timeout)
    except OSError as e:
        raise Failure(f"reference request: cannot connect: {e}") from e
    try:
        for req, want in REF_ANSWERS:
            s.sendall(req)
            got = _read_exact(s, len(want))
            if got != want:
                i = next((k for k in range(min(len(got), len(want))) if got[k] != want[k]),
                         min(len(got), len(want)))
                raise Failure(f"wrong answer to {req.split(b' HTTP')[0].decode()}: {len(got)} of {len(want)} "
                              f"bytes, first difference at byte {i}: {got[max(0, i - 30):i + 30]!r}")
    except socket.timeout as e:
        raise Failure(f"reference request: no complete answer within {timeout} s") from e
    except OSError as e:
        raise Failure(f"reference request: {e}") from e
    finally:
        s.close()


def alive(ns_name, addr, timeout=5):
    """True when GET /bytes/0 gets a 200 within @timeout seconds."""
    try:
        s = peer.connect(ns_name, addr, PORT, timeout)
    except OSError:
        return False
    try:
        s.sendall(b"GET /bytes/0 HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        return s.recv(12).startswith(b"HTTP/1.1 200")
    except OSError:
        return False
    finally:
        s.close()


# ------------------------------------------------------------ load figures

def _run(ns, argv, timeout):
    try:
        r = ns.run(*argv, check=False, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise Failure(f"{argv[0]} did not finish within {timeout:.0f} s") from e
    return r


def _ms(value, unit):
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}[unit]


def parse_wrk(out):
    """wrk --latency's report: requests/s, p50 and p99 in ms, requests, errors."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if not rps or not total:
        raise Failure(f"wrk printed no result: {out.strip()[-300:]!r}")
    lat = {p: re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M) for p in (50, 99)}
    if not all(lat.values()):
        raise Failure("wrk printed no latency distribution")
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(rps.group(1)), "p50": _ms(*lat[50].groups()), "p99": _ms(*lat[99].groups()),
            "requests": int(total.group(1)),
            "errors": sum(int(x) for x in errs.groups()) if errs else 0,
            "error_text": errs.group(0) if errs else "",
            "non2xx": int(non2xx.group(1)) if non2xx else 0}


def cycles(ns, addr, timeout=10):
    """Our kernel's TSC cycle counters (GET /stats "cycles"), or None for a
    server without them (Linux, native: /stats is 404 there)."""
    try:
        r = ns.run("curl", "-s", "-m", str(timeout), f"http://{addr}:{PORT}/stats", check=False, timeout=timeout + 5)
        return json.loads(r.stdout)["cycles"]
    except (subprocess.TimeoutExpired, ValueError, KeyError, TypeError):
        return None


def ring_layouts(ns, addr, timeout=10):
    """Our kernel's virtqueue layouts by queue name (GET /stats "virtio_net"
    "queues": {"rx0": "packed", ...}), or {} when it cannot say."""
    try:
        r = ns.run("curl", "-s", "-m", str(timeout), f"http://{addr}:{PORT}/stats", check=False, timeout=timeout + 5)
        return {q["name"]: q["layout"] for q in json.loads(r.stdout)["virtio_net"]["queues"]}
    except (subprocess.TimeoutExpired, ValueError, KeyError, TypeError):
        return {}


def wrk(ns, url, conns, seconds):
    """wrk, one thread, keep-alive; fails on any socket error or non-2xx answer."""
    r = _run(ns, ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", "--timeout", "5s", url],
             timeout=2 * seconds + 10)
    w = parse_wrk(r.stdout)
    if w["requests"] == 0:
        raise Failure("wrk: no request answered")
    if w["errors"] or w["non2xx"]:
        raise Failure(f"wrk: {w['error_text'] or ''} {w['non2xx']} non-2xx answers".strip())
    return w


def ab(ns, url, conc, seconds):
    """ab without -k: a new TCP connection per request (HTTP/1.0, the server
    closes). Returns connections (= requests) per second."""
    r = _run(ns, ["ab", "-q", "-r", "-s", "5", "-c", str(conc), "-t", str(seconds), "-n", "10000000", url],
             timeout=2 * seconds + 15)
    out = r.stdout
    rps = re.search(r"Requests per second:\s+([\d.]+)", out)
    done = re.search(r"Complete requests:\s+(\d+)", out)
    failed = re.search(r"Failed requests:\s+(\d+)", out)
    non2xx = re.search(r"Non-2xx responses:\s+(\d+)", out)
    if not rps or not done:
        raise Failure(f"ab printed no result: {(out + r.stderr).strip()[-300:]!r}")
    if int(done.group(1)) == 0:
        raise Failure("ab: no request answered")
    if (failed and int(failed.group(1))) or non2xx:
        raise Failure(f"ab: {failed.group(1) if failed else 0} failed requests, "
                      f"{non2xx.group(1) if non2xx else 0} non-2xx answers")
    return float(rps.group(1))


def bulk(ns, addr, nbytes, timeout=120):
    """curl GET /bytes/N to /dev/null: MB/s (10^6 bytes), all N bytes required."""
    r = _run(ns, ["curl", "-s", "-o", "/dev/null", "--max-time", str(timeout), "-w",
                  "%{http_code} %{size_download} %{speed_download}", f"http://{addr}:{PORT}/bytes/{nbytes}"],
             timeout=timeout + 10)
    parts = r.stdout.split()
    if len(parts) != 3 or parts[0] != "200" or int(parts[1]) != nbytes:
        raise Failure(f"curl /bytes/{nbytes}: exit {r.returncode}, got {r.stdout!r}")
    return float(parts[2]) / 1e6


def upload_file(path, nbytes):
    """The file curl -T uploads: @nbytes of the /bytes pattern (made once, kept)."""
    if path.exists() and path.stat().st_size == nbytes:
        return path
    block = pattern(1 << 20)
    with open(path, "wb") as f:
        for off in range(0, nbytes, len(block)):
            f.write(block[:min(len(block), nbytes - off)])
    return path


def upload(ns, addr, path, nbytes, timeout=120):
    """curl -T @path (@nbytes) to PUT /sink: MB/s (10^6 bytes). The server must
    answer 200 with the byte count it read, and curl must have sent them all."""
    r = _run(ns, ["curl", "-s", "--max-time", str(timeout), "-T", str(path), "-w",
                  "\n%{http_code} %{size_upload} %{speed_upload}", f"http://{addr}:{PORT}/sink"],
             timeout=timeout + 10)
    lines = r.stdout.split("\n")
    parts = lines[-1].split()
    body = "\n".join(lines[:-1])
    if len(parts) != 3 or parts[0] != "200" or int(parts[1]) != nbytes or body.strip() != str(nbytes):
        raise Failure(f"curl -T {nbytes} bytes to /sink: exit {r.returncode}, got {r.stdout[-200:]!r}")
    return float(parts[2]) / 1e6


def iperf(ns, addr, seconds):
    """iperf 2 client to the server's iperf (lwiperf on ours): MB/s (10^6 bytes)."""
    r = _run(ns, ["iperf", "-c", addr, "-t", str(seconds), "-y", "C"], timeout=2 * seconds + 15)
    lines = [line for line in r.stdout.splitlines() if line.count(",") >= 8]
    if not lines:
        raise Failure(f"iperf printed no result: {(r.stdout + r.stderr).strip()[-300:]!r}")
    fields = lines[-1].split(",")
    nbytes, bps = int(fields[7]), float(fields[8])
    if nbytes <= 0 or bps <= 0:
        raise Failure(f"iperf: nothing transferred ({lines[-1]})")
    return bps / 8e6


def ping(ns, addr, count):
    """ping -i 0.01: (average RTT in ms, packets lost)."""
    r = _run(ns, ["ping", "-c", str(count), "-i", "0.01", "-q", "-W", "2", addr], timeout=count * 0.05 + 30)
    got = re.search(r"(\d+) packets transmitted, (\d+) received", r.stdout)
    rtt = re.search(r"rtt min/avg/max/mdev = ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms", r.stdout)
    if not got or not rtt or int(got.group(2)) == 0:
        raise Failure(f"ping: no reply: {r.stdout.strip()[-200:]!r}")
    return float(rtt.group(2)), int(got.group(1)) - int(got.group(2))


def tcp_counters(ns):
    """The namespace's (the clients') TCP retransmission counters, absolute:
    segments retransmitted, and retransmission timeouts among them. A
    guest that drops what the clients send shows here, and a p99 near
    200 ms is then Linux's minimum RTO."""
    try:
        r = ns.run("nstat", "-asz", "TcpRetransSegs", "TcpExtTCPTimeouts", check=False, timeout=10)
    except subprocess.TimeoutExpired:
        return {}
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)", r.stdout, re.M)}


class RssSampler:
    """The peak VmRSS (MiB) of a process, read from /proc every 100 ms while in a with block."""

    def __init__(self, pid):
        self.pid = pid
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self):
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        self.peak_kib = max(self.peak_kib, int(line.split()[1]))
        except OSError:
            pass

    def _loop(self):
        while not self._stop.wait(0.1):
            self._sample()

    def __enter__(self):
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        self._sample()

    @property
    def peak_mib(self):
        return self.peak_kib / 1024
