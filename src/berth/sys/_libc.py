"""One handle on libc, one error type, one EINTR retry loop."""

from __future__ import annotations

import ctypes
import errno
import os
import sys
from collections.abc import Callable

# ctypes.util.find_library spawns ldconfig, which costs milliseconds on every start of
# `berth runtime run`; glibc's soname has been libc.so.6 on every Linux berth targets.
libc = ctypes.CDLL("libc.so.6", use_errno=True)

# Raw syscall numbers for calls glibc 2.36 does not wrap.
_SYSCALLS: dict[str, dict[str, int]] = {
    "x86_64": {"pivot_root": 155, "seccomp": 317, "pidfd_send_signal": 424, "close_range": 436},
    "aarch64": {"pivot_root": 41, "seccomp": 277, "pidfd_send_signal": 424, "close_range": 436},
}
# Since 5.1 new syscalls share one number on every architecture (the new mount API).
for _table in _SYSCALLS.values():
    _table.update({"move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432})


def syscall_number(name: str) -> int:
    machine = os.uname().machine  # (what platform.machine() returns, without importing platform)
    table = _SYSCALLS.get(machine)
    if table is None or name not in table:
        from berth.errors import Unsupported

        raise Unsupported(f"syscall {name}: unknown on {machine}")
    return table[name]


class SyscallError(OSError):
    """An OSError that also names the operation: ``mount /proc: Operation not permitted``."""

    def __init__(self, err: int, op: str, path: str | None = None, detail: str = "") -> None:
        super().__init__(err, os.strerror(err), path)
        self.op = op
        self.detail = detail

    def __str__(self) -> str:
        where = f" {self.filename}" if self.filename else ""
        extra = f" ({self.detail})" if self.detail else ""
        return f"{self.op}{where}: {self.strerror}{extra}"

    def __reduce__(self) -> tuple[type, tuple[int, str, str | None, str]]:
        return (SyscallError, (self.errno or 0, self.op, self.filename, self.detail))


def call(fn: Callable[[], int], op: str, path: str | None = None, detail: str = "") -> int:
    """Run a libc call, retrying EINTR (ctypes calls get no PEP 475 retry)."""
    while True:
        ret = fn()
        if ret != -1:
            return ret
        err = ctypes.get_errno()
        if err != errno.EINTR:
            # Logged only if logging is loaded (--debug loads it): importing it would cost
            # ~4 ms of every cold start, and fails in a container's process after pivot_root.
            logging = sys.modules.get("logging")
            if logging is not None:
                logging.getLogger(__name__).debug("%s %s failed: %s", op, path or "", os.strerror(err))
            raise SyscallError(err, op, path, detail)
