"""Checks of a ``ContainerConfig`` that hold whichever front end built it.

``ContainerConfig.validate()`` (model.py) runs these; ``Engine.create`` calls it before
it records or makes anything, so bad input fails the same way from the CLI, the REST
API and compose, and leaves nothing behind. Each check raises ``InvalidArgument`` with
one line naming the option and the value, in Docker's words where Docker has them.

Checks that need the image or the host (the user exists in the image's passwd, a
network exists, a port is free) belong to create and start, not here: this module
looks at the config alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from berth.errors import InvalidArgument

if TYPE_CHECKING:
    from berth.engine.model import ContainerConfig

RESTART_POLICIES = ("no", "always", "on-failure", "unless-stopped")
MOUNT_TYPES = ("bind", "volume", "tmpfs")
PROTOCOLS = ("tcp", "udp", "sctp")
LOG_TYPES = ("json-file", "local")


def validate(cfg: ContainerConfig) -> None:
    if not cfg.image:
        raise InvalidArgument("no image given")
    _restart(cfg)
    _mounts(cfg)
    _ports(cfg)
    _hosts(cfg)
    _resources(cfg)
    if cfg.log.type not in LOG_TYPES:
        raise InvalidArgument(f"log driver {cfg.log.type!r}: only json-file is available")
    if cfg.log.max_file < 1:
        raise InvalidArgument(f"invalid max-file {cfg.log.max_file!r}: a positive number")


def _restart(cfg: ContainerConfig) -> None:
    policy = cfg.restart
    if policy.name not in RESTART_POLICIES:
        raise InvalidArgument(
            f"invalid restart policy {policy.name!r}: use no, always, on-failure[:N] or unless-stopped")
    if policy.max_retries and policy.name != "on-failure":
        raise InvalidArgument(f"invalid restart policy {policy.name!r}: only on-failure takes a retry count")
    if policy.max_retries < 0:
        raise InvalidArgument(f"invalid restart policy on-failure:{policy.max_retries}: a count of 0 or more")


def _mounts(cfg: ContainerConfig) -> None:
    targets = [m.target for m in cfg.mounts]
    for m in cfg.mounts:
        if m.type not in MOUNT_TYPES:
            raise InvalidArgument(f"invalid mount type {m.type!r}: bind, volume or tmpfs")
        if not m.target.startswith("/"):
            raise InvalidArgument(f"invalid mount target {m.target!r}: the container path must be absolute")
        if m.type == "bind" and not m.source.startswith("/"):
            raise InvalidArgument(f"invalid mount source {m.source!r}: a bind source must be an absolute path")
    if len(targets) != len(set(targets)):
        raise InvalidArgument("duplicate mount point: " + next(t for t in targets if targets.count(t) > 1))


def _ports(cfg: ContainerConfig) -> None:
    for p in cfg.ports:
        if p.proto not in PROTOCOLS:
            raise InvalidArgument(f"invalid port {p.container_port}/{p.proto}: protocol must be tcp, udp or sctp")
        if not (1 <= p.container_port <= 65535) or not (0 <= p.host_port <= 65535):
            raise InvalidArgument(f"invalid port {p.host_port}:{p.container_port}/{p.proto}: ports are 1-65535")


def _hosts(cfg: ContainerConfig) -> None:
    for host in cfg.extra_hosts:
        if ":" not in host:
            raise InvalidArgument(f"invalid --add-host {host!r}: expected host:ip")


def _resources(cfg: ContainerConfig) -> None:
    for name, value in (("--memory", cfg.memory), ("--memory-reservation", cfg.memory_reservation),
                        ("--cpus", cfg.nano_cpus), ("--shm-size", cfg.shm_size)):
        if value < 0:
            raise InvalidArgument(f"invalid {name} {value}: must not be negative")
    if cfg.memory_swap < -1:
        raise InvalidArgument(f"invalid --memory-swap {cfg.memory_swap}: -1 (unlimited) or a size")
