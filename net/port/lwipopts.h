/*
 * lwIP configuration (lwIP 2.1.3, src/include/lwip/opt.h lists every option
 * and its default). Each choice here says why.
 *
 * Model: NO_SYS=1. There are no threads: one main loop polls the NIC, feeds
 * frames to lwIP, runs lwIP's timers and sleeps in hlt. lwIP is only ever
 * called from that loop, never from an interrupt handler, so it needs no
 * locks (SYS_LIGHTWEIGHT_PROT=0).
 */
#ifndef NET_PORT_LWIPOPTS_H
#define NET_PORT_LWIPOPTS_H

/* clang-format off */
#define NO_SYS 1
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0
#define LWIP_TIMERS 1

/* ---- memory ----
 * lwIP's heap holds PBUF_RAM pbufs (the header of every TCP segment, copied
 * data) and small control blocks, up to MEM_SIZE bytes (4 MiB: many
 * connections can have full send buffers). Received frames do not use it:
 * they arrive in the driver's DMA buffers, wrapped as pbuf_custom.
 * It is the kernel heap (lib/heap.c: segregated free lists), through
 * lwip_mem_malloc() (net/lwip_mem.c), which refuses what would take lwIP past MEM_SIZE; not
 * lwIP's own mem.c, whose first-fit walk from the lowest free block went
 * over every segment header in flight: a bulk send spent a third of its
 * time in mem_malloc() (168 blocks walked per call, docs/lwip.md). The host
 * tests use the C library's malloc. */
#define MEM_ALIGNMENT 8
#define MEM_SIZE (4 * 1024 * 1024)
#define MEM_LIBC_MALLOC 1
#ifndef HOST_TEST
#define mem_clib_malloc lwip_mem_malloc
#define mem_clib_calloc lwip_mem_calloc
#define mem_clib_free lwip_mem_free
#endif
#define MEMP_OVERFLOW_CHECK 0
#define MEMP_SANITY_CHECK 0

/* Pools, sized for hundreds of concurrent connections (the HTTP tests open
 * 500 at once; beyond the pools, new connections are refused cleanly). */
#define MEMP_NUM_TCP_PCB 600
#define MEMP_NUM_TCP_PCB_LISTEN 16
#define MEMP_NUM_TCP_SEG 4096
#define MEMP_NUM_UDP_PCB 16
#define MEMP_NUM_PBUF 4096          /* PBUF_REF/ROM headers: one per zero-copy segment, as many as TCP_SEG (docs/budget.md) */
#define MEMP_NUM_REASSDATA 8
#define IP_REASS_MAX_PBUFS 64
#define MEMP_NUM_FRAG_PBUF 32
#define MEMP_NUM_ARP_QUEUE 64
#define MEMP_NUM_SYS_TIMEOUT (LWIP_NUM_SYS_TIMEOUT_INTERNAL + 16)
#define PBUF_POOL_SIZE 512          /* used by lwIP itself (e.g. ICMP replies, reassembly) */

/* Room in front of every pbuf lwIP allocates for sending, for the 12-byte
 * virtio-net header, so a driver could push the header into the frame's first
 * buffer (Linux's can_push). drivers/virtio_net.c does not: it sends the
 * header from its own txslot as a separate segment (docs/tx.md). */
#define PBUF_LINK_ENCAPSULATION_HLEN 12

/* ---- protocols ---- */
#define LWIP_ETHERNET 1
#define LWIP_ARP 1
#define ARP_TABLE_SIZE 64
#define ARP_QUEUEING 1
#define ETHARP_TRUST_IP_MAC 0
#define LWIP_IPV4 1
#define LWIP_IPV6 1
#define LWIP_IPV6_AUTOCONFIG 1      /* SLAAC */
#define LWIP_IPV6_MLD 1
#define LWIP_IPV6_DHCP6 0
#define LWIP_ICMP 1
#define LWIP_ICMP6 1
#define LWIP_RAW 0
#define LWIP_UDP 1
#define LWIP_TCP 1
#define LWIP_DHCP 1
#define LWIP_DHCP_DOES_ACD_CHECK 0
#define DHCP_DOES_ARP_CHECK 0       /* no 2 s ARP probe before using a lease */
#define LWIP_AUTOIP 0
#define LWIP_IGMP 0
#define LWIP_DNS 0
#define IP_REASSEMBLY 1
#define IP_FRAG 1
#define LWIP_IPV6_FRAG 1
#define LWIP_IPV6_REASS 1
#define IPV6_FRAG_COPYHEADER 1     /* 64-bit pointers do not fit in the fragment header */

