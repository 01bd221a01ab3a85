"""The virtio PCI transport on real QEMU devices (drivers/virtio_pci.c,
drivers/virtio.c, with drivers/virtio_net.c on top).

A virtio-net device is booted under every transport QEMU offers
(modern-only `disable-legacy=on`, legacy-only `disable-modern=on`,
transitional) and every interrupt mode the transport falls back through
(MSI-X with a vector per queue; `vectors=2`, which leaves one shared vector
for the queues; `vectors=0`, no MSI-X at all, so INTx), on `pc` and `q35`,
and on q35 behind a PCIe root port, where QEMU turns the legacy interface off
by itself. For each boot the log must say which interface was found, what was
negotiated, which interrupt mode was taken (after exactly the failed attempts
the device's MSI-X table forces), and the device must reach DRIVER_OK.

Then: two virtio-net functions sharing one INTx line; a virtio-rng next to the
NIC (no driver: reported, nothing breaks); and the INTx GSI the kernel chose
checked against QEMU itself: `info pci` (the firmware's Interrupt Line),
`info pic` (the IO-APIC redirection entry the kernel programmed) and
`info irq` (the IO-APIC pin the device really raises when `set_link` makes
it send a configuration interrupt).
"""
import re
import time

import pytest

from conftest import STATUS_OK


# One klog line at level I(nfo); the timestamp is "[    0.014279]".
INFO = r"^\[\s*\d+\.\d+\] I "

# virtio-net (5.1.3) and transport (6) feature bits, by the spec's names
# without the VIRTIO_NET_F_ / VIRTIO_F_ / VIRTIO_RING_F_ prefix.
FEATURE_NAMES = {
    0: "CSUM", 1: "GUEST_CSUM", 2: "CTRL_GUEST_OFFLOADS", 3: "MTU", 5: "MAC", 6: "GSO",
    7: "GUEST_TSO4", 8: "GUEST_TSO6", 9: "GUEST_ECN", 10: "GUEST_UFO", 11: "HOST_TSO4",
    12: "HOST_TSO6", 13: "HOST_ECN", 14: "HOST_UFO", 15: "MRG_RXBUF", 16: "STATUS",
    17: "CTRL_VQ", 18: "CTRL_RX", 19: "CTRL_VLAN", 20: "CTRL_RX_EXTRA", 21: "GUEST_ANNOUNCE",
    22: "MQ", 23: "CTRL_MAC_ADDR", 24: "NOTIFY_ON_EMPTY", 27: "ANY_LAYOUT", 28: "INDIRECT_DESC",
    29: "EVENT_IDX", 30: "BAD_FEATURE", 32: "VERSION_1", 33: "ACCESS_PLATFORM",
    34: "RING_PACKED", 35: "IN_ORDER", 36: "ORDER_PLATFORM", 37: "SR_IOV",
    38: "NOTIFICATION_DATA", 39: "NOTIF_CONFIG_DATA", 40: "RING_RESET",
    55: "HOST_USO", 56: "HASH_REPORT", 57: "GUEST_HDRLEN", 60: "RSS", 61: "RSC_EXT",
    62: "STANDBY", 63: "SPEED_DUPLEX",
}
VIRTIO_F_VERSION_1 = 32
VIRTIO_NET_F_CTRL_VQ = 17
# Features our split-ring, single-queue-pair driver must never accept.
NEVER_NEGOTIATED = {34: "RING_PACKED", 22: "MQ", 33: "ACCESS_PLATFORM"}

ENODEV, EINVAL = 19, 22

# Transport -> (QEMU properties, PCI device ID, interface the kernel must pick).
TRANSPORTS = {
    "modern": ("disable-legacy=on,disable-modern=off", "1041", "modern"),
    "legacy": ("disable-legacy=off,disable-modern=on", "1000", "legacy"),
    "transitional": ("disable-legacy=off,disable-modern=off", "1000", "modern"),
    # Behind a PCIe root port QEMU's default (disable-legacy=auto) is "on".
    "auto": ("", "1041", "modern"),
}

