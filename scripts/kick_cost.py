#!/usr/bin/env python3
"""What a transmit kick costs the guest (docs/tracing.md), read from /stats.

    python3 scripts/kick_cost.py PORT      (a kernel from `make run`, HTTP on 127.0.0.1:PORT)

For three workloads (50 sequential GET /hello, one 20 MB GET /bytes, 50
more /hello), the difference of /stats before and after: the tx_kick cycle
section (vnet_kick_tx(): the kick decision plus, when the device wants it,
the doorbell write), and the tx queue's kicks (doorbells rung) and
kicks_suppressed (decisions that rang nothing). ns per doorbell charges the
whole section to the doorbells, so it is an upper bound on what one costs.
The /stats requests themselves are counted too, as any request's kicks are.
"""
import json
import sys
import urllib.request


def snapshot(port):
    st = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=30))
    sec = st["cycles"]["sections"]["tx_kick"]
    tx = next(q for q in st["virtio_net"]["queues"] if q["name"].startswith("tx"))
    return sec["calls"], sec["ns"], tx["kicks"], tx["kicks_suppressed"]


def measure(port, label, work):
    c0, n0, k0, s0 = snapshot(port)
    work()
    c1, n1, k1, s1 = snapshot(port)
    calls, ns, kicks, supp = c1 - c0, n1 - n0, k1 - k0, s1 - s0
    print(f"{label}: {calls} kick decisions, {kicks} doorbells, {supp} suppressed; "
          f"{ns / max(calls, 1) / 1000:.1f} us per decision, {ns / max(kicks, 1) / 1000:.1f} us per doorbell")


def main():
    port = int(sys.argv[1])

    def hellos():
        for _ in range(50):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/hello", timeout=30).read()

    def bulk():
        n = len(urllib.request.urlopen(f"http://127.0.0.1:{port}/bytes/20000000", timeout=120).read())
        assert n == 20000000, n

    measure(port, "50 x /hello (first)", hellos)
    measure(port, "20 MB /bytes", bulk)
    measure(port, "50 x /hello (again)", hellos)


if __name__ == "__main__":
    main()
