/*
 * TCP segmentation offload by coalescing: the arithmetic of turning a burst
 * of consecutive TCP segments that lwIP built (one MSS each) into one large
 * frame the NIC cuts again (virtio 1.2 5.1.6.2 "Packet Transmission",
 * VIRTIO_NET_F_HOST_TSO4/6; Linux's tcp_gso_segment() is what cuts it on the
 * host). lwIP stays unmodified and keeps doing all of TCP per segment
 * (windows, congestion, Nagle, retransmission); only the framing changes,
 * and the frames the device cuts are byte for byte the ones lwIP built:
 * same sequence numbers, acknowledgement, window, options, IPv4 ids
 * counting up by one (the device's rule), PSH and FIN on the last segment.
 *
 * No lwIP, no pbufs: the caller passes each frame's first bytes (Ethernet,
 * IP and TCP headers, contiguous) and its length, so the host tests drive
 * it. net/ethif.c is the lwIP side. docs/tx.md, "Segmentation offload".
 */
#ifndef NET_TSO_H
#define NET_TSO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest header we coalesce behind: Ethernet, IPv6 (IPv4 without options
 * is shorter), TCP with 40 bytes of options. */
#define TSO_HDR_MAX (14 + 40 + 60)
/* The largest frame we build: the IPv4 total length is 16 bits, and Linux's
 * GSO_MAX_SIZE (what the host's TAP accepts) is 64 KiB. */
#define TSO_MAX_FRAME 65535u

/* What tso_parse() read from one frame's headers. */
struct tso_seg {
    uint8_t family;   /* 4 or 6 */
    uint16_t l4;      /* offset of the TCP header in the frame */
    uint16_t hdr_len; /* Ethernet + IP + TCP headers */
    uint32_t payload; /* TCP payload bytes */
    uint32_t seq;
    uint16_t ip_id; /* IPv4 */
    uint8_t flags;  /* TCP flags */
};

/**
 * tso_parse() - can the frame whose first @avail bytes are @h, @frame_len
 * long in all, be part of a coalesced frame? Yes for an Ethernet frame
 * carrying IPv4 without options and not a fragment, or IPv6 without
 * extension headers, carrying TCP with ACK set, a payload, and none of SYN,
 * RST, URG, ECE or CWR, whose headers all lie in @h and whose IP length says
 * exactly @frame_len. Fills @s on yes.
 */
bool tso_parse(const uint8_t *h, size_t avail, size_t frame_len, struct tso_seg *s);

/* A run of segments being coalesced. The first frame's headers are its template. */
struct tso_run {
    const uint8_t *hdr; /* the first frame's headers (tso_seg.hdr_len bytes) */
    struct tso_seg first;
    uint32_t next_seq;
    uint16_t next_id;
    uint32_t total;   /* payload bytes so far */
    unsigned count;   /* segments so far */
    uint8_t last_psh; /* PSH|FIN to set on the coalesced header */
    bool closed;      /* a short segment or a FIN: nothing may follow */
};

/** tso_run_start() - begin a run with the frame @hdr, parsed into @s. */
void tso_run_start(struct tso_run *r, const uint8_t *hdr, const struct tso_seg *s);

/**
 * tso_run_add() - append the frame @hdr (parsed into @s) to @r if it is the
 * next segment of the same connection, sent with the same headers but for
 * sequence number, IPv4 id (one more) and PSH/FIN: same addresses, ports,
 * acknowledgement, window, options, TTL, and a payload no longer than the
 * first's (its gso_size). A shorter one, or one with FIN, must be the last.
 * The run never grows beyond @max_frame bytes (headers included).
 * Return: true if appended (@r updated), false if @r is left as it was.
 */
bool tso_run_add(struct tso_run *r, const uint8_t *hdr, const struct tso_seg *s, uint32_t max_frame);

/* The coalesced frame's header and what the NIC needs to cut it. */
struct tso_frame {
    uint16_t hdr_len;                 /* bytes written to the header buffer */
    uint16_t gso_size;                /* payload bytes of each segment but the last */
    uint16_t csum_start, csum_offset; /* the TCP checksum, left partial */
    uint8_t family;
    uint32_t len; /* the whole frame: hdr_len + payload */
};

/**
 * tso_run_header() - write into @out (TSO_HDR_MAX bytes) the header of the
 * frame @r describes: the first segment's, with the IP length of the whole
 * frame (and its IPv4 header checksum), PSH/FIN if any segment had them, and
 * the TCP checksum field holding the pseudo-header sum over the whole TCP
 * length (what the device's per-segment adjustment starts from, as Linux's
 * CHECKSUM_PARTIAL), and describe the frame in @f.
 */
void tso_run_header(const struct tso_run *r, uint8_t *out, struct tso_frame *f);

#endif
