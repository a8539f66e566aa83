"""Address management: subnets, gateways and leases, as pure functions.

The manager keeps leases in the state database (one row per endpoint, unique per
network and address) and calls these functions inside the write transaction that
records the lease, so two containers never get one address.

Allocation is round robin: the search starts after the last address handed out and
wraps, so an address just freed is the last to be reused (peers' ARP caches have time
to forget its old MAC).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable

from berth.errors import Conflict, InvalidArgument, Unsupported

IPv4Network = ipaddress.IPv4Network
IPv4Address = ipaddress.IPv4Address

# At least a gateway and one container: /30 has two usable addresses.
MAX_PREFIX = 30


def parse_subnet(text: str) -> IPv4Network:
    """``10.1.2.0/24`` → network. Host bits set, IPv6 or a prefix past /30 are errors."""
    try:
        net = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as err:
        raise InvalidArgument(f"invalid subnet {text!r}: {err}") from err
    if net.version != 4:
        raise Unsupported(f"subnet {text}: IPv6 networks are not supported yet")
    assert isinstance(net, IPv4Network)
    if str(net) != text.strip():
        raise InvalidArgument(f"invalid subnet {text}: host bits are set (did you mean {net}?)")
    if net.prefixlen > MAX_PREFIX:
        raise InvalidArgument(f"invalid subnet {text}: /{net.prefixlen} leaves no room for containers (at most /30)")
    return net


def parse_address(text: str, what: str = "address") -> IPv4Address:
    try:
        ip = ipaddress.ip_address(text.strip())
    except ValueError as err:
        raise InvalidArgument(f"invalid {what} {text!r}: {err}") from err
    if ip.version != 4:
        raise Unsupported(f"{what} {text}: IPv6 is not supported yet")
    assert isinstance(ip, IPv4Address)
    return ip


def usable(subnet: IPv4Network, address: IPv4Address) -> bool:
    """In the subnet and neither its network nor its broadcast address."""
    return address in subnet and address not in (subnet.network_address, subnet.broadcast_address)


def gateway_for(subnet: IPv4Network, requested: str | None = None) -> IPv4Address:
    """The requested gateway (checked) or the subnet's first usable address."""
    if requested:
        gw = parse_address(requested, "gateway")
        if not usable(subnet, gw):
            raise InvalidArgument(f"invalid gateway {gw}: not a usable address of subnet {subnet}")
        return gw
    return subnet.network_address + 1


def parse_range(text: str, subnet: IPv4Network) -> IPv4Network:
    rng = parse_subnet(text) if "/" in text else parse_subnet(f"{text}/32")
    if not rng.subnet_of(subnet):
        raise InvalidArgument(f"invalid ip range {text}: not inside subnet {subnet}")
    return rng


def overlapping(subnet: IPv4Network, others: Iterable[IPv4Network]) -> IPv4Network | None:
    for other in others:
        if subnet.overlaps(other):
            return other
    return None


def check_free(subnet: IPv4Network, taken: Iterable[tuple[str, IPv4Network]]) -> None:
    """Conflict if ``subnet`` overlaps one of ``taken`` (owner description, network)."""
    for owner, other in taken:
        if subnet.overlaps(other):
            raise Conflict(f"subnet {subnet} overlaps {other} of {owner}")


def pick_subnet(pool: IPv4Network, prefix: int, taken: Collection[IPv4Network]) -> IPv4Network:
    """The first /prefix of ``pool`` that overlaps nothing in ``taken``."""
    for candidate in pool.subnets(new_prefix=prefix):
        if overlapping(candidate, taken) is None:
            return candidate
    raise Conflict(f"no free /{prefix} subnet left in pool {pool}: give one with --subnet")


def allocate(
    subnet: IPv4Network,
    gateway: IPv4Address | None,
    used: Collection[IPv4Address],
    *,
    after: IPv4Address | None = None,
    ip_range: IPv4Network | None = None,
) -> IPv4Address:
    """The next free address after ``after`` (round robin), skipping the gateway,
    the network and broadcast addresses and every address in ``used``."""
    space = ip_range or subnet
    first = max(int(space.network_address), int(subnet.network_address) + 1)
    last = min(int(space.broadcast_address), int(subnet.broadcast_address) - 1)
    size = last - first + 1
    if size <= 0:
        raise Conflict(f"no addresses in {space}")
    taken = {int(a) for a in used}
    if gateway is not None:
        taken.add(int(gateway))
    start = int(after) + 1 if after is not None and first <= int(after) + 1 <= last else first
    for step in range(size):
        candidate = first + (start - first + step) % size
        if candidate not in taken:
            return IPv4Address(candidate)
    raise Conflict(f"no free address left in {space} ({len(taken)} in use)")


def check_requested(
    subnet: IPv4Network, gateway: IPv4Address | None, used: Collection[IPv4Address], text: str
) -> IPv4Address:
    """A user's ``--ip``: a usable address of the subnet that nobody holds."""
    ip = parse_address(text, "ip address")
    if not usable(subnet, ip):
        raise InvalidArgument(f"ip address {ip}: not a usable address of subnet {subnet}")
    if ip == gateway:
        raise Conflict(f"ip address {ip}: it is the gateway of the network")
    if ip in used:
        raise Conflict(f"ip address {ip}: already in use on the network")
    return ip
