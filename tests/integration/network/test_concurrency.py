"""Several berth processes at once: one lease per address, every network brought up once."""

from __future__ import annotations

import subprocess
import sys

from .conftest import Lab

WORKER = """
import sys
from berth.network import NetworkConfig, NetworkManager
from berth.state import open_database
root, run_root, table, bridge, veth, worker = sys.argv[1:7]
cfg = NetworkConfig(default_bridge=bridge, default_subnet="10.231.0.0/16", table=table, veth_prefix=veth,
                    dns_upstreams=())
nm = NetworkManager(open_database(root), root, run_root, config=cfg)
for i in range(5):
    cid = f"w{worker}c{i}".ljust(64, "0")
    nm.connect(cid, "bridge", nm.create_sandbox(cid))
"""


def test_parallel_processes_never_share_an_address(lab: Lab) -> None:
    cfg = lab.config
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, lab.root, lab.run, cfg.table, cfg.default_bridge,
                               cfg.veth_prefix, str(n)]) for n in range(8)]
    assert [p.wait(timeout=60) for p in procs] == [0] * 8
    eps = lab.nm.attached("bridge")
    try:
        assert len(eps) == 40
        assert len({ep.ip for ep in eps}) == 40
        assert len({ep.host_ifname for ep in eps}) == 40
    finally:
        for ep in eps:
            lab.nm.release(ep.container_id)
