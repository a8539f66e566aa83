"""The contents of a container's /etc/resolv.conf and /etc/hosts (pure functions).

On a network with berth's DNS (every user-defined bridge network) the container asks
the network's gateway, where berth's DNS answers container names and forwards the rest
to the host's resolvers. Otherwise it gets the host's resolvers, minus loopback ones
(127.0.0.0/8 and ::1 mean nothing inside the container). The host's ``search`` and
``options`` lines are kept, as Docker does.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import NamedTuple

from berth.network.types import Endpoint, HostsEntry

LOCALHOST = (
    HostsEntry("127.0.0.1", ("localhost",)),
    HostsEntry("::1", ("localhost", "ip6-localhost", "ip6-loopback")),
    HostsEntry("fe00::0", ("ip6-localnet",)),
    HostsEntry("ff00::0", ("ip6-mcastprefix",)),
    HostsEntry("ff02::1", ("ip6-allnodes",)),
    HostsEntry("ff02::2", ("ip6-allrouters",)),
)


class ResolvConf(NamedTuple):
    nameservers: tuple[str, ...] = ()
    search: tuple[str, ...] = ()
    options: tuple[str, ...] = ()

    def render(self) -> str:
        lines = [f"nameserver {ns}" for ns in self.nameservers]
        if not self.nameservers:
            lines.append("# berth: the host has no nameserver a container can reach")
        if self.search:
            lines.append("search " + " ".join(self.search))
        if self.options:
            lines.append("options " + " ".join(self.options))
        return "\n".join(lines) + "\n"


def parse(text: str) -> ResolvConf:
    servers: list[str] = []
    search: tuple[str, ...] = ()
    options: list[str] = []
    for raw in text.splitlines():
        fields = raw.split("#", 1)[0].split(";", 1)[0].split()
        if not fields:
            continue
        key, values = fields[0], fields[1:]
        if key == "nameserver" and values:
            servers.append(values[0])
        elif key in ("search", "domain"):
            search = tuple(values)  # the last of search/domain wins, as in glibc
        elif key == "options":
            options.extend(values)
    return ResolvConf(tuple(servers), search, tuple(options))


def is_loopback(server: str) -> bool:
    try:
        return ipaddress.ip_address(server.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def upstreams(host: ResolvConf) -> tuple[str, ...]:
    """Where berth's DNS (on the host) forwards: every host nameserver, loopback ones too."""
    return host.nameservers


def for_container(host: ResolvConf, endpoints: Sequence[Endpoint], dns_networks: set[str], *,
                  servers: Sequence[str] = (), search: Sequence[str] = (),
                  options: Sequence[str] = ()) -> ResolvConf:
    """The container's resolv.conf. ``dns_networks``: ids of networks with berth's DNS.
    ``servers``/``search``/``options`` (``--dns`` and friends) replace the computed ones."""
    chosen: tuple[str, ...]
    if servers:
        chosen = tuple(servers)
    else:
        berth = [ep for ep in endpoints if ep.network_id in dns_networks and ep.gateway is not None]
        if berth:
            chosen = (str(berth[0].gateway),)
        else:
            chosen = tuple(s for s in host.nameservers if not is_loopback(s))
    return ResolvConf(chosen, tuple(search) or host.search, tuple(options) or host.options)


def hosts(container_id: str, endpoints: Sequence[Endpoint], hostname: str | None = None) -> list[HostsEntry]:
    """localhost lines, then the container's first address with its hostname (the short
    id when none was given) and its name, as Docker and Podman write them."""
    entries = list(LOCALHOST)
    if endpoints:
        first = endpoints[0]
        names = [hostname or first.hostname or container_id[:12], first.name]
        entries.append(HostsEntry(str(first.ip), tuple(dict.fromkeys(n for n in names if n))))
    return entries
