"""The benchmarks' peer server (bench/echo_server.c) answers byte for byte as
our kernel does, so that the benchmarks compare the same work (issue 8,
bench/README.md).

Our kernel boots on the namespace's TAP device (10.77.0.2) while the native
echo_server runs inside the same namespace on 10.77.0.1; every request of
bench/peer.py's CASES (GET, HEAD, POST, JSON, pipelining, chunked uploads,
100-continue, HTTP/1.0, /bytes/N, the page, 400/413/431/501/505) goes to both
and the answers must be the same bytes and the expected statuses. Then the
time and connection limits: 408 and the 503 refusal. The Linux guest itself
is checked by bench/check-peer.sh (it takes a Debian kernel and tens of
seconds to boot under TCG, too slow for make test)."""
import socket
import sys
import time
from pathlib import Path

import pytest

from conftest import NET_READY, Netns, tap_nic

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import peer  # noqa: E402

GUEST = Netns.GUEST4
NATIVE = Netns.HOST4


@pytest.fixture
def native(netns):
    """Start the native server in the namespace: native(options) -> Popen (killed by the netns fixture)."""
    if not peer.ECHO_SERVER.exists():
        pytest.fail(f"{peer.ECHO_SERVER} missing: make bench-echo (make integration-test builds it)")

    def start(*options):
        return peer.start_native(netns, port=80, addr=NATIVE, options=options)

    return start


def boot(qemu, kernel, netns, extra=""):
    q = qemu(kernel=kernel, cmdline=f"ip={GUEST}/24 gw={Netns.HOST4} {extra}".strip(), netns=netns.name,
             devices=tap_nic())
    q.wait_for(NET_READY, timeout=60)
    peer.first_200_ms(netns.name, GUEST, time.monotonic(), timeout=30)
    return q


def test_echo_server_answers_every_case_as_the_kernel(qemu, kernel, netns, native):
    q = boot(qemu, kernel, netns)
    native()
    ours = peer.fetch_all(netns.name, GUEST, 80)
    theirs = peer.fetch_all(netns.name, NATIVE, 80)
    for name, (_, want) in peer.CASES.items():
        assert peer.statuses(ours[name]) == want, f"kernel, case {name}: {ours[name][:300]!r}\n{q.log[-2000:]}"
    bad = peer.compare(ours, theirs, "kernel", "echo_server")
    assert not bad, "\n".join(bad)
    # The one difference on purpose: no /stats on the Linux side.
    s = peer.connect(netns.name, NATIVE, 80, timeout=10)
    try:
        s.sendall(b"GET /stats HTTP/1.1\r\nHost: x\r\n\r\n")
        s.shutdown(socket.SHUT_WR)
        got = b""
        while chunk := s.recv(4096):
            got += chunk
    finally:
        s.close()
    assert got == (b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n"
                   b"Connection: close\r\n\r\n404 Not Found\n")


def read_to_eof(s, timeout):
    s.settimeout(timeout)
    got = b""
    while chunk := s.recv(65536):
        got += chunk
    return got


def limits(netns, addr):
    """The 408 of a request left unfinished, and the 503 of a connection over the limit (2)."""
    t0 = time.monotonic()
    slow = peer.connect(netns.name, addr, 80, timeout=10)
    try:
        slow.sendall(b"GET / HTTP/1.1\r\nHost: slow")  # never finished, never half-closed
        r408 = read_to_eof(slow, timeout=10)
    finally:
        slow.close()
    waited = time.monotonic() - t0
    held = []
    try:
        for i in range(2):  # each answered once, so the server has surely counted it
            s = peer.connect(netns.name, addr, 80, timeout=10)
            held.append(s)
            s.sendall(f"GET /bytes/{i} HTTP/1.1\r\nHost: h\r\n\r\n".encode())
            want = f"Content-Length: {i}\r\nConnection: keep-alive\r\n\r\n".encode() + b"0"[:i]
            got = b""
            while not got.endswith(want):
                chunk = s.recv(4096)
                assert chunk, f"EOF on held connection {i}: {got!r}"
                got += chunk
        third = peer.connect(netns.name, addr, 80, timeout=10)
        try:
            r503 = read_to_eof(third, timeout=10)
        finally:
            third.close()
    finally:
        for s in held:
            s.close()
    return r408, waited, r503


def test_echo_server_timeouts_and_connection_limit_as_the_kernel(qemu, kernel, netns, native):
    boot(qemu, kernel, netns, "http_request_ms=2000 http_max_conns=2")
    native("--request-ms", "2000", "--max-conns", "2")
    ours = limits(netns, GUEST)
    theirs = limits(netns, NATIVE)
    r408 = (b"HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\nContent-Length: 20\r\n"
            b"Connection: close\r\n\r\n408 Request Timeout\n")
    r503 = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 24\r\n"
            b"Connection: close\r\n\r\n503 Service Unavailable\n")
    for who, (got408, waited, got503) in (("kernel", ours), ("echo_server", theirs)):
        assert got408 == r408, f"{who}: {got408!r}"
        # The timer is checked every 500 ms: 2 s after the first byte, at most one period late;
        # 50 ms below for the client's clock starting after its send, 500 ms above for a
        # loaded 2-core machine (an instant or a doubled timeout fails).
        assert 1.95 <= waited <= 3.0, f"{who}: 408 after {waited:.2f} s"
        assert got503 == r503, f"{who}: {got503!r}"
