"""Boot foundation: every way the kernel is started reaches a clean exit, and
faults are reported so that a newcomer can find the bug from the dump."""
import re

import pytest

from conftest import OVMF, STATUS_FAIL, STATUS_OK, kernel_symbol, make_iso

BANNER = r"unikernel \S+: x86_64 unikernel network stack"


def check_clean_boot(q, mem_mib, firmware_slack_mib=16):
    q.wait_for(r"boot: done", timeout=120)
    assert q.wait_exit(timeout=30) == STATUS_OK, q.describe()
    log = q.log
    assert re.search(BANNER, log)
    # The memory map the kernel found: at least one available region, and a
    # usable total that matches what QEMU was given (minus firmware holes).
    assert re.search(r"mem: 0x[0-9a-f]+-0x[0-9a-f]+ available", log)
    usable = int(re.search(r"memory: (\d+) MiB usable", log).group(1))
    assert mem_mib - firmware_slack_mib <= usable <= mem_mib, log
    assert "paging: identity map" in log
    return log


@pytest.mark.parametrize("machine", ["q35", "pc"])
def test_boot_multiboot1_kernel(qemu, kernel, machine):
    q = qemu(kernel=kernel, cmdline="test=exit", machine=machine, mem="256M")
    log = check_clean_boot(q, 256)
    assert "multiboot1" in log
    assert "command line 'test=exit'" in log or "test=exit'" in log


def test_boot_more_memory(qemu, kernel):
    q = qemu(kernel=kernel, cmdline="test=exit", mem="1G")
    check_clean_boot(q, 1024)


def test_boot_grub_iso_bios(qemu, tmp_path):
    iso = make_iso(tmp_path, "test=exit")
    q = qemu(iso=iso, machine="pc", mem="256M")
    log = check_clean_boot(q, 256)
    assert "multiboot2" in log
    assert "GRUB" in log


@pytest.mark.skipif(not OVMF.exists(), reason="ovmf not installed (scripts/setup.sh installs it)")
def test_boot_grub_iso_uefi(qemu, tmp_path):
    iso = make_iso(tmp_path, "test=exit")
    q = qemu(iso=iso, machine="q35", firmware="uefi", mem="256M")
    # OVMF keeps more memory for itself than SeaBIOS does.
    log = check_clean_boot(q, 256, firmware_slack_mib=32)
    assert "multiboot2" in log


def test_heap_selftest(qemu, kernel):
    q = qemu(kernel=kernel, cmdline="test=heap")
    assert q.wait_exit(timeout=60) == STATUS_OK, q.describe()
    assert "selftest: heap ok" in q.log


def fault(q):
    assert q.wait_exit(timeout=60) == STATUS_FAIL, q.describe()
    log = q.log
    assert "*** KERNEL FAULT" in log or "*** KERNEL PANIC" in log, log
    assert "*** system halted" in log
    return log


def backtrace(log):
    return log[log.index("backtrace:"):]


def test_pagefault_dump(qemu, kernel):
    log = fault(qemu(kernel=kernel, cmdline="test=pagefault"))
    assert "vector 14 (#PF page fault)" in log
    assert "page fault at address 0x0000700000000000: page not present, read access" in log
    assert "CR2=0000700000000000" in log
    bt = backtrace(log)
    assert "selftest_pagefault+0x" in bt
    assert "kmain+0x" in bt
    # Every register is printed.
    for reg in ("RAX=", "RBX=", "RSP=", "R15=", "RIP=", "RFLAGS="):
        assert reg in log


def test_null_pointer(qemu, kernel):
    log = fault(qemu(kernel=kernel, cmdline="test=nullptr"))
    assert "page fault at address 0x0000000000000000: page not present" in log
    assert "selftest_nullptr+0x" in backtrace(log)


def test_write_to_kernel_text_faults(qemu, kernel):
    log = fault(qemu(kernel=kernel, cmdline="test=wx"))
    addr = kernel_symbol("selftest_wx")
    assert f"page fault at address 0x{addr:016x}: protection violation, write access" in log
    assert "W^X FAILED" not in log


def test_data_is_not_executable(qemu, kernel):
    log = fault(qemu(kernel=kernel, cmdline="test=nx"))
    assert re.search(r"page fault at address 0x[0-9a-f]+: protection violation, instruction fetch", log)
    assert "NX FAILED" not in log


def test_stack_overflow_hits_guard_page(qemu, kernel):
    log = fault(qemu(kernel=kernel, cmdline="test=stack"))
    guard = kernel_symbol("boot_stack_guard")
    m = re.search(r"page fault at address 0x([0-9a-f]+): page not present, write access", log)
    assert m, log
    assert guard <= int(m.group(1), 16) < guard + 4096
    assert "selftest_recurse+0x" in backtrace(log)


def test_panic_message_and_backtrace(qemu, kernel):
    log = fault(qemu(kernel=kernel, cmdline="test=panic"))
    assert "*** KERNEL PANIC: selftest: panic on request" in log
    bt = backtrace(log)
    assert "selftest_run_early+0x" in bt and "kmain+0x" in bt


@pytest.mark.parametrize("cpu,source", [("max", "rdrand"), ("max,rdrand=off", "tsc")])
def test_stack_protector_catches_smash(qemu, kernel, cpu, source):
    # The last -cpu wins: without RDRAND the canary comes from the TSC.
    log = fault(qemu(kernel=kernel, cmdline="test=canary", extra=["-cpu", cpu]))
    assert f"boot: stack protector canary from {source}" in log
    assert re.search(r"selftest: writing \d+ bytes into a 16-byte stack buffer", log)
    assert re.search(r"\*\*\* KERNEL PANIC: stack smashing detected: the stack canary of "
                     r"selftest_canary\+0x[0-9a-f]+ was overwritten", log), log
    assert "did not fault" not in log
    bt = backtrace(log)
    assert "__stack_chk_fail+0x" in bt
    assert "selftest_canary+0x" in bt
    assert "selftest_run_early+0x" in bt and "kmain+0x" in bt
