"""Two virtio-net devices, two networks (net/netif.c: a netif per NIC, en0 and en1).

QEMU runs in namespace A with two TAPs: tap0 stays in A (en0, 10.77.0.0/24),
tap1 moves to namespace B once QEMU has opened it (en1, 10.78.0.0/24), so the
only way between the two networks is the guest. Each interface gets its own
address from the command line (ip= for en0, en1.ip= for en1); HTTP is served
on both at once; a link flap on en1 (QEMU's set_link) leaves en0 serving; and
/stats counts each namespace's traffic on its own interface.
"""
import json
import re
import subprocess
import time

import pytest

from conftest import Netns

GUEST1, HOST1 = "10.78.0.2", "10.78.0.1"
MAC0, MAC1 = "52:54:00:12:34:56", "52:54:00:12:34:57"
READY = r"net: {name} MAC (\S+) IPv4 (\S+) netmask \S+ gw \S+ \((\w[\w ]*)\) IPv6 (\S+) link (up|down)"


class SecondNetns(Netns):
    """Namespace B: only lo until tap1 arrives from namespace A."""

    def create(self):
        self.name += "b"
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.run("ip", "link", "set", "lo", "up")
        return self


@pytest.fixture
def netns_b():
    ns = SecondNetns().create()
    yield ns
    ns.destroy()


def two_nics():
    return ["-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no",
            "-device", f"virtio-net-pci,netdev=n0,mac={MAC0}",
            "-netdev", "tap,id=n1,ifname=tap1,script=no,downscript=no",
            "-device", f"virtio-net-pci,netdev=n1,mac={MAC1}"]


def boot_two(qemu, kernel, netns, netns_b, cmdline=None):
    netns.run("ip", "tuntap", "add", "dev", "tap1", "mode", "tap")
    cmdline = cmdline or f"ip={Netns.GUEST4}/24 gw={Netns.HOST4} en1.ip={GUEST1}/24"
    q = qemu(kernel=kernel, cmdline=cmdline, netns=netns.name, devices=two_nics())
    m0 = q.wait_for(READY.format(name="en0"), timeout=60)
    m1 = q.wait_for(READY.format(name="en1"), timeout=60)
    # QEMU holds tap1 open: the device keeps working in namespace B.
    netns.run("ip", "link", "set", "tap1", "netns", netns_b.name)
    netns_b.run("ip", "addr", "add", f"{HOST1}/24", "dev", "tap1")
    netns_b.run("ip", "link", "set", "tap1", "up")
    netns_b.run("sysctl", "-q", "-w", "net.ipv4.neigh.tap1.retrans_time_ms=10")
    return q, m0, m1


