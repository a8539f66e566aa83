"""A container's live state, as its shim records it in ``state.json``.

The shim is the only writer while it lives (atomic replace on every change); the
engine reads it and, when the shim is gone without recording an exit (SIGKILL, a
reboot), reconciles: the container is exited, with the reason in ``error``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from typing import Any

# The runtime already depends on berth.sys for atomic writes; the engine may not
# import berth.sys itself (DESIGN.md), so it takes them through the runtime.
from berth.runtime.linux import process_start_time, write_atomic

CREATED = "created"
RUNNING = "running"
RESTARTING = "restarting"
EXITED = "exited"
DEAD = "dead"
PAUSED = "paused"
REMOVING = "removing"

ZERO_TIME = "0001-01-01T00:00:00Z"


@dataclass(frozen=True, slots=True)
class HealthResult:
    start: str
    end: str
    exit_code: int
    output: str


@dataclass(frozen=True, slots=True)
class HealthState:
    status: str = "starting"  # starting | healthy | unhealthy
    failing_streak: int = 0
    log: tuple[HealthResult, ...] = ()


@dataclass(frozen=True, slots=True)
class LiveState:
    status: str = CREATED
    pid: int = 0
    pid_start: int = 0
    shim_pid: int = 0
    shim_start: int = 0
    started_at: str = ZERO_TIME
    finished_at: str = ZERO_TIME
    exit_code: int = 0
    oom_killed: bool = False
    error: str = ""
    restart_count: int = 0
    manual_stop: bool = False
    health: HealthState | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> LiveState:
        raw = json.loads(data)
        health = raw.pop("health", None)
        if health is not None:
            health = HealthState(health["status"], health["failing_streak"],
                                 tuple(HealthResult(**r) for r in health["log"]))
        known = {f for f in cls.__dataclass_fields__}
        return cls(health=health, **{k: v for k, v in raw.items() if k in known and k != "health"})

    def shim_alive(self) -> bool:
        return self.shim_pid > 0 and process_start_time(self.shim_pid) == self.shim_start

    def process_alive(self) -> bool:
        return self.pid > 0 and process_start_time(self.pid) == self.pid_start


def load(path: str) -> LiveState | None:
    try:
        with open(path, "rb") as f:
            return LiveState.from_bytes(f.read())
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        return LiveState(status=DEAD, error="state.json is unreadable")


def save(path: str, state: LiveState) -> None:
    write_atomic(path, state.to_bytes(), durable=False)


def remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


__all__ = ["LiveState", "HealthState", "HealthResult", "load", "save", "replace"]
