"""Interrupts and time on real QEMU machines (docs/interrupts.md).

The kernel's test=sleep2 hook (timer_selftest_sleep() in arch/x86_64/timer.c)
logs "sleep: start", sleeps 2 s in cpu_idle() (sti; hlt) with a 10 ms periodic
timer armed, logs "sleep: end" and a summary. The host checks:
  - the boot log names what QEMU really provides (IO-APIC, overrides, CPUs),
    and QEMU's own view (HMP 'info pic', 'info lapic') agrees with what the
    kernel says it programmed;
  - the 2 s sleep matches the host's wall clock within 10%;
  - the timer keeps firing while the CPU idles, and the QEMU process uses well
    under one host core meanwhile (utime+stime from /proc/PID/stat).
"""
import os
import re
import time

import pytest

from conftest import OVMF, make_iso

SLEEP_S = 2.0
MACHINES = [("pc", 1), ("pc", 4), ("q35", 1), ("q35", 4)]

# What QEMU 7.2 puts in the MADT for pc and q35 (hw/i386/acpi-common.c).
QEMU_OVERRIDES = [
    r"override: bus 0 IRQ 0 -> GSI 2, conforms, polarity conforms",
    r"override: bus 0 IRQ 5 -> GSI 5, level, polarity high",
    r"override: bus 0 IRQ 9 -> GSI 9, level, polarity high",
    r"override: bus 0 IRQ 10 -> GSI 10, level, polarity high",
    r"override: bus 0 IRQ 11 -> GSI 11, level, polarity high",
]


