"""The nft scripts are data: what they say is the contract with the kernel."""

from __future__ import annotations

import ipaddress

import pytest

from berth.errors import InvalidArgument
from berth.network.nat import rules

NET = rules.NetRules("abc123abc123", "br-abc123abc123", ipaddress.IPv4Network("10.89.3.0/24"), internal=False)
INTERNAL = rules.NetRules("def456def456", "br-def456def456", ipaddress.IPv4Network("10.89.4.0/24"), internal=True)


def test_setup_is_idempotent_and_dispatches_through_maps() -> None:
    script = rules.setup("berth")
    text = script.text
    assert script.commands[0] == "add table ip berth"
    # every base chain is flushed before its rules are added again
    for chain in ("guard", "prerouting", "output", "postrouting", "forward"):
        assert f"flush chain ip berth {chain}" in text
    assert "add rule ip berth output fib daddr type local jump published" in text
    assert "add rule ip berth postrouting oifname @bridges ip saddr 127.0.0.0/8 masquerade" in text
    assert "add rule ip berth guard iifname @bridges ip daddr 127.0.0.0/8 drop" in text
    assert "dnat ip to ip daddr . udp dport map @udp_addr" in text


def test_network_masquerades_and_isolates() -> None:
    cmds = rules.network_up("berth", NET).commands
    assert 'add rule ip berth nat-abc123abc123 oifname != "br-abc123abc123" masquerade' in cmds
    assert "add rule ip berth from-abc123abc123 oifname @bridges drop" in cmds
    assert 'add element ip berth nat_src { 10.89.3.0/24 : jump nat-abc123abc123 }' in cmds
    # other networks' traffic is dropped before the catch-all accept
    frm = [c for c in cmds if c.startswith("add rule ip berth from-")]
    assert frm.index("add rule ip berth from-abc123abc123 oifname @bridges drop") < \
        frm.index("add rule ip berth from-abc123abc123 accept")


def test_internal_network_gets_no_masquerade_and_no_way_out() -> None:
    cmds = rules.network_up("berth", INTERNAL).commands
    assert not any("oifname !=" in c and "masquerade" in c for c in cmds)
    frm = [c for c in cmds if c.startswith("add rule ip berth from-")]
    assert frm == ['add rule ip berth from-def456def456 oifname "br-def456def456" accept',
                   "add rule ip berth from-def456def456 drop"]
    assert "add rule ip berth to-def456def456 ct status dnat accept" not in cmds


def test_down_removes_elements_before_chains() -> None:
    cmds = rules.network_down("berth", NET).commands
    last_element = max(i for i, c in enumerate(cmds) if c.startswith("delete element"))
    first_chain = min(i for i, c in enumerate(cmds) if "chain" in c)
    assert last_element < first_chain
    assert cmds[-1] == "delete chain ip berth nat-abc123abc123"


def test_published_ports_are_map_elements() -> None:
    ip = ipaddress.IPv4Address("10.89.3.2")
    published = [rules.PortRule("tcp", "0.0.0.0", 8080, ip, 80), rules.PortRule("udp", "127.0.0.1", 5353, ip, 53)]
    assert rules.publish("berth", published).commands == (
        "add element ip berth tcp_any { 8080 : 10.89.3.2 . 80 }",
        "add element ip berth udp_addr { 127.0.0.1 . 5353 : 10.89.3.2 . 53 }",
    )
    assert rules.unpublish("berth", published).commands == (
        "delete element ip berth tcp_any { 8080 }",
        "delete element ip berth udp_addr { 127.0.0.1 . 5353 }",
    )


@pytest.mark.parametrize("name", ["", "1abc", "a b", "a;flush ruleset", "x" * 40])
def test_table_names_are_checked(name: str) -> None:
    with pytest.raises(InvalidArgument):
        rules.setup(name)
