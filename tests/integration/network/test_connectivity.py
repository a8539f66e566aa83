"""Containers on a network reach each other by name; networks are walled off."""

from __future__ import annotations

import subprocess

from pyroute2 import IPRoute

from berth.network import plan

from .conftest import Lab


def test_containers_reach_each_other_by_name_and_other_networks_cannot(lab: Lab) -> None:
    lab.nm.create("app")
    lab.nm.create("other")
    web = lab.box("web", "app", aliases=("www",))
    client = lab.box("client", "app")
    stranger = lab.box("stranger", "other")
    web.serve_http("hello from web\n")

    assert client.resolve("web") == [web.ip("app")]
    assert client.resolve("www") == [web.ip("app")]
    assert client.resolve(web.id[:12]) == [web.ip("app")]
    # resolve, then connect: TCP through the bridge
    address = client.resolve("web")[0]
    assert "hello from web" in client.http_get(address)

    # another network: the name does not resolve and the address is unreachable
    assert stranger.resolve("web") == []
    assert stranger.http_get(web.ip("app")) == ""
    assert "hello from web" not in stranger.sh(f"ping -c 1 -W 1 {web.ip('app')}").stdout


def test_container_on_two_networks_has_an_interface_on_each(lab: Lab) -> None:
    front = lab.nm.create("front")
    back = lab.nm.create("back", internal=True)
    api = lab.box("api", "front")
    api.connect("back")
    db = lab.box("db", "back")
    db.serve_http("rows\n")
    shown = api.sh("ip -o -4 addr show").stdout
    lines = {line.split()[1]: line for line in shown.splitlines()}
    assert f"inet {api.ip('front')}/24" in lines["eth0"]
    assert f"inet {api.ip('back')}/24" in lines["eth1"]
    routes = api.sh("ip route").stdout
    assert f"default via {front.gateway} dev eth0" in routes  # the internal network gives no default route
    assert str(back.gateway) not in routes.split("default", 1)[1].splitlines()[0]
    assert api.resolve("db") == [db.ip("back")]
    # the gateway's MAC is fixed: it does not follow the ports that come and go
    shown = subprocess.run(["ip", "-br", "link", "show", front.bridge], capture_output=True, text=True).stdout
    assert plan.bridge_mac(front.id) in shown
    assert "rows" in api.http_get(db.ip("back"))


def test_fifty_sandboxes_get_fifty_distinct_addresses(lab: Lab) -> None:
    net = lab.nm.create("many", subnet="10.233.0.0/24")
    ids = [f"{i:02d}" + "c" * 62 for i in range(50)]
    eps = [lab.nm.connect(cid, "many", lab.nm.create_sandbox(cid)) for cid in ids]
    try:
        assert len({str(ep.ip) for ep in eps}) == 50
        # the kernel agrees (pyroute2 as an independent reader): 50 ports on the bridge,
        # and every sandbox has its own address on eth0
        with IPRoute() as ipr:
            bridge = ipr.link_lookup(ifname=net.bridge)[0]
            ports = [link for link in ipr.get_links() if link.get("master") == bridge]
        assert len(ports) == 50
        for ep in eps[::7]:
            shown = subprocess.run(["nsenter", f"--net={ep.netns}", "ip", "-o", "-4", "addr", "show", "eth0"],
                                   capture_output=True, text=True).stdout
            assert f"{ep.ip}/24" in shown
    finally:
        for cid in ids:
            lab.nm.release(cid)
    assert lab.nm.attached("many") == []
