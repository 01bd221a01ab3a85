#!/usr/bin/env python3
"""A vhost-user virtio-net backend that can lie on purpose.

QEMU's own devices follow the virtqueue protocol; to see what the kernel does
when a device breaks it (issue 21), the tests run this backend instead: QEMU
forwards the virtio-net data queues to it over a unix socket (QEMU's
docs/interop/vhost-user.rst), and it is an honest split-ring device (virtio
1.2 spec 2.7) that bridges frames between the guest and a TAP device, until
the test tells it to lie once.

    QEMU: -object memory-backend-memfd,id=mem,size=256M,share=on
          -numa node,memdev=mem -chardev socket,id=c0,path=SOCK
          -netdev vhost-user,id=n0,chardev=c0 -device virtio-net-pci,netdev=n0,vectors=0

What it speaks (the front end is QEMU 7.2):
  - GET/SET_FEATURES: VERSION_1, MRG_RXBUF and PROTOCOL_FEATURES, nothing
    else (no EVENT_IDX, no INDIRECT_DESC, no offloads: the TAP device gets
    whole frames, so no virtio-net header reaches it). QEMU keeps MAC,
    STATUS, CTRL_VQ for itself: the control queue never comes here.
  - GET/SET_PROTOCOL_FEATURES: REPLY_ACK only (a "need reply" flag is
    answered with 0).
  - SET_OWNER, RESET_OWNER/RESET_DEVICE (every ring forgotten).
  - SET_MEM_TABLE: the memfd regions come as SCM_RIGHTS fds and are mmapped;
    SET_VRING_ADDR gives QEMU's virtual addresses, descriptors guest-physical
    ones, both translated through the table.
  - SET_VRING_NUM/ADDR/BASE/KICK/CALL/ERR, SET_VRING_ENABLE, GET_VRING_BASE
    (stops the ring and returns its next avail index).
A ring runs once it has a kick fd and is enabled (with PROTOCOL_FEATURES
rings start disabled, vhost-user.rst "Ring states").

Queue 0 is receive (frames from the TAP device into the guest), queue 1
transmit. Used entries are written in batches: one used->idx store and one
call eventfd write per batch, skipped when the driver set
VRING_AVAIL_F_NO_INTERRUPT.

Faults: a control socket (--control PATH) takes one JSON object per line and
answers one:
  {"cmd": "fault", "queue": "rx"|"tx", "kind": K, "after": N}
      once, after N more good completions on that queue, break the protocol:
      K = "id_range"     a used id out of range (ring size + 7)
          "not_in_flight" a used id the driver does not have in flight
          "twice"        a chain completed twice (two used entries, one batch)
          "len"          a used length 1000 bytes beyond the chain's writable part
          "idx_jump"     used->idx moved 1000 ahead
          "idx_back"     used->idx moved 300 back
          "skip"         (packed rings only) the used descriptor written one
                         position past where it belongs: the device lost its
                         place and stays one ahead of the driver until a reset
      after the lie the device is honest again (one-shot).
  {"cmd": "state"}  counters, fired faults and the vhost-user messages seen
                    (name, ring, value): the driver's reset sequence.
With --packed it offers VIRTIO_F_RING_PACKED too and, when the driver takes
it, plays a packed-ring device (spec 2.8): one descriptor ring both sides
write, buffer ids, AVAIL/USED bits against wrap counters; the vring base of
SET/GET_VRING_BASE is then QEMU's packed form (avail position | wrap << 15,
and the same for the used side in the upper 16 bits). The same lies, in
packed terms: "not_in_flight" names an id the driver does not have in flight,
"idx_jump" writes a used descriptor whose AVAIL and USED bits differ, and
"idx_back" one marked used in the previous lap (the wrap counter's other value).
Run by hand: see docs/virtqueue.md ("A device that lies").
"""
import argparse
import array
import fcntl
import json
import mmap
import os
import select
import socket
import struct
import sys
import time

