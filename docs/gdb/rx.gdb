# docs/rx.md: the DHCP offer, from the used ring to lwIP and back to the
# buffer pool. Run with: make debug GDB_SCRIPT=docs/gdb/rx.gdb
set trace-commands on
# The driver wraps a used buffer as a pbuf once it has read the used entry:
# stop there for a 590-byte frame, the offer. (A condition on the used ring
# itself would race with the device, which writes it while the CPU is stopped.)
break pbuf_alloced_custom if length == 590
continue
delete
backtrace 4
finish
set $p = $
set $b = (struct vnet_rxbuf *)$p
print *$p
print/x *(struct virtio_net_hdr *)$b->data
print $p->payload - (void *)$b->data
break vnet_rxbuf_free if p == $p
continue
backtrace
print *p
print p->payload - (void *)$b->data
set $before = $b->vn->rx_free_count
delete
finish
print $b->vn->rx_free_count - $before
