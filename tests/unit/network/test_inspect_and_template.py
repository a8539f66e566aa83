from __future__ import annotations

import pytest

from berth.cli import template
from berth.errors import InvalidArgument
from berth.network import PortBinding
from berth.network.inspect import docker_json, endpoint_json, ls_row

from .conftest import Env


def test_inspect_has_dockers_shape(env: Env) -> None:
    net = env.nm.create("app", subnet="10.70.0.0/24", labels={"a": "b"})
    cid, ns = env.sandbox(1)
    ep = env.nm.connect(cid, "app", ns, name="web", aliases=("www",))
    env.nm.publish(cid, ep, [PortBinding("", 8080, 80)])
    shown = docker_json(net, env.nm.attached("app"))
    assert shown["IPAM"] == {"Driver": "default", "Options": {}, "Config": [{"Subnet": "10.70.0.0/24",
                                                                              "Gateway": "10.70.0.1"}]}
    assert shown["Containers"][cid] == {"Name": "web", "EndpointID": ep.id, "MacAddress": ep.mac,
                                        "IPv4Address": "10.70.0.2/24", "IPv6Address": ""}
    assert (shown["Scope"], shown["EnableIPv6"], shown["Labels"]) == ("local", False, {"a": "b"})
    assert endpoint_json(ep)["DNSNames"] == ["web", "www", cid[:12]]
    none = docker_json(env.nm.get("none"), [])
    assert none["Driver"] == "null" and none["IPAM"]["Config"] == []
    assert ls_row(net)["Labels"] == "a=b"


def test_templates() -> None:
    data = {"Name": "app", "IPAM": {"Config": [{"Subnet": "10.0.0.0/24"}]}, "Internal": False}
    assert template.render("{{.Name}}\\t{{.Internal}}", data) == "app\tfalse"
    assert template.render("{{json .IPAM.Config}}", data) == '[{"Subnet": "10.0.0.0/24"}]'
    assert template.render("{{.IPAM.Config}}", data) == "[map[Subnet:10.0.0.0/24]]"
    with pytest.raises(InvalidArgument, match="can't evaluate field Nope"):
        template.render("{{.Nope}}", data)
    with pytest.raises(InvalidArgument, match="unsupported"):
        template.render("{{range .IPAM.Config}}x{{end}}", data)
    assert template.table([["A", "BB"], ["ccc", "d"]]) == "A     BB\nccc   d"
