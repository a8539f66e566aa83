"""The cgroup manager protocol and the limits it applies.

Lifecycle: ``create()`` makes the group (and its ancestors), ``apply(limits)`` writes
the controller files, ``add_process(pid)`` moves a process in, ``freeze(True/False)``
pauses and resumes every task, ``stats()`` reads usage, ``kill_all()`` signals what is
left, and ``destroy()`` removes the group once it is empty. ``create`` and ``destroy``
are idempotent, so a half-made group can always be cleaned up. ``apply`` refuses
(:func:`refuse`) any limit the host cannot put in place, naming the spec field.

``path`` is relative to each hierarchy's root, such as ``/berth/<container-id>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from berth.errors import InvalidSpec


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
    memory_kernel: int | None = None  # v1 memory.kmem.limit_in_bytes (kernels since 5.16 ignore it)
    memory_kernel_tcp: int | None = None  # v1 memory.kmem.tcp.limit_in_bytes
    disable_oom_killer: bool = False  # v1 memory.oom_control
    cpu_burst: int | None = None
    cpu_realtime_runtime: int | None = None
    cpu_realtime_period: int | None = None
    cpu_idle: int | None = None
    blkio_weight: int | None = None
    blkio_leaf_weight: int | None = None
    blkio_weight_devices: tuple[tuple[int, int, int | None, int | None], ...] = ()  # major, minor, weight, leaf
    blkio_throttles: tuple[tuple[str, int, int, int], ...] = ()  # (spec key, major, minor, rate)
    hugepages: tuple[tuple[str, int], ...] = ()  # ("2MB", bytes)
    net_class_id: int | None = None
    net_priorities: tuple[tuple[str, int], ...] = ()
    rdma: dict[str, dict[str, int]] = field(default_factory=dict)  # device → hcaHandles / hcaObjects


def refuse(setting: str, reason: str) -> InvalidSpec:
    """The error for a limit this host cannot apply: it names the spec field
    (``linux.resources.blockIO.weight``) and says why. A container never starts with
    a limit silently left out."""
    return InvalidSpec(f"linux.resources.{setting}", f"this host cannot apply it: {reason}")


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
    hugetlb: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # size → (usage, max usage, failcnt)


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

    def prune_parent(self) -> None: ...  # remove the parent folder if it is now empty; never fails

    def exists(self) -> bool: ...
