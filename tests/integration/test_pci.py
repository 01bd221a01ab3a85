"""PCI enumeration on real QEMU machines: the kernel's boot listing must agree
with what QEMU itself reports (`info pci` on the monitor) for every function,
BAR, bridge and interrupt line, on q35 (ECAM from the MCFG table) and on pc
(i440FX, legacy ports 0xCF8/0xCFC), with devices behind bridges two levels
deep and a multi-function device.

Skipped until drivers/pci.c is linked into the kernel (kmain step 8 calls
pci_init_ecam()/pci_init() and pci_probe_drivers()).
"""
import re

import pytest



# Topologies: (machine, expected config access, QEMU device arguments).
TOPOLOGIES = {
    "q35": ("q35", "ecam", [
        "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0,addr=3",
        # PCIe root port -> virtio 1.0 device (bus 1)
        "-device", "pcie-root-port,id=rp1,bus=pcie.0,chassis=1,addr=0x1c",
        "-netdev", "user,id=n1", "-device", "virtio-net-pci,bus=rp1,netdev=n1,disable-legacy=on",
        # PCIe root port -> PCIe-to-PCI bridge (bus 2) -> e1000 (bus 3)
        "-device", "pcie-root-port,id=rp2,bus=pcie.0,chassis=2,addr=0x1d",
        "-device", "pcie-pci-bridge,id=br1,bus=rp2",
        "-netdev", "user,id=n2", "-device", "e1000,bus=br1,addr=3,netdev=n2",
    ]),
    "pc": ("pc", "port-io", [
        "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0",
        # bridge (bus 1) -> bridge (bus 2) -> e1000, and a multi-function device on bus 1
        "-device", "pci-bridge,id=b1,chassis_nr=1,addr=5",
        "-device", "pci-bridge,id=b2,chassis_nr=2,bus=b1,addr=2",
        "-netdev", "user,id=n1", "-device", "e1000,bus=b2,addr=1,netdev=n1",
        "-netdev", "user,id=n2",
        "-device", "virtio-net-pci,bus=b1,addr=4.0,netdev=n2,multifunction=on",
        "-device", "virtio-rng-pci,bus=b1,addr=4.1",
    ]),
}


def new_fn():
    return {"id": None, "bars": {}, "irq": None, "buses": None}


def parse_info_pci(text):
    """QEMU's `info pci` -> {(bus, dev, fn): {...}}."""
    fns, cur = {}, None
    for line in text.splitlines():
        m = re.match(r"\s*Bus\s+(\d+), device\s+(\d+), function (\d+):", line)
        if m:
            cur = new_fn()
            fns[tuple(int(x) for x in m.groups())] = cur
            continue
        if cur is None:
            continue
        if m := re.search(r"PCI device ([0-9a-f]{4}):([0-9a-f]{4})", line):
            cur["id"] = f"{m.group(1)}:{m.group(2)}"
        elif m := re.search(r"IRQ (\d+), pin ([A-D])", line):
            cur["irq"] = (m.group(2), int(m.group(1)))
        elif m := re.search(r"secondary bus (\d+)", line):
            cur["buses"] = (int(m.group(1)), None)
        elif m := re.search(r"subordinate bus (\d+)", line):
            cur["buses"] = (cur["buses"][0], int(m.group(1)))
        elif m := re.search(r"BAR(\d): I/O at (0x[0-9a-f]+) \[(0x[0-9a-f]+)\]", line):
            start, end = int(m.group(2), 16), int(m.group(3), 16)
            cur["bars"][int(m.group(1))] = ("io", False, start, end - start + 1)
        elif m := re.search(r"BAR(\d): (32|64) bit (prefetchable )?memory at (0x[0-9a-f]+) \[(0x[0-9a-f]+)\]", line):
            bar = int(m.group(1))
            if bar == 6:  # expansion ROM: not a BAR the kernel decodes
                continue
            start, end = int(m.group(4), 16), int(m.group(5), 16)
            cur["bars"][bar] = (f"mem{m.group(2)}", bool(m.group(3)), start, end - start + 1)
    return fns


UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_kernel_listing(log):
    """The kernel's boot listing (drivers/pci.c list_dev) -> the same shape."""
    fns, cur = {}, None
    for line in log.splitlines():
        m = re.search(r"\] \w pci: (.*)$", line)
        if not m:
            continue
        text = m.group(1)
        if m := re.match(r"([0-9a-f]{2}):([0-9a-f]{2})\.([0-7]) ([0-9a-f]{4}:[0-9a-f]{4}) .*\[[0-9a-f]{4}\] \(rev", text):
            cur = new_fn()
            cur["id"] = m.group(4)
            fns[(int(m.group(1), 16), int(m.group(2), 16), int(m.group(3)))] = cur
        elif cur is None or not text.startswith("  "):
            continue
        elif m := re.search(r"BAR(\d): I/O ports at (0x[0-9a-f]+) \[size=(\d+)([KMGT]?)\]", text):
            cur["bars"][int(m.group(1))] = ("io", False, int(m.group(2), 16), int(m.group(3)) * UNITS[m.group(4)])
        elif m := re.search(r"BAR(\d): memory at (0x[0-9a-f]+) \((32|64)-bit, (non-)?prefetchable\) "
                            r"\[size=(\d+)([KMGT]?)\]", text):
            cur["bars"][int(m.group(1))] = (f"mem{m.group(3)}", not m.group(4), int(m.group(2), 16),
                                            int(m.group(5)) * UNITS[m.group(6)])
        elif m := re.search(r"interrupt: pin ([A-D]), line (\d+)", text):
            cur["irq"] = (m.group(1), int(m.group(2)))
        elif m := re.search(r"bridge: secondary bus ([0-9a-f]{2}), subordinate bus ([0-9a-f]{2})", text):
            cur["buses"] = (int(m.group(1), 16), int(m.group(2), 16))
    return fns


