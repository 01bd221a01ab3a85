# docs/interrupts.md: stop in the receive queue's interrupt callback and
# show how it got there. Run with: make debug GDB_SCRIPT=docs/gdb/rx_irq.gdb
set trace-commands on
break vnet_rx_irq
continue
delete
backtrace
print 'arch/x86_64/irq.c'::vectors[49]
finish
