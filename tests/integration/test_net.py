"""virtio-net as an lwIP netif: the kernel gets an address, answers ping over
IPv4 and IPv6, passes TCP, follows link changes, and survives floods without
losing buffers. Traffic goes only to QEMU's user network on 127.0.0.1 or to a
TAP device inside a namespace the test creates."""
import json
import re
import socket
import subprocess
import time

import pytest

from conftest import NET_READY, Netns, free_port, tap_nic, user_nic


def boot_tap(qemu, kernel, netns, cmdline=f"ip={Netns.GUEST4}/24 gw={Netns.HOST4}", options="", machine="q35"):
    q = qemu(kernel=kernel, cmdline=cmdline, machine=machine, netns=netns.name, devices=tap_nic(options=options))
    q.wait_for(NET_READY, timeout=60)
    return q


def ping(netns, addr, count, interval="0.01", size=56, flood=False, timeout=120, v6=False):
    cmd = ["ping", "-6" if v6 else "-4", "-q", "-c", str(count), "-s", str(size), "-W", "2"]
    cmd += ["-f"] if flood else ["-i", interval]
    r = netns.run(*cmd, addr, check=False, timeout=timeout)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", r.stdout)
    assert m, r.stdout + r.stderr
    return int(m.group(1)), int(m.group(2))


def test_dhcp_from_qemu_and_tcp_through_hostfwd(qemu, kernel):
    port = free_port()
    q = qemu(kernel=kernel, devices=user_nic([(port, 7)]))
    m = q.wait_for(NET_READY, timeout=60)
    assert m.group(2) == "10.0.2.15" and m.group(3) == "dhcp", q.log
    assert m.group(4).lower().startswith("fe80::5054:ff:fe12:3456")
    # A TCP connection from the host reaches the guest's echo port. Until the
    # guest listens, QEMU's slirp accepts and then drops the connection (an
    # EOF or a reset before any byte): only that is retried; wrong bytes fail.
    deadline = time.monotonic() + 30
    while True:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            try:
                s.sendall(b"hello unikernel\n")
                data = b""
                while len(data) < 16:
                    chunk = s.recv(100)
                    if not chunk:
                        break
                    data += chunk
            except ConnectionError:
                data = b""
        if data:
            assert data == b"hello unikernel\n", data
            break
        assert time.monotonic() < deadline, q.log[-3000:]
        time.sleep(0.5)


def test_ping_1000_at_10ms_and_large(qemu, kernel, netns):
    q = boot_tap(qemu, kernel, netns)
    sent, got = ping(netns, Netns.GUEST4, 1000, interval="0.01")
    assert (sent, got) == (1000, 1000), q.log[-2000:]
    # 1400-byte pings: frames bigger than one small buffer.
    sent, got = ping(netns, Netns.GUEST4, 200, interval="0.01", size=1400)
    assert (sent, got) == (200, 200)
    # ARP: the namespace learnt the guest's MAC.
    neigh = netns.run("ip", "neigh", "show", Netns.GUEST4).stdout
    assert "52:54:00:12:34:56" in neigh, neigh


def test_ipv6_link_local_and_slaac(qemu, kernel, netns):
    q = boot_tap(qemu, kernel, netns)
    # The link-local address is tentative until duplicate address detection
    # is over (RFC 4862, about a second): wait for the first answer...
    ll = "fe80::5054:ff:fe12:3456%tap0"
    deadline = time.monotonic() + 20
    while ping(netns, ll, 1, v6=True)[1] == 0:
        assert time.monotonic() < deadline, q.log[-2000:]
    # ...then every ping must be answered.
    sent, got = ping(netns, ll, 20, interval="0.05", v6=True)
    assert got == sent == 20, q.log[-2000:]
    # SLAAC: radvd is not in the namespace, so announce the prefix with
    # dnsmasq's router advertisements and wait for the guest's global address.
    netns.popen("dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0", "--interface=tap0",
                "--bind-interfaces", "--enable-ra", "--dhcp-range=::,constructor:tap0,ra-only,64,1h",
                f"--pid-file=/tmp/{netns.name}-ra.pid", stdout=subprocess_devnull(), stderr=subprocess_devnull())
    # The guest says when the address it formed from the prefix and its MAC is valid
    # (after duplicate address detection)...
    q.wait_for(r"net: IPv6 address (?i:fd77::5054:ff:fe12:3456) valid", timeout=40)
    # ...and from then on answers every ping to it.
    sent, got = ping(netns, "fd77::5054:ff:fe12:3456", 20, interval="0.05", v6=True, timeout=20)
    assert got == sent == 20, q.log[-3000:]
    assert re.search(r"net: IPv6 address (?i:fe80::5054:ff:fe12:3456) valid", q.log), q.log[-3000:]


