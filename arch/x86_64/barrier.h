/*
 * Memory barriers for memory shared with devices (virtio 1.x spec 2.7.13 and
 * Linux's virtio_wmb/virtio_rmb/virtio_mb).
 *
 * x86 is TSO: stores are not reordered with other stores, loads not with other
 * loads, so write and read barriers only have to stop the *compiler*. A store
 * followed by a load of another location can be reordered by the CPU, so the
 * full barrier (needed by the event-index checks) is a real fence.
 *
 * This header includes nothing and uses no kernel symbol, so host tests of the
 * ring code compile against it unchanged.
 */
#ifndef ARCH_X86_64_BARRIER_H
#define ARCH_X86_64_BARRIER_H

#define barrier()  __asm__ volatile("" ::: "memory")
#define virt_wmb() barrier()
#define virt_rmb() barrier()
#define virt_mb()  __asm__ volatile("mfence" ::: "memory")

#endif
