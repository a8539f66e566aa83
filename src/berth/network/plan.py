"""What the kernel must do, as data: the manager builds a plan, a ``Kernel`` applies it.

Each operation is one small, idempotent-where-possible step. Plans are computed from
database rows alone, so they are testable without root and re-computable after a
crash (``reconcile`` and ``release`` rebuild the undo plans from what was recorded).

    network_up(net)      sysctls, bridge + gateway address, nft table and chains
    network_down(net)    nft chains (or the whole table for the last network), bridge
    attach(ep)           veth pair into the sandbox, address, default route
    detach(ep)           delete the host end of the veth (the peer goes with it)
    publish / unpublish  map elements of published ports

Steps are NamedTuples (immutable, and a tenth of a frozen dataclass's import cost on
the container start path); the kernel dispatches on their type.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import NamedTuple

from berth.network.nat import rules
from berth.network.types import Endpoint, Network, NetworkConfig


class Sysctl(NamedTuple):
    key: str  # under /proc/sys, with slashes
    value: str


class BridgeUp(NamedTuple):
    """Create the bridge if missing, give it the gateway address if missing, set it up."""

    name: str
    address: ipaddress.IPv4Interface
    mac: str = ""
    mtu: int = 0


class LinkDown(NamedTuple):
    """Delete a link if present (a bridge, or a veth's host end)."""

    name: str


class Nft(NamedTuple):
    """One atomic nft batch. ``tolerant`` batches are retried command by command when
    the batch fails, skipping what is already gone (teardown after a crash)."""

    script: rules.Script
    tolerant: bool = False


class VethAttach(NamedTuple):
    """A veth pair: ``host_ifname`` on ``bridge``; ``ifname`` inside ``netns`` with
    ``address`` and ``mac``, up, and a default route via ``gateway`` if given."""

    host_ifname: str
    bridge: str
    netns: str
    ifname: str
    mac: str
    address: ipaddress.IPv4Interface
    gateway: ipaddress.IPv4Address | None
    mtu: int = 0


class DefaultRoute(NamedTuple):
    """Point the sandbox's default route at ``gateway`` through ``ifname``."""

    netns: str
    ifname: str
    gateway: ipaddress.IPv4Address


Op = Sysctl | BridgeUp | LinkDown | Nft | VethAttach | DefaultRoute
Plan = tuple[Op, ...]


def net_rules(net: Network) -> rules.NetRules:
    assert net.subnet is not None
    return rules.NetRules(net.short_id, net.bridge, net.subnet, net.internal)


def bridge_mac(network_id: str) -> str:
    """A fixed, locally administered MAC for the bridge, from the network id (the same
    after a reboot, so the gateway's address never changes under the containers)."""
    return "02:" + ":".join(network_id[i : i + 2] for i in range(0, 10, 2))


def network_up(net: Network, cfg: NetworkConfig) -> Plan:
    assert net.subnet is not None and net.gateway is not None
    ops: list[Op] = []
    if not net.internal:
        ops.append(Sysctl("net/ipv4/ip_forward", "1"))
    ops.append(BridgeUp(net.bridge, ipaddress.IPv4Interface(f"{net.gateway}/{net.subnet.prefixlen}"),
                        bridge_mac(net.id), net.mtu or cfg.mtu))
    ops.append(Sysctl(f"net/ipv4/conf/{net.bridge}/route_localnet", "1"))
    ops.append(Nft(rules.setup(cfg.table)))
    ops.append(Nft(rules.forget_bridge(cfg.table, net_rules(net)), tolerant=True))
    ops.append(Nft(rules.network_up(cfg.table, net_rules(net))))
    return tuple(ops)


def network_down(net: Network, cfg: NetworkConfig, *, last: bool) -> Plan:
    """``last``: no other bridge network of this berth root is up, so the table goes."""
    script = rules.delete_table(cfg.table) if last else rules.network_down(cfg.table, net_rules(net))
    return (Nft(script, tolerant=True), LinkDown(net.bridge))


def attach(ep: Endpoint, net: Network, cfg: NetworkConfig) -> Plan:
    return (VethAttach(
        host_ifname=ep.host_ifname,
        bridge=net.bridge,
        netns=ep.netns,
        ifname=ep.ifname,
        mac=ep.mac,
        address=ipaddress.IPv4Interface(f"{ep.ip}/{ep.prefixlen}"),
        gateway=ep.gateway if ep.default_route else None,
        mtu=net.mtu or cfg.mtu,
    ),)


def detach(ep: Endpoint) -> Plan:
    return (LinkDown(ep.host_ifname),)


def port_rules(bindings: Sequence[tuple[str, int, int, str]], container_ip: ipaddress.IPv4Address
               ) -> list[rules.PortRule]:
    """(host_ip, host_port, container_port, proto) tuples → rules for one endpoint."""
    return [rules.PortRule(proto, host_ip, host_port, container_ip, cport)
            for host_ip, host_port, cport, proto in bindings]


def publish(cfg: NetworkConfig, port_rules: Sequence[rules.PortRule]) -> Plan:
    return (Nft(rules.publish(cfg.table, port_rules)),) if port_rules else ()


def unpublish(cfg: NetworkConfig, port_rules: Sequence[rules.PortRule]) -> Plan:
    return (Nft(rules.unpublish(cfg.table, port_rules), tolerant=True),) if port_rules else ()
