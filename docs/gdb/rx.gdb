# docs/rx.md: the first frame the kernel receives (the DHCP offer), from
# the used ring to lwIP and back to the buffer pool.
# Run with: make debug GDB_SCRIPT=docs/gdb/rx.gdb
set trace-commands on
break vnet_receive_one
continue
next
next
next
print len
print *b
print/x *(struct virtio_net_hdr *)b->data
break vnet_rxbuf_free
continue
backtrace
print *p
print p->payload - (void *)((struct vnet_rxbuf *)p)->data
set $vn = ((struct vnet_rxbuf *)p)->vn
print $vn->rx_free_count
finish
print $vn->rx_free_count
