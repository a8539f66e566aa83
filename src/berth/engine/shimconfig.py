"""What a shim needs to run, restart and tear down one container: ``shim.json``.

A leaf module: the engine writes it at create time, the shim reads it when it starts
(and the fork server's warm-up builds one), and nothing here imports the engine, the
shim or the runtime, so none of them import each other through it.
"""

from __future__ import annotations

import json
import signal
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ShimConfig:
    id: str
    name: str
    image: str
    root: str
    run_root: str
    tty: bool = False
    open_stdin: bool = False
    stdin_once: bool = False
    restart: str = "no"
    max_retries: int = 0
    health: dict[str, Any] | None = None  # {"test": [...], "interval": ns, "timeout": ns, "start_period": ns, "retries": n}
    stop_signal: int = signal.SIGTERM
    stop_timeout: int = 10
    auto_remove: bool = False
    user: str = ""
    log_max_size: int = 10 * 1024 * 1024
    log_max_file: int = 3
    rootfs_mounts: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (type, source, options)
    labels: dict[str, str] = field(default_factory=dict)
    network: bool = False  # release the network sandbox when the container is done for good
    network_env: dict[str, str] = field(default_factory=dict)  # BERTH_NET_* of the command that made it

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | bytes) -> ShimConfig:
        raw = json.loads(text)
        raw["rootfs_mounts"] = tuple((m[0], m[1], tuple(m[2])) for m in raw.get("rootfs_mounts", ()))
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in raw.items() if k in known})

    @classmethod
    def load(cls, path: str) -> ShimConfig:
        with open(path, "rb") as f:
            return cls.from_json(f.read())
