"""The cgroup manager protocol and the limits it applies.

Lifecycle: ``create()`` makes the group (and its ancestors), ``apply(limits)`` writes
the controller files, ``add_process(pid)`` moves a process in, ``freeze(True/False)``
pauses and resumes every task, ``stats()`` reads usage, ``kill_all()`` signals what is
left, and ``destroy()`` removes the group once it is empty. ``create`` and ``destroy``
are idempotent, so a half-made group can always be cleaned up.

``path`` is relative to each hierarchy's root, such as ``/berth/<container-id>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class DeviceAccess:
    """One device cgroup rule: ``c 1:3 rwm``; ``None`` major/minor means any."""

    allow: bool
    type: str = "a"
    major: int | None = None
    minor: int | None = None
    access: str = "rwm"

    def rule(self) -> str:
        if self.type == "a":
            return "a"
        major = "*" if self.major is None or self.major < 0 else str(self.major)
        minor = "*" if self.minor is None or self.minor < 0 else str(self.minor)
        return f"{self.type} {major}:{minor} {self.access}"


@dataclass(frozen=True, slots=True)
class CgroupLimits:
    """The limits a container's cgroup gets (None or empty: not set)."""

    memory: int | None = None  # bytes; -1 or None means unlimited
    memory_swap: int | None = None  # memory + swap (v1 semantics); -1 unlimited
    memory_reservation: int | None = None
    memory_swappiness: int | None = None
    cpu_shares: int | None = None
    cpu_quota: int | None = None  # microseconds per period; -1 unlimited
    cpu_period: int | None = None
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    pids: int | None = None  # -1 or 0 unlimited
    devices: tuple[DeviceAccess, ...] = ()
    unified: dict[str, str] = field(default_factory=dict)  # v2 files written verbatim


@dataclass(frozen=True, slots=True)
class CgroupStats:
    """Usage read from a container's cgroup."""

    memory_usage: int = 0
    memory_limit: int = 0
    memory_max_usage: int = 0
    cpu_usage_ns: int = 0
    pids_current: int = 0
    pids_limit: int = 0
    oom_kills: int = 0


class CgroupManager(Protocol):
    path: str

    def create(self) -> None: ...

    def apply(self, limits: CgroupLimits) -> None: ...

    def add_process(self, pid: int) -> None: ...

    def procs(self) -> list[int]: ...

    def freeze(self, frozen: bool) -> None: ...

    def stats(self) -> CgroupStats: ...

    def oom_kills(self) -> int: ...

    def kill_all(self, sig: int) -> None: ...

    def destroy(self) -> None: ...

    def exists(self) -> bool: ...