def test_dhcp_from_dnsmasq(qemu, kernel, netns):
    netns.popen("dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0", "--interface=tap0",
                "--bind-interfaces", "--dhcp-range=10.77.0.50,10.77.0.60,255.255.255.0,1h",
                f"--dhcp-leasefile=/tmp/{netns.name}.leases", f"--pid-file=/tmp/{netns.name}.pid",
                stdout=subprocess_devnull(), stderr=subprocess_devnull())
    q = qemu(kernel=kernel, cmdline="", netns=netns.name, devices=tap_nic())
    m = q.wait_for(NET_READY, timeout=60)
    assert m.group(3) == "dhcp", q.log
    addr = m.group(2)
    assert addr.startswith("10.77.0.5") or addr.startswith("10.77.0.60"), addr
    sent, got = ping(netns, addr, 20, interval="0.02")
    assert got == sent


def test_dhcp_timeout_falls_back_to_static(qemu, kernel, netns):
    q = qemu(kernel=kernel, cmdline=f"dhcp_timeout=2 ip_fallback={Netns.GUEST4}/24", netns=netns.name,
             devices=tap_nic())
    m = q.wait_for(NET_READY, timeout=60)
    assert m.group(3) == "static fallback" and m.group(2) == Netns.GUEST4
    # The log's own timestamps: 2 s (and a little) between asking and giving up.
    asked = re.search(r"\[\s*(\d+\.\d+)\] \S+ *net: asking for an address by DHCP", q.log)
    gave_up = re.search(r"\[\s*(\d+\.\d+)\] \S+ *net: no DHCP answer in 2 s", q.log)
    assert asked and gave_up, q.log
    # (the deadline is taken just before dhcp_start(), the line just after: a few ms early)
    assert 1.95 <= float(gave_up.group(1)) - float(asked.group(1)) < 2.5, q.log
    sent, got = ping(netns, Netns.GUEST4, 10, interval="0.05")
    assert got == 10


def test_link_down_and_up(qemu, kernel, netns):
    q = boot_tap(qemu, kernel, netns)
    assert ping(netns, Netns.GUEST4, 5, interval="0.05")[1] == 5
    q.hmp("set_link n0 off")
    q.wait_for(r"virtio-net: link down", timeout=20)
    assert ping(netns, Netns.GUEST4, 3, interval="0.2")[1] == 0
    q.hmp("set_link n0 on")
    q.wait_for(r"virtio-net: link up", timeout=20)
    deadline = time.monotonic() + 20
    while ping(netns, Netns.GUEST4, 3, interval="0.2")[1] == 0:
        assert time.monotonic() < deadline, q.log[-2000:]
    assert ping(netns, Netns.GUEST4, 20, interval="0.02")[1] == 20


def pools_after_idle(q):
    """The last complete stats dump: (rx pool free, pool total, rx ring in flight, lwIP pbufs in use)."""
    time.sleep(2.5)
    log = q.log
    pools = re.findall(r"pool free (\d+)/(\d+)", log)
    rings = re.findall(r"virtio-net: rx0: size \d+ free \d+ in flight (\d+)", log)
    lwip = re.findall(r"lwIP pools in use:.* PBUF_REF/ROM=(\d+)/\d+ PBUF_POOL=(\d+)/\d+", log)
    assert pools and rings and lwip, log[-3000:]
    free, total = map(int, pools[-1])
    return free, total, int(rings[-1]), tuple(map(int, lwip[-1]))