MODE_PER_VQ = "MSI-X, one vector per queue"
MODE_SHARED = "MSI-X, one shared vector for the queues"
MODE_INTX = "INTx (legacy pin through the IO-APIC)"

# Interrupt setup -> (QEMU property, the mode the kernel ends up in, the
# attempts that must have failed first and their errors: no table big enough
# for a vector per queue is -EINVAL from pci_msix_enable(); no MSI-X
# capability at all is -ENODEV).
IRQ_MODES = {
    "msix": ("", MODE_PER_VQ, []),
    "shared": ("vectors=2", MODE_SHARED, [(MODE_PER_VQ, EINVAL)]),
    "intx": ("vectors=0", MODE_INTX, [(MODE_PER_VQ, ENODEV), (MODE_SHARED, ENODEV)]),
    # An MSI-X table too small even for config + one shared vector: the
    # capability is there but stays off, and the device must use its pin.
    "intx-1vec": ("vectors=1", MODE_INTX, [(MODE_PER_VQ, EINVAL), (MODE_SHARED, EINVAL)]),
}


def mac_of(netdev):
    """The MAC each test NIC is given (n0 -> 52:54:00:76:69:00): the driver
    must read it back from device config space, on either interface."""
    return f"52:54:00:76:69:{int(netdev[1:]):02x}"


def nic(netdev, props="", **where):
    """-netdev/-device arguments for one virtio-net function (QOM id "<netdev>dev")."""
    opts = [f"netdev={netdev}", f"id={netdev}dev", f"mac={mac_of(netdev)}"] + [p for p in props.split(",") if p]
    opts += [f"{k}={v}" for k, v in where.items()]
    return ["-netdev", f"user,id={netdev}", "-device", "virtio-net-pci," + ",".join(opts)]


ROOT_PORT = ["-device", "pcie-root-port,id=rp1,bus=pcie.0,chassis=1,addr=0x1c"]

# (id, machine, transport, irq, extra devices, NIC placement, expected BDF)
MATRIX = [(f"{machine}-{transport}-{irq}", machine, transport, irq, [], {"addr": "3"}, "00:03.0")
          for machine in ("pc", "q35")
          for transport in ("modern", "legacy", "transitional")
          for irq in ("msix", "shared", "intx")]
MATRIX += [(f"q35-rootport-{irq}", "q35", "auto", irq, ROOT_PORT, {"bus": "rp1"}, "01:00.0")
           for irq in ("msix", "shared", "intx")]
MATRIX += [(f"{machine}-{transport}-intx-1vec", machine, transport, "intx-1vec", [], {"addr": "3"}, "00:03.0")
           for machine, transport in (("pc", "legacy"), ("q35", "modern"))]
# Legacy asked for explicitly behind the root port: I/O BAR through the port's window, pin swizzled.
MATRIX += [(f"q35-rootport-legacy-{irq}", "q35", "legacy", irq, ROOT_PORT, {"bus": "rp1"}, "01:00.0")
           for irq in ("msix", "intx")]


# ------------------------------------------------------------------ log parsing

def virtio_lines(log, name):
    """The messages of virtio device @name (without timestamp and prefix), in order."""
    return [m.group(2) for m in re.finditer(rf"^\[\s*\d+\.\d+\] ([EWID]) {name}: (.*?)\r?$", log, re.M)]


def find_device(log, bdf):
    """The name (virtioN) the transport gave the function at @bdf, and its probe line."""
    m = re.search(rf"{INFO}(virtio\d+): {re.escape(bdf)} 1af4:([0-9a-f]{{4}}), "
                  r"(modern interface|legacy interface \(I/O BAR 0\))\r?$", log, re.M)
    assert m, f"no virtio probe line for {bdf}\n{log[-4000:]}"
    return m.group(1), m.group(2), m.group(3)


def parse_features(log, name):
    m = re.search(rf"{INFO}{name}: features offered (0x[0-9a-f]+|0), negotiated (0x[0-9a-f]+|0):(( \S+)*)\r?$",
                  log, re.M)
    assert m, f"{name}: no feature line\n{log[-4000:]}"
    return int(m.group(1), 16), int(m.group(2), 16), m.group(3).split()


