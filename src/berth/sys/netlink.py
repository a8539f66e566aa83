"""rtnetlink: links, addresses and routes over one NETLINK_ROUTE socket, batched.

Requests are plain data (:class:`Request`: message type, flags, encoded body and a
description for errors; records here are NamedTuples, which cost a tenth of a frozen
dataclass to define, and this module is imported on the container start path); :meth:`Rtnl.call` sends any number of them in one
``sendmsg`` and collects every acknowledgement, so attaching a container costs a few
round trips, not one per step. A failed request raises :class:`SyscallError` with
op ``netlink``, the kernel's errno, the request's description and the kernel's own
extended-ack text when it gives one (``veth: ... File exists``).

Why not pyroute2 here, although DESIGN.md names it for netlink: importing pyroute2
0.9 costs 120-150 ms on the reference host (its package ``__init__`` pulls in asyncio,
multiprocessing, ndb, nftables...), six times the whole 20 ms budget for attaching a
container in a fresh ``berth run``. The handful of messages berth needs (about a dozen
structs and attributes, all from ``linux/rtnetlink.h`` and ``linux/if_link.h``) cost
nothing to import. The tests use pyroute2 as an independent oracle of kernel state.
"""

from __future__ import annotations

import errno as errno_
import ipaddress
import os
import socket
import struct
import threading
from collections.abc import Sequence
from typing import NamedTuple

from berth.sys._libc import SyscallError

# linux/netlink.h
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300
NLM_F_REPLACE = 0x100
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_CAPPED = 0x100  # in an error message: the echoed request is only its header
NLM_F_ACK_TLVS = 0x200  # in an error message: extended-ack attributes follow
NETLINK_CAP_ACK = 10
NETLINK_EXT_ACK = 11
NLMSGERR_ATTR_MSG = 1
SOL_NETLINK = 270

# linux/rtnetlink.h
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_SETLINK = 16, 17, 18, 19
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
RT_TABLE_MAIN = 254
RTPROT_BOOT = 3
RT_SCOPE_UNIVERSE = 0
RTN_UNICAST = 1

# linux/if_link.h, linux/veth.h, linux/if_addr.h
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER = 1, 3, 4, 10
IFLA_LINKINFO, IFLA_NET_NS_FD = 18, 28
IFLA_INFO_KIND, IFLA_INFO_DATA, IFLA_INFO_SLAVE_KIND, IFLA_INFO_SLAVE_DATA = 1, 2, 4, 5
IFLA_BRPORT_MODE = 4
VETH_INFO_PEER = 1
IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST = 1, 2, 4
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_TABLE = 1, 4, 5, 15
IFF_UP = 0x1

_HDR = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, seq, port id
_IFINFO = struct.Struct("=BxHiII")  # ifinfomsg: family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBI")  # ifaddrmsg: family, prefixlen, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")  # rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags
_RTA = struct.Struct("=HH")  # rtattr: length, type
_U32 = struct.Struct("=I")
_I32 = struct.Struct("=i")
_RECV_SIZE = 1 << 18


def _pad(n: int) -> int:
    return (n + 3) & ~3


def attr(kind: int, payload: bytes) -> bytes:
    length = _RTA.size + len(payload)
    return _RTA.pack(length, kind) + payload + b"\0" * (_pad(length) - length)


def attr_str(kind: int, text: str) -> bytes:
    return attr(kind, text.encode() + b"\0")


def attr_u32(kind: int, value: int) -> bytes:
    return attr(kind, _U32.pack(value))


def parse_attrs(data: bytes, offset: int = 0) -> dict[int, bytes]:
    """Attributes from ``offset`` to the end of ``data``, by type (the nested flag dropped)."""
    out: dict[int, bytes] = {}
    while offset + _RTA.size <= len(data):
        length, kind = _RTA.unpack_from(data, offset)
        if length < _RTA.size:
            break
        out[kind & 0x3FFF] = data[offset + _RTA.size : offset + length]
        offset += _pad(length)
    return out


def _ifinfo(index: int = 0, flags: int = 0, change: int = 0) -> bytes:
    return _IFINFO.pack(socket.AF_UNSPEC, 0, index, flags, change)


