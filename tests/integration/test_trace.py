"""trace=virtq,net,irq on the serial console, the /stats "cycles" counters and
`make run PCAP=...` (docs/tracing.md).

The traced boots assert on the exact lines one HTTP request produces (its
frames with their ports, flags, sequence numbers and lengths; the ring
operations and interrupts that carried them) and check the lines against the
counters /stats reports at a known point of the log. The flood test checks
the rate limit from the guest's own timestamps. Traffic goes only to QEMU's
user network through 127.0.0.1 or to a TAP device inside a namespace the test
creates."""
import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import ISO, NET_READY, ROOT, Netns, free_port, tap_nic, user_nic
from test_net import ping, pools_after_idle

HDR = 12  # the virtio-net header with VERSION_1: used/add lengths are frame + 12
RATE, BURST = 200, 400  # lib/trace.h TRACE_RATE, TRACE_BURST

LINE = re.compile(r"^\[\s*(\d+)\.(\d{6})\] ([A-Z]) (.*)$", re.M)


def entries(log):
    """Every log line as (seconds, level letter, text), in order."""
    return [(int(m.group(1)) + int(m.group(2)) / 1e6, m.group(3), m.group(4)) for m in LINE.finditer(log)]


def traces(log):
    """The trace lines' texts (level letter T), in order."""
    return [text for _, letter, text in entries(log) if letter == "T"]


def boot_user(qemu, kernel, cmdline):
    port = free_port()
    q = qemu(kernel=kernel, cmdline=cmdline, devices=user_nic([(port, 80)]))
    m = q.wait_for(NET_READY, timeout=90)
    assert m.group(2) == "10.0.2.15", q.log[-3000:]
    return q, port


def curl(port, path, out=None):
    """GET @path through the forwarded port: (status, header bytes, body bytes, body)."""
    r = subprocess.run(["curl", "-s", "-m", "60", "-o", "-", "-w", "\n%{http_code} %{size_header} %{size_download}",
                        f"http://127.0.0.1:{port}{path}"], capture_output=True, timeout=90)
    body, _, tail = r.stdout.rpartition(b"\n")
    code, size_header, size_download = map(int, tail.split())
    assert len(body) == size_download, (len(body), tail)
    return code, size_header, size_download, body


def find(lines, pattern, start=0):
    """The first line at or after @start matching @pattern: (index, match)."""
    rx = re.compile(pattern)
    for i in range(start, len(lines)):
        m = rx.search(lines[i])
        if m:
            return i, m
    raise AssertionError(f"no trace line /{pattern}/ after line {start}:\n" + "\n".join(lines[start:start + 80]))


def last_before(lines, pattern, end):
    rx = re.compile(pattern)
    for i in range(end - 1, -1, -1):
        m = rx.search(lines[i])
        if m:
            return i, m
    raise AssertionError(f"no trace line /{pattern}/ before line {end}")


def count(lines, pattern, end):
    rx = re.compile(pattern)
    return sum(1 for line in lines[:end] if rx.search(line))


def check_tx(lines, i_frame, frame_len):
    """After the 'net tx' line @i_frame: its chain is added, kicked (or the kick
    suppressed) and given back by the device. Return the add line's index."""
    i_add, add = find(lines, r"^virtq virtio0\.tx0: add head=(\d+) descs=(\d+)(?: \(indirect\))? bytes=(\d+) "
                             r"avail_idx=(\d+)$", i_frame + 1)
    assert int(add.group(3)) == frame_len + HDR, (lines[i_frame], lines[i_add])
    head, avail = add.group(1), int(add.group(4))
    _, kick = find(lines, r"^virtq virtio0\.tx0: (kick|kick suppressed) avail_idx=(\d+) old_idx=(\d+) "
                          r"avail_event=(\d+)$", i_add + 1)
    new, old, event = int(kick.group(2)), int(kick.group(3)), int(kick.group(4))
    assert (new - avail) % 65536 < 256 and (avail - old - 1) % 65536 < 256, kick.group(0)
    # The decision is virtio 1.2 2.7.10's: kick if the batch moved past avail_event.
    need = (new - event - 1) % 65536 < (new - old) % 65536
    assert need == (kick.group(1) == "kick"), kick.group(0)
    find(lines, rf"^virtq virtio0\.tx0: used id={head} len=0 last_used=\d+ used_idx=\d+$", i_add + 1)
    return i_add


