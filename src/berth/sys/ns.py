"""Namespaces: unshare(2) and setns(2)."""

from __future__ import annotations

import enum
import os

from berth.sys._libc import SyscallError, call, libc


class CloneFlag(enum.IntFlag):
    CLONE_NEWTIME = 0x00000080
    CLONE_NEWNS = 0x00020000
    CLONE_NEWCGROUP = 0x02000000
    CLONE_NEWUTS = 0x04000000
    CLONE_NEWIPC = 0x08000000
    CLONE_NEWUSER = 0x10000000
    CLONE_NEWPID = 0x20000000
    CLONE_NEWNET = 0x40000000


# The OCI runtime spec's namespace names, and the /proc/PID/ns entries they live at.
BY_TYPE: dict[str, CloneFlag] = {
    "pid": CloneFlag.CLONE_NEWPID,
    "network": CloneFlag.CLONE_NEWNET,
    "mount": CloneFlag.CLONE_NEWNS,
    "ipc": CloneFlag.CLONE_NEWIPC,
    "uts": CloneFlag.CLONE_NEWUTS,
    "user": CloneFlag.CLONE_NEWUSER,
    "cgroup": CloneFlag.CLONE_NEWCGROUP,
    "time": CloneFlag.CLONE_NEWTIME,
}
PROC_NAME: dict[str, str] = {
    "pid": "pid",
    "network": "net",
    "mount": "mnt",
    "ipc": "ipc",
    "uts": "uts",
    "user": "user",
    "cgroup": "cgroup",
    "time": "time",
}


def unshare(flags: CloneFlag) -> None:
    try:
        call(lambda: int(libc.unshare(int(flags))), "unshare")
    except SyscallError as err:
        err.detail = repr(flags)  # worded only on failure (an enum's repr is not cheap)
        raise


def setns(fd: int, flag: CloneFlag | int = 0, path: str | None = None) -> None:
    call(lambda: int(libc.setns(fd, int(flag))), "setns", path)


def join(path: str, flag: CloneFlag | int = 0) -> None:
    """Join the namespace at ``path`` (``/proc/PID/ns/net``, a bind-mounted nsfs file)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        setns(fd, flag, path)
    finally:
        os.close(fd)
