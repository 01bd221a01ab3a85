"""TCP segmentation offload on transmit (net/tso.c, HOST_TSO4/6): downloads
arrive byte-exact with the offload on and with each way of refusing it, /stats
counts the coalesced frames and the segments in them only when the device
took the feature, and on a routed path where the host must cut the frames
itself (a veth with its offloads off), every segment on the wire has good
checksums, the MSS, and stays inside the window.

Traffic goes only to TAP devices and veths inside namespaces the tests create."""
import contextlib
import json
import re
import subprocess
import time

import pytest

from conftest import NET_READY, Netns, pattern_md5, tap_nic

CMDLINE = f"ip={Netns.GUEST4}/24 gw={Netns.HOST4}"
HOST_TSO4, HOST_TSO6, CSUM = 11, 12, 0



def boot(qemu, kernel, netns, options=""):
    q = qemu(kernel=kernel, cmdline=CMDLINE, netns=netns.name, devices=tap_nic(options=options))
    q.wait_for(NET_READY, timeout=60)
    return q


def negotiated(log):
    m = re.search(r"features offered (0x[0-9a-f]+), negotiated (0x[0-9a-f]+):", log)
    assert m, log[-3000:]
    return int(m.group(1), 16), int(m.group(2), 16)


def download_md5(netns, url, n, timeout=300):
    """md5 and length of GET @url streamed through the namespace's curl (nothing kept in memory)."""
    r = subprocess.run(["ip", "netns", "exec", netns.name, "bash", "-c",
                        f"set -o pipefail; curl -s -g --max-time {timeout} '{url}' | tee >(wc -c >&2) | md5sum"],
                       capture_output=True, text=True, timeout=timeout + 30)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()[0], int(r.stderr.split()[-1])


def stats(netns, host=Netns.GUEST4):
    r = netns.run("curl", "-s", "-g", "--max-time", "20", f"http://{host}/stats")
    return json.loads(r.stdout)


# Each way the feature can be refused, and the transports: the download must be
# byte-exact either way, and the coalesced frames exist only where TSO4 was taken.
CASES = [
    ("", True),
    ("host_tso4=off", False),
    ("host_tso4=off,host_tso6=off", False),
    ("csum=off", False),            # TSO without the checksum offload is never taken (5.1.3.1)
    ("mrg_rxbuf=off", True),
    ("disable-modern=on", True),    # the legacy transport
    ("indirect_desc=off", True),    # chains of the segments' pieces without indirect tables
    ("packed=on", True),            # the packed ring layout (drivers/vring_packed.c)
]


@pytest.mark.parametrize("options,tso", CASES, ids=[o or "default" for o, _ in CASES])
def test_200mb_download_byte_exact(qemu, kernel, netns, options, tso):
    q = boot(qemu, kernel, netns, options)
    offered, got = negotiated(q.log)
    assert bool(got >> HOST_TSO4 & 1) == tso, (options, hex(offered), hex(got))
    if not got >> CSUM & 1:
        assert not got >> HOST_TSO4 & 1 and not got >> HOST_TSO6 & 1, hex(got)
    n = 200_000_000
    md5, length = download_md5(netns, f"http://{Netns.GUEST4}/bytes/{n}", n)
    assert length == n and md5 == pattern_md5(n), (length, q.log[-3000:])
    st = stats(netns)
    en0, vn = st["interfaces"]["en0"], st["virtio_net"]
    if tso:
        # Most of the stream left coalesced: a 200 MB download is ~137,000 segments.
        assert en0["tx_gso_frames"] > 0 and en0["tx_gso_segments"] > 100_000, en0
        assert en0["tx_gso_segments"] >= 2 * en0["tx_gso_frames"], en0
        assert vn["tx_gso_frames"] == en0["tx_gso_frames"], (vn, en0)
    else:
        assert en0["tx_gso_frames"] == 0 and en0["tx_gso_segments"] == 0 and vn["tx_gso_frames"] == 0, en0
    assert en0["tx_gso_dropped"] == 0 and vn["tx_drop_bad_gso"] == 0 and vn["tx_drop_ring_full"] == 0, (en0, vn)
    assert "broken" not in q.log


