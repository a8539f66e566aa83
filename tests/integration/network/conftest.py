"""A lab per test: a NetworkManager on its own berth root, nft table and link names,
"containers" that are berth sandboxes plus a busybox root to chroot into, and a check
that the host's links, addresses, routes and nft/iptables rules end as they began.

The machine is shared (other sessions start dockerd, podman, other berth roots while
these tests run), so the end check compares full snapshots of ``ip``, ``nft`` and
``iptables-save`` output and fails on every difference that names something of this
lab: its link names and prefixes, its nft table, its subnets. Differences that name
nothing of ours are someone else's and are reported, not failed.

Traffic goes only to 127.0.0.1 and to addresses this lab made: containers, bridge
gateways, and the "outside" namespace standing in for the world beyond the uplink.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from dnslib import QTYPE, RCODE, RR, A, DNSRecord

from berth.network import Endpoint, NetworkConfig, NetworkManager
from berth.state import open_database
from berth.sys import netns as sys_netns

UPSTREAM_NAME = "upstream.test"
UPSTREAM_ADDRESS = "192.0.2.99"  # only ever an answer; nothing is sent there


LAB_SUBNETS = ("10.231.", "10.232.", "10.233.", "10.234.", "198.51.100.")


def forwarding_blocked() -> str:
    """Why forwarded traffic cannot pass here, or "": Docker sets the iptables FORWARD
    policy to DROP when it enables forwarding itself, which no nft table of ours can
    override (an accept in one table does not bind another)."""
    rules = subprocess.run(["iptables", "-S", "FORWARD"], capture_output=True, text=True).stdout
    return "iptables FORWARD policy is DROP (dockerd?)" if "-P FORWARD DROP" in rules else ""


def host_state() -> dict[str, str]:
    def run(*cmd: str) -> str:
        return subprocess.run(cmd, capture_output=True, text=True).stdout

    iptables = "\n".join(line for line in run("iptables-save").splitlines() if not line.startswith("#"))
    return {
        "links": "\n".join(sorted(os.listdir("/sys/class/net"))),
        # interface, family and address only: flags such as "tentative" change by themselves
        "addresses": "\n".join(" ".join(line.split()[1:4]) for line in run("ip", "-o", "addr", "show").splitlines()),
        "routes": run("ip", "route", "show", "table", "all"),
        "nft": re.sub(r"counter packets \d+ bytes \d+", "counter", run("nft", "list", "ruleset")),
        "iptables": iptables,
    }


class FakeUpstream:
    """A DNS server on 127.0.0.1 standing in for the host's resolvers."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.queries: list[str] = []
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop:
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = DNSRecord.parse(data)
            name = str(query.q.qname).rstrip(".")
            self.queries.append(name)
            reply = query.reply()
            if name == UPSTREAM_NAME and query.q.qtype == QTYPE.A:
                reply.add_answer(RR(query.q.qname, QTYPE.A, rdata=A(UPSTREAM_ADDRESS), ttl=5))
            elif name != UPSTREAM_NAME:
                reply.header.rcode = RCODE.NXDOMAIN
            self.sock.sendto(reply.pack(), peer)

    def close(self) -> None:
        self.stop = True
        self.thread.join()
        self.sock.close()