def cpu_seconds(pid):
    """utime + stime of a process, in seconds (proc(5): fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_text(q, text, timeout):
    """Poll the serial log tightly; return the host's monotonic time when @text appeared."""
    deadline = time.monotonic() + timeout
    while True:
        log = q.log
        if text in log:
            return time.monotonic()
        if "unknown test 'sleep2'" in log:
            raise AssertionError("the kernel no longer knows test=sleep2 (selftest.c must call timer_selftest_sleep())")
        if q.proc.poll() is not None:
            raise AssertionError(f"QEMU exited ({q.proc.returncode}) before '{text}'.\n{q.describe()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"'{text}' did not appear within {timeout}s.\n{q.describe()}")
        time.sleep(0.002)


def measured_sleep(q, boot_timeout=120):
    """Wall-clock length of the kernel's sleep, and the QEMU CPU time spent in it."""
    t0 = wait_text(q, "sleep: start", boot_timeout)
    c0 = cpu_seconds(q.pid())
    t1 = wait_text(q, "sleep: end", SLEEP_S * 5)
    c1 = cpu_seconds(q.pid())
    m = q.wait_for(r"sleep: slept (\d+) us by the (\S+) clock, (\d+) timer interrupts, "
                   r"periodic 10 ms timer fired (\d+) times \((\d+) periods skipped\), (\d+) lost ticks recovered",
                   timeout=10)
    return t1 - t0, c1 - c0, m


def check_sleep(q, wall, cpu, m):
    guest_s = int(m.group(1)) / 1e6
    clock, interrupts, periodic = m.group(2), int(m.group(3)), int(m.group(4))
    skipped, lost = int(m.group(5)), int(m.group(6))
    # The guest's own clock says it slept 2 s, and the host agrees within 10%.
    assert SLEEP_S <= guest_s < SLEEP_S * 1.02, q.log
    assert abs(wall - SLEEP_S) <= 0.1 * SLEEP_S, f"host measured {wall:.3f}s\n{q.log}"
    # The timer kept ticking while the CPU sat in hlt: a 10 ms periodic timer,
    # armed just before the sleep's start, has one deadline per 10 ms of it.
    # A loaded host can make QEMU deliver a timer interrupt late; the periodic
    # timer then skips the periods it missed rather than firing them in a
    # burst, and the kernel counts them: fired + skipped is exact (+1 for the
    # deadline that may fall between arming and the sleep's first clock read).
    periods = int(guest_s * 100)
    assert periods <= periodic + skipped <= periods + 1, (periods, periodic, skipped, q.log)
    assert skipped <= 20, q.log  # more than 200 ms of late interrupts: not a loaded host but a bug
    assert interrupts >= periodic, q.log
    if clock == "tsc":
        assert lost == 0, q.log  # no fixed tick, nothing to lose
    else:
        # Tick counting at 1000 Hz: every tick of the 2 s came as an interrupt or was
        # recovered from the TSC. The recovery rounds each gap to whole periods and was
        # seen up to 8 over (2,009 for 2,001 ms on a loaded host), never under.
        assert guest_s * 1000 - 2 <= interrupts + lost <= guest_s * 1000 + 20, (interrupts, lost, q.log)
    # hlt really idles: far less than one host core. The figures are printed
    # so they can be reproduced: pytest -s tests/integration/test_interrupts.py
    print(f"\nsleep: host {wall:.3f} s, guest {guest_s:.3f} s, QEMU CPU {100 * cpu / wall:.1f}% of a core")
    assert cpu / wall < 0.5, f"QEMU used {cpu:.2f}s of CPU in {wall:.2f}s of sleep"


@pytest.mark.parametrize("machine,smp", MACHINES)
def test_boot_log_matches_qemu(qemu, kernel, machine, smp):
    q = qemu(kernel=kernel, cmdline="test=sleep2", machine=machine, smp=smp)
    wait_text(q, "sleep: start", 120)
    log = q.log

    assert re.search(r"cpu: \S+ family \d+ model \d+", log), log
    assert re.search(r"cpu: features: tsc=1 invariant_tsc=\d tsc_deadline=\d apic=1 x2apic=\d arat=\d rdrand=1", log), log
    assert f"acpi: MADT: local APIC at 0xfee00000, {smp} CPUs ({smp} enabled), 8259s present" in log, log
    for i in range(smp):
        assert f"acpi:   cpu uid {i} apic id {i}\n" in log, log
    assert "acpi:   IO-APIC id 0 at 0xfec00000, GSI base 0" in log, log
    for o in QEMU_OVERRIDES:
        assert re.search(o, log), f"missing /{o}/\n{log}"
    assert len(re.findall(r"acpi:   override:", log)) == len(QEMU_OVERRIDES), log
    assert "acpi:   local APIC NMI: cpu uid 0xff LINT1" in log, log
    assert "ioapic: id 0 at 0xfec00000, version 0x20, GSI 0-23, all masked" in log, log
    assert re.search(r"lapic: xAPIC \(MMIO\) mode, APIC id 0|lapic: x2APIC \(MSR\) mode, APIC id 0", log), log
    if smp > 1:
        assert f"irq: sent INIT to the {smp - 1} other CPUs" in log, log
    # Only q35 has PCIe (an MCFG); both have an HPET and the PM timer.
    if machine == "q35":
        assert "acpi: MCFG: segment 0 buses 0-255 ECAM at 0xb0000000" in log, log
    else:
        assert "acpi: MCFG" not in log, log
    assert "acpi: HPET at 0xfed00000" in log, log
    assert re.search(r"acpi: \\_S5: SLP_TYPa 0, SLP_TYPb 0", log), log
    tsc = float(re.search(r"timer: TSC (\d+\.\d+) MHz", log).group(1))
    lapic = float(re.search(r"timer: LAPIC timer (\d+\.\d+) MHz", log).group(1))
    assert tsc > 100, log
    # QEMU's LAPIC timer runs at 1 GHz / 16 (hw/intc/apic_common.c): calibration within 1%.
    assert abs(lapic - 62.5) < 0.625, log
    # Both have an HPET, the first reference timer_init() measures against (test_clock.py).
    assert "timer: calibrated against the HPET over " in log, log

    # QEMU's view of the hardware while the kernel sleeps.
    pic = q.hmp("info pic")
    assert "ioapic0: ver=0x20 id=0x00" in pic, pic
    pins = re.findall(r"pin +\d+ +0x([0-9a-f]{16})", pic)
    assert len(pins) == 24, pic
    assert all(int(p, 16) & (1 << 16) for p in pins), f"an IO-APIC pin is unmasked:\n{pic}"
    # Both 8259s remapped to 0x20/0x28 and fully masked.
    assert re.search(r"pic0: .*imr=ff .*irq_base=20", pic), pic
    assert re.search(r"pic1: .*imr=ff .*irq_base=28", pic), pic
    lapic_state = q.hmp("info lapic")
    assert re.search(r"SPIV\s+0x000001ff APIC enabled", lapic_state), lapic_state
    assert re.search(r"LVTERR\s+0x000000fe", lapic_state), lapic_state
    assert re.search(r"LVT1\s+0x00000400 .*NMI", lapic_state), lapic_state
    assert re.search(r"LVTT\s+0x000\S*ef .*\(vec 239\)", lapic_state), lapic_state
    assert "DCR=0x3 (divide by 16)" in lapic_state, lapic_state
    wait_text(q, "sleep: end", SLEEP_S * 5)


@pytest.mark.parametrize("machine,smp", MACHINES)
def test_sleep_matches_wall_clock_and_idles(qemu, kernel, machine, smp):
    q = qemu(kernel=kernel, cmdline="test=sleep2", machine=machine, smp=smp)
    wall, cpu, m = measured_sleep(q)
    check_sleep(q, wall, cpu, m)


@pytest.mark.skipif(not OVMF.exists(), reason="ovmf not installed (scripts/setup.sh installs it)")
def test_uefi_smp4_rsdp_from_multiboot2_and_idle_aps(qemu, tmp_path):
    """OVMF: the RSDP comes from GRUB's multiboot2 tag (there is no BIOS area to
    scan), and OVMF leaves the other CPUs polling until the kernel INITs them."""
    iso = make_iso(tmp_path, "test=sleep2")
    q = qemu(iso=iso, machine="q35", firmware="uefi", smp=4)
    wall, cpu, m = measured_sleep(q, boot_timeout=180)
    log = q.log
    assert "acpi: RSDP rev 2 OEM 'BOCHS ', tables from the XSDT" in log, log
    assert "irq: sent INIT to the 3 other CPUs" in log, log
    check_sleep(q, wall, cpu, m)
