"""virtio-net over virtio-mmio on QEMU's microvm (docs/pci.md, "Without PCI").

-M microvm has no PCI bus: its virtio devices sit behind virtio-mmio
transports at 0xfeb00000 + 512 n, legacy (version 1) unless
`-global virtio-mmio.force-legacy=false` makes them version 2. QEMU 7.2's
multiboot loader builds the command line before microvm appends its
virtio_mmio.device= words, so a multiboot kernel never sees them; the kernel
finds the device
  - with ACPI (the default): in the DSDT, a Device "LNRO0005" whose _CRS
    gives the window and the interrupt (GSI 47: slot 23, second IO-APIC);
  - without ACPI (acpi=off): only from a virtio_mmio.device= word given on
    the command line, Firecracker's way (here the slot QEMU plugs the first
    device into, 512@0xfeb00e00:12, as `info qtree` shows); without the word
    there is no NIC, and the kernel says so. The PVH image is given QEMU's
    own word (test_pvh_finds_the_device_in_qemus_words).
Each case boots with a virtio-net-device on user networking, waits for the
DHCP lease, and asserts on what the kernel logged (transport version, where
the device was found, its GSI), on an HTTP 200 with the echoed request through
hostfwd on 127.0.0.1, and on /stats counting that traffic on en0. And on a
TAP device in a namespace (root), both versions: 20 pings of 20 answered and
a 1 MB download whole.

Power-off on microvm is the other half of issue 17: these tests kill QEMU
by PID (the qemu fixture) once the assertions are done.
"""
import json
import re
import subprocess

import pytest

from conftest import KERNEL_PVH, NET_READY, Netns, free_port, tap_nic, user_nic

LEGACY = "legacy"
MODERN = "modern"
WORD = "virtio_mmio.device=512@0xfeb00e00:12"

CASES = [
    # (transport, acpi, where the kernel finds the device, window, GSI)
    (LEGACY, True, "the DSDT (LNRO0005)", "0xfeb02e00", 47),
    (MODERN, True, "the DSDT (LNRO0005)", "0xfeb02e00", 47),
    (LEGACY, False, "the command line", "0xfeb00e00", 12),
    (MODERN, False, "the command line", "0xfeb00e00", 12),
]


def boot(qemu, kernel, transport, acpi, cmdline="", port=None):
    machine = "microvm" if acpi else "microvm,acpi=off"
    extra = [] if transport == LEGACY else ["-global", "virtio-mmio.force-legacy=false"]
    fwd = [(port, 80)] if port else []
    return qemu(kernel=kernel, cmdline=cmdline, machine=machine, firmware="qboot",
                devices=user_nic(fwd, model="virtio-net-device"), extra=extra)