def check_feature_names(negotiated, names):
    """One name per negotiated bit, in bit order, each the spec's name (or bitN)."""
    bits = [b for b in range(64) if negotiated >> b & 1]
    assert len(names) == len(bits), (hex(negotiated), names)
    for bit, name in zip(bits, names):
        assert name in (FEATURE_NAMES.get(bit), f"bit{bit}"), f"bit {bit} logged as {name!r}"


def check_nic(log, bdf, transport, irq):
    """Everything the transport and the driver say about the NIC at @bdf.
    Returns (name, INTx match or None, what was negotiated)."""
    _, device_id, interface = TRANSPORTS[transport]
    mode, failed_first = IRQ_MODES[irq][1:]
    name, found_id, found_iface = find_device(log, bdf)
    assert found_id == device_id, f"{bdf}: device 1af4:{found_id}, expected 1af4:{device_id}"
    modern = interface == "modern"
    assert found_iface == ("modern interface" if modern else "legacy interface (I/O BAR 0)")

    lines = virtio_lines(log, name)
    assert lines[1] == f"device type 1, driver virtio-net, {interface} transport", lines

    offered, negotiated, names = parse_features(log, name)
    assert negotiated & ~offered == 0, f"negotiated {negotiated:#x} not within offered {offered:#x}"
    check_feature_names(negotiated, names)
    if modern:
        # A modern device offers VERSION_1 and the driver must accept it (6.1).
        assert offered >> VIRTIO_F_VERSION_1 & 1 and negotiated >> VIRTIO_F_VERSION_1 & 1, lines
    else:
        # The legacy interface has 32 feature bits, and no VERSION_1.
        assert offered < 1 << 32 and negotiated < 1 << 32, lines
    for bit, what in NEVER_NEGOTIATED.items():
        assert not negotiated >> bit & 1, f"{what} negotiated: {lines}"

    # The fallback chain: exactly the attempts this MSI-X table size rules out.
    tried = [(m.group(1), -int(m.group(2)))
             for m in (re.fullmatch(r"(.*) not available \((-\d+)\), trying the next mode", l) for l in lines) if m]
    assert tried == failed_first, lines

    nq = 3 if negotiated >> VIRTIO_NET_F_CTRL_VQ & 1 else 2
    assert f"{nq} queues, interrupts by {mode}" in lines, lines

    intx = [re.fullmatch(r"INTx pin ([A-D]) -> GSI (\d+) \((level|edge), active (high|low)\) -> vector (\d+)", l)
            for l in lines if l.startswith("INTx pin")]
    if mode == MODE_INTX:
        assert len(intx) == 1 and intx[0], lines
        pin, gsi, trigger, polarity, vector = intx[0].groups()
        assert pin == "A"  # virtio-pci always reports INTA#
        # QEMU describes its PCI links as level, active high (MADT overrides
        # on pc; the GSIx link devices' _PRS on q35), so that is what the
        # kernel must program.
        assert (trigger, polarity) == ("level", "high"), lines
        assert 48 <= int(vector) <= 238  # IRQ_VECTOR_FIRST..IRQ_VECTOR_LAST
        # The GSI's route was logged by irq.c with the same vector (once, by
        # whichever device asked for the line first).
        assert re.search(rf"{INFO}irq: GSI {gsi} -> vector {vector} \(level, active high\)\r?$", log, re.M), log
    else:
        assert intx == [], lines
    intx = intx[0] if intx else None

    # DRIVER_OK is the last step; FEATURES_OK is part of it only on a 1.x device.
    status = 0xF if modern else 0x7
    assert lines[-1] == f"DRIVER_OK (status {status:#x})", lines
    assert lines.index(f"{nq} queues, interrupts by {mode}") < len(lines) - 1
    assert not any("FAILED" in l or "failed" in l for l in lines), lines
    return name, intx, {"names": names, "nq": nq, "status": status, "modern": modern}