def _mac(text: str) -> bytes:
    return bytes(int(part, 16) for part in text.split(":"))


class Request(NamedTuple):
    """One rtnetlink request as data. ``what`` names it in errors: ``create bridge br-1``."""

    kind: int
    flags: int
    body: bytes
    what: str
    ok: frozenset[int] = frozenset()  # errnos that count as success (EEXIST for "ensure")

    def tolerating(self, *errnos: int) -> Request:
        return Request(self.kind, self.flags, self.body, self.what, self.ok | frozenset(errnos))


class Message(NamedTuple):
    """One message the kernel sent back (the header's type and flags, and the body)."""

    kind: int
    flags: int
    body: bytes


# --- requests -----------------------------------------------------------------

_NEW = NLM_F_CREATE | NLM_F_EXCL


def get_link(name: str) -> Request:
    return Request(RTM_GETLINK, 0, _ifinfo() + attr_str(IFLA_IFNAME, name), f"find link {name}")


def dump_links() -> Request:
    return Request(RTM_GETLINK, NLM_F_DUMP, _ifinfo(), "list links")


def dump_routes() -> Request:
    body = _RTMSG.pack(socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)
    return Request(RTM_GETROUTE, NLM_F_DUMP, body, "list routes")


def dump_addresses() -> Request:
    return Request(RTM_GETADDR, NLM_F_DUMP, _IFADDR.pack(socket.AF_INET, 0, 0, 0, 0), "list addresses")


def add_bridge(name: str, *, mac: str = "", mtu: int = 0) -> Request:
    """A bridge named ``name``, up (STP off, so ports forward at once). A ``mac`` given
    here stays: without one the bridge takes its lowest port's and changes address as
    ports come and go, leaving stale gateway entries in the containers' ARP caches."""
    attrs = attr_str(IFLA_IFNAME, name) + attr(IFLA_LINKINFO, attr_str(IFLA_INFO_KIND, "bridge"))
    if mac:
        attrs += attr(IFLA_ADDRESS, _mac(mac))
    if mtu:
        attrs += attr_u32(IFLA_MTU, mtu)
    return Request(RTM_NEWLINK, _NEW, _ifinfo(0, IFF_UP, IFF_UP) + attrs, f"create bridge {name}")


def add_veth(name: str, peer: str, *, peer_netns_fd: int, master: int, peer_mac: str = "", mtu: int = 0) -> Request:
    """A veth pair: ``name`` here, up and enslaved to ``master``; ``peer`` created
    directly inside the namespace open at ``peer_netns_fd`` (down until configured)."""
    peer_attrs = attr_str(IFLA_IFNAME, peer) + attr_u32(IFLA_NET_NS_FD, peer_netns_fd)
    if peer_mac:
        peer_attrs += attr(IFLA_ADDRESS, _mac(peer_mac))
    if mtu:
        peer_attrs += attr_u32(IFLA_MTU, mtu)
    info = attr_str(IFLA_INFO_KIND, "veth") + attr(IFLA_INFO_DATA, attr(VETH_INFO_PEER, _ifinfo() + peer_attrs))
    attrs = attr_str(IFLA_IFNAME, name) + attr_u32(IFLA_MASTER, master) + attr(IFLA_LINKINFO, info)
    if mtu:
        attrs += attr_u32(IFLA_MTU, mtu)
    return Request(RTM_NEWLINK, _NEW, _ifinfo(0, IFF_UP, IFF_UP) + attrs, f"create veth {name} (peer {peer})")


def set_hairpin(name: str) -> Request:
    """Hairpin mode on bridge port ``name``: frames may leave by the port they came in.

    Needed when br_netfilter is loaded: a container reaching its own published port is
    DNATed inside the bridge and bridged back to its own port. (Podman's default bridge
    config and Docker without its userland proxy do the same.)"""
    slave = attr_str(IFLA_INFO_SLAVE_KIND, "bridge") + attr(IFLA_INFO_SLAVE_DATA, attr(IFLA_BRPORT_MODE, b"\x01"))
    body = _ifinfo() + attr_str(IFLA_IFNAME, name) + attr(IFLA_LINKINFO, slave)
    return Request(RTM_NEWLINK, 0, body, f"set hairpin mode on {name}")