def curl(url):
    p = subprocess.run(["curl", "-sS", "-m", "20", "-w", "\\n%{http_code}", url],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    body, _, code = p.stdout.rpartition("\n")
    return int(code), body


@pytest.mark.parametrize("transport,acpi,source,window,gsi", CASES,
                         ids=[f"{t}-acpi{'on' if a else 'off'}" for t, a, *_ in CASES])
def test_microvm_virtio_mmio_serves_http(qemu, kernel, transport, acpi, source, window, gsi):
    port = free_port()
    q = boot(qemu, kernel, transport, acpi, cmdline="" if acpi else WORD, port=port)
    q.wait_for(NET_READY, timeout=90)
    log = q.log
    version = 1 if transport == LEGACY else 2
    assert f"virtio-mmio: 1 device from {source}" in log, log
    m = re.search(r"(virtio\d+): virtio-mmio at (0x[0-9a-f]+) \(512 bytes\), GSI (\d+), version (\d), device 1",
                  log)
    assert m and m.group(2) == window and int(m.group(3)) == gsi and int(m.group(4)) == version, log
    name = m.group(1)
    assert f"{name}: 3 queues, interrupts by GSI {gsi} (level, active high)" in log, log
    status = 0x7 if transport == LEGACY else 0xF  # FEATURES_OK exists only from virtio 1.0 on
    assert f"{name}: DRIVER_OK (status {status:#x})" in log, log
    if transport == MODERN:
        assert re.search(rf"{name}: features offered \S+, negotiated \S+:.* VERSION_1", log), log
    else:
        assert not re.search(rf"{name}: features offered \S+, negotiated \S+:.* VERSION_1", log), log

    code, body = curl(f"http://127.0.0.1:{port}/hello")
    assert code == 200 and body.startswith("GET /hello HTTP/1.1"), (code, body)
    before = json.loads(curl(f"http://127.0.0.1:{port}/stats")[1])["interfaces"]["en0"]
    for _ in range(5):
        assert curl(f"http://127.0.0.1:{port}/hello")[0] == 200
    after = json.loads(curl(f"http://127.0.0.1:{port}/stats")[1])["interfaces"]["en0"]
    # Five requests and replies at least, each a few frames both ways, all on en0.
    assert after["rx_packets"] - before["rx_packets"] >= 10, (before, after)
    assert after["tx_packets"] - before["tx_packets"] >= 10, (before, after)


@pytest.mark.parametrize("transport", [LEGACY, MODERN])
def test_pvh_finds_the_device_in_qemus_words(qemu, transport):
    # A PVH boot's command line is built after microvm appends its
    # virtio_mmio.device= words (unlike multiboot's): with acpi=off and
    # nothing given on our side, the PVH image finds the NIC from QEMU's own
    # word and serves HTTP over it.
    port = free_port()
    q = boot(qemu, KERNEL_PVH, transport, acpi=False, cmdline="log=info", port=port)
    q.wait_for(NET_READY, timeout=90)
    log = q.log
    assert re.search(r"boot: PVH from 'PVH', command line 'log=info virtio_mmio\.device=512@0xfeb00e00:12'",
                     log), log
    assert "virtio-mmio: 1 device from the command line" in log, log
    version = 1 if transport == LEGACY else 2
    assert f"virtio0: virtio-mmio at 0xfeb00e00 (512 bytes), GSI 12, version {version}" in log, log
    code, body = curl(f"http://127.0.0.1:{port}/hello")
    assert code == 200 and body.startswith("GET /hello HTTP/1.1"), (code, body)
    en0 = json.loads(curl(f"http://127.0.0.1:{port}/stats")[1])["interfaces"]["en0"]
    assert en0["rx_packets"] >= 2 and en0["tx_packets"] >= 2, en0


def test_microvm_without_acpi_or_word_has_no_nic(qemu, kernel):
    # Nothing names the device: the kernel does not guess where it might be.
    q = boot(qemu, kernel, LEGACY, acpi=False)
    q.wait_for(r"boot: done", timeout=90)
    assert "no virtio-net device" in q.log, q.log
    assert "virtio-mmio at" not in q.log, q.log


def test_microvm_empty_slot_and_bad_word(qemu, kernel):
    # A transport with no device behind it (device ID 0: slot 0 is empty when one
    # device is plugged), a malformed word, then the real device: only that one is used.
    port = free_port()
    q = boot(qemu, kernel, MODERN, acpi=False, port=port,
             cmdline="virtio_mmio.device=512@0xfeb00000:5 virtio_mmio.device=12@0xfeb00200:6 " + WORD)
    q.wait_for(NET_READY, timeout=90)
    log = q.log
    assert "virtio-mmio: ignoring malformed 'virtio_mmio.device=12@0xfeb00200:6'" in log, log
    assert "virtio-mmio: 2 devices from the command line" in log, log
    assert "virtio-mmio at 0xfeb00000" not in log and "virtio0: virtio-mmio at 0xfeb00e00" in log, log
    code, body = curl(f"http://127.0.0.1:{port}/hello")
    assert code == 200 and body.startswith("GET /hello"), (code, body)


@pytest.mark.parametrize("transport,packed", [(LEGACY, False), (MODERN, False), (MODERN, True), (LEGACY, True)],
                         ids=["legacy", "modern", "modern-packed", "legacy-packed-refused"])
def test_microvm_virtio_mmio_on_tap(qemu, kernel, netns, transport, packed):
    # A real L2 peer: the namespace's tap0, a static address, ping and curl from inside.
    # packed=on offers packed virtqueues (drivers/vring_packed.c); only version 2
    # can carry them (a legacy transport has 32 feature bits and page-frame queues).
    extra = [] if transport == LEGACY else ["-global", "virtio-mmio.force-legacy=false"]
    q = qemu(kernel=kernel, cmdline=f"ip={Netns.GUEST4}/24 gw={Netns.HOST4}", machine="microvm",
             firmware="qboot", netns=netns.name,
             devices=tap_nic(model="virtio-net-device", options="packed=on" if packed else ""), extra=extra)
    q.wait_for(NET_READY, timeout=90)
    assert f"version {1 if transport == LEGACY else 2}, device 1" in q.log, q.log
    assert ("RING_PACKED" in q.log) == (packed and transport == MODERN), q.log
    r = netns.run("ping", "-c", "20", "-i", "0.05", "-W", "2", Netns.GUEST4, check=False, timeout=60)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", r.stdout)
    assert m and m.group(1) == m.group(2) == "20", r.stdout + q.log[-3000:]
    r = netns.run("curl", "-sS", "-m", "20", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                  f"http://{Netns.GUEST4}/bytes/1000000", check=False, timeout=60)
    assert r.stdout.strip() == "200 1000000", (r.stdout, r.stderr)
    r = netns.run("curl", "-sS", "-m", "20", f"http://{Netns.GUEST4}/stats", timeout=30)
    layouts = {x["name"]: x["layout"] for x in json.loads(r.stdout)["virtio_net"]["queues"]}
    want = "packed" if packed and transport == MODERN else "split"
    assert layouts and set(layouts.values()) == {want}, layouts
