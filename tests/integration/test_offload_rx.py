"""Large receive (issue 15, its receive half; docs/rx.md): with GUEST_TSO4/6
negotiated, the namespace's Linux hands the guest TCP segments of up to 64 KiB
(GSO frames in merged receive buffers), each of which must become one pbuf
chain and one pass through lwIP. Whatever the device agrees to, an upload must
arrive byte-exact: a 200 MB `curl -T` to PUT /sink (the server answers the
count it read) and a 16 MiB round trip through the TCP echo port (a hash of
what came back: the order of the buffers in a chain matters there, and the
TCP checksums of partial-checksum frames are not re-checked). /stats counts GSO
frames only when large receive was negotiated, the HTTP server parses the
body where it lies (apps/http.c copies none of it), and every receive buffer
is home afterwards.

Configurations: QEMU's defaults (GUEST_TSO4/6 on), guest_tso4=off +
guest_tso6=off, mrg_rxbuf=off (the driver then declines GUEST_TSO*: no "big
packets" mode), and the legacy transport (disable-modern=on), where TSO stays.
"""
import hashlib
import random
import re
import subprocess
import threading
import time

import pytest

from conftest import NET_READY, tap_nic
from test_apps import BASE_CMDLINE, GUEST, connect, stats

UPLOAD_BYTES = 200_000_000
ECHO_BYTES = 16 << 20
ECHO_PORT = 7
GUEST6_LL = "fe80::5054:ff:fe12:3456"

CONFIGS = {
    "default": ("", True),
    "guest_tso_off": ("guest_tso4=off,guest_tso6=off", False),
    "mrg_rxbuf_off": ("mrg_rxbuf=off", False),
    "legacy": ("disable-modern=on", True),
}


@pytest.fixture(scope="module")
def upload_file(tmp_path_factory):
    """@UPLOAD_BYTES of seeded random bytes (no pattern a wrong offset could still match)."""
    path = tmp_path_factory.mktemp("offload_rx") / "upload.bin"
    rnd = random.Random(15)
    with open(path, "wb") as f:
        left = UPLOAD_BYTES
        while left:
            n = min(left, 8 << 20)
            f.write(rnd.randbytes(n))
            left -= n
    return path


def boot(qemu, kernel, netns, options):
    q = qemu(kernel=kernel, cmdline=BASE_CMDLINE, netns=netns.name, devices=tap_nic(options=options))
    q.wait_for(NET_READY, timeout=60)
    deadline = time.monotonic() + 30
    while True:  # the HTTP server answers
        r = netns.run("curl", "-s", "-m", "2", "-o", "/dev/null", "-w", "%{http_code}", f"http://{GUEST}/hello",
                      check=False)
        if r.stdout == "200":
            return q
        assert time.monotonic() < deadline, q.log[-2000:]
        time.sleep(0.3)


def upload(netns, url, path, extra=()):
    """curl -T @path to PUT /sink: the server must answer 200 with the byte count, curl must have sent it all."""
    r = netns.run("curl", "-s", "-g", *extra, "--max-time", "180", "-T", str(path), "-w",
                  "\n%{http_code} %{size_upload} %{speed_upload}", url, check=False, timeout=200)
    lines = r.stdout.split("\n")
    parts = lines[-1].split()
    assert len(parts) == 3 and parts[0] == "200", (r.returncode, r.stdout[-300:], r.stderr[-300:])
    assert int(parts[1]) == UPLOAD_BYTES, parts
    assert "\n".join(lines[:-1]).strip() == str(UPLOAD_BYTES), r.stdout[-300:]
    return float(parts[2]) / 1e6


def echo_round_trip(netns, nbytes):
    """Send @nbytes of random data to the echo port while reading the echo; both hashes."""
    data = random.Random(7).randbytes(nbytes)
    s = connect(netns, port=ECHO_PORT, timeout=60)
    got = hashlib.sha256()
    n = 0

    def sender():
        s.sendall(data)
        s.shutdown(1)  # SHUT_WR: the echo closes once it has echoed everything

    t = threading.Thread(target=sender)
    t.start()
    try:
        while n < nbytes:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            got.update(chunk)
            n += len(chunk)
    finally:
        t.join(timeout=60)
        s.close()
    return n, got.hexdigest(), hashlib.sha256(data).hexdigest()


