"""mount(2), umount2(2) and pivot_root(2), with the kernel's flag names."""

from __future__ import annotations

import enum
import os

from berth.sys._libc import SyscallError, call, libc, syscall_number


class MountFlag(enum.IntFlag):
    MS_RDONLY = 1
    MS_NOSUID = 2
    MS_NODEV = 4
    MS_NOEXEC = 8
    MS_SYNCHRONOUS = 16
    MS_REMOUNT = 32
    MS_MANDLOCK = 64
    MS_DIRSYNC = 128
    MS_NOSYMFOLLOW = 256
    MS_NOATIME = 1024
    MS_NODIRATIME = 2048
    MS_BIND = 4096
    MS_MOVE = 8192
    MS_REC = 16384
    MS_SILENT = 32768
    MS_POSIXACL = 1 << 16
    MS_UNBINDABLE = 1 << 17
    MS_PRIVATE = 1 << 18
    MS_SLAVE = 1 << 19
    MS_SHARED = 1 << 20
    MS_RELATIME = 1 << 21
    MS_STRICTATIME = 1 << 24
    MS_LAZYTIME = 1 << 25


# The flags as plain ints, for code on a container's start path: an IntFlag operation
# builds a new enum member the first time it meets a combination of flags (~50 µs each
# in a freshly forked process, several per mount), an int operation costs nothing.
MS_RDONLY = int(MountFlag.MS_RDONLY)
MS_NOSUID = int(MountFlag.MS_NOSUID)
MS_NODEV = int(MountFlag.MS_NODEV)
MS_NOEXEC = int(MountFlag.MS_NOEXEC)
MS_SYNCHRONOUS = int(MountFlag.MS_SYNCHRONOUS)
MS_REMOUNT = int(MountFlag.MS_REMOUNT)
MS_MANDLOCK = int(MountFlag.MS_MANDLOCK)
MS_DIRSYNC = int(MountFlag.MS_DIRSYNC)
MS_NOSYMFOLLOW = int(MountFlag.MS_NOSYMFOLLOW)
MS_NOATIME = int(MountFlag.MS_NOATIME)
MS_NODIRATIME = int(MountFlag.MS_NODIRATIME)
MS_BIND = int(MountFlag.MS_BIND)
MS_MOVE = int(MountFlag.MS_MOVE)
MS_REC = int(MountFlag.MS_REC)
MS_SILENT = int(MountFlag.MS_SILENT)
MS_POSIXACL = int(MountFlag.MS_POSIXACL)
MS_UNBINDABLE = int(MountFlag.MS_UNBINDABLE)
MS_PRIVATE = int(MountFlag.MS_PRIVATE)
MS_SLAVE = int(MountFlag.MS_SLAVE)
MS_SHARED = int(MountFlag.MS_SHARED)
MS_RELATIME = int(MountFlag.MS_RELATIME)
MS_STRICTATIME = int(MountFlag.MS_STRICTATIME)
MS_LAZYTIME = int(MountFlag.MS_LAZYTIME)

NONE = MountFlag(0)
PROPAGATION = MountFlag.MS_SHARED | MountFlag.MS_SLAVE | MountFlag.MS_PRIVATE | MountFlag.MS_UNBINDABLE

MNT_FORCE = 1
MNT_DETACH = 2
MNT_EXPIRE = 4
UMOUNT_NOFOLLOW = 8


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    src = os.fsencode(source) if source is not None else None
    tgt = os.fsencode(target)
    typ = os.fsencode(fstype) if fstype is not None else None
    dat = os.fsencode(data) if data else None
    try:
        call(lambda: int(libc.mount(src, tgt, typ, int(flags), dat)), "mount", target)
    except SyscallError as err:
        if fstype or source:  # worded only on failure: a container start makes ~30 mounts
            err.detail = f"type={fstype} source={source}" + (f" data={data}" if data else "")
        raise


def umount(target: str, flags: int = 0) -> None:
    tgt = os.fsencode(target)
    call(lambda: int(libc.umount2(tgt, flags)), "umount", target)


def pivot_root(new_root: str, put_old: str) -> None:
    nr, po = os.fsencode(new_root), os.fsencode(put_old)
    number = syscall_number("pivot_root")
    call(lambda: int(libc.syscall(number, nr, po)), "pivot_root", new_root)


def mounted_at(path: str) -> bool:
    """True if ``path`` is a mount point, from /proc/self/mountinfo (bind mounts included)."""
    real = os.path.realpath(path)
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f:
            fields = line.split(b" ", 5)
            if _unescape(fields[4]) == real:
                return True
    return False


def mounts_under(prefix: str) -> list[str]:
    """Mount points at or below ``prefix``, deepest first (the order to unmount them)."""
    real = os.path.realpath(prefix).rstrip("/")
    found = []
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f:
            point = _unescape(line.split(b" ", 5)[4])
            if point == real or point.startswith(real + "/"):
                found.append(point)
    return sorted(found, key=lambda p: p.count("/"), reverse=True)


def _unescape(raw: bytes) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo octal.
    text = os.fsdecode(raw)
    if "\\" not in text:
        return text
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 3 < len(text) + 1 and text[i + 1 : i + 4].isdigit():
            out.append(chr(int(text[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def mount_overlay(
    target: str,
    lower: list[str],
    upper: str | None = None,
    work: str | None = None,
    *,
    flags: MountFlag = NONE,
    options: tuple[str, ...] | list[str] = (),
) -> None:
    """Mount overlayfs with any number of lower folders (see :mod:`berth.sys.overlay`)."""
    from berth.sys.overlay import mount_overlay as impl

    impl(target, lower, upper, work, flags=flags, options=options)