def curl(ns, url, timeout=20):
    return subprocess.Popen(["ip", "netns", "exec", ns.name, "curl", "-sS", "-m", str(timeout), url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def get(ns, url, timeout=20):
    p = curl(ns, url, timeout)
    out, err = p.communicate(timeout=timeout + 10)
    return p.returncode, out, err


def stats(ns, addr):
    rc, out, err = get(ns, f"http://{addr}/stats")
    assert rc == 0, err
    return json.loads(out)


def ping(ns, addr, count, interval="0.02"):
    r = ns.run("ping", "-q", "-c", str(count), "-i", interval, "-W", "1", addr, check=False, timeout=120)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", r.stdout)
    assert m, r.stdout + r.stderr
    return int(m.group(1)), int(m.group(2))


def wait_ping(ns, addr, timeout=30):
    deadline = time.monotonic() + timeout
    while ping(ns, addr, 1, interval="0.2")[1] == 0:
        assert time.monotonic() < deadline, f"{addr} does not answer from {ns.name}"


def test_two_nics_each_with_its_own_address(qemu, kernel, netns, netns_b):
    q, m0, m1 = boot_two(qemu, kernel, netns, netns_b)
    assert (m0.group(1), m0.group(2), m0.group(3)) == (MAC0, Netns.GUEST4, "static")
    assert (m1.group(1), m1.group(2), m1.group(3)) == (MAC1, GUEST1, "static")
    wait_ping(netns, Netns.GUEST4)
    wait_ping(netns_b, GUEST1)

    # HTTP on both at once: both requests in flight together.
    pa = [curl(netns, f"http://{Netns.GUEST4}/hello") for _ in range(4)]
    pb = [curl(netns_b, f"http://{GUEST1}/hello") for _ in range(4)]
    for p in pa + pb:
        out, err = p.communicate(timeout=40)
        assert p.returncode == 0 and out, (p.returncode, err, q.log[-3000:])

    st = stats(netns_b, GUEST1)
    ifs = st["interfaces"]
    assert sorted(ifs) == ["en0", "en1"]
    assert (ifs["en0"]["mac"], ifs["en0"]["ipv4"]) == (MAC0, Netns.GUEST4)
    assert (ifs["en1"]["mac"], ifs["en1"]["ipv4"]) == (MAC1, GUEST1)
    assert ifs["en0"]["link_up"] and ifs["en1"]["link_up"]
    # en1's driver section is nested in its interface, en0's is the top-level "virtio_net".
    assert [x["name"] for x in ifs["en1"]["virtio_net"]["queues"]][:2] == ["rx0", "tx0"]
    assert "virtio_net" in st


def test_stats_count_each_namespace_on_its_own_interface(qemu, kernel, netns, netns_b):
    q, _, _ = boot_two(qemu, kernel, netns, netns_b)
    wait_ping(netns, Netns.GUEST4)
    wait_ping(netns_b, GUEST1)
    before = stats(netns, Netns.GUEST4)["interfaces"]
    n = 200
    assert ping(netns_b, GUEST1, n) == (n, n)
    after = stats(netns, Netns.GUEST4)["interfaces"]
    d1 = {k: after["en1"][k] - before["en1"][k] for k in ("rx_packets", "tx_packets")}
    d0 = {k: after["en0"][k] - before["en0"][k] for k in ("rx_packets", "tx_packets")}
    # B's 200 echo requests and replies, plus at most a few ARP/ND frames, all on en1 ...
    assert n <= d1["rx_packets"] <= n + 10 and n <= d1["tx_packets"] <= n + 10, (d1, d0)
    # ... and none on en0, which carried only the first /stats exchange (a dozen frames).
    assert d0["rx_packets"] < 30 and d0["tx_packets"] < 30, (d0, d1)

    # The other way round: A's pings count on en0 only.
    before = stats(netns_b, GUEST1)["interfaces"]
    assert ping(netns, Netns.GUEST4, n) == (n, n)
    after = stats(netns_b, GUEST1)["interfaces"]
    d0 = after["en0"]["rx_packets"] - before["en0"]["rx_packets"]
    d1 = after["en1"]["rx_packets"] - before["en1"]["rx_packets"]
    assert n <= d0 <= n + 10 and d1 < 30, (d0, d1)


def test_link_flap_on_en1_leaves_en0_serving(qemu, kernel, netns, netns_b):
    q, _, _ = boot_two(qemu, kernel, netns, netns_b)
    wait_ping(netns, Netns.GUEST4)
    wait_ping(netns_b, GUEST1)
    q.hmp("set_link n1 off")
    deadline = time.monotonic() + 20
    while stats(netns, Netns.GUEST4)["interfaces"]["en1"]["link_up"]:
        assert time.monotonic() < deadline, q.log[-3000:]
    # en1 is down: B gets nothing; en0 serves A all along.
    assert ping(netns_b, GUEST1, 3, interval="0.2")[1] == 0
    for _ in range(5):
        rc, out, err = get(netns, f"http://{Netns.GUEST4}/hello")
        assert rc == 0 and out, err
    assert ping(netns, Netns.GUEST4, 50) == (50, 50)
    st = stats(netns, Netns.GUEST4)["interfaces"]
    assert st["en0"]["link_up"] and not st["en1"]["link_up"]
    q.hmp("set_link n1 on")
    wait_ping(netns_b, GUEST1, timeout=20)
    rc, out, err = get(netns_b, f"http://{GUEST1}/hello")
    assert rc == 0 and out, err
    st = stats(netns_b, GUEST1)["interfaces"]
    assert st["en0"]["link_up"] and st["en1"]["link_up"] and st["en1"]["link_changes"] >= 2


def test_en1_asks_dhcp_by_default_and_has_no_fallback(qemu, kernel, netns, netns_b):
    """Without en1.ip= en1 asks by DHCP (no server in B): after en1.dhcp_timeout it has no address,
    while en0 (static) serves from the start."""
    q, m0, _ = boot_two(qemu, kernel, netns, netns_b,
                        cmdline=f"ip={Netns.GUEST4}/24 gw={Netns.HOST4} en1.dhcp_timeout=2")
    assert m0.group(3) == "static"
    m1 = q.wait_for(READY.format(name="en1"), timeout=30)
    assert (m1.group(2), m1.group(3)) == ("0.0.0.0", "no address"), q.log[-3000:]
    assert re.search(r"net: asking for an address by DHCP on en1", q.log)
    assert re.search(r"net: no DHCP answer in 2 s on en1", q.log)
    rc, out, err = get(netns, f"http://{Netns.GUEST4}/hello")
    assert rc == 0 and out, err


def test_flood_on_en0_leaves_en1_serving(qemu, kernel, netns, netns_b):
    """net/netif.c's nif_poll(): each NIC its own budget per turn, the first
    polled taking turns. A ping flood with 200 requests outstanding keeps
    en0's ring fuller than one budget (its rx_budget_exhausted counter moves),
    and all the while every HTTP request and ping on en1 is answered."""
    q, _, _ = boot_two(qemu, kernel, netns, netns_b)
    wait_ping(netns, Netns.GUEST4)
    wait_ping(netns_b, GUEST1)
    before = stats(netns_b, GUEST1)
    flood = netns.popen("ping", "-f", "-l", "200", "-q", "-w", "12", Netns.GUEST4,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1)
        for i in range(20):
            rc, out, err = get(netns_b, f"http://{GUEST1}/hello", timeout=5)
            assert rc == 0 and out, f"request {i} on en1 during the flood on en0: {err}\n{q.log[-2000:]}"
        assert ping(netns_b, GUEST1, 100) == (100, 100)
        mid = stats(netns_b, GUEST1)
        assert flood.poll() is None, "the flood ended before en1 was measured"
    finally:
        out, _ = flood.communicate(timeout=30)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    assert m, out
    en0_rx = mid["interfaces"]["en0"]["rx_packets"] - before["interfaces"]["en0"]["rx_packets"]
    exhausted = mid["virtio_net"]["rx_budget_exhausted"] - before["virtio_net"]["rx_budget_exhausted"]
    print(f"en0: {en0_rx} frames during the measurement, budget exhausted {exhausted} times; "
          f"flood {m.group(1)} sent {m.group(2)} answered")
    assert exhausted > 0, "the flood never filled more than one budget: it proves nothing"
    assert en0_rx > 5000
