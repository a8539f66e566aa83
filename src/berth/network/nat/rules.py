"""berth's nftables table, as scripts: data first, applied by ``sys.nftables``.

One table (``ip berth`` by default) holds everything, so taking the last network down
is ``delete table``. Static base chains dispatch through maps, so adding a network,
an endpoint or a published port adds map elements and per-network chains and never
needs a rule handle:

    table ip berth
      set bridges        every berth bridge
      map tcp_any        host port          → container address . port   (-p PORT:CPORT)
      map tcp_addr       host address . port → container address . port  (-p IP:PORT:CPORT)
      map udp_any, udp_addr, sctp_any, sctp_addr   the same for UDP and SCTP
      map from_bridge    bridge → verdict   (jump from-<net>)
      map to_bridge      bridge → verdict   (jump to-<net>)
      map nat_src        subnet → verdict   (jump nat-<net>)
      chain guard        prerouting/raw: packets from a bridge to 127.0.0.0/8 are dropped
      chain prerouting   nat: traffic to a local address → published
      chain output       nat: the same for the host's own traffic (127.0.0.1 included)
      chain published    DNAT through the four port maps
      chain postrouting  masquerade: 127.0.0.0/8 into a bridge, then per-network nat-<net>
      chain forward      filter: per-network from-<net> / to-<net>

    chain from-<net>   leaving bridge <net>: same bridge ok; published ports (DNAT) ok;
                       other berth bridges dropped; elsewhere ok unless --internal
    chain to-<net>     entering bridge <net> from elsewhere: replies and published
                       ports only (nothing for --internal)
    chain nat-<net>    masquerade outbound traffic (not --internal), and hairpin traffic
                       (a container reaching a published port on its own bridge)

Reaching a published port through 127.0.0.1 works because the bridge has
``route_localnet`` on (loopback-sourced packets may be routed into it) and postrouting
masquerades them to the bridge's address; ``guard`` blocks the other direction, which
``route_localnet`` would otherwise open (CVE-2020-8558).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from berth.errors import InvalidArgument

_TABLE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]{0,30}$")
PROTOCOLS = ("tcp", "udp", "sctp")  # each has its two port maps


@dataclass(frozen=True, slots=True)
class Script:
    """nft commands, one per line; applied as one atomic batch."""

    commands: tuple[str, ...] = ()

    def __add__(self, other: Script) -> Script:
        return Script(self.commands + other.commands)

    def __bool__(self) -> bool:
        return bool(self.commands)

    @property
    def text(self) -> str:
        return "\n".join(self.commands) + "\n"


class NetRules(NamedTuple):
    """What the rules of one network need to know."""

    short_id: str
    bridge: str
    subnet: ipaddress.IPv4Network
    internal: bool


class PortRule(NamedTuple):
    """One published port as the kernel sees it."""

    proto: str
    host_ip: str  # "0.0.0.0": every local address
    host_port: int
    container_ip: ipaddress.IPv4Address
    container_port: int


def check_table(name: str) -> str:
    if not _TABLE.match(name):
        raise InvalidArgument(f"invalid nftables table name {name!r}")
    return name


def _base_chain(table: str, name: str, spec: str) -> tuple[str, ...]:
    return (f"add chain ip {table} {name} {{ {spec} ; policy accept ; }}", f"flush chain ip {table} {name}")


def setup(table: str) -> Script:
    """The table, its maps and static chains. Idempotent: static chains are flushed
    and refilled, maps and per-network chains are kept."""
    t = check_table(table)
    cmds = [
        f"add table ip {t}",
        f"add set ip {t} bridges {{ type ifname ; }}",
        f"add map ip {t} from_bridge {{ type ifname : verdict ; }}",
        f"add map ip {t} to_bridge {{ type ifname : verdict ; }}",
        f"add map ip {t} nat_src {{ type ipv4_addr : verdict ; flags interval ; }}",
    ]
    for proto in PROTOCOLS:
        cmds.append(f"add map ip {t} {proto}_any {{ type inet_service : ipv4_addr . inet_service ; }}")
        cmds.append(f"add map ip {t} {proto}_addr "
                    "{ type ipv4_addr . inet_service : ipv4_addr . inet_service ; }")
    cmds += [f"add chain ip {t} published", f"flush chain ip {t} published"]
    for proto in PROTOCOLS:
        cmds.append(f"add rule ip {t} published dnat ip to ip daddr . {proto} dport map @{proto}_addr")
        cmds.append(f"add rule ip {t} published dnat ip to {proto} dport map @{proto}_any")
    cmds += _base_chain(t, "guard", "type filter hook prerouting priority raw")
    cmds.append(f"add rule ip {t} guard iifname @bridges ip daddr 127.0.0.0/8 drop")
    cmds += _base_chain(t, "prerouting", "type nat hook prerouting priority dstnat")
    cmds.append(f"add rule ip {t} prerouting fib daddr type local jump published")
    cmds += _base_chain(t, "output", "type nat hook output priority -100")
    cmds.append(f"add rule ip {t} output fib daddr type local jump published")
    cmds += _base_chain(t, "postrouting", "type nat hook postrouting priority srcnat")
    cmds.append(f"add rule ip {t} postrouting oifname @bridges ip saddr 127.0.0.0/8 masquerade")
    cmds.append(f"add rule ip {t} postrouting ip saddr vmap @nat_src")
    cmds += _base_chain(t, "forward", "type filter hook forward priority filter")
    cmds.append(f"add rule ip {t} forward iifname vmap @from_bridge")
    cmds.append(f"add rule ip {t} forward oifname vmap @to_bridge")
    return Script(tuple(cmds))


def _chains(net: NetRules) -> tuple[str, str, str]:
    return f"from-{net.short_id}", f"to-{net.short_id}", f"nat-{net.short_id}"


def network_up(table: str, net: NetRules) -> Script:
    """Chains and map elements of one network. Idempotent; needs :func:`setup` applied
    in an earlier batch (nft 1.0.6 refuses an interval-map element in the batch that
    creates the map)."""
    t, br = check_table(table), f'"{net.bridge}"'
    from_c, to_c, nat_c = _chains(net)
    cmds = [f"add chain ip {t} {c}" for c in (from_c, to_c, nat_c)]
    cmds += [f"flush chain ip {t} {c}" for c in (from_c, to_c, nat_c)]
    cmds.append(f"add rule ip {t} {from_c} oifname {br} accept")
    if net.internal:
        cmds.append(f"add rule ip {t} {from_c} drop")
    else:
        cmds.append(f"add rule ip {t} {from_c} ct status dnat accept")
        cmds.append(f"add rule ip {t} {from_c} oifname @bridges drop")
        cmds.append(f"add rule ip {t} {from_c} accept")
    cmds.append(f"add rule ip {t} {to_c} ct state established,related accept")
    if not net.internal:
        cmds.append(f"add rule ip {t} {to_c} ct status dnat accept")
    cmds.append(f"add rule ip {t} {to_c} drop")
    cmds.append(f"add rule ip {t} {nat_c} oifname {br} ct status dnat masquerade")
    if not net.internal:
        cmds.append(f"add rule ip {t} {nat_c} oifname != {br} masquerade")
    cmds += [
        f"add element ip {t} bridges {{ {br} }}",
        f"add element ip {t} from_bridge {{ {br} : jump {from_c} }}",
        f"add element ip {t} to_bridge {{ {br} : jump {to_c} }}",
        f"add element ip {t} nat_src {{ {net.subnet} : jump {nat_c} }}",
    ]
    return Script(tuple(cmds))


def forget_bridge(table: str, net: NetRules) -> Script:
    """Map elements keyed by this bridge name or subnet, whoever added them: a network of
    an earlier berth root (or a crash) with the same bridge name would otherwise make
    :func:`network_up`'s elements "exist" already. Apply tolerantly (absent is fine)."""
    t, br = check_table(table), f'"{net.bridge}"'
    return Script((
        f"delete element ip {t} from_bridge {{ {br} }}",
        f"delete element ip {t} to_bridge {{ {br} }}",
        f"delete element ip {t} nat_src {{ {net.subnet} }}",
        f"delete element ip {t} bridges {{ {br} }}",
    ))


