"""What a container is made of: the create request and its parts, as data.

``ContainerConfig`` is everything ``berth create``/``run`` (and later the REST API's
``POST /containers/create``) can ask for. It is stored as JSON in the database and is
the only input, with the image config, of spec generation (specgen.py).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from berth.errors import InvalidArgument


@dataclass(frozen=True, slots=True)
class MountSpec:
    """``-v``/``--mount``/``--tmpfs``: a bind, a named (or anonymous) volume, or a tmpfs."""

    type: str  # bind | volume | tmpfs
    target: str
    source: str = ""  # host path (bind), volume name (volume; "" = anonymous)
    read_only: bool = False
    propagation: str = ""  # rprivate, rshared, … (bind)
    tmpfs_size: int = 0
    tmpfs_mode: int = 0
    no_copy: bool = False  # volume: do not pre-fill from the image


@dataclass(frozen=True, slots=True)
class PortSpec:
    """``-p [IP:][HOSTPORT:]CPORT[/PROTO]``; host_port 0 means "pick a free one"."""

    container_port: int
    proto: str = "tcp"
    host_ip: str = ""
    host_port: int = 0


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    name: str = "no"  # no | always | on-failure | unless-stopped
    max_retries: int = 0

    @classmethod
    def parse(cls, text: str) -> RestartPolicy:
        name, _, count = text.partition(":")
        if name not in ("no", "always", "on-failure", "unless-stopped"):
            raise InvalidArgument(f"invalid restart policy {text!r}: use no, always, on-failure[:N] or unless-stopped")
        if count and (name != "on-failure" or not count.isdigit()):
            raise InvalidArgument(f"invalid restart policy {text!r}: only on-failure takes a retry count")
        return cls(name, int(count or 0))


@dataclass(frozen=True, slots=True)
class Health:
    """A health check; durations in nanoseconds as Docker stores them."""

    test: tuple[str, ...] = ()  # ["CMD", …] | ["CMD-SHELL", "…"] | ["NONE"]
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    retries: int = 0


@dataclass(frozen=True, slots=True)
class LogConfig:
    type: str = "json-file"
    max_size: int = 10 * 1024 * 1024  # rotation is on by default: 10 MB x 3 files
    max_file: int = 3


@dataclass(frozen=True, slots=True)
class ContainerConfig:
    image: str
    name: str = ""
    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    env: tuple[str, ...] = ()
    working_dir: str = ""
    user: str = ""
    group_add: tuple[str, ...] = ()
    hostname: str = ""
    domainname: str = ""
    tty: bool = False
    open_stdin: bool = False
    stdin_once: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    exposed_ports: tuple[str, ...] = ()
    mounts: tuple[MountSpec, ...] = ()
    ports: tuple[PortSpec, ...] = ()
    publish_all: bool = False
    network: str = "bridge"
    network_aliases: tuple[str, ...] = ()
    ip: str = ""
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_options: tuple[str, ...] = ()
    extra_hosts: tuple[str, ...] = ()
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    health: Health | None = None
    no_healthcheck: bool = False
    init: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    privileged: bool = False
    no_new_privileges: bool = False
    seccomp_profile: str = ""  # "" default, "unconfined", or a JSON profile's text
    stop_signal: str = ""
    stop_timeout: int | None = None
    read_only: bool = False
    memory: int = 0
    memory_swap: int = 0  # -1 unlimited; 0 = default (same as memory: twice in total)
    memory_reservation: int = 0
    nano_cpus: int = 0
    cpu_shares: int = 0
    cpuset_cpus: str = ""
    pids_limit: int = 0
    shm_size: int = 0
    ulimits: tuple[tuple[str, int, int], ...] = ()  # (name, soft, hard)
    sysctls: dict[str, str] = field(default_factory=dict)
    devices: tuple[str, ...] = ()  # host[:container[:perms]]
    log: LogConfig = field(default_factory=LogConfig)
    auto_remove: bool = False
    oom_score_adj: int | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    def validate(self) -> None:
        """Raise InvalidArgument for anything no container can be made from, whoever
        built this config (the checks are in validate.py)."""
        from berth.engine.validate import validate

        validate(self)

    @classmethod
    def from_json(cls, text: str) -> ContainerConfig:
        raw: dict[str, Any] = json.loads(text)
        built: ContainerConfig = _build(cls, raw)
        return built


_NESTED: dict[str, Any] = {
    "mounts": MountSpec,
    "ports": PortSpec,
    "restart": RestartPolicy,
    "health": Health,
    "log": LogConfig,
}


def _build(cls: Any, raw: dict[str, Any]) -> Any:
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in raw:
            continue
        value = raw[f.name]
        nested = _NESTED.get(f.name) if cls is ContainerConfig else None
        if nested is not None and value is not None:
            if isinstance(value, list):
                value = tuple(_build(nested, v) for v in value)
            else:
                value = _build(nested, value)
        elif isinstance(value, list):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        kwargs[f.name] = value
    return cls(**kwargs)
