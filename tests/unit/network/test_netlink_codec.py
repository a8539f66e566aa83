"""The rtnetlink messages berth sends, decoded back (no socket)."""

from __future__ import annotations

import ipaddress
import struct

from berth.sys import netlink as nl


def test_veth_request_nests_the_peer_with_its_namespace_and_mac() -> None:
    req = nl.add_veth("vb0123456789ab", "eth1", peer_netns_fd=7, master=42, peer_mac="02:42:ac:11:00:02")
    assert req.kind == nl.RTM_NEWLINK and req.flags & nl.NLM_F_CREATE and req.flags & nl.NLM_F_EXCL
    _family, _type, index, flags, change = struct.unpack_from("=BxHiII", req.body)
    assert (index, flags & nl.IFF_UP, change & nl.IFF_UP) == (0, 1, 1)
    attrs = nl.parse_attrs(req.body, 16)
    assert attrs[nl.IFLA_IFNAME] == b"vb0123456789ab\0"
    assert struct.unpack("=I", attrs[nl.IFLA_MASTER]) == (42,)
    info = nl.parse_attrs(attrs[nl.IFLA_LINKINFO])
    assert info[nl.IFLA_INFO_KIND] == b"veth\0"
    peer = nl.parse_attrs(nl.parse_attrs(info[nl.IFLA_INFO_DATA])[nl.VETH_INFO_PEER], 16)
    assert peer[nl.IFLA_IFNAME] == b"eth1\0"
    assert struct.unpack("=I", peer[nl.IFLA_NET_NS_FD]) == (7,)
    assert peer[nl.IFLA_ADDRESS] == bytes([2, 0x42, 0xAC, 0x11, 0, 2])


def test_address_and_route_requests() -> None:
    req = nl.add_address(3, ipaddress.IPv4Interface("10.88.0.2/16"))
    family, prefixlen, _flags, _scope, index = struct.unpack_from("=BBBBI", req.body)
    attrs = nl.parse_attrs(req.body, 8)
    assert (prefixlen, index) == (16, 3)
    assert attrs[nl.IFA_LOCAL] == ipaddress.IPv4Address("10.88.0.2").packed
    assert attrs[nl.IFA_BROADCAST] == ipaddress.IPv4Address("10.88.255.255").packed
    route = nl.add_default_route(ipaddress.IPv4Address("10.88.0.1"), 3)
    rattrs = nl.parse_attrs(route.body, 12)
    assert rattrs[nl.RTA_GATEWAY] == ipaddress.IPv4Address("10.88.0.1").packed


def test_link_replies_are_parsed() -> None:
    body = struct.pack("=BxHiII", 0, 1, 9, nl.IFF_UP, 0)
    body += nl.attr_str(nl.IFLA_IFNAME, "br-x") + nl.attr_u32(nl.IFLA_MASTER, 4)
    body += nl.attr(nl.IFLA_LINKINFO, nl.attr_str(nl.IFLA_INFO_KIND, "bridge"))
    link = nl.parse_link(nl.Message(nl.RTM_NEWLINK, 0, body))
    assert link == nl.Link(9, "br-x", "bridge", 4, True)


def test_tolerated_errnos_are_part_of_the_request() -> None:
    req = nl.add_bridge("br-x").tolerating(17)
    assert 17 in req.ok and nl.add_bridge("br-x").ok == frozenset()