@pytest.mark.parametrize("topology", sorted(TOPOLOGIES))
def test_pci_listing_matches_qemu(qemu, kernel, topology):
    machine, access, devices = TOPOLOGIES[topology]
    q = qemu(kernel=kernel, cmdline="", machine=machine, devices=devices)
    m = q.wait_for(r"pci: (\d+) functions on (\d+) buses \(config access: ([\w-]+)", timeout=120)
    q.wait_for(r"boot: done", timeout=120)
    assert m.group(3) == access, q.describe()

    ours = parse_kernel_listing(q.log)
    theirs = parse_info_pci(q.hmp("info pci"))
    assert int(m.group(1)) == len(ours), q.describe()
    assert sorted(ours) == sorted(theirs), f"kernel {sorted(ours)}\nqemu   {sorted(theirs)}"
    for bdf in sorted(theirs):
        assert ours[bdf] == theirs[bdf], f"{bdf}: kernel {ours[bdf]}\nqemu   {theirs[bdf]}"

    # The topology really was nested: functions on buses 1, 2 and 3 (q35) / 1 and 2 (pc).
    buses = {bdf[0] for bdf in ours}
    assert buses >= ({0, 1, 2, 3} if machine == "q35" else {0, 1, 2}), buses
    assert int(m.group(2)) == len(buses)
    if machine == "pc":
        assert (1, 4, 0) in ours and (1, 4, 1) in ours  # both functions of the multi-function device

    log = q.log
    # virtio devices expose their configuration through vendor capabilities and MSI-X.
    assert re.search(r"capabilities: \[98\] MSI-X, \[84\] Vendor Specific", log), log
    # Firmware-programmed topologies are sane: nothing was cut off or refused.
    assert "not followed" not in log
    assert "capability list" not in log
    assert "bad config" not in log
    # Every function was offered to the drivers and either claimed or reported.
    for (b, d, f) in ours:
        assert re.search(rf"pci: {b:02x}:{d:02x}\.{f:x} \S+ (claimed by \S+|.*: no driver)", log), (b, d, f)


@pytest.mark.parametrize("machine", ["pc", "q35"])
def test_qboot_leaves_bars_unassigned_and_the_kernel_assigns_them(qemu, kernel, machine):
    """qboot, QEMU's fast firmware for -kernel boots, assigns no BARs: the
    kernel must (as Linux does), then QEMU's own `info pci` shows the same
    addresses, none overlap, and the NIC serves HTTP through them."""
    import urllib.request

    from conftest import NET_READY, free_port, user_nic
    port = free_port()
    q = qemu(kernel=kernel, cmdline="", machine=machine, firmware="qboot",
             devices=user_nic([(port, 80)]) + ["-device", "virtio-rng-pci"])
    q.wait_for(NET_READY, timeout=60)
    log = q.log
    assigned = re.findall(r"pci: (\w\w):(\w\w)\.(\w): BAR(\d) assigned: (memory at|I/O ports at) 0x(\w+) "
                          r"\[size=(\d+)([KMG]?)\]", log)
    assert len(assigned) >= 6, log  # NIC: I/O, MMIO, 64-bit; rng: the same; VGA
    theirs = parse_info_pci(q.hmp("info pci"))
    spans = {"memory at": [], "I/O ports at": []}
    for b, d, f, bar, kind, addr, size, unit in assigned:
        addr = int(addr, 16)
        size = int(size) << {"": 0, "K": 10, "M": 20, "G": 30}[unit]
        assert addr % max(size, 4096 if kind == "memory at" else size) == 0, (b, d, f, bar, hex(addr))
        spans[kind].append((addr, addr + size))
        bdf = (int(b, 16), int(d, 16), int(f, 16))
        # QEMU maps the BAR where we put it once decode is on, which the NIC's
        # driver turns on; functions no driver took show as unmapped.
        got = theirs[bdf]["bars"][int(bar)]
        assert got[0].startswith("io" if kind == "I/O ports at" else "mem"), (bdf, bar, got)
        if theirs[bdf]["id"] == "1af4:1000":
            assert got[2:] == (addr, size), (bdf, bar, got, hex(addr), size)
        else:
            assert got[2] in (addr, (1 << 64) - 1, 0xffffffff, 0xffff), (bdf, bar, got, hex(addr))
    for kind, s in spans.items():
        s.sort()
        for (a0, a1), (b0, b1) in zip(s, s[1:]):
            assert a1 <= b0, f"{kind} BARs overlap: {a0:#x}-{a1:#x} and {b0:#x}-{b1:#x}"
        if kind == "memory at":
            assert all(a >= 0xC0000000 and e <= 0xFEC00000 for a, e in s), s
    assert "unassigned behind a bridge" not in log and "no room" not in log
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/qboot", timeout=20) as r:
        assert r.read().startswith(b"GET /qboot HTTP/1.1\r\n")