def check_rx(lines, i_frame, frame_len):
    """Before the 'net rx' line @i_frame: the used buffer it came in."""
    i_used, used = last_before(lines, r"^virtq virtio0\.rx0: used id=(\d+) len=(\d+) last_used=(\d+) "
                                      r"used_idx=(\d+)$", i_frame)
    assert int(used.group(2)) == frame_len + HDR, (lines[i_used], lines[i_frame])
    return i_used


# ------------------------------------------------------------ one request, every line

def test_http_request_traced_and_counts_match_stats(qemu, kernel):
    q, port = boot_user(qemu, kernel, "trace=virtq,net,irq")
    assert re.search(r"I trace: on for virtq net irq, at most 200 lines/s \(bursts of 400\)", q.log)
    code, size_header, size_body, body = curl(port, "/trace-me")
    assert code == 200 and body.startswith(b"GET /trace-me HTTP/1.1\r\n"), body
    request_len = size_body  # the server echoes the request

    # /stats next: its JSON is written while lwIP handles the frame that
    # carried its request, so every ring operation and frame logged before
    # that frame is counted in it, and nothing after. Its connection also
    # makes the driver take back the first one's last sent buffers.
    code, _, _, stats_body = curl(port, "/stats")
    assert code == 200
    st = json.loads(stats_body)
    lines = traces(q.log)
    # Boot: the receive ring filled and kicked, the control queue used.
    assert count(lines, r"^virtq virtio0\.rx0: add head=\d+ descs=1 bytes=2048 avail_idx=\d+$", len(lines)) >= 128
    assert count(lines, r"^virtq virtio0\.ctrl: used id=\d+ len=1 ", len(lines)) >= 1

    # The client's SYN, through QEMU's user network (10.0.2.2).
    i_syn, syn = find(lines, r"^net rx (\d+) bytes: IPv4 10\.0\.2\.2 > 10\.0\.2\.15: TCP (\d+) > 80 \[S\] "
                             r"seq=(\d+) win=\d+ len=0$")
    cport, cseq = syn.group(2), int(syn.group(3))
    i_used = check_rx(lines, i_syn, int(syn.group(1)))
    # It woke the guest: an interrupt on the receive queue's vector, named in both lines.
    _, irq = last_before(lines, r"^irq vector=(\d+) virtio0\.rx0$", i_used)
    vec_rx = irq.group(1)
    last_before(lines, rf"^virtq virtio0\.rx0: interrupt vector={vec_rx} used_idx=\d+ last_used=\d+$", i_used)

    i_sa, sa = find(lines, rf"^net tx (\d+) bytes: IPv4 10\.0\.2\.15 > 10\.0\.2\.2: TCP 80 > {cport} \[S\.\] "
                           rf"seq=(\d+) ack={cseq + 1} win=\d+ len=0$", i_syn)
    sseq = int(sa.group(2))
    check_tx(lines, i_sa, int(sa.group(1)))
    find(lines, rf"^net rx \d+ bytes: IPv4 10\.0\.2\.2 > 10\.0\.2\.15: TCP {cport} > 80 \[\.\] seq={cseq + 1} "
                rf"ack={sseq + 1} win=\d+ len=0$", i_sa)
    # The request, whole, in one segment.
    i_req, req = find(lines, rf"^net rx (\d+) bytes: IPv4 10\.0\.2\.2 > 10\.0\.2\.15: TCP {cport} > 80 \[P\.\] "
                             rf"seq={cseq + 1} ack={sseq + 1} win=\d+ len={request_len}$", i_sa)
    check_rx(lines, i_req, int(req.group(1)))
    # The response: its segments add up to what curl received, in sequence.
    i, sent, seq = i_req, 0, sseq + 1
    while sent < size_header + size_body:
        i, seg = find(lines, rf"^net tx (\d+) bytes: IPv4 10\.0\.2\.15 > 10\.0\.2\.2: TCP 80 > {cport} "
                             rf"\[P?\.\] seq={seq} ack={cseq + 1 + request_len} win=\d+ len=([1-9]\d*)$", i + 1)
        check_tx(lines, i, int(seg.group(1)))
        sent += int(seg.group(2))
        seq += int(seg.group(2))
    assert sent == size_header + size_body
    # Both FINs.
    find(lines, rf"^net rx \d+ bytes: IPv4 10\.0\.2\.2 > 10\.0\.2\.15: TCP {cport} > 80 \[F\.\] "
                rf"seq={cseq + 1 + request_len} ", i_req)
    i_fin, fin = find(lines, rf"^net tx (\d+) bytes: IPv4 10\.0\.2\.15 > 10\.0\.2\.2: TCP 80 > {cport} \[F\.\] "
                             rf"seq={seq} ", i_req)
    check_tx(lines, i_fin, int(fin.group(1)))

    # The /stats connection, and the frame with its request.
    i_s, s = find(lines, rf"^net rx \d+ bytes: IPv4 10\.0\.2\.2 > 10\.0\.2\.15: TCP (?!{cport} )(\d+) > 80 \[S\] ",
                  i_syn + 1)
    i_mark, _ = find(lines, rf"^net rx \d+ bytes: .* TCP {s.group(1)} > 80 \[P\.\] .* len=[1-9]", i_s)
    end = i_mark + 1
    assert st["trace"]["on"] == "virtq,net,irq"
    assert st["trace"]["suppressed"] == 0, "the rate limit cut lines this test counts"
    assert 0 <= st["trace"]["lines"] - end <= 3, (st["trace"], end)
    vnet = st["virtio_net"]
    assert vnet["rx_packets"] == count(lines, r"^net rx ", end)
    assert vnet["tx_packets"] == count(lines, r"^net tx ", end)
    for qs in vnet["queues"]:
        name = f"virtio0\\.{qs['name']}"
        assert qs["added"] == count(lines, rf"^virtq {name}: add ", end), qs
        assert qs["used"] == count(lines, rf"^virtq {name}: used ", end), qs
        assert qs["kicks"] == count(lines, rf"^virtq {name}: (kick|notify) avail_idx", end), qs
        assert qs["kicks_suppressed"] == count(lines, rf"^virtq {name}: kick suppressed ", end), qs
        # Interrupt handlers may run while the JSON is written: their lines come later.
        irqs = count(lines, rf"^virtq {name}: interrupt ", end)
        assert irqs <= qs["interrupts"] <= irqs + 2, (qs, irqs)
        if qs["name"] == "rx0":
            assert irqs >= 1
    names = st["interrupts"]["names"]
    assert names[vec_rx] == "virtio0.rx0", names
    for vec, n in st["interrupts"]["vectors"].items():
        if vec == "239":
            continue  # the LAPIC timer is not traced
        lines_n = count(lines, rf"^irq vector={vec} ", end)
        assert lines_n <= n <= lines_n + 2, (vec, names.get(vec), n, lines_n)
    # The cycle counters saw the same frames: all sent ones, and every received
    # one but the frame whose handling is writing this JSON.
    cyc = st["cycles"]["sections"]
    assert cyc["tx"]["calls"] == vnet["tx_packets"]
    assert cyc["lwip_input"]["calls"] == vnet["rx_packets"] - 1


