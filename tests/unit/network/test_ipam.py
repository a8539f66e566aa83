from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from berth.errors import Conflict, InvalidArgument, Unsupported
from berth.network import ipam

N = ipaddress.IPv4Network
A = ipaddress.IPv4Address


@pytest.mark.parametrize("text", ["10.1.0.0/33", "10.1.0/24", "nope", "10.1.0.0/", "300.1.0.0/16", ""])
def test_bad_cidr_is_invalid_argument(text: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid subnet"):
        ipam.parse_subnet(text)


def test_host_bits_set_names_the_network_meant() -> None:
    with pytest.raises(InvalidArgument, match=r"did you mean 10\.1\.2\.0/24"):
        ipam.parse_subnet("10.1.2.3/24")


def test_subnets_too_small_and_ipv6_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="no room"):
        ipam.parse_subnet("10.0.0.0/31")
    with pytest.raises(Unsupported, match="IPv6"):
        ipam.parse_subnet("fd00::/64")


def test_gateway_defaults_to_first_address_and_is_checked() -> None:
    net = N("10.5.0.0/24")
    assert ipam.gateway_for(net) == A("10.5.0.1")
    assert ipam.gateway_for(net, "10.5.0.254") == A("10.5.0.254")
    for bad in ("10.5.0.0", "10.5.0.255", "10.6.0.1"):
        with pytest.raises(InvalidArgument, match="gateway"):
            ipam.gateway_for(net, bad)


def test_allocation_skips_gateway_and_goes_round_robin() -> None:
    net, gw = N("10.5.0.0/29"), A("10.5.0.1")  # usable .1-.6
    first = ipam.allocate(net, gw, set())
    assert first == A("10.5.0.2")
    second = ipam.allocate(net, gw, {first}, after=first)
    assert second == A("10.5.0.3")
    # .3 freed again, cursor at .3: the next is .4, not the freed .3
    assert ipam.allocate(net, gw, {first}, after=second) == A("10.5.0.4")
    # wraps past the end
    assert ipam.allocate(net, gw, {A("10.5.0.2")}, after=A("10.5.0.6")) == A("10.5.0.3")


def test_full_subnet_is_a_conflict() -> None:
    net, gw = N("10.5.0.0/30"), A("10.5.0.1")
    assert ipam.allocate(net, gw, set()) == A("10.5.0.2")
    with pytest.raises(Conflict, match="no free address"):
        ipam.allocate(net, gw, {A("10.5.0.2")})


def test_ip_range_limits_allocation() -> None:
    net = N("10.5.0.0/24")
    rng = ipam.parse_range("10.5.0.128/25", net)
    assert ipam.allocate(net, A("10.5.0.1"), set(), ip_range=rng) == A("10.5.0.128")
    with pytest.raises(InvalidArgument, match="not inside"):
        ipam.parse_range("10.6.0.0/25", net)


def test_requested_address_checks() -> None:
    net, gw = N("10.5.0.0/24"), A("10.5.0.1")
    assert ipam.check_requested(net, gw, set(), "10.5.0.9") == A("10.5.0.9")
    with pytest.raises(Conflict, match="gateway"):
        ipam.check_requested(net, gw, set(), "10.5.0.1")
    with pytest.raises(Conflict, match="in use"):
        ipam.check_requested(net, gw, {A("10.5.0.9")}, "10.5.0.9")
    with pytest.raises(InvalidArgument, match="not a usable"):
        ipam.check_requested(net, gw, set(), "10.6.0.9")
    with pytest.raises(InvalidArgument):
        ipam.check_requested(net, gw, set(), "ten")


def test_overlaps_and_pool_picking() -> None:
    with pytest.raises(Conflict, match="overlaps 10.0.0.0/8 of network big"):
        ipam.check_free(N("10.3.0.0/16"), [("network big", N("10.0.0.0/8"))])
    pool = N("10.89.0.0/16")
    taken = [N("10.89.0.0/24"), N("10.89.1.128/25")]
    assert ipam.pick_subnet(pool, 24, taken) == N("10.89.2.0/24")
    with pytest.raises(Conflict, match="no free /24"):
        ipam.pick_subnet(N("10.89.0.0/23"), 24, taken)


@given(st.sets(st.integers(min_value=0, max_value=255), max_size=200), st.integers(min_value=0, max_value=255))
def test_allocate_never_returns_a_reserved_or_used_address(used_ints: set[int], cursor: int) -> None:
    net, gw = N("10.9.0.0/24"), A("10.9.0.1")
    used = {A(f"10.9.0.{i}") for i in used_ints}
    try:
        got = ipam.allocate(net, gw, used, after=A(f"10.9.0.{cursor}"))
    except Conflict:
        assert len(used | {gw} - {net.network_address, net.broadcast_address}) >= 254
        return
    assert got in net and got not in used and got != gw
    assert got not in (net.network_address, net.broadcast_address)
