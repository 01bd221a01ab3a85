# docs/rx.md: the DHCP offer, from the used ring through the NIC interface
# into lwIP, and back to the driver's buffer pool.
# Run with: make debug GDB_SCRIPT=docs/gdb/rx.gdb
set trace-commands on
# net/ethif.c wraps a lent receive buffer as a pbuf once the driver has
# handed the frame up: stop there for a 590-byte frame, the offer. (A
# condition on the used ring itself would race with the device, which writes
# it while the CPU is stopped.)
break pbuf_alloced_custom if length == 590
continue
delete
backtrace 5
finish
set $p = $
set $w = (struct ethif_rxbuf *)$p
set $vn = (struct vnet *)$w->e->nic->priv
set $data = $vn->rxbufs[$w->id].data
print *$p
print $vn->rxbufs[$w->id]
print/x *(struct virtio_net_hdr *)$data
print $p->payload - (void *)$data
# lwIP's last pbuf_free() calls the glue's free function...
break ethif_rxbuf_free if p == $p
continue
backtrace
print *p
print p->payload - (void *)$data
delete
# ...which gives the buffer back to the driver.
break vnet_rx_release if id == $w->id
continue
backtrace 3
set $before = vn->rx_free_count
delete
finish
print $vn->rx_free_count - $before
print $vn->rxbufs[$w->id].lent
