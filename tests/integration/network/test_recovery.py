"""After a crash or a reboot: leases, rules and links come back to a consistent state."""

from __future__ import annotations

import os
import shutil
import subprocess

from berth.network import PortBinding
from berth.sys import nftables

from .conftest import Lab, http_get_host


def _map(lab: Lab, name: str) -> str:
    return nftables.run(f"list map ip {lab.config.table} {name}\n")


def test_reconcile_frees_what_a_dead_sandbox_held(lab: Lab) -> None:
    lab.nm.create("app")
    gone = lab.box("gone", "app")
    kept = lab.box("kept", "app")
    (binding,) = lab.nm.publish(gone.id, gone.endpoints["app"], [PortBinding("", 0, 80, "tcp")])
    assert f"{binding.host_port} :" in _map(lab, "tcp_any")
    # berth dies; the sandbox goes without it (the namespace file is unmounted)
    subprocess.run(["umount", gone.netns], check=True)
    assert lab.nm.reconcile() == [gone.id]
    assert lab.nm.endpoints(gone.id) == [] and lab.nm.ports(gone.id) == []
    assert f"{binding.host_port} :" not in _map(lab, "tcp_any")
    assert len(lab.nm.endpoints(kept.id)) == 1
    lab.nm.release(gone.id)  # idempotent, and fine with the sandbox file half gone


def test_networks_come_back_after_a_reboot(lab: Lab) -> None:
    net = lab.nm.create("app")
    web = lab.box("web", "app")
    web.serve_http("back again\n")
    lab.nm.publish(web.id, web.endpoints["app"], [PortBinding("127.0.0.1", 0, 80, "tcp")])
    # a reboot: processes, namespaces, links, nft rules and the run folder are gone
    for proc in lab.procs:
        proc.kill()
        proc.wait()
    subprocess.run(["umount", web.netns], check=True)
    subprocess.run(["umount", lab.nm.netns_dir], check=True)
    subprocess.run(["ip", "link", "del", net.bridge], check=True)
    nftables.run(f"delete table ip {lab.config.table}\n")
    dns_pid = int(open(os.path.join(lab.run, "network", "dns.pid")).read())
    os.kill(dns_pid, 9)
    shutil.rmtree(lab.run)
    os.makedirs(lab.run)

    assert lab.nm.reconcile() == [web.id]
    assert os.path.exists(os.path.join(lab.run, "network", "up", net.id))  # user networks are back up
    again = lab.box("again", "app")
    again.serve_http("back again\n")
    (binding,) = lab.nm.publish(again.id, again.endpoints["app"], [PortBinding("127.0.0.1", 0, 80, "tcp")])
    assert "back again" in http_get_host("127.0.0.1", binding.host_port)
    client = lab.box("client", "app")
    assert client.resolve("again") == [again.ip("app")]
