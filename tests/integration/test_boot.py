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


MMIO_PATTERN = 0x4D4D494F50415454
MMIO_WRITTEN = 0x4D4D494F57524954
BAR_SIZE = 1 << 30


def ivshmem(path):
    return ["-object", f"memory-backend-file,id=hm,mem-path={path},size={BAR_SIZE},share=on",
            "-device", "ivshmem-plain,memdev=hm"]


@pytest.mark.parametrize("cpu,pages", [
    # 1 GiB pages: the whole BAR is one entry; the slice is 4 KiB edges around 2 MiB pages.
    ("max", {"whole": (1, 0, 0), "slice": (0, 510, 1021)}),
    ("max,pdpe1gb=off", {"whole": (0, 512, 0), "slice": (0, 510, 1021)}),
])
def test_huge_bar_mapped_with_large_pages(qemu, kernel, tmp_path, cpu, pages):
    """A 1 GiB ivshmem BAR (a file the test fills) mapped by map_mmio(): the
    kernel reads the pattern through large pages and writes back words the
    file then holds; the log says how many pages of each size and how many
    page-table pages the mapping took (4 KiB pages only: 513 tables)."""
    shm = tmp_path / "bar.img"
    with open(shm, "wb") as f:
        f.truncate(BAR_SIZE)
    # The BAR's address, as the firmware assigns it (the same on every boot).
    q = qemu(kernel=kernel, cmdline="test=exit", extra=ivshmem(shm) + ["-cpu", cpu])
    assert q.wait_exit(timeout=60) == STATUS_OK, q.describe()
    m = re.search(r"1af4:1110.*\n.*\n?.*BAR2: memory at 0x([0-9a-f]+)", q.log)
    assert m, q.log
    bar = int(m.group(1), 16)
    assert bar % BAR_SIZE == 0
    with open(shm, "r+b") as f:
        for chunk in range(0, BAR_SIZE, 2 << 20):
            for off in (chunk, chunk + 4096, chunk + (2 << 20) - 4096):
                f.seek(off)
                f.write((MMIO_PATTERN ^ (bar + off)).to_bytes(8, "little"))
    q = qemu(kernel=kernel, cmdline=f"test=mmio mmio={bar:#x},{BAR_SIZE:#x}", extra=ivshmem(shm) + ["-cpu", cpu])
    assert q.wait_exit(timeout=120) == STATUS_OK, q.describe()
    log = q.log
    assert f"selftest: mmio {3 * 512 * 2 - 2} words checked, 0 wrong" in log, log
    lines = re.findall(r"paging: MMIO (0x[0-9a-f]+)-0x[0-9a-f]+ at 0x[0-9a-f]+: (\d+) x 1 GiB, (\d+) x 2 MiB, "
                       r"(\d+) x 4 KiB pages, (\d+) page-table pages", log)
    got = {("slice" if int(s, 16) == bar + 4096 else "whole"): tuple(map(int, rest[:3])) for s, *rest in lines
           if bar <= int(s, 16) < bar + BAR_SIZE}
    assert got == pages, lines
    tables = {("slice" if int(s, 16) == bar + 4096 else "whole"): int(rest[3]) for s, *rest in lines}
    assert tables["whole"] <= 2 and tables["slice"] <= 4, lines
    with open(shm, "rb") as f:
        for addr in (bar + BAR_SIZE - 3 * 4096 + 4096 - 8, bar + BAR_SIZE - 8):
            f.seek(addr - bar)
            assert int.from_bytes(f.read(8), "little") == MMIO_WRITTEN ^ addr
