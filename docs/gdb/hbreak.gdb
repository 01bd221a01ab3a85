# docs/debugging.md: why scripts/kernel.gdb stops at kmain with hbreak.
# gdb attaches at the reset vector, before the firmware has loaded the kernel.
# Run with: make debug GDB_STOP= GDB_SCRIPT=docs/gdb/hbreak.gdb
set trace-commands on
# Nothing at kmain yet: the option ROM copies the image in from fw_cfg later.
x/4xb kmain
# A breakpoint written into memory (an int3 byte, 0xcc), as gdb does when
# told not to ask the stub, and as QEMU itself does under KVM...
set remote software-breakpoint-packet off
break kmain
# ...and a hardware one, on the first function kmain calls.
hbreak canary_init
continue
backtrace 2
info breakpoints
# The load overwrote the int3; gdb, taking it out, wrote back the 0x00 it saved.
x/4xb kmain
# Planted after the load, an int3 stays, but under TCG it is not QEMU's
# breakpoint: the guest executes it and takes its own #BP exception.
delete 1
break nif_init
python
try:
    gdb.execute("continue")
except gdb.error as e:
    print("gdb:", e)
end
