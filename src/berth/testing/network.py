"""In-memory stand-ins for berth.network's side effects, for tests without root.

``FakeKernel`` implements ``berth.network.kernel.Kernel``: it records every plan it is
given, keeps "sandboxes" as plain files, and answers probes from fields a test sets.
``FakeDns`` records what the DNS server was asked to be.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Collection

from berth.network import plan
from berth.network.nat import rules


class FakeKernel:
    def __init__(self) -> None:
        self.applied: list[plan.Op] = []
        self.links: set[str] = set()
        self.host_routes: list[tuple[str, ipaddress.IPv4Network]] = []
        self.busy_ports: set[tuple[str, int, str]] = set()
        self.fail_on: type | None = None  # raise when an op of this type is applied
        self.next_port = 40000
        self.shared: set[str] = set()
        self.port_elements: list[rules.PortRule] = []  # what published_ports answers

    def apply(self, steps: plan.Plan) -> None:
        for op in steps:
            if self.fail_on is not None and isinstance(op, self.fail_on) and not getattr(op, "tolerant", False):
                raise OSError(5, f"fake failure applying {type(op).__name__}")
            self.applied.append(op)
            if isinstance(op, plan.BridgeUp):
                self.links.add(op.name)
            elif isinstance(op, plan.VethAttach):
                self.links.add(op.host_ifname)
            elif isinstance(op, plan.LinkDown):
                self.links.discard(op.name)

    def link_exists(self, name: str) -> bool:
        return name in self.links

    def bridge_ports(self, bridge: str) -> list[str]:
        return []

    def create_netns(self, path: str) -> None:
        self.shared.add(os.path.dirname(path))
        with open(path, "x"):
            pass

    def delete_netns(self, path: str) -> None:
        if os.path.exists(path):
            os.unlink(path)

    def close_sandbox_dir(self, path: str) -> None:
        self.shared.discard(path)

    def live_netns(self, paths: Collection[str]) -> set[str]:
        return {p for p in paths if os.path.exists(p)}

    def host_subnets(self) -> list[tuple[str, ipaddress.IPv4Network]]:
        return list(self.host_routes)

    def published_ports(self, table: str) -> list[rules.PortRule]:
        return list(self.port_elements)

    def port_available(self, host_ip: str, port: int, proto: str) -> bool:
        return (host_ip, port, proto) not in self.busy_ports and ("0.0.0.0", port, proto) not in self.busy_ports

    def free_port(self, host_ip: str, proto: str, avoid: Collection[int]) -> int:
        while self.next_port in avoid:
            self.next_port += 1
        self.next_port += 1
        return self.next_port - 1

    def ops(self, kind: type) -> list[plan.Op]:
        return [op for op in self.applied if isinstance(op, kind)]


class FakeDns:
    def __init__(self) -> None:
        self.wanted: list[bool] = []

    def sync(self, wanted: bool) -> None:
        self.wanted.append(wanted)

    @property
    def running(self) -> bool:
        return bool(self.wanted and self.wanted[-1])
