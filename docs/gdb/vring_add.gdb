# docs/debugging.md, docs/virtqueue.md: stop in vring_add() when the kernel
# sends its first frame (the transmit queue is queue 1), step through the
# start, then watch the chain being published and the device completing it.
# Run with: make debug GDB_SCRIPT=docs/gdb/vring_add.gdb
set trace-commands on
break vring_add if vr->index == 1
continue
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
break vring_get_used if vr->index == 1 && vr->used->idx != vr->last_used
continue
print vr->used->ring[0]
finish
print *(struct vnet_txslot *)$
