"""Performing a mount described as mount(8) does: a type, a source and option strings.

A snapshotter's overlay (``lowerdir=a:b``, ``upperdir=``, ``workdir=``) goes through
:func:`berth.sys.overlay.mount_overlay`, which handles image stacks too deep for one
page of mount data; a ``bind``/``rbind`` takes its flags on a second, remount call.
"""

from __future__ import annotations

from collections.abc import Sequence

from berth.sys import mount as m
from berth.sys.overlay import mount_overlay

_FLAGS = {
    "ro": m.MountFlag.MS_RDONLY,
    "nosuid": m.MountFlag.MS_NOSUID,
    "nodev": m.MountFlag.MS_NODEV,
    "noexec": m.MountFlag.MS_NOEXEC,
    "noatime": m.MountFlag.MS_NOATIME,
}


def mount_by_options(fstype: str, source: str, options: Sequence[str], target: str) -> None:
    flags = m.NONE
    data: list[str] = []
    lower: list[str] = []
    upper = work = None
    bind = rec = False
    for option in options:
        key, _, value = option.partition("=")
        if option in _FLAGS:
            flags |= _FLAGS[option]
        elif option in ("rw", "defaults"):
            continue
        elif option in ("bind", "rbind"):
            bind, rec = True, option == "rbind"
        elif fstype == "overlay" and key == "lowerdir":
            lower = value.split(":")
        elif fstype == "overlay" and key == "upperdir":
            upper = value
        elif fstype == "overlay" and key == "workdir":
            work = value
        else:
            data.append(option)
    if fstype == "overlay":
        if not lower:
            raise ValueError("overlay mount without lowerdir")
        mount_overlay(target, lower, upper, work, flags=flags, options=data)
        return
    if bind or fstype == "bind":
        bind_flags = m.MountFlag.MS_BIND | (m.MountFlag.MS_REC if rec else m.NONE)
        m.mount(source, target, None, bind_flags)
        if flags:  # bind mounts take flags only on a remount
            m.mount(None, target, None, bind_flags | m.MountFlag.MS_REMOUNT | flags)
        return
    m.mount(source, target, fstype, flags, ",".join(data) or None)