def test_unknown_trace_word_is_reported_and_the_rest_works(qemu, kernel):
    q, port = boot_user(qemu, kernel, "trace=bogus,net")
    assert re.search(r"^\[[ \d.]+\] E trace: unknown word 'bogus' in trace=bogus,net "
                     r"\(known: virtq, net, irq, all\)$", q.log, re.M), q.log[:4000]
    assert re.search(r"I trace: on for net, at most", q.log)
    code, _, _, _ = curl(port, "/hello")
    assert code == 200
    q.wait_for(r"T net tx \d+ bytes: IPv4 10\.0\.2\.15 > 10\.0\.2\.2: TCP 80 > \d+ \[F\.\]", timeout=30)
    lines = traces(q.log)
    assert any(re.match(r"net tx \d+ bytes: IPv4 0\.0\.0\.0 > 255\.255\.255\.255: UDP 68 > 67 len=\d+$", x)
               for x in lines), "the DHCP discover"
    assert not [x for x in lines if not x.startswith("net ")], "only net was asked for"


def test_no_trace_without_the_option(qemu, kernel):
    q, port = boot_user(qemu, kernel, "")
    assert curl(port, "/stats")[0] == 200
    assert " T " not in q.log and "trace:" not in q.log
    st = json.loads(curl(port, "/stats")[3])
    assert st["trace"] == {"on": "", "lines": 0, "suppressed": 0, "unreported": 0}


# ------------------------------------------------------------ cycle counters

SECTIONS = ("rx_poll", "lwip_input", "app", "tx", "tx_kick")


def check_cycles(c):
    hz = c["tsc_hz"]
    assert 100e6 < hz < 10e9, hz
    for name in SECTIONS:
        s = c["sections"][name]
        assert s["calls"] > 0 and s["cycles"] > 0, (name, s)
        assert s["cycles_per_call"] == s["cycles"] // s["calls"], (name, s)
        ns = s["cycles"] * 10**9 // hz
        assert abs(s["ns"] - ns) <= 1, (name, s, hz)
        assert s["ns_per_call"] == s["ns"] // s["calls"], (name, s)
        assert s["ns_per_call"] > 0
    return c["sections"]