def check_no_errors(log):
    """No error at all, and no warning from the layers under test (a warning
    from the clock on a loaded host is not this test's business)."""
    bad = [l for l in log.splitlines()
           if re.match(r"\[\s*\d+\.\d+\] (E |W (virtio|pci|irq|ioapic)\S*: )", l)]
    assert bad == [], "\n".join(bad)


def boot(qemu, kernel, machine, devices, cmdline="test=exit"):
    q = qemu(kernel=kernel, cmdline=cmdline, machine=machine, devices=devices)
    q.wait_for(r"boot: done", timeout=120)
    if cmdline == "test=exit":
        assert q.wait_exit(timeout=60) == STATUS_OK, q.describe()
    return q


# ------------------------------------------------------------------ QEMU monitor parsing

def info_pci_irq(text, bdf):
    """`info pci`: (pin, Interrupt Line) of the function at @bdf."""
    text = text.replace("\r", "")
    bus, dev, fn = (int(x, 16) for x in re.split(r"[:.]", bdf))
    block = re.search(rf"Bus\s+{bus}, device\s+{dev}, function {fn}:\n(.*?)(?=\n\s*Bus\s|\Z)", text, re.S)
    assert block, text
    m = re.search(r"IRQ (\d+), pin ([A-D])", block.group(1))
    assert m, block.group(1)
    return m.group(2), int(m.group(1))


def ioapic_state(qemu_proc):
    """`info pic`: IO-APIC pins -> (vector, polarity, trigger, masked), and the IRR / Remote IRR sets."""
    text = qemu_proc.hmp("info pic").replace("\r", "")
    pins = {}
    for m in re.finditer(r"pin\s+(\d+)\s+0x[0-9a-f]+\s+dest=\d+\s+vec=(\d+)\s+(active-hi|active-lo)\s+"
                         r"(edge|level)\s+(masked\s+)?fixed", text):
        # QEMU prints "masked" for a masked entry and blanks for an unmasked one.
        pins[int(m.group(1))] = (int(m.group(2)), m.group(3), m.group(4), m.group(5) is not None)

    def pinset(label):
        m = re.search(rf"^\s*{label}\s+(.*)$", text, re.M)
        assert m, text
        return set() if "(none)" in m.group(1) else {int(x) for x in m.group(1).split()}

    assert pins, text
    return pins, pinset("IRR"), pinset("Remote IRR")


def ioapic_counts(qemu_proc):
    """`info irq`: how often each IO-APIC input went high."""
    text = qemu_proc.hmp("info irq").replace("\r", "")
    m = re.search(r"IRQ statistics for ioapic:\n((?:\s*\d+: \d+\n?)*)", text)
    assert m, text
    return {int(a): int(b) for a, b in re.findall(r"(\d+): (\d+)", m.group(1))}


