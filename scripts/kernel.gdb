# gdb script for `make debug` (scripts/debug.sh): connect to QEMU's gdb stub
# on 127.0.0.1:$GDB_PORT (default 1234) and stop at kmain. By hand:
#   gdb -x scripts/kernel.gdb build/kernel.elf
# The kernel starts in 32-bit mode; breakpoints in 64-bit code work once it
# is in long mode (hardware breakpoints survive the mode switch).
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
end
hbreak kmain
continue
