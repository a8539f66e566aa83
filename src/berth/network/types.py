"""The values berth.network hands out: networks, endpoints, published ports.

All are immutable: frozen dataclasses, and NamedTuples for the two plain records
(a NamedTuple costs a tenth of a frozen dataclass to define, and this module is
imported on the container start path). The manager builds them from the state
database and nothing mutates them.

    Network    a named layer-2 segment: a Linux bridge with a subnet, a gateway
               address on the bridge, and rules (masquerade, isolation, DNS)
    Endpoint   one container's attachment to one network: a veth pair, an address
               leased from the network's subnet, its MAC and its DNS names
    PortBinding one published port: host address and port → container port / proto
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

# Drivers: "bridge" is the only one with kernel objects; "host" and "null" are the
# engine's --network host/none, listed so `network ls` shows what Docker's does.
BRIDGE, HOST, NULL = "bridge", "host", "null"
PREDEFINED = {"bridge": BRIDGE, "host": HOST, "none": NULL}


class NetworkConfig(NamedTuple):
    """Host-wide choices of one NetworkManager (one berth root).

    ``table`` names berth's nftables table, ``default_bridge`` its default bridge and the
    prefixes its other links, so two berth roots on one host (tests do this) keep apart. ``dns_upstreams`` are the
    servers berth's DNS forwards other names to (``ip`` or ``ip:port``); None reads the
    host's ``resolv_conf``.
    """

    default_bridge: str = "berth0"
    default_subnet: str = "10.88.0.0/16"
    pool: str = "10.89.0.0/16"
    pool_prefix: int = 24
    table: str = "berth"
    bridge_prefix: str = "br-"
    veth_prefix: str = "vb"
    dns_upstreams: tuple[str, ...] | None = None
    resolv_conf: str = "/etc/resolv.conf"
    mtu: int = 0

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> NetworkConfig:
        """Defaults, overridden by ``BERTH_NET_*`` variables (one berth root per host needs
        none; tests and side-by-side roots set them)::

            BERTH_NET_DEFAULT_BRIDGE  BERTH_NET_DEFAULT_SUBNET  BERTH_NET_POOL
            BERTH_NET_TABLE  BERTH_NET_BRIDGE_PREFIX  BERTH_NET_VETH_PREFIX  BERTH_NET_MTU
            BERTH_NET_DNS_UPSTREAMS (comma-separated ip[:port])  BERTH_NET_RESOLV_CONF
        """
        base = cls()
        get = environ.get
        upstreams = get("BERTH_NET_DNS_UPSTREAMS")
        return cls(
            default_bridge=get("BERTH_NET_DEFAULT_BRIDGE", base.default_bridge),
            default_subnet=get("BERTH_NET_DEFAULT_SUBNET", base.default_subnet),
            pool=get("BERTH_NET_POOL", base.pool),
            table=get("BERTH_NET_TABLE", base.table),
            bridge_prefix=get("BERTH_NET_BRIDGE_PREFIX", base.bridge_prefix),
            veth_prefix=get("BERTH_NET_VETH_PREFIX", base.veth_prefix),
            dns_upstreams=tuple(u.strip() for u in upstreams.split(",") if u.strip()) if upstreams is not None
            else None,
            resolv_conf=get("BERTH_NET_RESOLV_CONF", base.resolv_conf),
            mtu=int(get("BERTH_NET_MTU", "0") or 0),
        )


@dataclass(frozen=True, slots=True)
class Network:
    id: str
    name: str
    driver: str
    bridge: str  # interface name; "" for host and none
    subnet: ipaddress.IPv4Network | None
    gateway: ipaddress.IPv4Address | None
    internal: bool = False
    dns: bool = False  # berth's DNS answers container names on this network
    builtin: bool = False  # bridge, host, none: created by berth, never removed
    ip_range: ipaddress.IPv4Network | None = None
    mtu: int = 0
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    options: Mapping[str, str] = field(default_factory=dict, hash=False)
    created: str = ""

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def has_kernel_objects(self) -> bool:
        return self.driver == BRIDGE


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One container on one network. ``ifname`` is the interface inside the container
    (eth0, eth1...), ``host_ifname`` the veth end on the bridge."""

    id: str
    container_id: str
    network_id: str
    network: str
    ip: ipaddress.IPv4Address
    prefixlen: int
    gateway: ipaddress.IPv4Address | None
    mac: str
    ifname: str
    host_ifname: str
    netns: str
    name: str = ""
    hostname: str = ""
    aliases: tuple[str, ...] = ()
    default_route: bool = False

    @property
    def dns_names(self) -> tuple[str, ...]:
        """The names berth's DNS answers with this address: name, aliases, short id."""
        names = [self.name, *self.aliases, self.container_id[:12]]
        return tuple(dict.fromkeys(n for n in names if n))


@dataclass(frozen=True, slots=True)
class PortBinding:
    """``host_ip:host_port → container_port/proto``. ``host_ip`` "" or "0.0.0.0" means
    every host address; ``host_port`` 0 asks for a free port."""

    host_ip: str
    host_port: int
    container_port: int
    proto: str = "tcp"

    def __str__(self) -> str:
        host = self.host_ip or "0.0.0.0"
        return f"{self.container_port}/{self.proto} -> {host}:{self.host_port}"


class HostsEntry(NamedTuple):
    """One /etc/hosts line."""

    address: str
    names: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.address}\t{' '.join(self.names)}"
