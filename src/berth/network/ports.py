"""Published ports: Docker's ``-p`` syntax, validation and clash rules (pure).

    -p 8080:80            every host address, port 8080 → container port 80/tcp
    -p 8080:80/udp        the same for UDP
    -p 127.0.0.1:8080:80  one host address only
    -p 127.0.0.1::80      one host address, a free host port
    -p 80                 every host address, a free host port
    -p 8000-8002:80-82    ranges of equal length, pairwise

The kernel rewrites published traffic (nftables DNAT, see ``nat/rules.py``); there is
no proxy process. Reserving a port means no other berth container and no host socket
holds it when it is published.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from berth.errors import InvalidArgument, Unsupported
from berth.network.types import PortBinding

PROTOCOLS = ("tcp", "udp", "sctp")
ANY = "0.0.0.0"


def _port(text: str, what: str, *, zero: bool = False) -> int:
    try:
        value = int(text)
    except ValueError:
        raise InvalidArgument(f"invalid {what} {text!r}: not a number") from None
    if not (0 if zero else 1) <= value <= 65535:
        raise InvalidArgument(f"invalid {what} {value}: out of range 1-65535")
    return value


def _range(text: str, what: str, *, zero: bool = False) -> list[int]:
    if "-" in text:
        lo_text, _, hi_text = text.partition("-")
        lo, hi = _port(lo_text, what), _port(hi_text, what)
        if hi < lo:
            raise InvalidArgument(f"invalid {what} range {text}: end before start")
        return list(range(lo, hi + 1))
    return [_port(text, what, zero=zero)]


def parse_publish(spec: str) -> list[PortBinding]:
    """One ``-p`` value → its bindings (several for a range)."""
    text = spec.strip()
    proto = "tcp"
    if "/" in text:
        text, _, proto = text.rpartition("/")
        proto = proto.lower()
    if proto not in PROTOCOLS:
        raise InvalidArgument(f"invalid port spec {spec!r}: protocol {proto!r} (use tcp, udp or sctp)")
    if text.startswith("["):
        raise Unsupported(f"port spec {spec!r}: IPv6 host addresses are not supported yet")
    parts = text.split(":")
    if len(parts) > 3 or not parts[-1]:
        raise InvalidArgument(f"invalid port spec {spec!r}: use [IP:][HOSTPORT:]CONTAINERPORT[/PROTO]")
    host_ip = normalize_host_ip(parts[0]) if len(parts) == 3 else ANY
    host_text = parts[-2] if len(parts) >= 2 else ""
    container_ports = _range(parts[-1], "container port")
    host_ports = _range(host_text, "host port", zero=True) if host_text else [0] * len(container_ports)
    if len(host_ports) != len(container_ports):
        raise InvalidArgument(f"invalid port spec {spec!r}: host and container port ranges differ in length")
    return [PortBinding(host_ip, h, c, proto) for h, c in zip(host_ports, container_ports, strict=True)]


def normalize_host_ip(text: str) -> str:
    if text in ("", ANY):
        return ANY
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidArgument(f"invalid host address {text!r} in port spec") from None
    if ip.version != 4:
        raise Unsupported(f"host address {text}: IPv6 is not supported yet")
    return str(ip)


def normalize(binding: PortBinding) -> PortBinding:
    """Check a binding made by code, not parsed: ports in range, a known protocol."""
    proto = binding.proto.lower()
    if proto not in PROTOCOLS:
        raise InvalidArgument(f"invalid protocol {binding.proto!r} (use tcp, udp or sctp)")
    _port(str(binding.container_port), "container port")
    _port(str(binding.host_port), "host port", zero=True)
    return PortBinding(normalize_host_ip(binding.host_ip), binding.host_port, binding.container_port, proto)


def clashes(a: PortBinding, b: PortBinding) -> bool:
    """Two bindings want the same host socket: same protocol and port, and the same
    address or one of them on every address."""
    return (
        a.proto == b.proto
        and a.host_port == b.host_port
        and (a.host_ip == b.host_ip or ANY in (a.host_ip, b.host_ip))
    )


def first_clash(binding: PortBinding, others: Iterable[PortBinding]) -> PortBinding | None:
    for other in others:
        if clashes(binding, other):
            return other
    return None