def test_ipv6_download_uses_tso6(qemu, kernel, netns):
    q = boot(qemu, kernel, netns)
    assert negotiated(q.log)[1] >> HOST_TSO6 & 1, q.log[-3000:]
    ll = "fe80::5054:ff:fe12:3456"
    # Duplicate address detection first: lwIP ignores a tentative address.
    q.wait_for("IPv6 address FE80::5054:FF:FE12:3456 valid", timeout=20)
    url = f"http://[{ll}%tap0]"
    before = stats(netns)["interfaces"]["en0"]
    n = 20_000_000
    md5, length = download_md5(netns, f"{url}/bytes/{n}", n)
    assert length == n and md5 == pattern_md5(n), length
    after = stats(netns)["interfaces"]["en0"]
    assert after["tx_gso_segments"] - before["tx_gso_segments"] > 10_000, (before, after)


def sh(ns, *cmd):
    subprocess.run(["ip", "netns", "exec", ns, *cmd], check=True, capture_output=True, timeout=30)


@pytest.fixture
def routed(netns):
    """A second namespace, the client's, behind the first (netns, the guest's TAP): the
    first forwards between tap0 and a veth whose offloads are off, so the host kernel
    must cut the guest's coalesced frames itself and compute every checksum."""
    client = netns.name + "c"
    subprocess.run(["ip", "netns", "add", client], check=True)
    try:
        subprocess.run(["ip", "link", "add", "vr", "netns", netns.name, "type", "veth", "peer", "name", "vc",
                        "netns", client], check=True)
        sh(netns.name, "ip", "addr", "add", "10.78.0.1/24", "dev", "vr")
        sh(netns.name, "ip", "link", "set", "vr", "up")
        sh(netns.name, "ethtool", "-K", "vr", "tx", "off", "tso", "off", "gso", "off", "sg", "off")
        sh(netns.name, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
        sh(client, "ip", "link", "set", "lo", "up")
        sh(client, "ip", "addr", "add", "10.78.0.2/24", "dev", "vc")
        sh(client, "ip", "link", "set", "vc", "up")
        sh(client, "ip", "route", "add", "10.77.0.0/24", "via", "10.78.0.1")
        yield client
    finally:
        subprocess.run(["ip", "netns", "del", client], check=False)


@contextlib.contextmanager
def capture(ns, pcap):
    """Record port 80 on the client's veth into @pcap while the block runs."""
    # dumpcap (tshark's capture engine) says "Capturing on" once its socket is open.
    cap = subprocess.Popen(["ip", "netns", "exec", ns, "dumpcap", "-q", "-i", "vc", "-w", str(pcap),
                            "-f", "tcp port 80"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        while "Capturing on" not in line:
            line = cap.stderr.readline()
            assert line, "dumpcap did not start"
        # "Capturing on" comes a little before packets are recorded: a capture
        # started at once missed the client's SYN, 3 times in 3 here (tshark
        # then cannot scale the windows). Half a second is plenty.
        time.sleep(0.5)
        yield
    finally:
        time.sleep(1)  # the last frames reach the file
        cap.terminate()
        cap.wait(timeout=20)


def routed_download(ns, q, n=20_000_000):
    """GET /bytes/@n from the client's namespace, through the router: byte-exact."""
    r = subprocess.run(["ip", "netns", "exec", ns, "bash", "-c",
                        f"set -o pipefail; curl -s --max-time 120 http://{Netns.GUEST4}/bytes/{n} | md5sum"],
                       capture_output=True, text=True, timeout=150)
    assert r.returncode == 0 and r.stdout.split()[0] == pattern_md5(n), (r, q.log[-3000:])


def test_host_cuts_coalesced_frames_correctly(qemu, kernel, netns, routed, tmp_path):
    q = boot(qemu, kernel, netns)
    assert negotiated(q.log)[1] >> HOST_TSO4 & 1
    pcap = tmp_path / "cut.pcap"
    with capture(routed, pcap):
        routed_download(routed, q)
    st = stats(netns)["interfaces"]["en0"]
    assert st["tx_gso_frames"] > 0 and st["tx_gso_segments"] > 5_000, st
    fields = subprocess.run(["tshark", "-r", str(pcap), "-o", "tcp.check_checksum:TRUE", "-o",
                             "ip.check_checksum:TRUE", "-T", "fields", "-E", "separator=,",
                             "-e", "ip.src", "-e", "ip.len", "-e", "tcp.len", "-e", "tcp.checksum.status",
                             "-e", "ip.checksum.status", "-e", "tcp.seq", "-e", "tcp.ack", "-e", "tcp.window_size",
                             "-e", "tcp.window_size_scalefactor"],
                            capture_output=True, text=True, check=True).stdout
    data = bad = outside = 0
    biggest = 0
    right_edge = None  # the client's last ack + window: nothing may be sent beyond it
    for row in fields.splitlines():
        src, ip_len, tcp_len, tcp_ok, ip_ok, seq, ack, win, scale = (row.split(",") + [""] * 9)[:9]
        # tshark scales windows only when it saw the handshake (scale factor -1: unknown).
        assert scale != "-1", "the capture missed the connection's handshake"
        if src != Netns.GUEST4:
            # The client's own frames are captured before its veth would finish their
            # checksums; what matters is its acknowledgement and window.
            if ack and win:
                right_edge = max(right_edge or 0, int(ack) + int(win))
            continue
        n = int(tcp_len or 0)
        if n:
            data += 1
            if right_edge is not None and int(seq) + n > right_edge:
                outside += 1
        biggest = max(biggest, int(ip_len))
        bad += tcp_ok != "1" or ip_ok != "1"
    # Every frame the guest sent, as it left the router: real MTU-sized segments
    # (not one super-frame), every checksum right, none beyond the client's window.
    assert data > 13_000, data
    assert biggest <= 1500, biggest
    assert bad == 0 and outside == 0, (bad, outside)


def test_lost_segments_of_coalesced_frames_are_resent(qemu, kernel, netns, routed, tmp_path):
    """Every 500th segment the host cut from the guest's coalesced frames is dropped
    on the way (the client's input hook), so lwIP must resend a part of a frame it
    sent coalesced: the download still arrives byte-exact, the resent segments are
    MSS-sized with good checksums, and the stream goes on coalesced afterwards."""
    # In the client's input hook: netfilter on the router still sees the coalesced
    # frames, the client sees the segments the router's veth cut.
    sh(routed, "nft", "add", "table", "inet", "loss")
    sh(routed, "nft", "add", "chain", "inet", "loss", "every500", "{ type filter hook input priority 0; }")
    sh(routed, "nft", "add", "rule", "inet", "loss", "every500", "ip", "saddr", Netns.GUEST4, "tcp", "sport", "80",
       "tcp", "flags", "&", "(syn|fin|rst)", "==", "0", "numgen", "inc", "mod", "500", "==", "499", "counter", "drop")
    q = boot(qemu, kernel, netns)
    pcap = tmp_path / "loss.pcap"
    with capture(routed, pcap):
        routed_download(routed, q)
    rules = subprocess.run(["ip", "netns", "exec", routed, "nft", "list", "chain", "inet", "loss", "every500"],
                           capture_output=True, text=True, check=True).stdout
    dropped = int(re.search(r"counter packets (\d+)", rules).group(1))
    assert dropped >= 10, rules
    st = stats(netns)["interfaces"]["en0"]
    assert st["tx_gso_frames"] > 0 and st["tx_gso_segments"] > 5_000, st
    rows = subprocess.run(["tshark", "-r", str(pcap), "-o", "tcp.check_checksum:TRUE", "-T", "fields",
                           "-E", "separator=,", "-Y", f"ip.src == {Netns.GUEST4} && tcp.len > 0 && "
                           "(tcp.analysis.retransmission || tcp.analysis.out_of_order)",
                           "-e", "ip.len", "-e", "tcp.checksum.status"],
                          capture_output=True, text=True, check=True).stdout.split()
    # At least one resend per hole, each a real segment with a good checksum.
    assert len(rows) >= dropped, (len(rows), dropped)
    assert all(int(r.split(",")[0]) <= 1500 and r.split(",")[1] == "1" for r in rows), rows[:20]
