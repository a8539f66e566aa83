"""NetworkManager's decisions, against a fake kernel and a real state database."""

from __future__ import annotations

import ipaddress
import json

import pytest

from berth.errors import AlreadyExists, Conflict, InvalidArgument, NetworkNotFound, NotFound, Unsupported
from berth.network import PortBinding, plan
from berth.network.nat import rules
from berth.network.nat.rules import PortRule

from .conftest import Env


def test_create_brings_the_network_up_and_starts_dns(env: Env) -> None:
    net = env.nm.create("app", labels={"team": "a"})
    assert net.subnet == ipaddress.IPv4Network("10.89.0.0/24") and net.gateway == ipaddress.IPv4Address("10.89.0.1")
    assert net.bridge == "br-" + net.id[:12] and net.dns and not net.internal
    bridge_ups = env.kernel.ops(plan.BridgeUp)
    assert [op.name for op in bridge_ups] == [net.bridge]  # type: ignore[attr-defined]
    assert bridge_ups[0].mac == "02:" + ":".join(net.id[i:i + 2] for i in range(0, 10, 2))  # type: ignore[attr-defined]
    assert plan.Sysctl("net/ipv4/ip_forward", "1") in env.kernel.applied
    assert env.dns.running
    assert env.nm.get("app") == net == env.nm.get(net.id[:5])


def test_auto_subnets_avoid_networks_and_host_routes(env: Env) -> None:
    env.kernel.host_routes = [("eth0", ipaddress.IPv4Network("10.89.1.0/24"))]
    a = env.nm.create("a")
    b = env.nm.create("b")
    assert (str(a.subnet), str(b.subnet)) == ("10.89.0.0/24", "10.89.2.0/24")


def test_bad_input_leaves_nothing(env: Env) -> None:
    env.nm.create("app", subnet="10.50.0.0/16")
    before = list(env.kernel.applied)
    with pytest.raises(Conflict, match="overlaps 10.50.0.0/16 of network app"):
        env.nm.create("other", subnet="10.50.3.0/24")
    env.kernel.host_routes = [("eth0", ipaddress.IPv4Network("192.0.2.0/24"))]
    with pytest.raises(Conflict, match="a route on eth0"):
        env.nm.create("other", subnet="192.0.2.0/25")
    with pytest.raises(InvalidArgument, match="invalid subnet"):
        env.nm.create("other", subnet="10.60.0.0/99")
    with pytest.raises(InvalidArgument, match="invalid gateway"):
        env.nm.create("other", subnet="10.60.0.0/24", gateway="10.61.0.1")
    with pytest.raises(InvalidArgument, match="network name"):
        env.nm.create("-bad name")
    with pytest.raises(AlreadyExists):
        env.nm.create("app")
    with pytest.raises(AlreadyExists):
        env.nm.create("bridge")
    with pytest.raises(Unsupported):
        env.nm.create("ov", driver="overlay")
    assert env.kernel.applied == before
    assert [n.name for n in env.nm.list()] == ["bridge", "host", "none", "app"]


def test_failed_bring_up_is_rolled_back(env: Env) -> None:
    env.kernel.fail_on = plan.Nft
    with pytest.raises(OSError):
        env.nm.create("app")
    with pytest.raises(NetworkNotFound):
        env.nm.get("app")
    assert not env.kernel.links


def test_fifty_sandboxes_get_fifty_addresses(env: Env) -> None:
    env.nm.create("app", subnet="10.70.0.0/24")
    eps = [env.nm.connect(cid, "app", ns) for cid, ns in (env.sandbox(i) for i in range(50))]
    assert len({ep.ip for ep in eps}) == 50
    assert all(ep.ip != ipaddress.IPv4Address("10.70.0.1") for ep in eps)
    assert len({ep.host_ifname for ep in eps}) == 50
    assert {ep.ifname for ep in eps} == {"eth0"}


def test_leases_are_freed_and_not_reused_at_once(env: Env) -> None:
    env.nm.create("app", subnet="10.70.0.0/24")
    (c1, n1), (c2, n2) = env.sandbox(1), env.sandbox(2)
    e1 = env.nm.connect(c1, "app", n1)
    env.nm.release(c1)
    e2 = env.nm.connect(c2, "app", n2)
    assert e2.ip != e1.ip  # round robin
    assert env.nm.endpoints(c1) == []
    with pytest.raises(Conflict, match="active endpoint"):
        env.nm.remove("app")
    env.nm.release(c2)
    env.nm.release(c2)  # idempotent
    env.nm.remove("app")


