"""What `make bench` measures (issue 8): our kernel and the Linux guest, each
in the same QEMU (machine, -cpu, -m, -smp, virtio-net-pci on the namespace's
tap0), and the native echo_server run inside the namespace.

A QEMU guest is started by `ip netns exec NS qemu-system-x86_64 ...` (ip
execs QEMU: the Popen's PID is QEMU's, and it is killed by that PID). The
Linux guest's command line comes from bench/peer.py (the peer's own), ours
is built here with the same options; only the firmware (-bios), the image
(-kernel/-initrd/-append or -cdrom) and -m differ between boots.
"""
import re
import subprocess
import time
from pathlib import Path

import peer
from figures import Failure, first_200

ROOT = peer.ROOT
QBOOT = Path("/usr/share/qemu/qboot.rom")
KERNEL = ROOT / "build" / "kernel.elf"
KERNEL_PVH = ROOT / "build" / "kernel-pvh.elf"  # the same kernel without multiboot headers: PVH entry
# QEMU's microvm (issue 17): no PCI, the NIC on virtio-mmio, qboot, ACPI on
# (the DSDT names the transports for ours and for Linux alike).
MICROVM = "microvm"
ISO = ROOT / "build" / "unikernel.iso"  # `make iso`: its size is reported
BENCH_ISO = ROOT / "build" / "bench" / "unikernel-bench.iso"  # the same, with ip= in grub.cfg
# log=warn: warnings and errors on the console, as the Linux guest's
# loglevel=4 (peer.linux_cmdline): under TCG every console byte is an
# emulated port write (~1 us here), ~4 ms of a verbose boot.
OURS_CMDLINE = f"ip={peer.GUEST4}/24 gw={peer.HOST4} log=warn"
NETDEV = "tap,id=n0,ifname=tap0,script=no,downscript=no"
# The CPU models every guest is measured with (issue 15): QEMU's default for
# x86_64 (qemu64: what a QEMU command line without -cpu gets) and -cpu max
# (every feature TCG can emulate). Under TCG a Linux guest sends bulk data
# 2-3 times faster with the first (shared/guide/testing.md): each peer is
# shown at its best.
CPUS = ("qemu64", "max")
# Packed against split virtqueues (the ring-layout table): our kernel with
# QEMU's default CPU model, the NIC offering packed rings; the split figures
# are the same repetition's "ours@qemu64".
RING_CPU = CPUS[0]
RING_PACKED_OPTS = "packed=on"
RING_PACKED = "ours-packed"

# Serial lines after which a guest will never answer: fail at once instead of
# waiting for the deadline. Ours: a panic, or no NIC (both shown at
# log=warn). Linux: a panic, /init's error, or the virtio-net tx
# watchdog (the TCG tx stall: shared/guide/testing.md).
OURS_FATAL = r"\*\*\* KERNEL PANIC: .*|\*\*\* system halted|net: no NIC .*"
LINUX_FATAL = r"Kernel panic - .*|BENCH-ERROR .*|.*(?:" + peer.TX_STALL + r").*"


class Boot:
    """One way to boot a target: the table row its boot time goes to, the image, the firmware,
    the CPU model (-cpu), and the machine type when it is not the run's (-M; microvm rows)."""

    def __init__(self, row, image, firmware, cpu=CPUS[0], machine=None, nic_opts=None):
        self.row, self.image, self.firmware, self.cpu, self.machine = row, image, firmware, cpu, machine
        self.nic_opts = nic_opts  # the NIC's -device options (None: the run's, BENCH_NIC_OPTS)

    def with_cpu(self, cpu):
        return Boot(self.row, self.image, self.firmware, cpu, self.machine, self.nic_opts)

    def __repr__(self):
        return (f"{self.image}+{self.firmware}+{self.cpu}" + (f"+{self.machine}" if self.machine else "")
                + (f"+nic:{self.nic_opts}" if self.nic_opts else ""))


