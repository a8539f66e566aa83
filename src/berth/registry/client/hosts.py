"""Which address serves a registry, and whether it may be reached without TLS.

A reference's domain names the registry (``docker.io``, ``127.0.0.1:5000``); Docker
Hub is served by ``registry-1.docker.io``. Registries speak HTTPS with verified
certificates, except *insecure* ones, which are tried over HTTPS without verifying the
certificate and then over plain HTTP (Docker's and Podman's order). Insecure are:

* loopback registries: ``localhost`` (and ``*.localhost``), any address in 127.0.0.0/8
  or ``::1``, and names that resolve to one (traffic that never leaves the machine);
* the registries listed in ``--insecure-registry`` options or the environment variable
  ``BERTH_INSECURE_REGISTRIES`` (comma- or space-separated): ``host``, ``host:port`` or
  a CIDR such as ``10.0.0.0/8`` (which matches registries whose address is in it).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass

from berth.errors import InvalidArgument
from berth.oci.reference import DEFAULT_DOMAIN

ENV_INSECURE = "BERTH_INSECURE_REGISTRIES"
DOCKER_HUB_API = "registry-1.docker.io"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class RegistryHost:
    name: str  # as references spell it: docker.io, 127.0.0.1:5000
    address: str  # what to connect to: registry-1.docker.io, 127.0.0.1:5000
    insecure: bool

    @property
    def endpoints(self) -> tuple[str, ...]:
        """Base URLs to try, in order."""
        if self.insecure:
            return (f"https://{self.address}", f"http://{self.address}")
        return (f"https://{self.address}",)


def split_host(host: str) -> tuple[str, int | None]:
    """``[::1]:5000`` → ("::1", 5000); ``example.com`` → ("example.com", None)."""
    if host.startswith("["):
        addr, _, rest = host[1:].partition("]")
        return addr, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit() and ":" not in name:
        return name, int(port)
    return host, None


class InsecureRules:
    """The insecure-registry list: exact hosts, hosts without port, and networks."""

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self.hosts: set[str] = set()
        self.networks: list[Network] = []
        for raw in entries:
            for entry in raw.replace(",", " ").split():
                entry = entry.strip().removeprefix("http://").removeprefix("https://").rstrip("/")
                if not entry:
                    continue
                if "/" in entry:
                    try:
                        self.networks.append(ipaddress.ip_network(entry, strict=False))
                    except ValueError:
                        raise InvalidArgument(f"insecure registry {entry!r}: not a host[:port] or a CIDR") \
                            from None
                else:
                    self.hosts.add(entry.lower())

    @classmethod
    def from_env(cls, extra: Iterable[str] = ()) -> InsecureRules:
        return cls([os.environ.get(ENV_INSECURE, ""), *extra])

    def insecure(self, host: str) -> bool:
        host = host.lower()
        name, _port = split_host(host)
        if host in self.hosts or name in self.hosts:
            return True
        if name == "localhost" or name.endswith(".localhost"):
            return True
        for address in _addresses(name):
            if address.is_loopback or any(address in net for net in self.networks):
                return True
        return False


def _addresses(name: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(name)]
    except ValueError:
        pass
    if not name or name in (DEFAULT_DOMAIN, DOCKER_HUB_API):
        return []
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    out = []
    for info in infos:
        try:
            out.append(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]))
        except ValueError:
            continue
    return out


def registry_host(domain: str, rules: InsecureRules) -> RegistryHost:
    address = DOCKER_HUB_API if domain == DEFAULT_DOMAIN else domain
    return RegistryHost(domain, address, rules.insecure(domain))