def test_connect_errors_leave_no_lease(env: Env) -> None:
    env.nm.create("app", subnet="10.70.0.0/24")
    cid, ns = env.sandbox(1)
    with pytest.raises(NetworkNotFound, match="network nope not found"):
        env.nm.connect(cid, "nope", ns)
    with pytest.raises(InvalidArgument, match="does not exist"):
        env.nm.connect(cid, "app", ns + "-missing")
    with pytest.raises(InvalidArgument, match="host"):
        env.nm.connect(cid, "host", ns)
    with pytest.raises(InvalidArgument, match="mac"):
        env.nm.connect(cid, "app", ns, mac="01:00:5e:00:00:01")
    with pytest.raises(Conflict, match="gateway"):
        env.nm.connect(cid, "app", ns, ip="10.70.0.1")
    env.kernel.fail_on = plan.VethAttach
    with pytest.raises(OSError):
        env.nm.connect(cid, "app", ns)
    env.kernel.fail_on = None
    assert env.nm.endpoints(cid) == []
    ep = env.nm.connect(cid, "app", ns, ip="10.70.0.50")
    assert str(ep.ip) == "10.70.0.50"
    with pytest.raises(AlreadyExists):
        env.nm.connect(cid, "app", ns)
    other, ns2 = env.sandbox(2)
    with pytest.raises(Conflict, match="in use"):
        env.nm.connect(other, "app", ns2, ip="10.70.0.50")


def test_two_networks_two_interfaces_one_default_route(env: Env) -> None:
    env.nm.create("front", subnet="10.71.0.0/24")
    env.nm.create("back", subnet="10.72.0.0/24", internal=True)
    env.nm.create("third", subnet="10.73.0.0/24")
    cid, ns = env.sandbox(1)
    back = env.nm.connect(cid, "back", ns)
    front = env.nm.connect(cid, "front", ns)
    third = env.nm.connect(cid, "third", ns)
    assert (back.ifname, front.ifname, third.ifname) == ("eth0", "eth1", "eth2")
    assert (back.default_route, front.default_route, third.default_route) == (False, True, False)
    attach = [op for op in env.kernel.ops(plan.VethAttach)]
    assert [op.gateway for op in attach] == [None, front.gateway, None]  # type: ignore[attr-defined]
    env.nm.disconnect(cid, "front")
    assert env.kernel.applied[-1] == plan.DefaultRoute(ns, "eth2", third.gateway)  # type: ignore[arg-type]
    assert [e.default_route for e in env.nm.endpoints(cid)] == [False, True]
    with pytest.raises(NotFound, match="not connected"):
        env.nm.disconnect(cid, "front")


def test_publish_chooses_free_ports_and_refuses_clashes(env: Env) -> None:
    env.nm.create("app", subnet="10.70.0.0/24")
    (c1, n1), (c2, n2) = env.sandbox(1), env.sandbox(2)
    e1, e2 = env.nm.connect(c1, "app", n1), env.nm.connect(c2, "app", n2)
    made = env.nm.publish(c1, e1, [PortBinding("", 0, 80, "tcp"), PortBinding("127.0.0.1", 8080, 80, "tcp")])
    assert made == [PortBinding("0.0.0.0", 40000, 80, "tcp"), PortBinding("127.0.0.1", 8080, 80, "tcp")]
    with pytest.raises(Conflict, match=r"0\.0\.0\.0:8080/tcp is already published by container " + c1[:12]):
        env.nm.publish(c2, e2, [PortBinding("", 8080, 80, "tcp")])
    env.kernel.busy_ports.add(("0.0.0.0", 9090, "udp"))
    with pytest.raises(Conflict, match="another program"):
        env.nm.publish(c2, e2, [PortBinding("", 9091, 53, "udp"), PortBinding("", 9090, 53, "udp")])
    assert env.nm.ports(c2) == []  # the first binding of the failed call is not kept
    assert env.nm.publish(c2, e2, [PortBinding("", 8080, 80, "udp")]) == [PortBinding("0.0.0.0", 8080, 80, "udp")]
    with pytest.raises(NotFound):
        env.nm.publish(c2, e1, [PortBinding("", 1, 1)])
    env.nm.release(c1)
    unpublished = [op for op in env.kernel.ops(plan.Nft) if "delete element" in op.script.text]  # type: ignore[attr-defined]
    assert "tcp_any { 40000 }" in unpublished[-1].script.text  # type: ignore[attr-defined]
    assert env.nm.publish(c2, e2, [PortBinding("", 8080, 80, "tcp")])