def set_up(index: int, name: str = "") -> Request:
    return Request(RTM_NEWLINK, 0, _ifinfo(index, IFF_UP, IFF_UP), f"set link {name or index} up")


def delete_link(name: str) -> Request:
    return Request(RTM_DELLINK, 0, _ifinfo() + attr_str(IFLA_IFNAME, name), f"delete link {name}")


def add_address(index: int, interface: ipaddress.IPv4Interface, name: str = "") -> Request:
    ip = interface.ip.packed
    body = _IFADDR.pack(socket.AF_INET, interface.network.prefixlen, 0, RT_SCOPE_UNIVERSE, index)
    body += attr(IFA_LOCAL, ip) + attr(IFA_ADDRESS, ip)
    if interface.network.prefixlen < 31:
        body += attr(IFA_BROADCAST, interface.network.broadcast_address.packed)
    return Request(RTM_NEWADDR, _NEW, body, f"add address {interface} to {name or index}")


def add_default_route(gateway: ipaddress.IPv4Address, index: int) -> Request:
    body = _RTMSG.pack(socket.AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST, 0)
    body += attr(RTA_GATEWAY, gateway.packed) + attr_u32(RTA_OIF, index)
    return Request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, body, f"add default route via {gateway}")


# --- replies ------------------------------------------------------------------


class Link(NamedTuple):
    ifindex: int
    name: str
    kind: str
    master: int
    up: bool


class Route(NamedTuple):
    destination: ipaddress.IPv4Network
    table: int
    oif: int
    gateway: ipaddress.IPv4Address | None


class Address(NamedTuple):
    ifindex: int
    interface: ipaddress.IPv4Interface


def parse_link(msg: Message) -> Link:
    _family, _type, index, flags, _change = _IFINFO.unpack_from(msg.body)
    attrs = parse_attrs(msg.body, _IFINFO.size)
    kind = parse_attrs(attrs[IFLA_LINKINFO]).get(IFLA_INFO_KIND, b"") if IFLA_LINKINFO in attrs else b""
    master = _U32.unpack(attrs[IFLA_MASTER])[0] if IFLA_MASTER in attrs else 0
    name = attrs.get(IFLA_IFNAME, b"").rstrip(b"\0").decode()
    return Link(index, name, kind.rstrip(b"\0").decode(), master, bool(flags & IFF_UP))


def parse_route(msg: Message) -> Route | None:
    family, dst_len, _src, _tos, table, _proto, _scope, _type, _flags = _RTMSG.unpack_from(msg.body)
    if family != socket.AF_INET:
        return None
    attrs = parse_attrs(msg.body, _RTMSG.size)
    table = _U32.unpack(attrs[RTA_TABLE])[0] if RTA_TABLE in attrs else table
    dst = ipaddress.IPv4Address(attrs[RTA_DST]) if RTA_DST in attrs else ipaddress.IPv4Address(0)
    gateway = ipaddress.IPv4Address(attrs[RTA_GATEWAY]) if RTA_GATEWAY in attrs else None
    oif = _U32.unpack(attrs[RTA_OIF])[0] if RTA_OIF in attrs else 0
    return Route(ipaddress.IPv4Network(f"{dst}/{dst_len}"), table, oif, gateway)


def parse_address(msg: Message) -> Address | None:
    family, prefixlen, _flags, _scope, index = _IFADDR.unpack_from(msg.body)
    if family != socket.AF_INET:
        return None
    attrs = parse_attrs(msg.body, _IFADDR.size)
    raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
    if raw is None:
        return None
    return Address(index, ipaddress.IPv4Interface(f"{ipaddress.IPv4Address(raw)}/{prefixlen}"))


# --- the socket ---------------------------------------------------------------