class Guest:
    """One QEMU process in the namespace, its serial console in a file."""

    def __init__(self, ns, args, serial, fatal_rx, label):
        self.ns, self.args, self.serial, self.fatal_rx, self.label = ns, args, Path(serial), fatal_rx, label
        self.proc = None
        self.started_at = None

    def start(self):
        self.serial.write_bytes(b"")
        self.started_at = time.monotonic()
        self.proc = self.ns.popen(*self.args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=open(self.serial.with_suffix(".stderr"), "wb"))
        return self

    @property
    def pid(self):
        return self.proc.pid

    @property
    def log(self):
        try:
            return self.serial.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def fatal(self):
        """Why this guest will not answer any more, or None."""
        m = re.search(self.fatal_rx, self.log)
        if m:
            line = m.group(0).strip()
            if re.search(peer.TX_STALL, line):
                return f"tx stall ({line[:80]})"
            return line[:120]
        if self.proc.poll() is not None:
            return f"QEMU exited ({self.proc.returncode})"
        return None

    def first_200(self, timeout):
        return first_200(self.ns.name, peer.GUEST4, self.started_at, self.proc, self.fatal, timeout)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


class QemuTarget:
    """Common to ours and the Linux guest."""

    vm = True
    addr = peer.GUEST4

    def __init__(self, cfg):
        self.cfg = cfg
        self.commands = {}  # "image+firmware" -> the QEMU command line (for the report)
        self._n = 0

    def machine(self, boot):
        return boot.machine or self.cfg.machine

    @staticmethod
    def nic_model(machine):
        return "virtio-net-device" if machine.startswith(MICROVM) else "virtio-net-pci"

    def common(self, serial, firmware, mem, cpu, machine=None):
        args = ["qemu-system-x86_64", "-accel", self.cfg.accel, "-M", machine or self.cfg.machine, "-m", mem,
                "-smp", "1", "-cpu", cpu, "-display", "none", "-no-reboot", "-serial", f"file:{serial}"]
        if firmware == "qboot":
            args += ["-bios", str(QBOOT)]
        return args

    def guest(self, boot, mem=None):
        self._n += 1
        where = f"-{boot.machine}" if boot.machine else ""
        serial = self.cfg.workdir / f"{self.name}-{self._n:03d}-{boot.image}-{boot.firmware}-{boot.cpu}{where}.log"
        args = self.qemu_args(boot, serial, mem or self.cfg.mem)
        self.commands.setdefault(repr(boot), args)
        return Guest(self.cfg.ns, args, serial, self.fatal_rx, self.name)


class Ours(QemuTarget):
    name = "ours"
    fatal_rx = OURS_FATAL
    boot_timeout = 60
    microvm_boot_timeout = 60

    def boots(self):
        plan = [Boot("boot.kernel.qboot", "kernel", "qboot"), Boot("boot.iso.seabios", "iso", "seabios")]
        # The last one stays up for the load figures.
        return plan + [Boot("boot.kernel.seabios", "kernel", "seabios")]

    def ring_boot(self):
        """The ring-layout rows (issue 17): the load boot again, its NIC with packed
        virtqueues, measured beside the split ones with one CPU model (RING_CPU)."""
        return Boot("boot.kernel.seabios", "kernel", "seabios", RING_CPU, nic_opts=RING_PACKED_OPTS)

    def microvm_boots(self):
        """The microvm rows: the multiboot image and the PVH image, both with qboot (microvm's firmware)."""
        return [Boot("mvm.boot.kernel.qboot", "kernel", "qboot", machine=MICROVM),
                Boot("mvm.boot.pvh.qboot", "pvh", "qboot", machine=MICROVM)]

    def qemu_args(self, boot, serial, mem):
        machine = self.machine(boot)
        args = self.common(serial, boot.firmware, mem, boot.cpu, machine)
        if boot.image == "iso":
            args += ["-cdrom", str(BENCH_ISO)]
        else:
            image = KERNEL_PVH if boot.image == "pvh" else KERNEL
            args += ["-kernel", str(image), "-append", OURS_CMDLINE]
        opts = self.cfg.nic_opts if boot.nic_opts is None else boot.nic_opts
        nic = f"{self.nic_model(machine)},netdev=n0" + (f",{opts}" if opts else "")
        return args + ["-netdev", NETDEV, "-device", nic]

    def sizes(self):
        stripped = self.cfg.workdir / "kernel.stripped.elf"
        subprocess.run(["strip", "--strip-all", "-o", str(stripped), str(KERNEL)], check=True)
        return {"size.image": KERNEL.stat().st_size / 1024, "size.stripped": stripped.stat().st_size / 1024,
                "size.iso": ISO.stat().st_size / 1024 if ISO.exists() else BENCH_ISO.stat().st_size / 1024}

    @staticmethod
    def missing():
        return [str(p) for p in (KERNEL, KERNEL_PVH, QBOOT) if not p.exists()]