def network_down(table: str, net: NetRules) -> Script:
    """Undo :func:`network_up`: elements first (they reference the chains)."""
    t, br = check_table(table), f'"{net.bridge}"'
    chains = _chains(net)
    cmds = [
        f"delete element ip {t} from_bridge {{ {br} }}",
        f"delete element ip {t} to_bridge {{ {br} }}",
        f"delete element ip {t} nat_src {{ {net.subnet} }}",
        f"delete element ip {t} bridges {{ {br} }}",
    ]
    cmds += [f"flush chain ip {t} {c}" for c in chains]
    cmds += [f"delete chain ip {t} {c}" for c in chains]
    return Script(tuple(cmds))


def delete_table(table: str) -> Script:
    return Script((f"delete table ip {check_table(table)}",))


def _element(rule: PortRule) -> tuple[str, str]:
    """(map name, key) of a published port."""
    if rule.host_ip == "0.0.0.0":
        return f"{rule.proto}_any", str(rule.host_port)
    return f"{rule.proto}_addr", f"{rule.host_ip} . {rule.host_port}"


def publish(table: str, rules: Iterable[PortRule]) -> Script:
    t = check_table(table)
    cmds = []
    for rule in rules:
        name, key = _element(rule)
        cmds.append(f"add element ip {t} {name} {{ {key} : {rule.container_ip} . {rule.container_port} }}")
    return Script(tuple(cmds))


def unpublish(table: str, rules: Iterable[PortRule]) -> Script:
    t = check_table(table)
    return Script(tuple(f"delete element ip {t} {name} {{ {key} }}" for name, key in map(_element, rules)))