def test_cycle_counters_grow_with_traffic(qemu, kernel):
    q, port = boot_user(qemu, kernel, "")
    assert curl(port, "/hello")[0] == 200
    before = check_cycles(json.loads(curl(port, "/stats")[3])["cycles"])
    # More than 65535 segments: lwIP's 16-bit counters would wrap (LWIP_STATS_LARGE).
    size = 100_000_000
    code, _, got, _ = curl(port, f"/bytes/{size}")
    assert code == 200 and got == size
    st = json.loads(curl(port, "/stats")[3])
    after = check_cycles(st["cycles"])
    for name in SECTIONS:
        assert after[name]["calls"] > before[name]["calls"], name
        assert after[name]["cycles"] > before[name]["cycles"], name
    # 100 MB leave in at least 1e8/1460 segments, each one linkoutput call;
    # lwIP handled at least the ACKs (one per two segments or so) and the app
    # was called back for them (tcp_sent).
    assert after["tx"]["calls"] - before["tx"]["calls"] >= size // 1460
    assert after["lwip_input"]["calls"] - before["lwip_input"]["calls"] >= 100
    assert after["app"]["calls"] - before["app"]["calls"] >= 50
    # Inclusive sections: every received frame goes into lwIP from the receive poll.
    assert after["rx_poll"]["cycles"] >= after["lwip_input"]["cycles"]
    # LWIP_STATS_LARGE: the protocol counters are 32 bits wide and count every
    # segment: lwIP's TCP segments are the NIC's frames but for a few ARP and
    # IPv6 ones.
    tcp, vnet = st["lwip"]["tcp"], st["virtio_net"]
    assert tcp["xmit"] > 65535 and 0 <= vnet["tx_packets"] - tcp["xmit"] < 50, (tcp, vnet["tx_packets"])
    assert tcp["recv"] > 65535 // 2 and 0 <= vnet["rx_packets"] - tcp["recv"] < 50, (tcp, vnet["rx_packets"])


@pytest.mark.skipif(not shutil.which("chromium"), reason="chromium not installed")
def test_status_page_shows_the_cycles_table(qemu, kernel):
    q, port = boot_user(qemu, kernel, "")
    assert curl(port, "/bytes/100000")[0] == 200
    r = subprocess.run(["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        "--disable-background-networking", "--virtual-time-budget=3000", "--dump-dom",
                        f"http://127.0.0.1:{port}/"], capture_output=True, text=True, timeout=120)
    dom = r.stdout
    m = re.search(r'<div id="cycles">(.*?)</div>\s*<h2>', dom, re.S)
    assert m, dom[-3000:] + r.stderr[-2000:]
    table = m.group(1)
    for name in SECTIONS:
        row = re.search(rf"<tr><td>{name}</td><td>(\d+)</td><td>.*?</td><td>(\d+)</td><td>(\d+)</td>", table)
        assert row and int(row.group(1)) > 0 and int(row.group(2)) > 0, (name, table)
    assert "TSC " in table and "MHz" in table


# ------------------------------------------------------------ a flood against the rate limit