# vhost-user requests (vhost-user.rst "Front-end message types").
REQ_NAMES = {
    1: "GET_FEATURES", 2: "SET_FEATURES", 3: "SET_OWNER", 4: "RESET_OWNER", 5: "SET_MEM_TABLE",
    6: "SET_LOG_BASE", 7: "SET_LOG_FD", 8: "SET_VRING_NUM", 9: "SET_VRING_ADDR", 10: "SET_VRING_BASE",
    11: "GET_VRING_BASE", 12: "SET_VRING_KICK", 13: "SET_VRING_CALL", 14: "SET_VRING_ERR",
    15: "GET_PROTOCOL_FEATURES", 16: "SET_PROTOCOL_FEATURES", 17: "GET_QUEUE_NUM",
    18: "SET_VRING_ENABLE", 19: "SEND_RARP", 20: "NET_SET_MTU", 34: "RESET_DEVICE",
}
FLAG_VERSION = 0x1
FLAG_REPLY = 0x4
FLAG_NEED_REPLY = 0x8
HDR = struct.Struct("<III")

F_MRG_RXBUF = 1 << 15
F_PROTOCOL_FEATURES = 1 << 30
F_VERSION_1 = 1 << 32
F_RING_PACKED = 1 << 34
DEVICE_FEATURES = F_MRG_RXBUF | F_PROTOCOL_FEATURES | F_VERSION_1
PROTO_REPLY_ACK = 1 << 3
PROTOCOL_FEATURES = PROTO_REPLY_ACK

DESC_F_NEXT = 1
DESC_F_WRITE = 2
DESC_F_INDIRECT = 4
AVAIL_F_NO_INTERRUPT = 1
DESC = struct.Struct("<QIHH")

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000

RXQ, TXQ = 0, 1
QNAMES = {"rx": RXQ, "tx": TXQ}
FAULT_KINDS = ("id_range", "not_in_flight", "twice", "len", "idx_jump", "idx_back", "skip")


class ProtocolError(Exception):
    pass


