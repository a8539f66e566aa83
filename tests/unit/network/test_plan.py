"""Plans are data: what the kernel is asked to do, computed from rows alone."""

from __future__ import annotations

import ipaddress

from berth.network import plan
from berth.network.types import Endpoint, Network, NetworkConfig

CFG = NetworkConfig(table="t1")
NET = Network("ab" * 32, "app", "bridge", "br-abababababab", ipaddress.IPv4Network("10.9.0.0/24"),
              ipaddress.IPv4Address("10.9.0.1"), dns=True)
INTERNAL = Network("cd" * 32, "vault", "bridge", "br-cdcdcdcdcdcd", ipaddress.IPv4Network("10.8.0.0/24"),
                   ipaddress.IPv4Address("10.8.0.1"), internal=True, dns=True)


def endpoint(default_route: bool) -> Endpoint:
    return Endpoint("e" * 64, "c" * 64, NET.id, "app", ipaddress.IPv4Address("10.9.0.7"), 24, NET.gateway,
                    "02:00:00:00:00:07", "eth1", "vb0123456789ab", "/run/berth/netns/" + "c" * 64,
                    default_route=default_route)


def test_network_up_steps_in_order() -> None:
    steps = plan.network_up(NET, CFG)
    assert [type(s).__name__ for s in steps] == ["Sysctl", "BridgeUp", "Sysctl", "Nft", "Nft", "Nft"]
    assert steps[0] == plan.Sysctl("net/ipv4/ip_forward", "1")
    assert steps[1] == plan.BridgeUp("br-abababababab", ipaddress.IPv4Interface("10.9.0.1/24"),
                                     "02:ab:ab:ab:ab:ab", 0)
    assert steps[2] == plan.Sysctl("net/ipv4/conf/br-abababababab/route_localnet", "1")
    # a stale element for this bridge name (an earlier root's) is forgotten, tolerantly
    forget = steps[4]
    assert isinstance(forget, plan.Nft) and forget.tolerant
    assert 'delete element ip t1 from_bridge { "br-abababababab" }' in forget.script.commands


def test_internal_network_asks_for_no_forwarding() -> None:
    assert not any(isinstance(s, plan.Sysctl) and s.key == "net/ipv4/ip_forward"
                   for s in plan.network_up(INTERNAL, CFG))


def test_down_deletes_the_table_only_for_the_last_network() -> None:
    last = plan.network_down(NET, CFG, last=True)
    assert last[0] == plan.Nft(plan.rules.delete_table("t1"), tolerant=True)
    assert last[1] == plan.LinkDown("br-abababababab")
    other = plan.network_down(NET, CFG, last=False)
    assert isinstance(other[0], plan.Nft) and "delete chain ip t1 nat-abababababab" in other[0].script.commands


def test_attach_routes_only_through_the_endpoint_that_holds_the_default_route() -> None:
    (with_route,) = plan.attach(endpoint(True), NET, CFG)
    (without,) = plan.attach(endpoint(False), NET, CFG)
    assert isinstance(with_route, plan.VethAttach) and isinstance(without, plan.VethAttach)
    assert with_route.gateway == NET.gateway and without.gateway is None
    assert with_route.address == ipaddress.IPv4Interface("10.9.0.7/24") and with_route.ifname == "eth1"
    assert plan.detach(endpoint(True)) == (plan.LinkDown("vb0123456789ab"),)