def test_ping_flood_with_trace_all_is_rate_limited(qemu, kernel, netns):
    q = qemu(kernel=kernel, cmdline=f"ip={Netns.GUEST4}/24 gw={Netns.HOST4} trace=all stats_interval=1",
             netns=netns.name, devices=tap_nic())
    q.wait_for(NET_READY, timeout=90)
    assert "I trace: on for virtq net irq" in q.log
    n_before = len(entries(q.log))
    flood_start = time.monotonic()
    sent, got = ping(netns, Netns.GUEST4, 20000, flood=True, timeout=600)
    flood_s = time.monotonic() - flood_start
    assert sent == 20000 and got >= 19800, (sent, got)
    print(f"\n20000 flood pings with trace=all in {flood_s:.1f} s, {got} answered")

    # The bucket refills at 200 lines/s: after 2 s it is full again, so the
    # lines of the next requests are printed, not suppressed.
    time.sleep(2.5)
    assert ping(netns, Netns.GUEST4, 20, interval="0.05")[1] == 20
    r = netns.run("curl", "-s", "-m", "30", f"http://{Netns.GUEST4}:80/stats", check=False)
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)["trace"]

    ents = entries(q.log)
    tlines = [(t, text) for t, letter, text in ents if letter == "T"]
    printed = [t for t, text in tlines if "lines suppressed" not in text and "line suppressed" not in text]
    reports = [(t, int(m.group(1))) for t, text in tlines
               for m in [re.match(r"trace: (\d+) lines? suppressed$", text)] if m]
    # Never more than the bucket allows: a burst plus the rate, in any second.
    j = 0
    worst = 0
    for i in range(len(printed)):
        while printed[i] - printed[j] >= 1.0:
            j += 1
        worst = max(worst, i - j + 1)
    print(f"printed {len(printed)} trace lines, at most {worst} in any second; "
          f"{len(reports)} reports of {sum(n for _, n in reports)} suppressed lines")
    assert worst <= RATE + BURST + 1, worst
    # And over the flood as a whole, the sustained rate.
    flood = [t for t in printed if t >= ents[n_before][0]] if n_before < len(ents) else []
    if len(flood) > 2:
        span = flood[-1] - flood[0]
        assert len(flood) <= BURST + RATE * span + 2, (len(flood), span)
    # Reports: at least one, at most one a second, with plausible counts:
    # every ping is at least four lines (the request's interrupt, used
    # buffer and frame, the reply's frame) and few of them got through.
    assert reports, "no 'lines suppressed' report"
    for (t0, _), (t1, _) in zip(reports, reports[1:]):
        assert t1 - t0 >= 0.999, (t0, t1)
    suppressed = sum(n for _, n in reports)
    assert suppressed + len(printed) >= 4 * 20000, (suppressed, len(printed))
    # The guest's own count agrees, and all of it has been reported.
    assert st["unreported"] == 0 and st["suppressed"] == suppressed, (st, suppressed)

    # Still serving, and every buffer is back.
    free, total, posted, (pbuf_ref, pbuf_pool) = pools_after_idle(q)
    assert free + posted == total, q.log[-3000:]
    assert (pbuf_ref, pbuf_pool) == (0, 0), q.log[-3000:]


# ------------------------------------------------------------ make run PCAP=...

@pytest.mark.skipif(not shutil.which("tshark"), reason="tshark not installed (sh scripts/setup.sh test)")
def test_run_sh_pcap_holds_the_http_exchange(tmp_path, kernel):
    assert ISO.exists(), f"{ISO} missing: run make iso"
    port = free_port()
    pcap = tmp_path / "out.pcap"
    serial = tmp_path / "run-serial.log"
    env = dict(os.environ, HTTP_PORT=str(port), PCAP=str(pcap), ACCEL=os.environ.get("ACCEL", "tcg"))
    with open(serial, "wb") as out:
        proc = subprocess.Popen(["sh", str(ROOT / "scripts" / "run.sh"), str(ISO)], stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not re.search(NET_READY, serial.read_text(errors="replace")):
            assert proc.poll() is None, serial.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, serial.read_text(errors="replace")[-3000:]
            time.sleep(0.2)
        text = serial.read_text(errors="replace")
        assert f"run: the HTTP server will answer at http://127.0.0.1:{port}/" in text
        code, _, _, body = curl(port, "/pcap-check?x=1")
        assert code == 200 and body.startswith(b"GET /pcap-check?x=1 HTTP/1.1\r\n")
    finally:
        # run.sh execs QEMU: the PID is QEMU's. SIGTERM lets it close the dump.
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
    assert pcap.exists() and pcap.stat().st_size > 24, "no pcap written"
    r = subprocess.run(["tshark", "-r", str(pcap), "-Y", "http", "-T", "fields", "-e", "ip.src", "-e", "ip.dst",
                        "-e", "http.request.method", "-e", "http.request.uri", "-e", "http.response.code",
                        "-e", "http.content_length"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rows = [line.split("\t") for line in r.stdout.splitlines() if line.strip()]
    req = [x for x in rows if x[2] == "GET" and x[3] == "/pcap-check?x=1"]
    resp = [x for x in rows if x[4] == "200"]
    assert req and req[0][:2] == ["10.0.2.2", "10.0.2.15"], rows
    assert resp and resp[0][:2] == ["10.0.2.15", "10.0.2.2"], rows
    assert int(resp[0][5]) == len(body), (resp, len(body))
    # The handshake is there too, both ways.
    r = subprocess.run(["tshark", "-r", str(pcap), "-Y", "tcp.flags.syn == 1 && tcp.port == 80", "-T", "fields",
                        "-e", "ip.src", "-e", "tcp.flags.ack"], capture_output=True, text=True, timeout=120)
    syns = [line.split("\t") for line in r.stdout.splitlines() if line.strip()]
    assert ["10.0.2.2", "False"] in syns or ["10.0.2.2", "0"] in syns, syns
    assert ["10.0.2.15", "True"] in syns or ["10.0.2.15", "1"] in syns, syns