class Memory:
    """The guest's RAM as QEMU shared it: regions of mmapped memfds."""

    def __init__(self):
        self.regions = []  # (gpa, size, uva, mmap, base offset in the mmap)
        self.old = []      # replaced maps stay mapped: views of them may still be alive

    def set_table(self, regions, fds):
        self.old += self.regions
        self.regions = []
        for (gpa, size, uva, off), fd in zip(regions, fds):
            m = mmap.mmap(fd, size + off, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
            os.close(fd)
            # Ring indices and used entries go through 16- and 32-bit views: one
            # load or store each. struct.pack_into() writes byte by byte, and the
            # driver read used->idx torn between two bytes (0x00ff -> 0x0100
            # seen as 0: "used idx 0 is 65273 ahead of 263").
            v = memoryview(m)
            self.regions.append((gpa, size, uva, m, off, v.cast("H"), v[: len(v) // 4 * 4].cast("I")))

    def _find(self, addr, length, key):
        for r in self.regions:
            base = r[key]
            if base <= addr and addr + length <= base + r[1]:
                return r[3], r[4] + addr - base, r[5], r[6]
        raise ProtocolError(f"address {addr:#x}+{length} outside guest memory")

    def gpa(self, addr, length):
        """(mmap, offset) of guest-physical @addr."""
        return self._find(addr, length, 0)[:2]

    def uva(self, addr, length):
        """(mmap, offset, 16-bit view, 32-bit view) of QEMU's virtual @addr (SET_VRING_ADDR)."""
        return self._find(addr, length, 2)


class Vring:
    """One split virtqueue, the device side (virtio 1.2 spec 2.7)."""

    def __init__(self, index):
        self.index = index
        self.num = 0
        self.addr = None  # (desc, used, avail) QEMU virtual addresses
        self.base = 0
        self.kick = None
        self.call = None
        self.err = None
        self.enabled = False
        self.started = False
        self.good = 0         # chains completed honestly
        self.calls = 0
        self.calls_suppressed = 0
        self.completed = []   # recent heads completed, for "not in flight"

    def start(self, mem):
        desc, used, avail = self.addr
        self.desc_m, self.desc_o, _, _ = mem.uva(desc, 16 * self.num)
        _, o, self.avail16, _ = mem.uva(avail, 6 + 2 * self.num)
        self.avail_h = o // 2  # flags, idx, ring[num] (2-byte aligned, 2.7.6)
        _, o, self.used16, self.used32 = mem.uva(used, 6 + 8 * self.num)
        self.used_h, self.used_w = o // 2, o // 4  # 4-byte aligned (2.7.8)
        self.last_avail = self.base
        # The driver's used index is where we go on (vhost-user.rst: the back
        # end keeps no state across a stop; a fresh ring has 0 here).
        self.used_idx = self.used16[self.used_h + 1]
        self.pending = 0
        self.started = True

    @property
    def running(self):
        return self.started and self.enabled and self.kick is not None

    def avail_idx(self):
        return self.avail16[self.avail_h + 1]

    def has_avail(self):
        return self.avail_idx() != self.last_avail

    def pop(self, mem):
        """The next available chain: (head, [(mmap, off, len, writable)...])."""
        if not self.has_avail():
            return None
        slot = self.last_avail % self.num
        head = self.avail16[self.avail_h + 2 + slot]
        self.last_avail = (self.last_avail + 1) & 0xFFFF
        if head >= self.num:
            raise ProtocolError(f"queue {self.index}: avail head {head} out of range")
        segs, i = [], head
        for _ in range(self.num):
            addr, length, flags, nxt = DESC.unpack_from(self.desc_m, self.desc_o + 16 * i)
            if flags & DESC_F_INDIRECT:
                raise ProtocolError(f"queue {self.index}: indirect descriptor (not offered)")
            m, off = mem.gpa(addr, length)
            segs.append((m, off, length, bool(flags & DESC_F_WRITE), i))
            if not flags & DESC_F_NEXT:
                break
            i = nxt
            if i >= self.num:
                raise ProtocolError(f"queue {self.index}: next {i} out of range")
        return head, segs

    def vring_base(self):
        """What GET_VRING_BASE answers: the next avail index."""
        return self.last_avail

    def restart(self, mem):
        """Map the ring again (a new memory table), keeping where both sides are."""
        keep = {k: getattr(self, k) for k in ("last_avail", "used_idx", "avail_wrap", "used_wrap", "ndesc", "held")
                if hasattr(self, k)}
        self.start(mem)
        for k, v in keep.items():
            setattr(self, k, v)

    def push(self, head, length):
        """Write a used entry (not yet published: flush() moves used->idx)."""
        slot = self.used_idx % self.num
        self.used32[self.used_w + 1 + 2 * slot] = head
        self.used32[self.used_w + 2 + 2 * slot] = length
        self.used_idx = (self.used_idx + 1) & 0xFFFF
        self.pending += 1

    def flush(self, idx=None):
        """Publish the batch (used->idx) and interrupt once unless suppressed."""
        if not self.pending and idx is None:
            return
        self.used16[self.used_h + 1] = self.used_idx if idx is None else idx
        self.pending = 0
        flags = self.avail16[self.avail_h]
        if flags & AVAIL_F_NO_INTERRUPT:
            self.calls_suppressed += 1
        elif self.call is not None:
            os.write(self.call, struct.pack("<Q", 1))
            self.calls += 1


class PackedVring(Vring):
    """One packed virtqueue, the device side (virtio 1.2 spec 2.8): the same
    interface as Vring, on one ring of 16-byte descriptors {addr, len, id, flags}."""

    AVAIL, USED = 1 << 7, 1 << 15

    def start(self, mem):
        desc, device, driver = self.addr  # SET_VRING_ADDR: desc, "used" = device area, "avail" = driver area
        self.desc_m, self.desc_o, self.d16, self.d32 = mem.uva(desc, 16 * self.num)
        _, o, self.drv16, _ = mem.uva(driver, 4)
        self.drv_h = o // 2  # off_wrap, flags: the driver's event suppression
        self.last_avail = self.base & 0x7FFF
        self.avail_wrap = bool(self.base >> 15 & 1)
        self.used_idx = self.base >> 16 & 0x7FFF
        self.used_wrap = bool(self.base >> 31 & 1)
        if self.base == 0:  # never set: a fresh ring (2.8.1: both counters start at 1)
            self.avail_wrap = self.used_wrap = True
        self.ndesc = {}  # id -> descriptors its chain took
        self.held = set()
        self.pending = 0
        self.started = True

    def vring_base(self):
        return (self.last_avail | self.avail_wrap << 15) | (self.used_idx | self.used_wrap << 15) << 16

    def _flags(self, pos):
        return self.d16[(self.desc_o + 16 * pos + 14) // 2]

    def _avail_at(self, pos, wrap):
        f = self._flags(pos)
        return bool(f & self.AVAIL) == wrap and bool(f & self.USED) != wrap

    def has_avail(self):
        return self._avail_at(self.last_avail, self.avail_wrap)

    def avail_ids(self):
        """Ids of the chains made available and not popped yet."""
        ids, pos, wrap = set(), self.last_avail, self.avail_wrap
        for _ in range(self.num):
            if not self._avail_at(pos, wrap):
                break
            _, _, buf_id, flags = DESC.unpack_from(self.desc_m, self.desc_o + 16 * pos)
            if not flags & DESC_F_NEXT:
                ids.add(buf_id)
            pos += 1
            if pos == self.num:
                pos, wrap = 0, not wrap
        return ids

    def pop(self, mem):
        if not self.has_avail():
            return None
        segs, n = [], 0
        while True:
            addr, length, buf_id, flags = DESC.unpack_from(self.desc_m, self.desc_o + 16 * self.last_avail)
            if n and not self._avail_at(self.last_avail, self.avail_wrap):
                raise ProtocolError(f"queue {self.index}: chain continues into a descriptor not available")
            if flags & DESC_F_INDIRECT:
                raise ProtocolError(f"queue {self.index}: indirect descriptor (not offered)")
            m, off = mem.gpa(addr, length)
            segs.append((m, off, length, bool(flags & DESC_F_WRITE), self.last_avail))
            n += 1
            self.last_avail += 1
            if self.last_avail == self.num:
                self.last_avail, self.avail_wrap = 0, not self.avail_wrap
            if not flags & DESC_F_NEXT:
                break
            if n >= self.num:
                raise ProtocolError(f"queue {self.index}: chain longer than the ring")
        self.ndesc[buf_id] = n
        self.held.add(buf_id)
        return buf_id, segs

    def push(self, head, length, flags=None):
        """Write the used descriptor for buffer id @head at our used position (2.8.1)."""
        pos = self.desc_o + 16 * self.used_idx
        self.d16[(pos + 12) // 2] = head & 0xFFFF
        self.d32[(pos + 8) // 4] = length & 0xFFFFFFFF
        if flags is None:
            flags = self.AVAIL | self.USED if self.used_wrap else 0
        self.d16[(pos + 14) // 2] = flags  # last: it hands the descriptor back
        self.held.discard(head)
        self.used_idx += self.ndesc.get(head, 1)
        while self.used_idx >= self.num:
            self.used_idx -= self.num
            self.used_wrap = not self.used_wrap
        self.pending += 1

    def flush(self, idx=None):
        """Interrupt once for the batch unless the driver disabled it (2.8.10: flags 1)."""
        if not self.pending:
            return
        self.pending = 0
        if self.drv16[self.drv_h + 1] == 1:
            self.calls_suppressed += 1
        elif self.call is not None:
            os.write(self.call, struct.pack("<Q", 1))
            self.calls += 1


class Backend:
    def __init__(self, sock_path, tap, control=None, mtu=1500, packed=False):
        self.sock_path = sock_path
        self.mem = Memory()
        self.device_features = DEVICE_FEATURES | (F_RING_PACKED if packed else 0)
        self.vrings = [Vring(0), Vring(1)]
        self.features = 0
        self.protocol_features = 0
        self.events = []  # (seconds since start, message, ring, value)
        self.t0 = time.monotonic()
        self.faults = []  # armed: dicts with queue, kind, after
        self.fired = []
        self.errors = []
        self.stats = {"rx_frames": 0, "rx_dropped_no_buffer": 0, "tx_frames": 0, "rx_bytes": 0, "tx_bytes": 0}
        self.tap = self._open_tap(tap)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if os.path.exists(sock_path):
            os.unlink(sock_path)
        self.listener.bind(sock_path)
        self.listener.listen(1)
        self.conn = None
        self.ctl_listener = None
        self.ctl_conns = {}
        if control:
            if os.path.exists(control):
                os.unlink(control)
            self.ctl_listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.ctl_listener.bind(control)
            self.ctl_listener.listen(4)

    @staticmethod
    def _open_tap(name):
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
        return fd

    def new_vrings(self):
        cls = PackedVring if self.features & F_RING_PACKED else Vring
        return [cls(0), cls(1)]

    @property
    def hdr_len(self):
        return 12 if self.features & (F_VERSION_1 | F_MRG_RXBUF) else 10

    def log(self, name, ring=None, value=None):
        self.events.append((round(time.monotonic() - self.t0, 4), name, ring, value))

    # -------------------------------------------------------------- vhost-user
    def recv_msg(self):
        fds = array.array("i")
        data, anc, _, _ = self.conn.recvmsg(HDR.size, socket.CMSG_LEN(8 * fds.itemsize))
        if not data:
            return None
        while len(data) < HDR.size:
            more = self.conn.recv(HDR.size - len(data))
            if not more:
                return None
            data += more
        for level, typ, cdata in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                fds.frombytes(cdata[: len(cdata) - len(cdata) % fds.itemsize])
        req, flags, size = HDR.unpack(data)
        payload = b""
        while len(payload) < size:
            chunk, anc, _, _ = self.conn.recvmsg(size - len(payload), socket.CMSG_LEN(8 * fds.itemsize))
            if not chunk:
                return None
            payload += chunk
            for level, typ, cdata in anc:
                if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                    fds.frombytes(cdata[: len(cdata) - len(cdata) % fds.itemsize])
        return req, flags, payload, list(fds)

    def reply(self, req, payload):
        self.conn.sendall(HDR.pack(req, FLAG_VERSION | FLAG_REPLY, len(payload)) + payload)

    def u64_fd(self, payload, fds):
        v = struct.unpack_from("<Q", payload)[0]
        index = v & 0xFF
        fd = None if v & 0x100 or not fds else fds[0]
        return index, fd

    def handle(self, req, flags, payload, fds):
        name = REQ_NAMES.get(req, f"REQ_{req}")
        ack = bool(flags & FLAG_NEED_REPLY) and self.protocol_features & PROTO_REPLY_ACK
        if req == 1:
            self.log(name)
            self.reply(req, struct.pack("<Q", self.device_features))
            return
        if req == 2:
            self.features = struct.unpack_from("<Q", payload)[0]
            self.log(name, value=self.features)
            # The layout follows the features; rings not started yet change class.
            cls = PackedVring if self.features & F_RING_PACKED else Vring
            for i, vr in enumerate(self.vrings):
                if type(vr) is not cls and not vr.started:
                    nv = cls(vr.index)
                    nv.__dict__.update(vr.__dict__)
                    self.vrings[i] = nv
        elif req == 3:
            self.log(name)
        elif req in (4, 34):
            self.log(name)
            self.vrings = self.new_vrings()
        elif req == 5:
            n = struct.unpack_from("<I", payload)[0]
            regions = [struct.unpack_from("<QQQQ", payload, 8 + 32 * i) for i in range(n)]
            self.mem.set_table(regions, fds)
            self.log(name, value=[(r[0], r[1]) for r in regions])
            for vr in self.vrings:  # rings keep running on the new table
                if vr.started:
                    vr.restart(self.mem)
        elif req in (8, 10, 18):
            index, num = struct.unpack_from("<II", payload)
            vr = self.vring(index)
            self.log(name, index, num)
            if vr is not None:
                if req == 8:
                    vr.num = num
                elif req == 10:
                    vr.base = num
                else:
                    vr.enabled = bool(num)
        elif req == 9:
            index, _flags, desc, used, avail, _log = struct.unpack_from("<IIQQQQ", payload)
            self.log(name, index)
            vr = self.vring(index)
            if vr is not None:
                vr.addr = (desc, used, avail)
        elif req == 11:
            index = struct.unpack_from("<I", payload)[0]
            vr = self.vring(index)
            base = 0
            if vr is not None:
                if vr.started:
                    vr.flush()
                    base = vr.vring_base()
                vr.started = False
                if vr.kick is not None:
                    os.close(vr.kick)
                    vr.kick = None
            self.log(name, index, base)
            self.reply(req, struct.pack("<II", index, base))
            return
        elif req in (12, 13, 14):
            index, fd = self.u64_fd(payload, fds)
            self.log(name, index, fd is not None)
            vr = self.vring(index)
            if vr is None:
                if fd is not None:
                    os.close(fd)
            else:
                attr = {12: "kick", 13: "call", 14: "err"}[req]
                old = getattr(vr, attr)
                if old is not None:
                    os.close(old)
                setattr(vr, attr, fd)
                if req == 12 and fd is not None:
                    vr.start(self.mem)
                    if not self.features & F_PROTOCOL_FEATURES:
                        vr.enabled = True
        elif req == 15:
            self.log(name)
            self.reply(req, struct.pack("<Q", PROTOCOL_FEATURES))
            return
        elif req == 16:
            self.protocol_features = struct.unpack_from("<Q", payload)[0]
            self.log(name, value=self.protocol_features)
            ack = bool(flags & FLAG_NEED_REPLY) and self.protocol_features & PROTO_REPLY_ACK
        elif req == 17:
            self.log(name)
            self.reply(req, struct.pack("<Q", 1))
            return
        else:
            self.log(name, value=payload.hex())
            for fd in fds:
                os.close(fd)
        if ack:
            self.reply(req, struct.pack("<Q", 0))

    def vring(self, index):
        return self.vrings[index] if index < len(self.vrings) else None

    # -------------------------------------------------------------- faults
    def fault_for(self, q):
        for f in self.faults:
            if f["queue"] == q and self.vrings[q].good >= f["arm_at"]:
                return f
        return None

    def fire(self, f, detail):
        self.faults.remove(f)
        f = dict(f, detail=detail, at=round(time.monotonic() - self.t0, 4))
        self.fired.append(f)
        self.log("FAULT", f["queue"], f"{f['kind']}: {detail}")

    def complete(self, vr, head, segs, length):
        """Complete one chain: honestly, or with the armed lie."""
        f = self.fault_for(vr.index)
        if f is None:
            vr.push(head, length)
            vr.good += 1
            vr.completed = (vr.completed + [head])[-64:]
            return
        kind = f["kind"]
        writable = sum(s[2] for s in segs if s[3])
        if kind == "id_range":
            vr.push(vr.num + 7, length)
            self.fire(f, f"used id {vr.num + 7} for head {head}")
        elif kind == "not_in_flight" and isinstance(vr, PackedVring):
            # In the chain's place, an id that is neither held by us nor available.
            busy = vr.held | vr.avail_ids() | {head}
            bad = next((i for i in range(vr.num) if i not in busy), None)
            if bad is None:  # every id in flight (a full receive ring): wait for a later chance
                vr.push(head, length)
                vr.good += 1
                return
            vr.ndesc[bad] = vr.ndesc.get(head, 1)
            vr.push(bad, 0)
            self.fire(f, f"used id {bad} (not in flight) instead of id {head}")
        elif kind == "twice" and isinstance(vr, PackedVring):
            # A used descriptor is only seen where the driver made one available:
            # the duplicate goes over the next available chain's first descriptor,
            # so wait until there is one (one on the wire would be overwritten by
            # the driver's next chain and leave us ahead of it: a silent stall).
            vr.push(head, length)
            if not vr.has_avail():
                vr.good += 1
                return
            vr.push(head, length)
            self.fire(f, f"id {head} completed twice")
        elif kind == "skip" and isinstance(vr, PackedVring):
            # Our used position moves on by one without a descriptor written
            # there: every used descriptor from now on lands one past where the
            # driver waits (its own check has to catch it, or its watchdog).
            skipped = vr.used_idx
            vr.used_idx += 1
            if vr.used_idx == vr.num:
                vr.used_idx, vr.used_wrap = 0, not vr.used_wrap
            at = vr.used_idx
            vr.push(head, length)
            self.fire(f, f"used descriptor for id {head} at position {at}, skipping {skipped}")
        elif kind == "skip":  # a split ring has no positions to skip (used->idx says where)
            vr.push(head, length)
            vr.good += 1
            return
        elif kind in ("idx_jump", "idx_back") and isinstance(vr, PackedVring):
            honest = vr.AVAIL | vr.USED if vr.used_wrap else 0
            # idx_jump: AVAIL flipped (AVAIL != USED, a pair no side writes);
            # idx_back: both flipped (used, but in the lap before).
            flags = honest ^ vr.AVAIL if kind == "idx_jump" else honest ^ (vr.AVAIL | vr.USED)
            vr.push(head, length, flags=flags)
            self.fire(f, f"used descriptor flags {flags:#x} for id {head} (honest {honest:#x})")
        elif kind == "not_in_flight":
            body = [s[4] for s in segs[1:]]
            if body:
                bad = body[0]  # part of a chain in flight, never its head
            else:
                # Single-descriptor chains: a head completed before whose
                # buffer the driver has not offered again.
                again = self.avail_heads(vr)
                bad = next((h for h in reversed(vr.completed) if h not in again and h != head), None)
                if bad is None:
                    vr.push(head, length)
                    vr.good += 1
                    return
            vr.push(bad, 0)
            self.fire(f, f"used id {bad} (not in flight) instead of head {head}")
        elif kind == "twice":
            vr.push(head, length)
            vr.push(head, length)
            self.fire(f, f"head {head} completed twice")
        elif kind == "len":
            vr.push(head, writable + 1000)
            self.fire(f, f"used len {writable + 1000} for head {head} (writable {writable})")
        elif kind == "idx_jump":
            vr.push(head, length)
            vr.flush()
            vr.flush(idx=(vr.used_idx + 1000) & 0xFFFF)
            self.fire(f, f"used idx {(vr.used_idx + 1000) & 0xFFFF} (honest {vr.used_idx})")
        elif kind == "idx_back":
            vr.push(head, length)
            vr.flush()
            vr.flush(idx=(vr.used_idx - 300) & 0xFFFF)
            self.fire(f, f"used idx {(vr.used_idx - 300) & 0xFFFF} (honest {vr.used_idx})")

    def avail_heads(self, vr):
        heads, i = set(), vr.last_avail
        end = vr.avail_idx()
        while i != end:
            heads.add(vr.avail16[vr.avail_h + 2 + i % vr.num])
            i = (i + 1) & 0xFFFF
        return heads

    # -------------------------------------------------------------- data path
    def do_tx(self):
        vr = self.vrings[TXQ]
        if not vr.running:
            return
        hdr = self.hdr_len
        for _ in range(vr.num):
            chain = vr.pop(self.mem)
            if chain is None:
                break
            head, segs = chain
            frame = b"".join(bytes(m[o:o + n]) for m, o, n, w, _ in segs if not w)[hdr:]
            if frame:
                try:
                    os.write(self.tap, frame)
                    self.stats["tx_frames"] += 1
                    self.stats["tx_bytes"] += len(frame)
                except OSError:
                    pass
            self.complete(vr, head, segs, 0)
        vr.flush()

    def do_rx(self):
        """Frames from the TAP device into the guest's receive buffers."""
        vr = self.vrings[RXQ]
        if not vr.running:
            return
        hdr = self.hdr_len
        mrg = bool(self.features & F_MRG_RXBUF)
        for _ in range(vr.num):
            if not vr.has_avail():
                break
            try:
                frame = os.read(self.tap, 65536)
            except BlockingIOError:
                break
            data = bytearray(hdr) + frame
            chains = []
            pos = 0
            while pos < len(data):
                chain = vr.pop(self.mem)
                if chain is None:
                    break
                head, segs = chain
                n = 0
                for m, o, length, w, _ in segs:
                    if not w or pos >= len(data):
                        continue
                    take = min(length, len(data) - pos)
                    m[o:o + take] = data[pos:pos + take]
                    pos += take
                    n += take
                chains.append((head, segs, n))
                if not mrg:
                    break
            if pos < len(data):
                # No room: the frame is dropped, the buffers given back empty
                # (a real NIC drops too; the header says nothing was written).
                self.stats["rx_dropped_no_buffer"] += 1
                for head, segs, _ in chains:
                    self.complete(vr, head, segs, 0)
                continue
            if hdr == 12:
                m, o = chains[0][1][0][0], chains[0][1][0][1]
                struct.pack_into("<H", m, o + 10, len(chains))
            for head, segs, n in chains:
                self.complete(vr, head, segs, n)
            self.stats["rx_frames"] += 1
            self.stats["rx_bytes"] += len(frame)
        vr.flush()

    # -------------------------------------------------------------- control
    def control(self, line):
        try:
            msg = json.loads(line)
            cmd = msg.get("cmd")
            if cmd == "fault":
                if msg["queue"] not in QNAMES or msg["kind"] not in FAULT_KINDS:
                    raise ValueError(f"queue in {list(QNAMES)}, kind in {FAULT_KINDS}")
                q = QNAMES[msg["queue"]]
                f = {"queue": q, "kind": msg["kind"], "after": int(msg.get("after", 0)),
                     "arm_at": self.vrings[q].good + int(msg.get("after", 0))}
                self.faults.append(f)
                return {"ok": True, "fault": f}
            if cmd == "state":
                return {"ok": True, "features": self.features, "protocol_features": self.protocol_features,
                        "stats": self.stats, "fired": self.fired, "armed": self.faults, "errors": self.errors,
                        "events": self.events,
                        "vrings": [{"num": v.num, "enabled": v.enabled, "started": v.started,
                                    "running": v.running, "good": v.good, "calls": v.calls,
                                    "calls_suppressed": v.calls_suppressed} for v in self.vrings]}
            raise ValueError(f"unknown cmd {cmd!r}")
        except (ValueError, KeyError, TypeError) as e:
            return {"ok": False, "error": str(e)}

    # -------------------------------------------------------------- loop
    def run(self):
        while True:
            rd = [self.listener]
            if self.conn is not None:
                rd.append(self.conn)
            if self.ctl_listener is not None:
                rd.append(self.ctl_listener)
            rd += list(self.ctl_conns)
            kicks = {}
            for vr in self.vrings:
                if vr.running:
                    kicks[vr.kick] = vr
            rd += list(kicks)
            rxq = self.vrings[RXQ]
            if rxq.running and rxq.has_avail():
                rd.append(self.tap)
            # A short timeout: a kick that came before the ring ran is not lost.
            r, _, _ = select.select(rd, [], [], 0.05)
            for fd in r:
                if fd is self.listener:
                    conn, _ = self.listener.accept()
                    if self.conn is not None:
                        conn.close()  # one front end at a time
                    else:
                        self.conn = conn
                        self.log("CONNECT")
                elif fd is self.conn:
                    msg = self.recv_msg()
                    if msg is None:
                        self.log("DISCONNECT")
                        self.conn.close()
                        self.conn = None
                        self.vrings = self.new_vrings()
                        continue
                    try:
                        self.handle(*msg)
                    except ProtocolError as e:
                        self.errors.append(str(e))
                elif fd is self.ctl_listener:
                    c, _ = self.ctl_listener.accept()
                    self.ctl_conns[c] = b""
                elif fd in self.ctl_conns:
                    data = fd.recv(65536)
                    if not data:
                        fd.close()
                        del self.ctl_conns[fd]
                        continue
                    buf = self.ctl_conns[fd] + data
                    while b"\n" in buf:
                        line, buf = buf.split(b"\n", 1)
                        fd.sendall(json.dumps(self.control(line)).encode() + b"\n")
                    self.ctl_conns[fd] = buf
                elif fd in kicks:
                    try:
                        os.read(fd, 8)
                    except BlockingIOError:
                        pass
            try:
                self.do_tx()
                self.do_rx()
            except ProtocolError as e:
                self.errors.append(str(e))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--socket", required=True, help="vhost-user unix socket QEMU connects to")
    ap.add_argument("--tap", required=True, help="TAP device to bridge (opened in this network namespace)")
    ap.add_argument("--control", help="control socket (JSON lines: fault, state)")
    ap.add_argument("--packed", action="store_true", help="offer VIRTIO_F_RING_PACKED (packed rings)")
    ap.add_argument("--fault", action="append", default=[],
                    help="QUEUE:KIND:AFTER, armed at start (e.g. rx:id_range:50)")
    args = ap.parse_args()
    b = Backend(args.socket, args.tap, args.control, packed=args.packed)
    for spec in args.fault:
        q, kind, after = spec.split(":")
        print(json.dumps(b.control(json.dumps({"cmd": "fault", "queue": q, "kind": kind, "after": after}))))
    print(f"vhost-user-net: listening on {args.socket}, tap {args.tap}", flush=True)
    try:
        b.run()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
