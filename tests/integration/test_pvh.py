"""PVH entry and the platform without PC legacy (issue 17): build/kernel-pvh.elf
(no multiboot header, so QEMU's -kernel enters it through the PVH note) boots
on microvm with and without ACPI and on q35/pc, taking its command line and
memory map from hvm_start_info; both images power off on microvm by
themselves (hardware-reduced ACPI sleep register, or a reset under
-no-reboot when there is no ACPI) and QEMU exits with status 0."""
import re

import pytest

from conftest import KERNEL, KERNEL_PVH
from test_boot import check_clean_boot

MACHINES = ["microvm", "microvm,acpi=off", "q35", "pc"]
NO_LEGACY = ["microvm,pit=off,pic=off,rtc=off", "microvm,acpi=off,pit=off,pic=off,rtc=off"]


@pytest.fixture(scope="session")
def kernel_pvh():
    assert KERNEL_PVH.exists(), f"{KERNEL_PVH} missing: run make first"
    return KERNEL_PVH


@pytest.mark.parametrize("machine", MACHINES)
def test_pvh_boots(qemu, kernel_pvh, machine):
    q = qemu(kernel=kernel_pvh, cmdline="test=exit log=info", machine=machine, mem="256M")
    log = check_clean_boot(q, 256)
    # The protocol, the loader, the command line and the map all came from hvm_start_info.
    assert re.search(r"boot: PVH from 'PVH', command line 'test=exit log=info", log), log
    assert re.search(r"memory map \(\d+ entries, PVH\):", log), log
    assert "multiboot" not in log
    assert "boot: ignored the loader's" not in log


@pytest.mark.parametrize("machine", ["microvm", "microvm,acpi=off"])
def test_multiboot_boots_on_microvm(qemu, kernel, machine):
    q = qemu(kernel=kernel, cmdline="test=exit", machine=machine, mem="256M")
    log = check_clean_boot(q, 256)
    assert re.search(r"boot: multiboot1 from '[^']*', command line '[^']*test=exit", log), log


@pytest.mark.parametrize("machine", NO_LEGACY)
def test_pvh_without_pit_pic_rtc(qemu, kernel_pvh, machine):
    # No PIT, no 8259s, no RTC (and with acpi=off, no HPET table either): the
    # boot must neither crash nor hang; and under TCG the clock still runs,
    # on the LAPIC timer at the rate of QEMU's 1 GHz LAPIC bus (assumed, and
    # said to be: nothing is left to measure it against).
    q = qemu(kernel=kernel_pvh, cmdline="test=exit", machine=machine, mem="256M")
    log = check_clean_boot(q, 256)
    assert "boot: PVH from" in log
    assert "timer: calibrated against the LAPIC timer (at its assumed rate)" in log, log
    assert re.search(r"timer: clock source: LAPIC timer ticks at 1000 Hz \(62500 counts each", log), log
    assert "no reference timer answered" not in log, log


POWEROFF = {
    # machine: the serial line that says which way the kernel powered off
    "microvm": r"acpi: entering S5 through the sleep control register \(SLP_TYP=5\)",
    "microvm,acpi=off": r"power: no way to power off; resetting instead",
    "q35": r"acpi: entering S5 \(SLP_TYPa=0",
}


@pytest.mark.parametrize("image", ["pvh", "multiboot"])
@pytest.mark.parametrize("machine", sorted(POWEROFF))
def test_poweroff_ends_qemu(qemu, kernel_pvh, image, machine):
    # Without isa-debug-exit, test=exit falls through to power_off(): QEMU
    # must end by itself with status 0 (S5, or the reset -no-reboot turns into an exit).
    q = qemu(kernel=kernel_pvh if image == "pvh" else KERNEL, cmdline="test=exit", machine=machine,
             mem="256M", debug_exit=False)
    q.wait_for(r"boot: done", timeout=120)
    assert q.wait_exit(timeout=30) == 0, q.describe()
    assert re.search(POWEROFF[machine], q.log), q.log
    assert "halting" not in q.log


@pytest.mark.parametrize("image", ["pvh", "multiboot"])
def test_mp_table_without_acpi(qemu, kernel_pvh, image):
    # microvm,acpi=off has no MADT: qboot's MP table (MP 1.4, at 0x9FC00) is
    # what names the IO-APIC (id 2, not the default's 0) and routes ISA IRQ 0
    # to pin 2; the fixed defaults must not be used.
    q = qemu(kernel=kernel_pvh if image == "pvh" else KERNEL, cmdline="test=exit", machine="microvm,acpi=off",
             mem="256M")
    log = check_clean_boot(q, 256)
    assert re.search(r"mptable: MP 1\.4 table at 0x9fc10 \(floating pointer 0x9fc00\), OEM 'QBOOT'", log), log
    assert re.search(r"mptable:   IO-APIC id 2 at 0xfec00000", log), log
    assert re.search(r"mptable:   ISA IRQ 0 -> GSI 2", log), log
    assert re.search(r"ioapic: id 2 at 0xfec00000, version 0x20, GSI 0-23", log), log
    assert "trying the default" not in log


def test_madt_first_where_acpi_is_on(qemu, kernel_pvh):
    # With ACPI the MADT describes the interrupts and the MP table is not read.
    q = qemu(kernel=kernel_pvh, cmdline="test=exit", machine="microvm", mem="256M")
    log = check_clean_boot(q, 256)
    assert "acpi: MADT: local APIC at 0xfee00000" in log, log
    assert "mptable:" not in log
