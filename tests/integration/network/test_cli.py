"""`berth network` end to end, through the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .conftest import Lab


def berth(lab: Lab, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    cfg = lab.config
    env = dict(os.environ, BERTH_ROOT=lab.root, BERTH_RUN=lab.run, BERTH_NET_TABLE=cfg.table,
               BERTH_NET_DEFAULT_BRIDGE=cfg.default_bridge, BERTH_NET_DEFAULT_SUBNET=cfg.default_subnet,
               BERTH_NET_POOL=cfg.pool, BERTH_NET_BRIDGE_PREFIX=cfg.bridge_prefix,
               BERTH_NET_VETH_PREFIX=cfg.veth_prefix, BERTH_NET_DNS_UPSTREAMS=",".join(cfg.dns_upstreams or ()))
    return subprocess.run([sys.executable, "-m", "berth", "network", *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=60)


def test_network_verbs(lab: Lab) -> None:
    created = berth(lab, "create", "--subnet", "10.233.7.0/24", "--label", "tier=web", "front")
    assert created.returncode == 0, created.stderr
    net_id = created.stdout.strip()
    assert len(net_id) == 64

    listed = berth(lab, "ls").stdout.splitlines()
    assert listed[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    assert [line.split()[1] for line in listed[1:]] == ["bridge", "front", "host", "none"]
    assert berth(lab, "ls", "-q", "--filter", "label=tier=web").stdout.strip() == net_id[:12]

    (shown,) = json.loads(berth(lab, "inspect", "front").stdout)
    assert set(shown) >= {"Name", "Id", "Created", "Scope", "Driver", "EnableIPv6", "IPAM", "Internal",
                          "Attachable", "Ingress", "ConfigFrom", "ConfigOnly", "Containers", "Options", "Labels"}
    assert shown["IPAM"]["Config"] == [{"Subnet": "10.233.7.0/24", "Gateway": "10.233.7.1"}]
    assert shown["Labels"] == {"tier": "web"}

    box = lab.box("box")
    joined = berth(lab, "connect", "--alias", "api", "--ip", "10.233.7.20", "front", box.id[:10])
    assert joined.returncode == 0, joined.stderr
    (shown,) = json.loads(berth(lab, "inspect", "front").stdout)
    assert shown["Containers"][box.id]["IPv4Address"] == "10.233.7.20/24"
    assert berth(lab, "inspect", "-f", "{{.Name}} {{.Internal}}", "front").stdout == "front false\n"

    busy = berth(lab, "rm", "front")
    assert busy.returncode == 125 and "active endpoint" in busy.stderr
    assert berth(lab, "disconnect", "front", box.id).returncode == 0
    assert berth(lab, "rm", "front").stdout == "front\n"

    bad = berth(lab, "create", "--subnet", "10.0.0.0/99", "bad")
    assert bad.returncode == 125 and "invalid subnet" in bad.stderr
    missing = berth(lab, "connect", "nope", box.id)
    assert missing.returncode == 125 and "network nope not found" in missing.stderr

    berth(lab, "create", "spare")
    pruned = berth(lab, "prune", "-f")
    assert pruned.stdout == "Deleted Networks:\nspare\n"


def test_every_verb_has_help(lab: Lab) -> None:
    for verb in ("create", "ls", "inspect", "rm", "connect", "disconnect", "prune"):
        out = berth(lab, verb, "--help")
        assert out.returncode == 0 and "Usage: berth network" in out.stdout and "Options:" in out.stdout
