# gdb script for `make debug` (scripts/debug.sh): connect to QEMU's gdb stub
# on 127.0.0.1:$GDB_PORT (default 1234) and stop at $GDB_STOP (default kmain;
# empty: stay at the reset vector). By hand:
#   gdb -x scripts/kernel.gdb build/kernel.elf
# The first stop is a hardware breakpoint (hbreak): gdb attaches before the
# firmware has loaded the kernel (-kernel: fw_cfg and an option ROM copy it
# in later), and a breakpoint written into memory as an int3 byte, as QEMU
# does with KVM, would be overwritten by the load. A hardware breakpoint is
# an address the CPU (or TCG) compares the pc with: nothing in memory to
# lose. docs/debugging.md shows both (docs/gdb/hbreak.gdb).
set confirm off
set pagination off
python
import os, time
# QEMU may not be listening yet when gdb starts: retry for a few seconds.
for attempt in range(50):
    try:
        gdb.execute("target remote 127.0.0.1:" + os.environ.get("GDB_PORT", "1234"))
        break
    except gdb.error:
        if attempt == 49:
            raise
        time.sleep(0.1)
stop = os.environ.get("GDB_STOP", "kmain")
if stop:
    gdb.execute("hbreak " + stop)
    gdb.execute("continue")
end
