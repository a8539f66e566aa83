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


# Plain-int copies for the container's start path (see sys/mount.py: IntFlag operations
# are slow the first time a process meets a combination).
CLONE_NEWTIME = int(CloneFlag.CLONE_NEWTIME)
CLONE_NEWNS = int(CloneFlag.CLONE_NEWNS)
CLONE_NEWCGROUP = int(CloneFlag.CLONE_NEWCGROUP)
CLONE_NEWUTS = int(CloneFlag.CLONE_NEWUTS)
CLONE_NEWIPC = int(CloneFlag.CLONE_NEWIPC)
CLONE_NEWUSER = int(CloneFlag.CLONE_NEWUSER)
CLONE_NEWPID = int(CloneFlag.CLONE_NEWPID)
CLONE_NEWNET = int(CloneFlag.CLONE_NEWNET)

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
BITS: dict[str, int] = {kind: int(flag) for kind, flag in BY_TYPE.items()}  # (as plain ints)

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


def unshare(flags: int) -> None:
    try:
        call(lambda: int(libc.unshare(int(flags))), "unshare")
    except SyscallError as err:
        err.detail = repr(CloneFlag(flags))  # worded only on failure (an enum's repr is not cheap)
        raise


def setns(fd: int, flag: int = 0, path: str | None = None) -> None:
    call(lambda: int(libc.setns(fd, int(flag))), "setns", path)


def join(path: str, flag: int = 0) -> None:
    """Join the namespace at ``path`` (``/proc/PID/ns/net``, a bind-mounted nsfs file)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        setns(fd, flag, path)
    finally:
        os.close(fd)
