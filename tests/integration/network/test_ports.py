"""Published ports: kernel DNAT from the host (127.0.0.1 included) and from outside."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

from berth.errors import Conflict
from berth.network import PortBinding

from .conftest import Lab, forwarding_blocked, http_get_host


def test_published_port_answers_on_loopback_gateway_and_from_outside(lab: Lab) -> None:
    net = lab.nm.create("app")
    web = lab.box("web", "app")
    web.serve_http("published\n")
    (binding,) = lab.nm.publish(web.id, web.endpoints["app"], [PortBinding("", 0, 80, "tcp")])
    assert binding.host_ip == "0.0.0.0" and binding.host_port > 0
    assert "published" in http_get_host("127.0.0.1", binding.host_port)
    assert "published" in http_get_host(str(net.gateway), binding.host_port)
    # from another container, through the host address: hairpin and cross traffic work
    peer = lab.box("peer", "app")
    assert "published" in peer.http_get(str(net.gateway), binding.host_port)
    assert "published" in web.http_get(str(net.gateway), binding.host_port)
    # from outside the host, through its uplink address
    if forwarding_blocked():
        pytest.skip(forwarding_blocked())
    outside = lab.uplink()
    fetch = outside.python(
        f"import socket; s = socket.create_connection(('{outside.HOST}', {binding.host_port}), timeout=3);"
        "s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n'); print(s.makefile('rb').read().decode())")
    out, err = fetch.communicate(timeout=10)
    assert "published" in out, err


def test_loopback_only_port_is_not_reachable_from_containers_or_outside(lab: Lab) -> None:
    net = lab.nm.create("app")
    web = lab.box("web", "app")
    web.serve_http("private\n")
    port = _free_port()
    lab.nm.publish(web.id, web.endpoints["app"], [PortBinding("127.0.0.1", port, 80, "tcp")])
    assert "private" in http_get_host("127.0.0.1", port)
    assert http_get_host(str(net.gateway), port) == ""
    other = lab.box("other", "app")
    assert other.http_get("127.0.0.1", port) == ""
    assert other.http_get(str(net.gateway), port) == ""
    outside = lab.uplink()
    probe = outside.python(
        f"import socket\ntry:\n socket.create_connection(('{outside.HOST}', {port}), timeout=2); print('open')\n"
        "except OSError as e: print('closed', e)")
    assert probe.communicate(timeout=10)[0].startswith("closed")


def test_udp_publishing(lab: Lab) -> None:
    lab.nm.create("app")
    dns = lab.box("udp", "app")
    got = Path(dns.root, "tmp", "got")
    receiver = subprocess.Popen(
        ["nsenter", f"--net={dns.netns}", "python3", "-c",
         "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 5353));"
         f"d, a = s.recvfrom(100); open('{got}', 'wb').write(d); s.sendto(b'pong:' + d, a)"],
        start_new_session=True)
    lab.procs.append(receiver)
    (binding,) = lab.nm.publish(dns.id, dns.endpoints["app"], [PortBinding("127.0.0.1", 0, 5353, "udp")])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        for _ in range(20):  # the receiver may not be bound yet
            s.sendto(b"ping", ("127.0.0.1", binding.host_port))
            try:
                assert s.recv(100) == b"pong:ping"
                break
            except TimeoutError:
                continue
        else:
            pytest.fail("no UDP reply through the published port")
    assert got.read_bytes() == b"ping"


def test_port_in_use_is_a_clear_conflict_and_adds_no_rule(lab: Lab) -> None:
    lab.nm.create("app")
    web = lab.box("web", "app")
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        before = subprocess.run(["nft", "list", "table", "ip", lab.config.table], capture_output=True, text=True).stdout
        with pytest.raises(Conflict, match=f"0.0.0.0:{port}/tcp is already in use by another program"):
            lab.nm.publish(web.id, web.endpoints["app"], [PortBinding("", port, 80, "tcp")])
        after = subprocess.run(["nft", "list", "table", "ip", lab.config.table], capture_output=True, text=True).stdout
        assert before == after and lab.nm.ports(web.id) == []
    finally:
        holder.close()
    other = lab.box("other", "app")
    lab.nm.publish(web.id, web.endpoints["app"], [PortBinding("", port, 80, "tcp")])
    with pytest.raises(Conflict, match=f"already published by container {web.id[:12]}"):
        lab.nm.publish(other.id, other.endpoints["app"], [PortBinding("127.0.0.1", port, 80, "tcp")])


def test_released_port_stops_answering(lab: Lab) -> None:
    lab.nm.create("app")
    web = lab.box("web", "app")
    web.serve_http("gone soon\n")
    (binding,) = lab.nm.publish(web.id, web.endpoints["app"], [PortBinding("127.0.0.1", 0, 80, "tcp")])
    assert "gone soon" in http_get_host("127.0.0.1", binding.host_port)
    lab.nm.release(web.id)
    time.sleep(0.1)
    assert http_get_host("127.0.0.1", binding.host_port, timeout=1) == ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