def test_ping_flood_and_arp_flood(qemu, kernel, netns):
    q = boot_tap(qemu, kernel, netns, cmdline=f"ip={Netns.GUEST4}/24 gw={Netns.HOST4} stats_interval=1")
    sent, got = ping(netns, Netns.GUEST4, 100000, flood=True, timeout=600)
    assert sent == 100000
    # Flood ping gives up on late replies; nearly all must come back.
    assert got >= 99000, (sent, got)
    flood_arp(netns, 20000)
    # Still answering...
    assert ping(netns, Netns.GUEST4, 50, interval="0.01")[1] == 50
    # ...and no buffer is lost: every receive buffer is either in the pool
    # or posted in the ring, and lwIP holds no pbufs once idle.
    free, total, posted, (pbuf_ref, pbuf_pool) = pools_after_idle(q)
    assert free + posted == total, q.log[-3000:]
    assert (pbuf_ref, pbuf_pool) == (0, 0), q.log[-3000:]


def flood_arp(netns, count):
    """Send @count broadcast ARP requests for the guest from tap0 with a raw socket."""
    script = f"""
import socket, struct
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("tap0", 0))
mac = open("/sys/class/net/tap0/address").read().strip()
src = bytes(int(x, 16) for x in mac.split(":"))
frame = b"\\xff" * 6 + src + b"\\x08\\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1)
frame += src + socket.inet_aton("{Netns.HOST4}") + b"\\x00" * 6 + socket.inet_aton("{Netns.GUEST4}")
for i in range({count}):
    s.send(frame)
"""
    netns.run("python3", "-c", script, timeout=120)


def subprocess_devnull():
    import subprocess
    return subprocess.DEVNULL


# The device-option matrix: each variant must pass real traffic, small and
# large frames, both ways. Options are QEMU virtio-net-pci properties.
OPTION_MATRIX = [
    ("q35", ""),
    ("q35", "mrg_rxbuf=off"),
    ("q35", "event_idx=off"),
    ("q35", "indirect_desc=off"),
    ("q35", "csum=off,guest_csum=off"),
    ("q35", "rx_queue_size=1024,tx_queue_size=1024"),
    ("q35", "ctrl_vq=off"),
    ("q35", "disable-modern=on"),
    ("q35", "disable-legacy=on,vectors=0"),
    ("pc", ""),
    ("pc", "vectors=0"),
    ("pc", "disable-modern=on,vectors=0,mrg_rxbuf=off"),
    # Packed virtqueues (virtio 1.2 2.8, drivers/vring_packed.c): QEMU offers
    # RING_PACKED only when asked; with and without event idx and indirect.
    ("q35", "packed=on"),
    ("q35", "packed=on,event_idx=off"),
    ("q35", "packed=on,indirect_desc=off"),
    ("q35", "packed=on,mrg_rxbuf=off,event_idx=off,indirect_desc=off"),
]


# Feature bits (virtio 1.x 5.1.3, 6) and the QEMU options that take each away.
FEATURE_BITS = {"CSUM": 0, "GUEST_CSUM": 1, "MRG_RXBUF": 15, "CTRL_VQ": 17, "INDIRECT_DESC": 28,
                "EVENT_IDX": 29, "VERSION_1": 32}
REFUSED_BY = {"mrg_rxbuf=off": ["MRG_RXBUF"], "event_idx=off": ["EVENT_IDX"], "indirect_desc=off": ["INDIRECT_DESC"],
              "csum=off": ["CSUM"], "guest_csum=off": ["GUEST_CSUM"], "ctrl_vq=off": ["CTRL_VQ"],
              "disable-modern=on": ["VERSION_1"]}


PACKED_BIT = 34  # VIRTIO_F_RING_PACKED


def check_features(log, options):
    """Every feature the options take away is neither offered nor negotiated, and every
    other one the driver wants is negotiated (the boot log's feature line); the
    packed layout is negotiated exactly when the device was given packed=on."""
    m = re.search(r"features offered (0x[0-9a-f]+), negotiated (0x[0-9a-f]+):", log)
    assert m, log[-3000:]
    offered, negotiated = int(m.group(1), 16), int(m.group(2), 16)
    refused = {f for o in options.split(",") if o for f in REFUSED_BY.get(o, [])}
    for name, bit in FEATURE_BITS.items():
        if name in refused:
            assert not offered >> bit & 1, f"{options}: QEMU still offers {name}\n{m.group(0)}"
            assert not negotiated >> bit & 1, f"{options}: {name} negotiated\n{m.group(0)}"
        else:
            assert negotiated >> bit & 1, f"{options}: {name} not negotiated\n{m.group(0)}"
    assert negotiated & ~offered == 0, m.group(0)
    packed = "packed=on" in options.split(",")
    assert bool(negotiated >> PACKED_BIT & 1) == packed, f"{options}: RING_PACKED\n{m.group(0)}"
    assert ("RING_PACKED" in log) == packed, m.group(0)