class Rtnl:
    """A NETLINK_ROUTE socket bound to one network namespace (the one it was made in)."""

    def __init__(self, sock: socket.socket, where: str = "") -> None:
        self._sock = sock
        self._seq = 0
        self._lock = threading.Lock()  # one request batch at a time on the socket
        self.where = where
        sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        sock.bind((0, 0))

    @classmethod
    def open(cls, netns: str | None = None) -> Rtnl:
        """A socket in this process's namespace, or in the one bind-mounted at ``netns``."""
        if netns is None:
            return cls(_netlink_socket())
        from berth.sys.netns import run_in

        return cls(run_in(netns, _netlink_socket), netns)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Rtnl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, requests: Sequence[Request]) -> list[list[Message]]:
        """Send every request in one write; return each one's replies, in order.

        The kernel runs them all (one failing does not stop the next); the first failure
        is raised after every reply has been read, so the socket stays usable.
        """
        if not requests:
            return []
        with self._lock:
            return self._call(requests)

    def _call(self, requests: Sequence[Request]) -> list[list[Message]]:
        first = self._seq + 1
        buf = bytearray()
        for req in requests:
            self._seq += 1
            flags = NLM_F_REQUEST | NLM_F_ACK | req.flags
            buf += _HDR.pack(_HDR.size + len(req.body), req.kind, flags, self._seq, 0) + req.body
        self._sock.send(bytes(buf))
        replies: list[list[Message]] = [[] for _ in requests]
        pending = set(range(len(requests)))
        failure: SyscallError | None = None
        while pending:
            data = self._recv()
            offset = 0
            while offset + _HDR.size <= len(data):
                length, kind, flags, seq, _pid = _HDR.unpack_from(data, offset)
                body = data[offset + _HDR.size : offset + length]
                offset += _pad(length)
                i = seq - first
                if i not in pending:
                    continue
                if kind == NLMSG_DONE:
                    pending.discard(i)
                elif kind == NLMSG_ERROR:
                    err = -_I32.unpack_from(body)[0]
                    pending.discard(i)
                    if err and err not in requests[i].ok and failure is None:
                        failure = SyscallError(err, "netlink", self.where or None,
                                               _detail(requests[i].what, body, flags))
                else:
                    replies[i].append(Message(kind, flags, body))
        if failure is not None:
            raise failure
        return replies

    def one(self, request: Request) -> list[Message]:
        return self.call([request])[0]

    def link(self, name: str) -> Link | None:
        """The link called ``name`` here, or None."""
        msgs = self.one(get_link(name).tolerating(errno_.ENODEV, errno_.ENOENT))
        return parse_link(msgs[0]) if msgs else None

    def links(self) -> list[Link]:
        return [parse_link(m) for m in self.one(dump_links()) if m.kind == RTM_NEWLINK]

    def routes(self) -> list[Route]:
        found = (parse_route(m) for m in self.one(dump_routes()) if m.kind == RTM_NEWROUTE)
        return [r for r in found if r is not None]

    def addresses(self) -> list[Address]:
        found = (parse_address(m) for m in self.one(dump_addresses()) if m.kind == RTM_NEWADDR)
        return [a for a in found if a is not None]

    def _recv(self) -> bytes:
        while True:
            try:
                return self._sock.recv(_RECV_SIZE)
            except InterruptedError:
                continue


def _netlink_socket() -> socket.socket:
    return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE)


def _detail(what: str, body: bytes, flags: int) -> str:
    """The request's description plus the kernel's extended-ack message, if any."""
    if flags & NLM_F_ACK_TLVS:
        echoed = _HDR.unpack_from(body, 4)[0] if len(body) >= 4 + _HDR.size else _HDR.size
        start = 4 + (_HDR.size if flags & NLM_F_CAPPED else echoed)
        message = parse_attrs(body, _pad(start)).get(NLMSGERR_ATTR_MSG, b"").rstrip(b"\0").decode(errors="replace")
        if message:
            return f"{what}: {message}"
    return what


def netns_fd(path: str) -> int:
    """An O_RDONLY descriptor on a network namespace file, for IFLA_NET_NS_FD."""
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as err:
        raise SyscallError(err.errno or errno_.EIO, "open netns", path) from err


__all__ = [
    "Address", "Link", "Message", "Request", "Route", "Rtnl", "add_address", "add_bridge",
    "add_default_route", "add_veth", "delete_link", "get_link", "netns_fd", "set_hairpin", "set_up",
]