def poll(fn, what, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def link_log_count(q, state):
    return len(re.findall(rf"{INFO}virtio-net: link {state}\r?$", q.log, re.M))


def set_link(q, netdev, state):
    """`set_link @netdev @state`: the device flips the link bit in its config
    space and raises a configuration interrupt. Returns a function that waits
    until the driver logged the change, which it only learns of through that
    interrupt (only the first NIC logs: the main loop polls that one)."""
    word = "down" if state == "off" else "up"
    before = link_log_count(q, word)
    q.hmp(f"set_link {netdev} {state}")
    return lambda: poll(lambda: link_log_count(q, word) > before,
                        f"'virtio-net: link {word}' after set_link {netdev} {state} (configuration interrupt lost?)")


def pulse_config_interrupt(q, netdev, gsi, expect_log=True):
    """set_link @netdev off and on again: each change makes the device raise a
    configuration interrupt (ISR bit 1) on its INTx pin. Checks that QEMU saw
    IO-APIC input @gsi go high each time, and that the kernel's handler read
    the ISR (which lowers the line) and sent the EOI (which clears Remote IRR)."""
    for state in ("off", "on"):
        before = ioapic_counts(q).get(gsi, 0)
        wait_log = set_link(q, netdev, state)
        poll(lambda: ioapic_counts(q).get(gsi, 0) > before,
             f"IO-APIC pin {gsi} to go high ({netdev} {state}): the device's INTx is wired elsewhere")

        def settled():
            _, irr, remote = ioapic_state(q)
            return gsi not in irr and gsi not in remote
        poll(settled, f"the kernel to acknowledge the INTx on GSI {gsi} (pin still asserted: ISR not read, "
                      f"or no EOI)")
        if expect_log:
            wait_log()


STATUS_BITS = {1: "ACKNOWLEDGE", 2: "DRIVER", 4: "DRIVER_OK", 8: "FEATURES_OK", 0x40: "NEEDS_RESET",
               0x80: "FAILED"}
# What the driver asks for (ctrl: 64) and QEMU's default sizes (rx_queue_size, tx_queue_size: 256).
QUEUE_SIZES = [256, 256, 64]


def check_qemu_view(q, netdev, nego, ram=256 << 20):
    """QEMU's own view of the device (x-query-virtio-status and
    x-query-virtio-queue-status): the status and features the kernel logged
    are what the device holds, and every queue the driver uses was given a
    ring of the expected size at sane guest-physical addresses."""
    path = f"/machine/peripheral/{netdev}dev/virtio-backend"
    st = q.qmp("x-query-virtio-status", path=path)
    statuses = {x.split(":")[0].removeprefix("VIRTIO_CONFIG_S_") for x in st["status"]["statuses"]}
    assert statuses == {n for b, n in STATUS_BITS.items() if nego["status"] & b}, st["status"]
    guest = {re.sub(r"^(VIRTIO_NET_F_|VIRTIO_RING_F_|VIRTIO_F_)", "", x.split(":")[0])
             for x in st["guest-features"]["dev-features"] + st["guest-features"]["transports"]}
    assert not st["guest-features"].get("unknown-dev-features"), st["guest-features"]
    assert guest == set(nego["names"]), f"QEMU: {sorted(guest)}\nkernel: {sorted(nego['names'])}"
    assert st["broken"] is False

    for i in range(3):
        vq = q.qmp("x-query-virtio-queue-status", path=path, queue=i)
        if i >= nego["nq"]:
            assert vq["vring-desc"] == 0, vq  # never set up
            continue
        assert vq["vring-num"] == QUEUE_SIZES[i], vq
        desc, avail, used = vq["vring-desc"], vq["vring-avail"], vq["vring-used"]
        for addr, size in ((desc, 16 * vq["vring-num"]), (avail, 6 + 2 * vq["vring-num"]),
                           (used, 6 + 8 * vq["vring-num"])):
            assert 0 < addr and addr + size <= ram, vq
        if nego["modern"]:
            # The alignment each part of a split ring needs (2.7).
            assert desc % 16 == 0 and avail % 2 == 0 and used % 4 == 0, vq
        else:
            # Legacy: one block at a page frame number; QEMU puts the avail
            # ring right after the table and the used ring at the next page.
            assert desc % 4096 == 0, vq
            assert avail == desc + 16 * vq["vring-num"], vq
            assert used == (avail + 4 + 2 * vq["vring-num"] + 4095) // 4096 * 4096, vq


def check_mac_line(log, netdev):
    """The driver's summary: the MAC it read from config space, the ring sizes, link up."""
    m = re.search(rf"{INFO}virtio-net: MAC {mac_of(netdev)}, MTU 1500, rx (\d+) x \d+-byte buffers"
                  rf"( \(mergeable\))?, tx ring (\d+), header (10|12) bytes, link up\r?$", log, re.M)
    assert m, f"no summary with MAC {mac_of(netdev)}\n{log[-3000:]}"
    assert (int(m.group(1)), int(m.group(3))) == tuple(QUEUE_SIZES[:2]), m.group(0)


# ------------------------------------------------------------------ tests

@pytest.mark.parametrize("case", MATRIX, ids=[c[0] for c in MATRIX])
def test_virtio_net_transport_matrix(qemu, kernel, case):
    _, machine, transport, irq, extra, where, bdf = case
    props = ",".join(p for p in (TRANSPORTS[transport][0], IRQ_MODES[irq][0]) if p)
    q = boot(qemu, kernel, machine, extra + nic("n0", props, **where), cmdline="")
    q.wait_for(r"virtio-net: MAC ", timeout=30)
    log = q.log
    _, _, nego = check_nic(log, bdf, transport, irq)
    check_mac_line(log, "n0")
    check_qemu_view(q, "n0", nego)
    # Frames go both ways through the rings and doorbells of this transport:
    # DHCP with QEMU's built-in server (user networking) completes.
    q.wait_for(rf"net: \w+ MAC {mac_of('n0')} IPv4 10\.0\.2\.15 .*\(dhcp\)", timeout=30)
    # The interrupt mode works, not just its setup: a link change raises a
    # configuration interrupt (MSI-X entry 0, or the pin with ISR bit 1).
    assert "STATUS" in nego["names"], nego
    set_link(q, "n0", "off")()
    set_link(q, "n0", "on")()
    check_no_errors(q.log)
    # The PCI layer saw the function the way the transport used it: the
    # legacy interface lives in I/O BAR 0, which a modern-only device lacks.
    listing = re.search(rf"{INFO}pci: {re.escape(bdf)} 1af4:.*\n((?:.*pci:   .*\n)*)", log, re.M)
    assert listing, log
    has_io_bar0 = "BAR0: I/O ports" in listing.group(1)
    assert has_io_bar0 == (TRANSPORTS[transport][1] == "1000"), listing.group(0)
    assert ("MSI-X" in listing.group(1)) == (IRQ_MODES[irq][0] != "vectors=0"), listing.group(0)
    assert re.search(rf"{INFO}pci: {re.escape(bdf)} 1af4:\S+ .*claimed by virtio-pci\r?$", log, re.M), log


@pytest.mark.parametrize("transport", ["modern", "transitional"])
def test_virtio_notify_capability_in_io_bar(qemu, kernel, transport):
    """A device may offer several structures of one type; the driver uses the
    first one it can (4.1.4.1). QEMU's modern-pio-notify=on adds a
    notification structure in an I/O BAR ahead of the memory one: the
    transport must still come up on the modern interface (with the memory
    doorbells, or the I/O ones), not give up (modern-only) or fall back to
    legacy (transitional)."""
    props = TRANSPORTS[transport][0] + ",modern-pio-notify=on"
    q = boot(qemu, kernel, "q35", nic("n0", props, addr="3"), cmdline="")
    log = q.log
    _, _, nego = check_nic(log, "00:03.0", transport, "msix")
    check_qemu_view(q, "n0", nego)
    q.wait_for(rf"net: \w+ MAC {mac_of('n0')} IPv4 10\.0\.2\.15 .*\(dhcp\)", timeout=30)
    check_no_errors(q.log)


def test_virtio_features_refused(qemu, kernel):
    """A device that does not keep FEATURES_OK (3.1.1 step 6): QEMU's
    iommu_platform=on device refuses a driver that does not accept
    ACCESS_PLATFORM, which ours never does. The transport must notice, set
    FAILED, report it, and boot on without the NIC."""
    q = boot(qemu, kernel, "q35", nic("n0", "disable-legacy=on,iommu_platform=on", addr="3"), cmdline="")
    log = q.log
    name, device_id, iface = find_device(log, "00:03.0")
    assert (device_id, iface) == ("1041", "modern interface")
    assert re.search(rf"^\[\s*\d+\.\d+\] E {name}: device refused the features \(FEATURES_OK not kept\); "
                     rf"marking the device FAILED\r?$", log, re.M), log
    assert re.search(rf"^\[\s*\d+\.\d+\] E {name}: driver probe failed \(-95\)\r?$", log, re.M), log
    assert "DRIVER_OK" not in "\n".join(virtio_lines(log, name))
    st = q.qmp("x-query-virtio-status", path="/machine/peripheral/n0dev/virtio-backend")
    statuses = {x.split(":")[0].removeprefix("VIRTIO_CONFIG_S_") for x in st["status"]["statuses"]}
    assert statuses == {"ACKNOWLEDGE", "DRIVER", "FAILED"}, statuses


@pytest.mark.parametrize("transport", ["legacy", "modern"])
def test_virtio_queue_size_fits_memory(qemu, kernel, transport):
    """Queue sizes are clamped to what memory holds (two 2048-byte receive
    buffers per entry, within a quarter of the free memory). With 24 MiB of
    RAM a 1024-entry receive queue does not fit: a modern device is asked for
    a smaller one (queue_size is writable, 4.1.4.3); a legacy device cannot be
    (its size is fixed), so it is refused with one clear line, reset and
    marked FAILED, and the kernel boots on without a NIC."""
    props = TRANSPORTS[transport][0] + ",rx_queue_size=1024"
    q = qemu(kernel=kernel, cmdline="", machine="pc", mem="24M", devices=nic("n0", props, addr="3"))
    q.wait_for(r"boot: done", timeout=120)
    log = q.log
    name, _, iface = find_device(log, "00:03.0")
    if transport == "legacy":
        m = re.search(rf"^\[\s*\d+\.\d+\] E {name}: queue 0 \(rx0\): the legacy device's fixed size 1024 is "
                      rf"more than the driver can afford \((\d+) entries\); legacy queues cannot be made smaller: "
                      rf"refusing the device\r?$", log, re.M)
        assert m, log
        assert int(m.group(1)) < 1024
        assert re.search(rf"E {name}: driver probe failed \(-7\)", log), log
        assert "DRIVER_OK" not in "\n".join(virtio_lines(log, name))
        assert "no virtio-net device: no network" in log
        st = q.qmp("x-query-virtio-status", path="/machine/peripheral/n0dev/virtio-backend")
        statuses = {x.split(":")[0].removeprefix("VIRTIO_CONFIG_S_") for x in st["status"]["statuses"]}
        assert statuses == {"FAILED"}, statuses  # reset (status 0), then FAILED
    else:
        m = re.search(r"virtio-net: MAC \S+, MTU 1500, rx (\d+) x 2048-byte buffers", log)
        assert m, log
        rx = int(m.group(1))
        assert rx < 1024 and rx & (rx - 1) == 0, rx
        assert f"{name}: DRIVER_OK" in log
        q.wait_for(rf"net: \w+ MAC {mac_of('n0')} IPv4 10\.0\.2\.15 .*\(dhcp\)", timeout=30)
        check_no_errors(log)


GSI_CASES = {
    "pc": ("pc", [], {"addr": "3"}, "00:03.0", "transitional", "intx"),
    "q35": ("q35", [], {"addr": "3"}, "00:03.0", "transitional", "intx"),
    # Behind the root port the pin is swizzled on the way to the root bus.
    "q35-rootport": ("q35", ROOT_PORT, {"bus": "rp1"}, "01:00.0", "auto", "intx"),
    # An MSI-X capability the kernel left disabled: the pin must still work.
    "pc-legacy-1vec": ("pc", [], {"addr": "3"}, "00:03.0", "legacy", "intx-1vec"),
}


@pytest.mark.parametrize("case", sorted(GSI_CASES))
def test_virtio_intx_gsi_matches_qemu(qemu, kernel, case):
    """The kernel's INTx GSI against QEMU: on pc the GSI is the ISA IRQ the
    firmware routed the PIRQ link to (`info pci` shows it as the Interrupt
    Line; QEMU's MADT maps it 1:1); on q35 the firmware's Interrupt Line is
    that ISA IRQ too, but in APIC mode the ICH9 PIRQs arrive on IO-APIC pins
    16-23, which is where the kernel must listen. `info irq` says which pin
    the device really raises; `info pic` shows what the kernel programmed."""
    machine, extra, where, bdf, transport, irq = GSI_CASES[case]
    props = ",".join(p for p in (TRANSPORTS[transport][0], IRQ_MODES[irq][0]) if p)
    q = boot(qemu, kernel, machine, extra + nic("n0", props, **where), cmdline="")
    q.wait_for(r"virtio\d+: DRIVER_OK", timeout=30)
    _, intx, nego = check_nic(q.log, bdf, transport, irq)
    check_qemu_view(q, "n0", nego)
    gsi, vector = int(intx.group(2)), int(intx.group(5))

    pin, line = info_pci_irq(q.hmp("info pci"), bdf)
    assert pin == "A"
    if machine == "pc":
        assert gsi == line, f"kernel GSI {gsi}, QEMU's Interrupt Line {line}"
    else:
        assert line < 16, line
        assert 16 <= gsi <= 23 and gsi != line, f"kernel GSI {gsi}, Interrupt Line {line}"

    pins, irr, remote = ioapic_state(q)
    assert pins[gsi] == (vector, "active-hi", "level", False), pins[gsi]
    # Nothing left pending: the handler acknowledged the device and sent the
    # EOI. A frame from QEMU's user network (a router advertisement, say) may
    # be mid-delivery at the moment of the look; a stuck pin stays, so it
    # must clear within a second.
    deadline = time.monotonic() + 1
    while (gsi in irr or gsi in remote) and time.monotonic() < deadline:
        time.sleep(0.05)
        _, irr, remote = ioapic_state(q)
    assert gsi not in irr and gsi not in remote, (irr, remote)

    pulse_config_interrupt(q, "n0", gsi)
    check_no_errors(q.log)


@pytest.mark.parametrize("machine", ["pc", "q35"])
def test_virtio_two_nics_share_intx(qemu, kernel, machine):
    """Two virtio-net functions of one slot, both INTA#: the same PIRQ, so the
    same GSI. Both must come up on it, and an interrupt from either must be
    acknowledged (the handler of the other reads ISR 0 and passes)."""
    devices = (nic("n0", "vectors=0", addr="5.0", multifunction="on")
               + nic("n1", "vectors=0", addr="5.1"))
    q = boot(qemu, kernel, machine, devices, cmdline="")
    q.wait_for(r"boot: done", timeout=30)
    log = q.log
    name0, intx0, nego0 = check_nic(log, "00:05.0", "transitional", "intx")
    name1, intx1, nego1 = check_nic(log, "00:05.1", "transitional", "intx")
    check_mac_line(log, "n0")
    check_mac_line(log, "n1")
    check_qemu_view(q, "n0", nego0)
    check_qemu_view(q, "n1", nego1)
    assert name0 != name1
    gsi = int(intx0.group(2))
    assert int(intx1.group(2)) == gsi, (intx0.group(0), intx1.group(0))
    # One line, one vector: the second device joins the first one's handler chain.
    assert intx1.group(5) == intx0.group(5)
    assert len(re.findall(rf"{INFO}irq: GSI {gsi} -> vector", log, re.M)) == 1, log
    check_no_errors(log)

    pulse_config_interrupt(q, "n0", gsi)
    # The main loop polls only the first NIC, so n1's change is not logged;
    # its ISR must still be read, or the shared line would stay asserted.
    pulse_config_interrupt(q, "n1", gsi, expect_log=False)
    check_no_errors(q.log)


@pytest.mark.parametrize("machine", ["pc", "q35"])
def test_virtio_rng_without_driver(qemu, kernel, machine):
    """A virtio device nobody drives is reported and left alone; the NIC next
    to it still comes up, and the kernel boots to its clean exit."""
    devices = nic("n0", addr="3") + ["-device", "virtio-rng-pci,addr=4"]
    q = boot(qemu, kernel, machine, devices)
    log = q.log
    check_nic(log, "00:03.0", "transitional", "msix")
    name, device_id, iface = find_device(log, "00:04.0")
    assert (device_id, iface) == ("1005", "modern interface")
    assert virtio_lines(log, name)[1:] == ["no driver for virtio device type 4"]
    assert re.search(rf"{INFO}pci: 00:04\.0 1af4:1005 .*: no driver\r?$", log, re.M), log
    check_no_errors(log)