@pytest.mark.parametrize("machine,options", OPTION_MATRIX, ids=[f"{m}-{o or 'default'}" for m, o in OPTION_MATRIX])
def test_device_option_matrix(qemu, kernel, netns, machine, options):
    q = boot_tap(qemu, kernel, netns, options=options, machine=machine,
                 cmdline=f"ip={Netns.GUEST4}/24 gw={Netns.HOST4} stats_interval=1")
    assert "DRIVER_OK" in q.log
    check_features(q.log, options)
    assert ping(netns, Netns.GUEST4, 100, interval="0.01")[1] == 100, q.log[-3000:]
    assert ping(netns, Netns.GUEST4, 50, interval="0.01", size=1400)[1] == 50, q.log[-3000:]
    if "rx_queue_size=1024" in options:
        # QEMU honours tx_queue_size above 256 only for vhost-user backends,
        # so with tap the transmit ring stays at 256.
        assert "rx 1024 x 2048-byte buffers" in q.log and "tx ring 256" in q.log
    if "mrg_rxbuf=off" in options:
        assert "(mergeable)" not in q.log
    if "packed=on" in options:
        check_packed_traffic(netns, q)
    free, total, posted, pbufs = pools_after_idle(q)
    assert free + posted == total and pbufs == (0, 0), q.log[-3000:]
    assert "broken" not in q.log


def test_packed_refused_by_cmdline(qemu, kernel, netns):
    """virtio.packed=off: the device offers packed rings, the kernel declines
    them (split rings, the same traffic), for comparisons."""
    q = boot_tap(qemu, kernel, netns, options="packed=on",
                 cmdline=f"ip={Netns.GUEST4}/24 gw={Netns.HOST4} virtio.packed=off")
    m = re.search(r"features offered (0x[0-9a-f]+), negotiated (0x[0-9a-f]+):", q.log)
    assert m and int(m.group(1), 16) >> PACKED_BIT & 1, q.log[-3000:]  # offered...
    assert not int(m.group(2), 16) >> PACKED_BIT & 1, m.group(0)      # ...and declined
    assert ping(netns, Netns.GUEST4, 20, interval="0.01")[1] == 20
    r = netns.run("curl", "-sS", "-m", "20", f"http://{Netns.GUEST4}/stats", timeout=30)
    queues = json.loads(r.stdout)["virtio_net"]["queues"]
    assert queues and all(x["layout"] == "split" for x in queues), queues


def check_packed_traffic(netns, q):
    """TCP both ways through packed rings, and /stats says every queue is packed
    (a variant whose device silently fell back to split rings proves nothing)."""
    n = 8 << 20
    r = netns.run("curl", "-sS", "-m", "60", "-o", "/dev/null", "-w", "%{size_download}",
                  f"http://{Netns.GUEST4}/bytes/{n}", timeout=90)
    assert r.stdout.strip() == str(n), r.stdout + r.stderr + q.log[-3000:]
    body = b"x" * (4 << 20)
    r = subprocess.run(["ip", "netns", "exec", netns.name, "curl", "-sS", "-m", "60", "--data-binary", "@-",
                        f"http://{Netns.GUEST4}/sink"], input=body, capture_output=True, timeout=90)
    assert r.stdout.decode().strip() == str(len(body)), r.stdout + r.stderr  # /sink answers the byte count
    r = netns.run("curl", "-sS", "-m", "20", f"http://{Netns.GUEST4}/stats", timeout=30)
    queues = json.loads(r.stdout)["virtio_net"]["queues"]
    assert queues and all(x["layout"] == "packed" for x in queues), queues
    assert all(x["used"] > 0 and not x["broken"] for x in queues if x["name"] != "ctrl"), queues
