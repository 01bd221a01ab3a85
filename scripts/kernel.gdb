# gdb script for `make debug`. The kernel starts in 32-bit mode; breakpoints
# in 64-bit code work once it is in long mode (hardware breakpoints survive
# the mode switch).
set confirm off
set pagination off
target remote 127.0.0.1:1234
hbreak kmain
continue
