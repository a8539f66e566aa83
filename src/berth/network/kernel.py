"""The side effects of berth.network behind one Protocol, and its Linux implementation.

``Kernel`` is the seam: the manager computes plans (``plan.py``) and asks a ``Kernel``
to apply them, to make and delete sandboxes and to probe the host (routes, free
ports). ``LinuxKernel`` does it through ``berth.sys`` (rtnetlink, nftables, sysctl,
network namespaces); unit tests pass a fake that records plans.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import logging
import os
import random
import socket
from collections.abc import Collection
from typing import Protocol

from berth.errors import Conflict, Internal, InvalidArgument
from berth.network.nat import rules
from berth.network.nat.rules import PortRule
from berth.network.plan import BridgeUp, DefaultRoute, LinkDown, Nft, Op, Plan, Sysctl, VethAttach
from berth.sys import netlink as nl
from berth.sys import netns, nftables, sysctl
from berth.sys._libc import SyscallError

log = logging.getLogger(__name__)

EPHEMERAL = (32768, 60999)  # Linux's default ip_local_port_range


class Kernel(Protocol):
    """What berth.network asks of the host. Every method raises ``berth.errors``
    classes or ``SyscallError`` naming the failed operation."""

    def apply(self, plan: Plan) -> None:
        """Carry out ``plan`` in order; stop at the first failure (callers undo)."""

    def link_exists(self, name: str) -> bool:
        """An interface called ``name`` exists in the host namespace."""

    def bridge_ports(self, bridge: str) -> list[str]:
        """Names of the links enslaved to ``bridge`` (none if it does not exist)."""

    def create_netns(self, path: str) -> None:
        """A new network namespace bind-mounted at ``path``, ``lo`` up. The folder of
        ``path`` becomes a shared mount point (see ``sys.netns.share_dir``)."""

    def delete_netns(self, path: str) -> None:
        """Unmount and remove ``path``; fine if it is already gone. The namespace, and
        the veth ends in it, go when its last user goes, without waiting here."""

    def close_sandbox_dir(self, path: str) -> None:
        """Undo the shared mount of the sandbox folder ``path`` (it holds no sandbox)."""

    def live_netns(self, paths: Collection[str]) -> set[str]:
        """The subset of ``paths`` that still name a network namespace."""

    def host_subnets(self) -> list[tuple[str, ipaddress.IPv4Network]]:
        """(interface, destination) of the host's routes in the main table, but the
        default route."""

    def published_ports(self, table: str) -> list[PortRule]:
        """The elements of the port maps of nft table ``table`` (none if it is absent)."""

    def port_available(self, host_ip: str, port: int, proto: str) -> bool:
        """No host socket holds ``host_ip:port/proto`` (InvalidArgument if the address is
        not the host's)."""

    def free_port(self, host_ip: str, proto: str, avoid: Collection[int]) -> int:
        """A port the kernel would hand out now on ``host_ip``, not in ``avoid``."""


class LinuxKernel:
    """``Kernel`` on Linux. One rtnetlink socket in the host namespace, opened on first
    use and kept; sockets into sandboxes are opened per call."""

    def __init__(self) -> None:
        self._host: nl.Rtnl | None = None

    @property
    def rtnl(self) -> nl.Rtnl:
        if self._host is None:
            self._host = nl.Rtnl.open()
        return self._host

    def close(self) -> None:
        if self._host is not None:
            self._host.close()
            self._host = None

    # --- plans --------------------------------------------------------------

    def apply(self, plan: Plan) -> None:
        for op in plan:
            self._apply(op)

    def _apply(self, op: Op) -> None:
        if isinstance(op, Sysctl):
            sysctl.write(op.key, op.value)
        elif isinstance(op, BridgeUp):
            self._bridge_up(op)
        elif isinstance(op, LinkDown):
            self.rtnl.call([nl.delete_link(op.name).tolerating(errno.ENODEV, errno.ENOENT)])
        elif isinstance(op, Nft):
            self._nft(op)
        elif isinstance(op, VethAttach):
            self._veth(op)
        elif isinstance(op, DefaultRoute):
            with nl.Rtnl.open(op.netns) as inner:
                link = inner.link(op.ifname)
                if link is None:
                    raise Internal(f"sandbox {op.netns}: no interface {op.ifname}")
                inner.call([nl.add_default_route(op.gateway, link.ifindex)])
        else:  # pragma: no cover - Op is a closed union
            raise Internal(f"unknown plan step {op!r}")

    def _bridge_up(self, op: BridgeUp) -> None:
        replies = self.rtnl.call([nl.add_bridge(op.name, mac=op.mac, mtu=op.mtu).tolerating(errno.EEXIST),
                                  nl.get_link(op.name)])
        link = nl.parse_link(replies[1][0])
        if link.kind != "bridge":
            raise Conflict(f"interface {op.name} exists and is not a bridge ({link.kind or 'no kind'})")
        self.rtnl.call([nl.add_address(link.ifindex, op.address, op.name).tolerating(errno.EEXIST),
                        nl.set_up(link.ifindex, op.name)])

    def _nft(self, op: Nft) -> None:
        try:
            nftables.run(op.script.text)
        except nftables.NftError:
            if not op.tolerant:
                raise
            for command in op.script.commands:
                try:
                    nftables.run(command + "\n")
                except nftables.NftError as err:
                    log.debug("nft: skipped %s: %s", command, err)

    def _veth(self, op: VethAttach) -> None:
        bridge = self.rtnl.link(op.bridge)
        if bridge is None:
            raise Internal(f"bridge {op.bridge} is missing")
        fd = nl.netns_fd(op.netns)
        try:
            self.rtnl.call([nl.add_veth(op.host_ifname, op.ifname, peer_netns_fd=fd, master=bridge.ifindex,
                                        peer_mac=op.mac, mtu=op.mtu),
                            nl.set_hairpin(op.host_ifname)])
        finally:
            os.close(fd)
        with nl.Rtnl.open(op.netns) as inner:
            link = inner.link(op.ifname)
            if link is None:
                raise Internal(f"sandbox {op.netns}: {op.ifname} did not appear")
            requests = [nl.set_up(link.ifindex, op.ifname), nl.add_address(link.ifindex, op.address, op.ifname)]
            if op.gateway is not None:
                requests.append(nl.add_default_route(op.gateway, link.ifindex))
            inner.call(requests)

    def link_exists(self, name: str) -> bool:
        return self.rtnl.link(name) is not None

    def bridge_ports(self, bridge: str) -> list[str]:
        link = self.rtnl.link(bridge)
        if link is None:
            return []
        return [port.name for port in self.rtnl.links() if port.master == link.ifindex]

    # --- sandboxes ----------------------------------------------------------

    def create_netns(self, path: str) -> None:
        def lo_up() -> None:
            with nl.Rtnl.open() as inner:
                inner.call([nl.set_up(1, "lo")])

        netns.share_dir(os.path.dirname(path))  # one mount(2) when it is shared already
        netns.create(path, lo_up)

    def delete_netns(self, path: str) -> None:
        netns.delete(path)

    def close_sandbox_dir(self, path: str) -> None:
        netns.unshare_dir(path)

    def live_netns(self, paths: Collection[str]) -> set[str]:
        mounts = netns.mounted()
        return {p for p in paths if netns.alive(p, mounts)}

    # --- probes -------------------------------------------------------------

    def host_subnets(self) -> list[tuple[str, ipaddress.IPv4Network]]:
        names = {link.ifindex: link.name for link in self.rtnl.links()}
        return [(names.get(r.oif, str(r.oif)), r.destination) for r in self.rtnl.routes()
                if r.table == nl.RT_TABLE_MAIN and r.destination.prefixlen > 0]

    def published_ports(self, table: str) -> list[PortRule]:
        found: list[PortRule] = []
        for proto in rules.PROTOCOLS:
            for kind in ("any", "addr"):
                try:
                    out = nftables.run(f"list map ip {rules.check_table(table)} {proto}_{kind}\n", json_output=True)
                except nftables.NftError:
                    continue  # no such table or map (an older table has no sctp maps)
                for item in json.loads(out).get("nftables", []):
                    for key, value in item.get("map", {}).get("elem", []):
                        host_ip, host_port = key["concat"] if isinstance(key, dict) else ("0.0.0.0", key)
                        container_ip, container_port = value["concat"]
                        found.append(PortRule(proto, str(host_ip), int(host_port),
                                              ipaddress.IPv4Address(container_ip), int(container_port)))
        return found

    def _bind(self, host_ip: str, port: int, proto: str) -> socket.socket:
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        if proto == "sctp":
            kind, number = socket.SOCK_STREAM, socket.IPPROTO_SCTP
        else:
            number = 0
        sock = socket.socket(socket.AF_INET, kind | socket.SOCK_CLOEXEC, number)
        try:
            if proto == "tcp":  # TIME_WAIT leftovers must not count as "in use"
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host_ip, port))
        except OSError as err:
            sock.close()
            if err.errno == errno.EADDRNOTAVAIL:
                raise InvalidArgument(f"host address {host_ip}: not an address of this host") from err
            raise
        return sock

    def port_available(self, host_ip: str, port: int, proto: str) -> bool:
        try:
            self._bind(host_ip, port, proto).close()
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                return False
            if err.errno == errno.EPROTONOSUPPORT:  # no SCTP in this kernel: no host socket can hold it
                return True
            raise SyscallError(err.errno or errno.EIO, "bind", f"{host_ip}:{port}/{proto}") from err
        return True

    def free_port(self, host_ip: str, proto: str, avoid: Collection[int]) -> int:
        for _ in range(64):
            try:
                sock = self._bind(host_ip, 0, proto)
            except OSError as err:
                if err.errno != errno.EPROTONOSUPPORT:
                    raise
                port = random.randint(*EPHEMERAL)  # no SCTP sockets here: any port berth has not handed out
                if port not in avoid:
                    return port
                continue
            port = int(sock.getsockname()[1])
            sock.close()
            if port not in avoid:
                return port
        raise Conflict(f"no free {proto} port on {host_ip}")