def gso_counters(d):
    v, e = d["virtio_net"], d["interfaces"]["en0"]
    return v["rx_gso_packets"], v["rx_gso_bytes"], e["rx_gso"], e["rx_gso_bytes"]


@pytest.mark.parametrize("config", list(CONFIGS))
def test_upload_byte_exact_gso_counted_only_when_negotiated(qemu, kernel, netns, upload_file, config):
    options, tso = CONFIGS[config]
    q = boot(qemu, kernel, netns, options)
    negotiated = re.search(r"virtio0: features offered \S+, negotiated \S+: (.*)", q.log)
    assert negotiated, q.log[-2000:]
    assert ("GUEST_TSO4" in negotiated.group(1)) == tso, negotiated.group(0)
    assert ("GUEST_TSO6" in negotiated.group(1)) == tso, negotiated.group(0)
    if config == "mrg_rxbuf_off":
        for name in ("GUEST_TSO4", "GUEST_TSO6"):
            assert f"virtio-net: {name} offered without what it needs: not taken" in q.log, q.log[-2000:]
    before = gso_counters(stats(netns))
    assert before == (0, 0, 0, 0), before

    mbs = upload(netns, f"http://{GUEST}/sink", upload_file)
    n, got, want = echo_round_trip(netns, ECHO_BYTES)
    assert (n, got) == (ECHO_BYTES, want), f"echo: {n} of {ECHO_BYTES} bytes back"
    d = stats(netns)
    v, e = d["virtio_net"], d["interfaces"]["en0"]
    pkts, nbytes, e_pkts, e_bytes = gso_counters(d)
    print(f"{config}: upload {mbs:.0f} MB/s, {pkts} GSO frames, {nbytes} bytes, rx_packets {v['rx_packets']}")
    if tso:
        # The driver and the glue agree, and most of the upload came as large frames.
        assert pkts > 0 and (pkts, nbytes) == (e_pkts, e_bytes), (pkts, nbytes, e_pkts, e_bytes)
        assert nbytes > UPLOAD_BYTES // 2, nbytes
        assert v["rx_max_frame"] == 65535 and v["rx_packets"] < UPLOAD_BYTES // 1448, v
    else:
        assert (pkts, nbytes, e_pkts, e_bytes) == (0, 0, 0, 0)
        assert v["rx_max_frame"] == 1518, v
        assert v["rx_packets"] > UPLOAD_BYTES // 1448  # one frame per MSS at most
    assert v["rx_drop_bad_gso"] == 0 and e["rx_gso_bad"] == 0 and e["rx_drop_bad"] == 0, (v, e)
    assert v["rx_drop_oversize"] == 0 and v["rx_drop_bad_merge"] == 0, v
    # The sink parsed the body where it lay, in the NIC's buffers: nothing copied into the app's buffer
    # but what the parser could not take at once (a request's first bytes at most).
    assert d["http"]["bytes_buffered"] < 100_000, d["http"]

    if config == "default":
        # IPv6 (link-local): TSO6 frames, counted on top. First the neighbours know each other.
        deadline = time.monotonic() + 20
        while netns.run("ping", "-6", "-c", "1", "-W", "1", f"{GUEST6_LL}%tap0", check=False).returncode:
            assert time.monotonic() < deadline, q.log[-2000:]
        mbs6 = upload(netns, f"http://[{GUEST6_LL}%tap0]/sink", upload_file)
        after = gso_counters(stats(netns))
        print(f"{config}: IPv6 upload {mbs6:.0f} MB/s, {after[0] - pkts} GSO frames")
        assert after[0] - pkts > 0 and after[1] - nbytes > UPLOAD_BYTES // 2, (after, pkts, nbytes)

    # Every receive buffer home once the connections are gone.
    deadline = time.monotonic() + 10
    while True:
        v = stats(netns)["virtio_net"]
        if v["rx_lent"] == 0 and v["rx_pool_free"] + v["rx_posted"] == v["rx_pool_total"]:
            break
        assert time.monotonic() < deadline, f"rx_lent {v['rx_lent']} free {v['rx_pool_free']} posted {v['rx_posted']} total {v['rx_pool_total']}"
        time.sleep(0.3)