class Box:
    """A stand-in container: a berth sandbox and a busybox root with the resolv.conf and
    hosts berth computed for it; commands run as ``nsenter --net=SANDBOX chroot ROOT``."""

    def __init__(self, lab: Lab, name: str) -> None:
        self.lab = lab
        self.name = name
        self.id = secrets.token_hex(32)
        self.netns = lab.nm.create_sandbox(self.id)
        self.root = str(lab.tmp / "boxes" / name)
        shutil.copytree(lab.busybox, self.root, symlinks=True)
        self.endpoints: dict[str, Endpoint] = {}

    def connect(self, network: str, **kwargs: object) -> Endpoint:
        ep = self.lab.nm.connect(self.id, network, self.netns, name=self.name, **kwargs)  # type: ignore[arg-type]
        self.endpoints[network] = ep
        self.write_etc()
        return ep

    def write_etc(self) -> None:
        Path(self.root, "etc", "resolv.conf").write_text(self.lab.nm.resolv_conf(self.id))
        lines = [str(e) for e in self.lab.nm.hosts_entries(self.id)]
        Path(self.root, "etc", "hosts").write_text("\n".join(lines) + "\n")

    def ip(self, network: str) -> str:
        return str(self.endpoints[network].ip)

    def argv(self, script: str) -> list[str]:
        return ["nsenter", f"--net={self.netns}", "chroot", self.root, "/bin/sh", "-c", script]

    def sh(self, script: str, *, stdin: str = "", timeout: float = 10) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(script), input=stdin, capture_output=True, text=True, timeout=timeout)

    def spawn(self, script: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(self.argv(script), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        self.lab.procs.append(proc)
        return proc

    def serve_http(self, text: str, port: int = 80) -> None:
        Path(self.root, "www").mkdir(exist_ok=True)
        Path(self.root, "www", "index.html").write_text(text)
        self.spawn(f"exec httpd -f -p {port} -h /www")
        wait_for_listener(self, port)

    def resolve(self, name: str) -> list[str]:
        """``nslookup NAME`` through the box's own resolv.conf (berth's DNS or not)."""
        out = self.sh(f"nslookup {name}", timeout=15).stdout
        after = out.split("Name:", 1)[1] if "Name:" in out else ""
        return re.findall(r"Address:\s*(\d+\.\d+\.\d+\.\d+)", after)

    def http_get(self, address: str, port: int = 80) -> str:
        return self.sh(f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {address} {port}", timeout=10).stdout


def running(pid: int) -> bool:
    """Alive and not a zombie (an exited daemon waits for init to reap it)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def wait_for_listener(box: Box, port: int, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tcp = subprocess.run(["nsenter", f"--net={box.netns}", "cat", "/proc/net/tcp", "/proc/net/tcp6"],
                             capture_output=True, text=True).stdout  # httpd listens on [::]
        if f":{port:04X} " in tcp.upper():
            return
        time.sleep(0.05)
    raise AssertionError(f"{box.name}: nothing listens on {port}")


def http_get_host(address: str, port: int, timeout: float = 2) -> str:
    try:
        with socket.create_connection((address, port), timeout=timeout) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            s.settimeout(timeout)
            chunks = []
            while chunk := s.recv(4096):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")
    except OSError:
        return ""


class Outside:
    """A namespace standing in for the world past the host's uplink: a veth pair, the
    host end 198.51.100.1/24 (TEST-NET-2), the far end 198.51.100.2/24, no route back
    to any container subnet."""

    HOST, FAR = "198.51.100.1", "198.51.100.2"

    def __init__(self, lab: Lab) -> None:
        self.path = str(lab.tmp / "outside.ns")
        self.link = "upl" + secrets.token_hex(4)
        sys_netns.create(self.path)
        run = lambda *c: subprocess.run(c, check=True, capture_output=True)  # noqa: E731
        run("ip", "link", "add", self.link, "type", "veth", "peer", "name", "eth0", "netns", self.path)
        run("ip", "addr", "add", f"{self.HOST}/24", "dev", self.link)
        run("ip", "link", "set", self.link, "up")
        inside = ["nsenter", f"--net={self.path}"]
        run(*inside, "ip", "addr", "add", f"{self.FAR}/24", "dev", "eth0")
        run(*inside, "ip", "link", "set", "eth0", "up")
        run(*inside, "ip", "link", "set", "lo", "up")
        self.lab = lab

    def python(self, code: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(["nsenter", f"--net={self.path}", sys.executable, "-c", code],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lab.procs.append(proc)  # type: ignore[arg-type]
        return proc

    def close(self) -> None:
        subprocess.run(["ip", "link", "del", self.link], capture_output=True)
        sys_netns.delete(self.path)


class Lab:
    def __init__(self, tmp: Path, busybox: str, upstream: FakeUpstream) -> None:
        self.tmp = tmp
        self.busybox = busybox
        self.root, self.run = str(tmp / "root"), str(tmp / "run")
        os.makedirs(self.run)
        self.tag = tag = secrets.token_hex(3)
        self.config = NetworkConfig(default_bridge=f"bt{tag}", default_subnet="10.231.0.0/16",
                                    pool="10.232.0.0/16", table=f"bt_{tag}", bridge_prefix=f"b{tag}-",
                                    veth_prefix=f"v{tag}", dns_upstreams=(f"127.0.0.1:{upstream.port}",))
        self.db = open_database(self.root)
        self.nm = NetworkManager(self.db, self.root, self.run, config=self.config)
        self.upstream = upstream
        self.procs: list[subprocess.Popen[bytes]] = []
        self.boxes: list[Box] = []
        self.outside: Outside | None = None

    def box(self, name: str, *networks: str, **kwargs: object) -> Box:
        box = Box(self, name)
        self.boxes.append(box)
        for network in networks:
            box.connect(network, **kwargs)
        return box

    def uplink(self) -> Outside:
        if self.outside is None:
            self.outside = Outside(self)
        return self.outside

    def marks(self) -> tuple[str, ...]:
        """Strings that name something of this lab in ``ip``/``nft`` output."""
        return (self.tag, self.config.table, *LAB_SUBNETS, *(("upl",) if self.outside else ()))

    def cleanup(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, 9)
                except ProcessLookupError:
                    pass
                proc.kill()
            proc.wait()
        for box in self.boxes:
            self.nm.release(box.id)
        for net in self.nm.list({"type": "custom"}):
            for ep in self.nm.attached(net.id):
                self.nm.release(ep.container_id)
            self.nm.remove(net.id)
        self.nm.teardown()
        if self.outside is not None:
            self.outside.close()


@pytest.fixture(scope="session")
def busybox_tree(busybox_rootfs: str) -> str:
    return busybox_rootfs


@pytest.fixture(scope="session")
def upstream() -> Iterator[FakeUpstream]:
    server = FakeUpstream()
    yield server
    server.close()


@pytest.fixture(scope="session", autouse=True)
def ip_forward() -> Iterator[None]:
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        saved = f.read().strip()
    yield
    with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
        f.write(saved)


@pytest.fixture
def lab(tmp_path: Path, busybox_tree: str, upstream: FakeUpstream) -> Iterator[Lab]:
    before = host_state()
    lab = Lab(tmp_path, busybox_tree, upstream)
    try:
        yield lab
    finally:
        lab.cleanup()
    deadline = time.monotonic() + 5  # veth pairs go with their namespaces, asynchronously
    while (ours := leftovers(before, after := host_state(), lab.marks())) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not ours, f"the lab left things behind: {ours}"
    foreign = {k: sorted(set(before[k].splitlines()) ^ set(after[k].splitlines())) for k in before
               if before[k] != after[k]}
    if foreign:
        warnings.warn(f"someone else changed the host meanwhile: {foreign}", stacklevel=1)


def leftovers(before: dict[str, str], after: dict[str, str], marks: tuple[str, ...]) -> dict[str, list[str]]:
    """Lines added or removed since ``before`` that name something of ours."""
    found = {}
    for key in before:
        changed = set(before[key].splitlines()) ^ set(after[key].splitlines())
        mine = sorted(line for line in changed if any(mark in line for mark in marks))
        if mine:
            found[key] = mine
    return found
