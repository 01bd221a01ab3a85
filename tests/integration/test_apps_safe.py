"""What the apps refuse to get wrong, seen from outside (issue 14): long
request targets and header values echoed whole (lib/printf.c clamped "%.*s"
to 4096 bytes), and a UDP echo that is no reflector (nothing back to a
broadcast, or to a source port below 1024). The guest is on a TAP device in
a network namespace; every socket is created inside it (test_apps.in_netns)."""
import socket

from test_apps import GUEST, boot, connect, echo, in_netns, read_response, request, stats, wait_server

BROADCAST = "10.77.0.255"  # the guest's subnet (test_apps.BASE_CMDLINE: /24)


def test_5000_byte_url_and_header_value_echoed_whole(qemu, kernel, netns):
    q = boot(qemu, kernel, netns)
    wait_server(netns, q)
    target = "/" + "".join(chr(ord("a") + i % 26) for i in range(4999))
    value = "".join(chr(ord("A") + i % 26) for i in range(5000))
    s = connect(netns)
    try:
        for t, headers in ((target, [("Host", "x")]), ("/v", [("X-Long", value)])):
            s.sendall(request("GET", t, headers))
            status, _, body, raw = read_response(s)
            assert status == 200
            assert raw == echo("GET", t, headers), (len(body), body[-80:])
            assert (t.encode() if t == target else value.encode()) in body
    finally:
        s.close()


def udp_socket(netns, port=0, broadcast=False):
    def make():
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if broadcast:
            u.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        u.bind(("0.0.0.0", port))
        u.settimeout(2)
        return u

    return in_netns(netns, make)


def no_answer(u):
    try:
        got = u.recvfrom(8192)
    except socket.timeout:
        return True
    raise AssertionError(f"answered: {got!r}")


def test_udp_echo_is_no_reflector(qemu, kernel, netns):
    q = boot(qemu, kernel, netns)
    wait_server(netns, q)
    before = stats(netns)["echo"]

    dns = udp_socket(netns, port=53)  # a "service" port, as a forged source would be
    dns.sendto(b"from port 53", (GUEST, 7))
    assert no_answer(dns)
    dns.close()

    b = udp_socket(netns, broadcast=True)
    b.sendto(b"to the broadcast address", (BROADCAST, 7))
    assert no_answer(b)
    # The same socket, to the guest's own address: answered (the refusal is
    # the destination's, not the socket's).
    b.sendto(b"to the guest", (GUEST, 7))
    assert b.recvfrom(8192) == (b"to the guest", (GUEST, 7))
    b.close()

    after = stats(netns)["echo"]
    assert after["udp_refused_port"] - before["udp_refused_port"] == 1, after
    assert after["udp_refused_broadcast"] - before["udp_refused_broadcast"] == 1, after
    assert after["udp_datagrams"] - before["udp_datagrams"] == 1, after
