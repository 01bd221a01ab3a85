# docs/debugging.md, docs/virtqueue.md: stop in vring_add() when the kernel
# sends its first frame (the transmit queue is queue 1), step through the
# start, watch the chain being published, then see who frees the frame.
# Run with: make debug GDB_SCRIPT=docs/gdb/vring_add.gdb
set trace-commands on
break vring_add if vr->index == 1
continue
delete
backtrace
print segs[0]@n_out
print vr->free_head
print vr->avail_idx
next
next
next
watch vr->avail->idx
continue
print/x vr->desc[0]
print vr->state[0]
print/x vr->tables[vr->state[0].table * 16]@2
print vr->avail->ring[0]
print *vr->used
delete
finish
# finish returns into the driver's vnet_xmit(), which knows no pbuf: the frame's
# cookie is the pbuf chain net/ethif.c handed down with it.
set $frame = f->cookie
# lwIP drops its reference as soon as the send returns (2 -> 1)...
break *pbuf_free if $rdi == $frame && ((struct pbuf *)$rdi)->ref == 2
continue
delete
backtrace 3
# ...the glue drops the last one once the driver hands the cookie back (1 -> 0).
break *pbuf_free if $rdi == $frame && ((struct pbuf *)$rdi)->ref == 1
continue
delete
backtrace 4
frame function vnet_reclaim_tx
print vn->vq[1]->used->ring[0]
print vn->vq[1]->last_used