def test_reconcile_frees_what_dead_sandboxes_held(env: Env) -> None:
    env.nm.create("app", subnet="10.70.0.0/24")
    (c1, n1), (c2, n2) = env.sandbox(1), env.sandbox(2)
    env.nm.connect(c1, "app", n1)
    e2 = env.nm.connect(c2, "app", n2)
    env.nm.publish(c2, e2, [PortBinding("", 8080, 80)])
    env.kernel.delete_netns(n2)  # as if the host rebooted under c2
    assert env.nm.reconcile() == [c2]
    assert env.nm.endpoints(c2) == [] and env.nm.ports(c2) == []
    assert len(env.nm.endpoints(c1)) == 1


def test_stale_port_elements_are_swept(env: Env) -> None:
    """Map elements no port row accounts for (a container whose release missed them):
    a new lease of their address sweeps them, and so do a clashing publish and
    reconcile; the elements of current containers stay."""
    env.nm.create("app", subnet="10.70.0.0/24")
    (c1, n1), (c2, n2) = env.sandbox(1), env.sandbox(2)
    e1 = env.nm.connect(c1, "app", n1)
    env.nm.publish(c1, e1, [PortBinding("", 8080, 80)])
    current = PortRule("tcp", "0.0.0.0", 8080, e1.ip, 80)
    ghost = PortRule("tcp", "0.0.0.0", 18090, ipaddress.IPv4Address("10.70.0.3"), 80)
    other = PortRule("udp", "127.0.0.1", 5353, ipaddress.IPv4Address("10.70.0.9"), 53)
    env.kernel.port_elements = [current, ghost, other]
    e2 = env.nm.connect(c2, "app", n2)
    assert e2.ip == ghost.container_ip
    deleted = [op.script.text for op in env.kernel.ops(plan.Nft) if "delete element" in op.script.text]  # type: ignore[attr-defined]
    assert deleted[-1] == "delete element ip berth tcp_any { 18090 }\n"  # only the one on the new address
    assert env.nm.sweep_ports() == [ghost, other]  # the fake kernel keeps what it was given
    env.kernel.port_elements = [other]
    assert env.nm.reconcile() == [] and env.kernel.applied[-1] == plan.Nft(
        rules.unpublish("berth", [other]), tolerant=True)


def test_a_publish_the_kernel_refuses_sweeps_and_retries(env: Env) -> None:
    env.nm.create("app", subnet="10.70.0.0/24")
    c1, n1 = env.sandbox(1)
    e1 = env.nm.connect(c1, "app", n1)
    ghost = PortRule("tcp", "0.0.0.0", 8080, ipaddress.IPv4Address("10.70.0.50"), 80)
    env.kernel.port_elements = [ghost]
    calls = []
    apply = env.kernel.apply

    def refuse_first_publish(steps: plan.Plan) -> None:
        if any(isinstance(op, plan.Nft) and "add element" in op.script.text for op in steps) and not calls:
            calls.append(steps)
            raise OSError(17, "File exists")
        apply(steps)

    env.kernel.apply = refuse_first_publish  # type: ignore[method-assign]
    assert env.nm.publish(c1, e1, [PortBinding("", 8080, 80)]) == [PortBinding("0.0.0.0", 8080, 80)]
    assert calls and env.nm.ports(c1) == [PortBinding("0.0.0.0", 8080, 80)]
    env.kernel.port_elements = []
    calls.clear()
    with pytest.raises(OSError):  # nothing stale to sweep: the kernel's refusal stands
        env.nm.publish(c1, e1, [PortBinding("", 8081, 80)])
    assert env.nm.ports(c1) == [PortBinding("0.0.0.0", 8080, 80)]


def test_default_subnet_must_not_clash_with_the_host(env: Env) -> None:
    env.kernel.host_routes = [("eth0", ipaddress.IPv4Network("10.88.4.0/24"))]
    with pytest.raises(Conflict, match="BERTH_NET_DEFAULT_SUBNET"):
        env.nm.default()
    assert not env.kernel.links