class Linux(QemuTarget):
    name = "linux"
    fatal_rx = LINUX_FATAL
    boot_timeout = 150
    # On microvm (no port 0x61, so no PIT channel 2; no HPET, no PM timer)
    # Debian's kernel fails its TSC calibration about one boot in two here
    # ("tsc: Unable to calibrate against PIT", "No reference (HPET/PMTIMER)
    # available", at loglevel=7) and then hangs without a word at loglevel=4;
    # a boot that serves does so within 3 s.
    microvm_boot_timeout = 30

    def boots(self):
        if self.cfg.quick:
            return [Boot("boot.pvh.seabios", "vmlinux", "seabios")]
        return [Boot("boot.kernel.qboot", "vmlinuz", "qboot"), Boot("boot.pvh.seabios", "vmlinux", "seabios"),
                Boot("boot.pvh.qboot", "vmlinux", "qboot"), Boot("boot.kernel.seabios", "vmlinuz", "seabios")]

    def microvm_boots(self):
        """The microvm rows: vmlinux at its PVH entry with qboot (vmlinuz decompressing itself
        costs seconds under TCG, the q35 rows show by how much)."""
        return [Boot("mvm.boot.pvh.qboot", "vmlinux", "qboot", machine=MICROVM)]

    def qemu_args(self, boot, serial, mem):
        extra = ["-bios", str(QBOOT)] if boot.firmware == "qboot" else []
        machine = self.machine(boot)
        return peer.linux_qemu_args(serial, kernel=boot.image, accel=self.cfg.accel, machine=machine,
                                    mem=mem, cpu=boot.cpu, extra=extra, nic_model=self.nic_model(machine))

    def sizes(self):
        z, i = peer.VMLINUZ.stat().st_size, peer.INITRD.stat().st_size
        return {"size.image": (z + i) / 1024, "size.stripped": z / 1024}

    @staticmethod
    def missing():
        return [str(p) for p in (peer.VMLINUZ, peer.VMLINUX, peer.INITRD) if not p.exists()]


class NativeServer:
    """echo_server (and iperf -s) as processes in the namespace: the host-side limit."""

    def __init__(self, ns):
        self.ns = ns
        self.echo = self.iperf = None

    def start(self):
        self.echo = peer.start_native(self.ns, port=80, addr=peer.HOST4)
        self.iperf = self.ns.popen("iperf", "-s", "-B", peer.HOST4, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while ":5001" not in self.ns.run("ss", "-Hltn", check=False).stdout:
            if self.iperf.poll() is not None or time.monotonic() > deadline:
                raise Failure("iperf -s did not start listening")
            time.sleep(0.05)
        return self

    @property
    def pid(self):
        return self.echo.pid

    def fatal(self):
        if self.echo.poll() is not None:
            return f"echo_server exited ({self.echo.returncode})"
        return None

    def stop(self):
        for p in (self.echo, self.iperf):
            if p and p.poll() is None:
                p.kill()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass


class Native:
    name = "native"
    vm = False
    addr = peer.HOST4

    def __init__(self, cfg):
        self.cfg = cfg
        self.commands = {}

    def server(self):
        return NativeServer(self.cfg.ns)

    def sizes(self):
        stripped = self.cfg.workdir / "echo_server.stripped"
        subprocess.run(["strip", "--strip-all", "-o", str(stripped), str(peer.ECHO_SERVER)], check=True)
        return {"size.image": peer.ECHO_SERVER.stat().st_size / 1024,
                "size.stripped": stripped.stat().st_size / 1024}

    @staticmethod
    def missing():
        return [str(p) for p in (peer.ECHO_SERVER,) if not p.exists()]
