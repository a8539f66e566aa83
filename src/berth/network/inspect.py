"""Networks in the shapes Docker's clients read: ``network inspect`` JSON and the
``network ls`` row. Pure functions; the CLI and the REST API print what they return."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from berth.network.types import Endpoint, Network


def docker_json(net: Network, endpoints: Sequence[Endpoint]) -> dict[str, Any]:
    """One element of ``docker network inspect``'s list."""
    config: list[dict[str, str]] = []
    if net.subnet is not None:
        entry = {"Subnet": str(net.subnet), "Gateway": str(net.gateway)}
        if net.ip_range is not None:
            entry["IPRange"] = str(net.ip_range)
        config.append(entry)
    return {
        "Name": net.name,
        "Id": net.id,
        "Created": net.created,
        "Scope": "local",
        "Driver": net.driver,
        "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": {}, "Config": config},
        "Internal": net.internal,
        "Attachable": False,
        "Ingress": False,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": False,
        "Containers": {
            ep.container_id: {
                "Name": ep.name or ep.container_id[:12],
                "EndpointID": ep.id,
                "MacAddress": ep.mac,
                "IPv4Address": f"{ep.ip}/{ep.prefixlen}",
                "IPv6Address": "",
            }
            for ep in endpoints
        },
        "Options": dict(net.options),
        "Labels": dict(net.labels),
    }


def ls_row(net: Network) -> dict[str, Any]:
    """The fields ``network ls --format`` knows: ID, Name, Driver, Scope, IPv6, Internal,
    Labels, CreatedAt."""
    return {
        "ID": net.id,
        "Name": net.name,
        "Driver": net.driver,
        "Scope": "local",
        "IPv6": "false",
        "Internal": str(net.internal).lower(),
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(net.labels.items())),
        "CreatedAt": net.created,
    }


def endpoint_json(ep: Endpoint) -> dict[str, Any]:
    """A container's ``NetworkSettings.Networks[name]`` entry."""
    return {
        "IPAMConfig": None,
        "Links": None,
        "Aliases": list(ep.aliases) or None,
        "MacAddress": ep.mac,
        "NetworkID": ep.network_id,
        "EndpointID": ep.id,
        "Gateway": str(ep.gateway or ""),
        "IPAddress": str(ep.ip),
        "IPPrefixLen": ep.prefixlen,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "DNSNames": list(ep.dns_names) or None,
    }
