"""Carrying out a snapshotter's ``Mount`` list: the one place the store's mounts meet
the kernel (through ``berth.sys``). The runtime calls :func:`mount_all` inside a
container's own mount namespace; host-side work on a stopped container's files (cp,
archive) uses :func:`open_detached`, a mount that is in no namespace at all, so
nothing is ever mounted on the host."""

from __future__ import annotations

import os
from collections.abc import Sequence

from berth.errors import InvalidArgument
from berth.oci.mount import Mount
from berth.sys import mount as m
from berth.sys.overlay import mount_overlay, open_overlay

_FLAGS = {
    "ro": m.MountFlag.MS_RDONLY,
    "nosuid": m.MountFlag.MS_NOSUID,
    "nodev": m.MountFlag.MS_NODEV,
    "noexec": m.MountFlag.MS_NOEXEC,
    "noatime": m.MountFlag.MS_NOATIME,
}


def mount_all(mounts: Sequence[Mount], target: str) -> None:
    """Perform ``mounts`` on ``target`` in order (snapshotters return exactly one)."""
    for mnt in mounts:
        mount_one(mnt, target)


def mount_one(mnt: Mount, target: str) -> None:
    flags = m.NONE
    data: list[str] = []
    lower: list[str] = []
    upper = work = None
    bind = rec = False
    for option in mnt.options:
        key, _, value = option.partition("=")
        if option in _FLAGS:
            flags |= _FLAGS[option]
        elif option in ("rw", "defaults"):
            pass
        elif option in ("bind", "rbind"):
            bind, rec = True, option == "rbind"
        elif mnt.type == "overlay" and key == "lowerdir":
            lower = value.split(":")
        elif mnt.type == "overlay" and key == "upperdir":
            upper = value
        elif mnt.type == "overlay" and key == "workdir":
            work = value
        else:
            data.append(option)
    if mnt.type == "overlay":
        if not lower:
            raise InvalidArgument("overlay mount without lowerdir")
        mount_overlay(target, lower, upper, work, flags=flags, options=data)
        return
    if bind or mnt.type == "bind":
        bind_flags = m.MountFlag.MS_BIND | (m.MountFlag.MS_REC if rec else m.NONE)
        m.mount(mnt.source, target, None, bind_flags)
        if flags:  # bind mounts take flags only on a remount
            m.mount(None, target, None, bind_flags | m.MountFlag.MS_REMOUNT | flags)
        return
    m.mount(mnt.source, target, mnt.type, flags, ",".join(data) or None)


def unmount_all(target: str) -> None:
    """Unmount everything at or below ``target`` (deepest first)."""
    for point in m.mounts_under(target):
        m.umount(point, m.MNT_DETACH)


def open_detached(mounts: Sequence[Mount], *, read_only: bool = False) -> int:
    """A descriptor of the root of ``mounts`` (a snapshotter's single mount) mounted
    nowhere; closing it (or dying) unmounts it. ``read_only`` views an active
    snapshot without touching its upper folder (its changes become the top layer).
    Paths inside must be opened relative to the descriptor (``berth.sys.openat2``)."""
    if len(mounts) != 1:
        raise InvalidArgument(f"a detached mount takes one mount, not {len(mounts)}")
    mnt = mounts[0]
    if mnt.type != "overlay":
        # A bind snapshot is a plain folder: its descriptor is its root.
        return os.open(mnt.source, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    lower: list[str] = []
    upper = work = None
    options: list[str] = []
    flags = m.NONE
    for option in mnt.options:
        key, _, value = option.partition("=")
        if key == "lowerdir":
            lower = value.split(":")
        elif key == "upperdir":
            upper = value
        elif key == "workdir":
            work = value
        elif option in _FLAGS:
            flags |= _FLAGS[option]
        elif option not in ("rw", "defaults"):
            options.append(option)
    if read_only and upper is not None:
        lower, upper, work = [upper, *lower], None, None
    if upper is None:
        flags |= m.MountFlag.MS_RDONLY
    return open_overlay(lower, upper, work, flags=flags | m.MountFlag.MS_NOSUID | m.MountFlag.MS_NODEV,
                        options=options)
