"""Containers on networks, through the CLI: names that resolve, isolation, published
ports, shared stacks. Traffic goes only to 127.0.0.1 and to the containers' own
addresses."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from berth.testing.netenv import teardown_networks

from .conftest import Berth

HTTPD = "mkdir -p /www && echo {text} > /www/index.html && httpd -f -p 80 -h /www"


def _http(host: str, port: int, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=2) as conn:
                conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
                data = b""
                while chunk := conn.recv(4096):
                    data += chunk
            return data.decode(errors="replace").split("\r\n\r\n", 1)[-1]
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_containers_on_a_user_network_reach_each_other_by_name(berth: Berth) -> None:
    berth.ok("network", "create", "front")
    berth.ok("network", "create", "back")
    berth.ok("run", "-d", "--name", "api", "--network", "front", "--network-alias", "service", "busybox", "sh", "-c",
             HTTPD.format(text="api-here"))
    berth.until(lambda: berth("run", "--rm", "--network", "front", "busybox", "wget", "-qO-", "http://api/").stdout
                .strip() == "api-here", what="api by name")
    by_alias = berth("run", "--rm", "--network", "front", "busybox", "wget", "-qO-", "http://service/")
    assert by_alias.stdout.strip() == "api-here"
    short_id = berth.inspect("api", "{{.Id}}")[:12]
    assert berth.ok("run", "--rm", "--network", "front", "busybox", "wget", "-qO-", f"http://{short_id}/") == "api-here"
    # Another network: the name does not resolve and the address does not answer.
    address = berth.inspect("api", "{{.NetworkSettings.IPAddress}}")
    other = berth("run", "--rm", "--network", "back", "busybox", "sh", "-c",
                  f"nslookup api >/dev/null 2>&1 && echo resolved; timeout 2 wget -qO- http://{address}/ || echo unreachable")
    assert "resolved" not in other.stdout and "unreachable" in other.stdout
    refused = berth("network", "rm", "front")
    assert refused.returncode != 0 and "active endpoint" in refused.stderr


def test_published_ports_answer_on_loopback_and_udp_works(berth: Berth) -> None:
    berth.ok("run", "-d", "--name", "web", "-p", "127.0.0.1:18181:80", "-p", "18182:80", "busybox", "sh", "-c",
             HTTPD.format(text="published"))
    assert _http("127.0.0.1", 18181).strip() == "published"
    assert _http("127.0.0.1", 18182).strip() == "published"
    assert berth.ok("port", "web").splitlines() == ["80/tcp -> 127.0.0.1:18181", "80/tcp -> 0.0.0.0:18182"]
    # Bound to 127.0.0.1 only: another container reaching the host's bridge address
    # cannot use it, while the all-addresses binding answers there.
    gateway = berth.inspect("web", "{{.NetworkSettings.Gateway}}")
    probe = berth("run", "--rm", "busybox", "sh", "-c",
                  f"timeout 2 wget -qO- http://{gateway}:18181/ || echo closed; timeout 2 wget -qO- http://{gateway}:18182/")
    assert "closed" in probe.stdout and "published" in probe.stdout
    # UDP: Debian's busybox has no UDP server, so the receiver is the host's Python
    # running inside the container's network namespace.
    berth.ok("run", "-d", "--name", "udp", "-p", "127.0.0.1:18183:9999/udp", "busybox", "sleep", "600")
    pid = berth.inspect("udp", "{{.State.Pid}}")
    receiver = subprocess.Popen(
        ["nsenter", f"--net=/proc/{pid}/ns/net", sys.executable, "-c",
         "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 9999));"
         "d, a = s.recvfrom(100); s.sendto(b'pong:' + d, a)"])
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.3)
            reply = b""
            for _ in range(30):
                sock.sendto(b"ping", ("127.0.0.1", 18183))
                try:
                    reply = sock.recv(100)
                    break
                except TimeoutError:
                    continue
        assert reply == b"pong:ping"
    finally:
        receiver.kill()
        receiver.wait()


def test_a_port_in_use_is_a_clear_error(berth: Berth) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 18190))
    holder.listen(1)
    try:
        result = berth("run", "-d", "-p", "127.0.0.1:18190:80", "busybox", "sleep", "60")
        assert result.returncode == 125 and "18190" in result.stderr
    finally:
        holder.close()


def test_container_network_sharing_sees_the_same_interfaces(berth: Berth) -> None:
    berth.ok("run", "-d", "--name", "owner", "busybox", "sleep", "600")
    mine = berth.ok("exec", "owner", "ip", "-o", "addr")
    shared = berth.ok("run", "--rm", "--network", "container:owner", "busybox", "ip", "-o", "addr")
    assert mine == shared and "eth0" in shared


def test_removing_everything_leaves_no_address_or_rule(berth: Berth) -> None:
    berth.ok("network", "create", "--subnet", "10.77.0.0/24", "tmpnet")
    for i in range(3):
        berth.ok("run", "-d", "--name", f"n{i}", "--network", "tmpnet", "-p", f"1820{i}:80", "busybox", "sleep", "600")
    ips = {berth.inspect(f"n{i}", "{{.NetworkSettings.IPAddress}}") for i in range(3)}
    assert len(ips) == 3 and all(ip.startswith("10.77.0.") for ip in ips)
    for i in range(3):
        berth.ok("rm", "-f", f"n{i}")
    berth.ok("network", "rm", "tmpnet")
    # the fixture's no_leaks check asserts links are as before; addresses too:
    import subprocess

    routes = subprocess.run(["ip", "route"], capture_output=True, text=True).stdout
    assert "10.77.0." not in routes


def test_bad_network_input(berth: Berth) -> None:
    for args, fragment in (
        (("network", "create", "--subnet", "10.999.0.0/16", "bad"), "10.999.0.0/16"),
        (("run", "--rm", "--network", "missing", "busybox", "true"), "missing"),
    ):
        result = berth(*args)
        assert result.returncode != 0 and fragment in result.stderr, result.stderr
    berth.ok("network", "create", "--subnet", "10.66.0.0/24", "one")
    overlap = berth("network", "create", "--subnet", "10.66.0.0/16", "two")
    assert overlap.returncode != 0 and "overlap" in overlap.stderr


def test_a_bridge_left_by_an_earlier_root_is_taken_over(berth: Berth, tmp_path: Path) -> None:
    # The first root brings the default bridge up and never takes it down (a crash).
    berth.ok("run", "--rm", "busybox", "true")
    other = dict(berth.env, BERTH_ROOT=str(tmp_path / "root2"), BERTH_RUN=str(tmp_path / "run2"))
    second = Berth(other, tmp_path)
    second.ok("load", "-i", _busybox_tar(berth))
    try:
        assert second.ok("run", "--rm", "busybox", "sh", "-c", "ip -o -4 addr show eth0 | grep -c 10.88.") == "1"
    finally:
        teardown_networks(other)


def _busybox_tar(berth: Berth) -> str:
    path = berth.tmp / "busybox-again.tar"
    berth.ok("save", "-o", str(path), "busybox")
    return str(path)
