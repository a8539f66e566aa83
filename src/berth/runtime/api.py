"""The runtime verbs, after the OCI runtime spec's operations and runc's CLI.

Lifecycle of one container::

    create(id, bundle) ──► CREATED ──start(id)──► RUNNING ──(process exits)──► STOPPED
                              │                      │  ▲                          │
                              │                      pause  resume                 │
                              │                      ▼  │                          │
                              │                    PAUSED                          │
                              └────────────── delete(id) ◄─────────────────────────┘

``create`` builds every namespace, mount and cgroup and leaves the container's first
process waiting just before ``execve``; ``start`` releases it. ``kill`` signals it,
``delete`` removes what ``create`` made (refusing a live container unless forced).
``state`` reports the OCI state: id, status, pid, bundle, annotations.

Containers live outside the caller: ``create`` returns once the process is waiting,
and that process outlives the call. Errors: ``ContainerNotFound`` for an unknown id,
``AlreadyExists`` for a taken id, ``StateTransitionError`` for a verb the current
status forbids, ``InvalidSpec`` for a bad config.json (naming the field).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Status(enum.Enum):
    CREATING = "creating"
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"

    def can_start(self) -> bool:
        return self is Status.CREATED

    def can_kill(self) -> bool:
        return self in (Status.CREATED, Status.RUNNING, Status.PAUSED)

    def can_delete(self) -> bool:
        return self in (Status.STOPPED, Status.CREATED)

    def can_pause(self) -> bool:
        return self is Status.RUNNING

    def can_resume(self) -> bool:
        return self is Status.PAUSED


@dataclass(frozen=True, slots=True)
class ContainerState:
    """The OCI state of a container, plus what berth needs to find it again."""

    id: str
    status: Status
    pid: int
    bundle: str
    created: str
    annotations: dict[str, str] = field(default_factory=dict)
    cgroup_path: str = ""
    rootfs: str = ""
    owner: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "ociVersion": "1.1.0",
            "id": self.id,
            "status": self.status.value,
            "pid": self.pid if self.status is not Status.STOPPED else 0,
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": self.owner,
            "annotations": dict(self.annotations),
        }


@dataclass(frozen=True, slots=True)
class ProcessIO:
    """Where a container's first process gets its stdio.

    ``stdin``/``stdout``/``stderr`` are fds in the caller, duplicated onto 0, 1 and 2 in
    the container (None: inherit the caller's). With a terminal, ``console_socket``
    (a unix socket path) receives the pty master as runc's --console-socket does;
    otherwise the master comes back from ``create`` to the caller.
    """

    stdin: int | None = None
    stdout: int | None = None
    stderr: int | None = None
    console_socket: str | None = None
    preserve_fds: int = 0
    parent_death_signal: int = 0  # sent to the container when its parent (the shim) dies