def test_default_network_and_teardown(env: Env) -> None:
    net = env.nm.default()
    assert (net.name, net.bridge, str(net.subnet), net.builtin, net.dns) == ("bridge", "berth0", "10.88.0.0/16", True, False)
    cid, ns = env.sandbox(1)
    ep = env.nm.connect(cid, "bridge", ns, name="web")
    assert str(ep.gateway) == "10.88.0.1"
    assert env.nm.teardown() == []  # in use
    with pytest.raises(Conflict, match="pre-defined"):
        env.nm.remove("bridge")
    env.nm.release(cid)
    assert env.nm.teardown() == ["bridge"]
    assert "berth0" not in env.kernel.links
    assert env.kernel.shared == set()


def test_resolv_conf_and_hosts(env: Env) -> None:
    env.nm.create("app", subnet="10.70.0.0/24")
    env.nm.default()
    (c1, n1), (c2, n2) = env.sandbox(1), env.sandbox(2)
    env.nm.connect(c1, "app", n1, name="web", hostname="webhost")
    env.nm.connect(c2, "bridge", n2)
    assert env.nm.resolv_conf(c1) == "nameserver 10.70.0.1\nsearch example.test\noptions ndots:2\n"
    # the default bridge: the host's resolvers minus loopback ones
    assert env.nm.resolv_conf(c2).startswith("nameserver 192.0.2.53\n")
    assert env.nm.resolv_conf(c2, servers=["9.9.9.9"], search=["x"]).startswith("nameserver 9.9.9.9\nsearch x\n")
    lines = [str(e) for e in env.nm.hosts_entries(c1)]
    assert lines[0] == "127.0.0.1\tlocalhost" and lines[-1] == "10.70.0.2\twebhost web"
    assert [str(e) for e in env.nm.hosts_entries(c2)][-1] == f"10.88.0.2\t{c2[:12]}"
    nobody = "f" * 64
    assert env.nm.endpoints(nobody) == [] and len(env.nm.hosts_entries(nobody)) == 6
    assert env.nm.resolv_conf(nobody).startswith("nameserver 192.0.2.53")


def test_list_filters_and_prune(env: Env) -> None:
    env.nm.create("front", labels={"tier": "web", "keep": ""})
    env.nm.create("back", labels={"tier": "db"})
    used = env.nm.create("used")
    cid, ns = env.sandbox(1)
    env.nm.connect(cid, "used", ns)
    names = lambda **f: [n.name for n in env.nm.list(f)]  # noqa: E731
    assert names(type="custom") == ["front", "back", "used"]
    assert names(type="builtin") == ["bridge", "host", "none"]
    assert names(label="tier=web") == ["front"]
    assert names(label=["tier", "keep"]) == ["front"]
    assert names(name="ac") == ["back"]
    assert names(driver="null") == ["none"]
    assert names(id=used.id[:6]) == ["used"]
    assert names(dangling="false") == ["used"]
    with pytest.raises(InvalidArgument):
        env.nm.list({"colour": "red"})
    assert env.nm.prune({"label": "tier=db"}) == ["back"]
    assert env.nm.prune() == ["front"]
    assert [n.name for n in env.nm.list()] == ["bridge", "host", "none", "used"]


def test_last_network_removes_the_table_and_stops_dns(env: Env) -> None:
    a = env.nm.create("a")
    env.nm.create("b")
    env.nm.remove("b")
    down = [op for op in env.kernel.ops(plan.Nft) if op.tolerant]  # type: ignore[attr-defined]
    assert "delete table" not in down[-1].script.text  # type: ignore[attr-defined]
    assert env.dns.running
    env.nm.remove(a.id)
    down = [op for op in env.kernel.ops(plan.Nft) if op.tolerant]  # type: ignore[attr-defined]
    assert down[-1].script.commands == ("delete table ip berth",)  # type: ignore[attr-defined]
    assert not env.dns.running and not env.kernel.links


def test_labels_round_trip_through_the_database(env: Env) -> None:
    env.nm.create("app", labels={"a": "1"}, options={"com.docker.network.driver.mtu": "1400"})
    row = env.db.conn.execute("SELECT labels, mtu FROM networks WHERE name = 'app'").fetchone()
    assert json.loads(row[0]) == {"a": "1"} and row[1] == 1400
    assert env.nm.get("app").labels == {"a": "1"}
