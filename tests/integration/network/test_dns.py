"""berth's DNS: forwards what is not a container name, and goes with the last network."""

from __future__ import annotations

import os

from .conftest import UPSTREAM_ADDRESS, UPSTREAM_NAME, Lab, running


def test_other_names_are_forwarded_to_the_host_resolvers(lab: Lab) -> None:
    lab.nm.create("app")
    box = lab.box("box", "app")
    assert box.resolve(UPSTREAM_NAME) == [UPSTREAM_ADDRESS]
    assert UPSTREAM_NAME in lab.upstream.queries
    assert box.resolve("no-such-name.test") == []
    assert "nameserver " + str(lab.nm.get("app").gateway) in open(os.path.join(box.root, "etc/resolv.conf")).read()


def test_dns_server_starts_with_the_first_network_and_stops_with_the_last(lab: Lab) -> None:
    pid_file = os.path.join(lab.run, "network", "dns.pid")
    assert not os.path.exists(pid_file)
    a = lab.nm.create("a")
    pid = int(open(pid_file).read())
    b = lab.nm.create("b")
    assert int(open(pid_file).read()) == pid  # one server for every network
    box = lab.box("box", "b")
    assert box.resolve("box") == [box.ip("b")]
    lab.nm.remove(a.id)
    assert running(pid)
    lab.nm.release(box.id)
    lab.nm.remove(b.id)
    assert not running(pid) and not os.path.exists(pid_file)
    assert not os.path.exists(os.path.join(lab.run, "network", "dns.sock"))