/* ---- TCP, tuned for throughput ----
 * MSS 1460 fills a 1500-byte Ethernet frame. Window scaling by 2^3 lets
 * the 256 KiB window be advertised (the field is 16 bits), enough for
 * gigabit rates at sub-millisecond RTTs. */
#define TCP_MSS 1460
#define LWIP_WND_SCALE 1
#define TCP_RCV_SCALE 3
#define TCP_WND (256 * 1024)
#define TCP_SND_BUF (256 * 1024)
#define TCP_SND_QUEUELEN (4 * TCP_SND_BUF / TCP_MSS)
#define TCP_SNDLOWAT (32 * 1024) /* lwIP keeps this below 0xFFFF - 4 * MSS */
#define TCP_OVERSIZE TCP_MSS
#define TCP_QUEUE_OOSEQ 1
/* Out-of-order data one connection may hold, in pbufs (one per frame):
 * 64, down to 4 as the memory budget tightens (net/net_budget.c,
 * docs/budget.md). Beyond it lwIP drops the newest (highest) segments. The
 * host tests build lwIP without the budget: the fixed maximum. */
#ifdef HOST_TEST
#define TCP_OOSEQ_PBUFS_LIMIT(pcb) 64
#else
struct tcp_pcb;
unsigned net_budget_ooseq_pbufs(const struct tcp_pcb *pcb);
#define TCP_OOSEQ_PBUFS_LIMIT(pcb) ((u16_t)net_budget_ooseq_pbufs(pcb))
#endif
/* Two per pcb for the budget: when its acknowledgements last moved, when it was born. */
#define LWIP_TCP_PCB_NUM_EXT_ARGS 2
#define TCP_LISTEN_BACKLOG 1
#define TCP_DEFAULT_LISTEN_BACKLOG 255
#define LWIP_TCP_KEEPALIVE 1
#define LWIP_TCP_TIMESTAMPS 0
#define LWIP_CALLBACK_API 1
#define LWIP_HOOK_FILENAME "net/port/lwip_hooks.h" /* RFC 6528 ISNs, SYN cookies: net/tcp_guard.c */

/* ---- netif ---- */
#define LWIP_NETIF_STATUS_CALLBACK 1
#define LWIP_NETIF_LINK_CALLBACK 1
#define LWIP_NETIF_HOSTNAME 1
#define LWIP_NETIF_TX_SINGLE_PBUF 0 /* the driver sends pbuf chains as scatter lists */
#define LWIP_SINGLE_NETIF 0

/* Checksums: computed by lwIP unless the NIC offers to (VIRTIO_NET_F_CSUM /
 * GUEST_CSUM); the driver switches them off per netif (NETIF_CHECKSUM_*). */
#define LWIP_CHECKSUM_CTRL_PER_NETIF 1
#define LWIP_CHECKSUM_ON_COPY 0

/* ---- statistics: /stats shows them ---- */
#define LWIP_STATS 1
/* 32-bit protocol counters: the 16-bit default wraps within seconds under load. */
#define LWIP_STATS_LARGE 1
#define LWIP_STATS_DISPLAY 1 /* also gives each pool its name, for /stats */
#define LINK_STATS 1
#define ETHARP_STATS 1
#define IP_STATS 1
#define IPFRAG_STATS 1
#define ICMP_STATS 1
#define UDP_STATS 1
#define TCP_STATS 1
#define MEM_STATS 1
#define MEMP_STATS 1
#define SYS_STATS 0
#define IP6_STATS 1
#define ICMP6_STATS 1
#define ND6_STATS 1
#define MIB2_STATS 0

/* Debugging: lwIP's LWIP_DEBUGF tracing is compiled out (LWIP_DEBUG is not
 * defined); its assertions stay on (LWIP_NOASSERT is not defined) and end in
 * the kernel's panic with a backtrace. */

/* clang-format on */
#endif
