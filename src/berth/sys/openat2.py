"""openat2(2): opening a path with the kernel, not the caller, keeping it inside a root.

berth reads and writes container content from the host (``cp``, ``diff``, ``commit``,
the volume pre-fill). A path resolved by the host and then opened by the host can be
redirected between the two steps: the container swaps a folder for a symlink to ``/``
and the host opens its own file (Docker's CVE-2018-15664). openat2 with
``RESOLVE_IN_ROOT`` resolves the whole path in one call, treating ``dirfd`` as ``/``:
absolute symlinks and ``..`` stay below it, and ``RESOLVE_NO_MAGICLINKS`` refuses
``/proc/PID/root``-style links that would jump out. Everything below the first file
descriptor is then opened relative to descriptors (``*at`` calls with
``O_NOFOLLOW``), so no later step can be redirected either.

Linux 5.6 or later. A concurrent rename may make the kernel answer ``EAGAIN`` when
``..`` resolution could have escaped; the call is retried.
"""

from __future__ import annotations

import ctypes
import errno
import os

from berth.sys._libc import SyscallError, libc

RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10

# Container paths: symlinks resolved as the container sees them, never out of it.
IN_ROOT = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS
# Paths that must not follow any symlink and must stay below dirfd.
STRICT = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS

_NR_OPENAT2 = 437  # the same on every architecture (added after the syscall table unification)
_RETRIES = 64


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def openat2(dirfd: int, path: str, flags: int, resolve: int, mode: int = 0) -> int:
    """A new file descriptor (always O_CLOEXEC) for ``path`` relative to ``dirfd``.

    Raises :class:`SyscallError` with the kernel's errno: ``ENOENT``, ``ELOOP`` (a
    symlink where ``RESOLVE_NO_SYMLINKS`` forbids one, or ``O_NOFOLLOW`` on the last
    component), ``EXDEV`` (the path would leave ``dirfd`` under ``RESOLVE_BENEATH``),
    ``ENOSYS`` (a kernel before 5.6).
    """
    how = _OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    raw = os.fsencode(path) if path else b"."
    for _ in range(_RETRIES):
        fd = int(libc.syscall(_NR_OPENAT2, dirfd, raw, ctypes.byref(how), ctypes.sizeof(how)))
        if fd >= 0:
            return fd
        err = ctypes.get_errno()
        if err in (errno.EINTR, errno.EAGAIN):
            continue
        raise SyscallError(err, "openat2", path)
    raise SyscallError(errno.EAGAIN, "openat2", path, "kept racing with renames")


def open_in_root(root_fd: int, path: str, flags: int = os.O_PATH, mode: int = 0) -> int:
    """``path`` (absolute or not) opened inside the tree whose ``/`` is ``root_fd``."""
    return openat2(root_fd, path.lstrip("/") or ".", flags, IN_ROOT, mode)


def open_beneath(dir_fd: int, path: str, flags: int = os.O_PATH, mode: int = 0) -> int:
    """``path`` below ``dir_fd`` with no symlink followed at all (ELOOP if one is met)."""
    return openat2(dir_fd, path.lstrip("/") or ".", flags, STRICT, mode)


def fd_path(dir_fd: int, name: str = "") -> str:
    """A path naming ``name`` in the folder ``dir_fd`` refers to, for calls that take
    no descriptor (xattrs of a symlink, say). The kernel jumps straight to the folder
    ``dir_fd`` holds, so the path cannot be redirected; use it with the call's
    no-follow form so ``name`` itself is not followed either."""
    return f"/proc/self/fd/{dir_fd}/{name}" if name else f"/proc/self/fd/{dir_fd}"


def supported() -> bool:
    try:
        os.close(openat2(-100, "/", os.O_PATH, 0))
    except SyscallError as err:
        if err.errno == errno.ENOSYS:
            return False
        raise
    return True


class _Statfs(ctypes.Structure):
    _fields_ = [("f_type", ctypes.c_long), ("_rest", ctypes.c_long * 15)]


# File systems that are views of the kernel, not files: a walk of a container's tree
# lists their mount points but does not descend (Docker's archives hold none of them).
PSEUDO_FS = frozenset({
    0x9FA0,  # proc
    0x62656572,  # sysfs
    0x27E0EB,  # cgroup
    0x63677270,  # cgroup2
    0x1CD1,  # devpts
    0x19800202,  # mqueue
    0x64626720,  # debugfs
    0x73636673,  # securityfs
    0x74726163,  # tracefs
    0xCAFE4A11,  # bpf
    0x65735543,  # fusectl
    0x6E736673,  # nsfs
})


def fs_type(fd: int) -> int:
    """fstatfs(2)'s f_type of the file system ``fd`` is on."""
    buf = _Statfs()
    if libc.fstatfs(fd, ctypes.byref(buf)) != 0:
        err = ctypes.get_errno()
        raise SyscallError(err, "fstatfs")
    return int(buf.f_type) & 0xFFFFFFFF
