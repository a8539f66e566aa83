"""berth.network: bridges, veth pairs, address leases, published ports, names.

    from berth.network import NetworkManager, PortBinding
    nm = NetworkManager(db, root, run_root)
    netns = nm.create_sandbox(cid)
    ep = nm.connect(cid, "bridge", netns, name="web")
    nm.publish(cid, ep, [PortBinding("0.0.0.0", 8080, 80, "tcp")])
    ...
    nm.release(cid)

Importing this package costs almost nothing: the manager and its kernel wrappers load
on first use. See docs/networking.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from berth.network.types import Endpoint, HostsEntry, Network, NetworkConfig, PortBinding

if TYPE_CHECKING:
    from berth.network.manager import NetworkManager
    from berth.network.ports import parse_publish

__all__ = ["Endpoint", "HostsEntry", "Network", "NetworkConfig", "NetworkManager", "PortBinding", "parse_publish"]


def __getattr__(name: str) -> Any:
    if name == "NetworkManager":
        from berth.network.manager import NetworkManager

        return NetworkManager
    if name == "parse_publish":
        from berth.network.ports import parse_publish

        return parse_publish
    raise AttributeError(name)
