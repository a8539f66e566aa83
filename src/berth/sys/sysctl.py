"""Kernel parameters under /proc/sys, named with slashes (``net/ipv4/ip_forward``) so
interface names with dots stay unambiguous."""

from __future__ import annotations

import errno
import os

from berth.sys._libc import SyscallError

PROC_SYS = "/proc/sys"


def _path(key: str) -> str:
    if ".." in key.split("/") or key.startswith("/"):
        raise ValueError(f"sysctl {key!r}: not a relative /proc/sys path")
    return os.path.join(PROC_SYS, key)


def read(key: str) -> str:
    try:
        with open(_path(key)) as f:
            return f.read().strip()
    except OSError as err:
        raise SyscallError(err.errno or errno.EIO, "read sysctl", _path(key)) from err


def write(key: str, value: str) -> None:
    """Set ``key`` to ``value`` unless it already holds it (a write costs more than a read)."""
    path = _path(key)
    try:
        with open(path) as f:
            if f.read().strip() == value:
                return
        with open(path, "w") as f:
            f.write(value)
    except OSError as err:
        raise SyscallError(err.errno or errno.EIO, "write sysctl", path, value) from err
