"""overlayfs mounts with any number of lower layers.

mount(2) passes all options in one page of data, so ``lowerdir=a:b:c…`` caps an image at
somewhere between 40 and 100 layers depending on how long the paths are. Linux 6.8 added
``lowerdir+`` to the new mount API (fsopen → fsconfig → fsmount → move_mount): one layer
per call and no limit but overlayfs' own (500). :func:`mount_overlay` uses that when the
kernel has it and otherwise falls back to mount(2) with the paths made relative to their
common parent folder (the call runs with that folder as the working directory), which
keeps the data short for the 50+ layer images that exist in the wild.

The fallback changes the process's working directory for the duration of one syscall:
callers mount from a fresh single-threaded set-up process (DESIGN.md), never from a
threaded daemon.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence

from berth.sys._libc import SyscallError, call, libc, syscall_number
from berth.sys.mount import NONE, MountFlag, mount, umount

FSOPEN_CLOEXEC = 1
FSMOUNT_CLOEXEC = 1
FSCONFIG_SET_FLAG = 0
FSCONFIG_SET_STRING = 1
FSCONFIG_CMD_CREATE = 6
MOVE_MOUNT_F_EMPTY_PATH = 4
AT_FDCWD = -100

# mount(2) flags → MOUNT_ATTR_* for fsmount(2).
_ATTR = {
    MountFlag.MS_RDONLY: 0x1,
    MountFlag.MS_NOSUID: 0x2,
    MountFlag.MS_NODEV: 0x4,
    MountFlag.MS_NOEXEC: 0x8,
    MountFlag.MS_NOATIME: 0x10,
    MountFlag.MS_STRICTATIME: 0x20,
    MountFlag.MS_NODIRATIME: 0x80,
    MountFlag.MS_NOSYMFOLLOW: 0x200000,
}

PAGE = os.sysconf("SC_PAGESIZE")

# None until the first mount tells us whether the kernel takes ``lowerdir+``.
_new_api: bool | None = None


def mount_overlay(
    target: str,
    lower: Sequence[str],
    upper: str | None = None,
    work: str | None = None,
    *,
    flags: MountFlag = NONE,
    options: Sequence[str] = (),
) -> None:
    """Mount overlayfs at ``target``; ``lower[0]`` is the top-most read-only layer.

    Without ``upper``/``work`` the mount is read-only and needs at least two lower
    folders (a single read-only layer is a bind mount, not an overlay). ``options`` are
    extra overlay parameters such as ``index=off``; ``flags`` are per-mount flags
    (MS_RDONLY, MS_NOSUID, …). Raises :class:`SyscallError` naming the failed step and,
    when the kernel said why, its message.
    """
    global _new_api
    if not lower:
        raise ValueError("mount_overlay: at least one lower folder is needed")
    if (upper is None) != (work is None):
        raise ValueError("mount_overlay: upper and work go together")
    if _new_api is not False:
        try:
            _mount_new_api(target, lower, upper, work, flags, options)
            _new_api = True
            return
        except _NoNewAPI:
            _new_api = False
    _mount_legacy(target, lower, upper, work, flags, options)


def open_overlay(
    lower: Sequence[str],
    upper: str | None = None,
    work: str | None = None,
    *,
    flags: MountFlag = NONE,
    options: Sequence[str] = (),
) -> int:
    """An overlay mounted nowhere: a file descriptor of a detached mount (fsmount(2)
    without move_mount). It is in no mount namespace, so no one else sees it, nothing
    can be left mounted on the host, and it is gone when the last descriptor on it
    closes (the process's death included). Open paths inside it relative to the fd.

    Needs the new mount API (Linux 5.2); long layer chains need ``lowerdir+`` (6.8),
    before that ``lowerdir`` is passed as one string (one page of data at most).
    """
    if (upper is None) != (work is None):
        raise ValueError("open_overlay: upper and work go together")
    try:
        fsfd = _configure(lower, upper, work, options)
    except _NoNewAPI:
        fsfd = _configure_one_string(lower, upper, work, options)
    try:
        attrs = sum(bit for flag, bit in _ATTR.items() if flags & flag)
        number = syscall_number("fsmount")
        return call(lambda: int(libc.syscall(number, fsfd, FSMOUNT_CLOEXEC, attrs)), "fsmount", "overlay")
    finally:
        os.close(fsfd)


def _configure_one_string(lower: Sequence[str], upper: str | None, work: str | None,
                          options: Sequence[str]) -> int:
    try:
        fd = call(lambda: int(libc.syscall(syscall_number("fsopen"), b"overlay", FSOPEN_CLOEXEC)), "fsopen")
    except SyscallError as err:
        from berth.errors import Unsupported

        raise Unsupported(f"a detached overlay mount needs the new mount API (Linux 5.2): {err}") from None
    try:
        _fsconfig(fd, FSCONFIG_SET_STRING, "lowerdir", ":".join(lower), "lowerdir")
        if upper is not None and work is not None:
            _fsconfig(fd, FSCONFIG_SET_STRING, "upperdir", upper, upper)
            _fsconfig(fd, FSCONFIG_SET_STRING, "workdir", work, work)
        for option in options:
            key, sep, value = option.partition("=")
            _fsconfig(fd, FSCONFIG_SET_STRING if sep else FSCONFIG_SET_FLAG, key, value if sep else None, option)
        _fsconfig(fd, FSCONFIG_CMD_CREATE, None, None, "overlay")
        return fd
    except BaseException:
        os.close(fd)
        raise


def overlay_unsupported_reason(scratch: str) -> str | None:
    """None when an overlay with an upper folder can be mounted under ``scratch``,
    otherwise why not. Leaves nothing mounted; ``scratch`` must be an empty folder on
    the file system that will hold the layers."""
    dirs = {name: os.path.join(scratch, name) for name in ("l1", "l2", "u", "w", "m")}
    for path in dirs.values():
        os.makedirs(path, exist_ok=True)
    lower = [dirs["l1"], dirs["l2"]]
    try:
        if _new_api is not False:
            try:
                fd = _configure(lower, dirs["u"], dirs["w"], ())
                os.close(fd)
                return None
            except _NoNewAPI:
                pass
        mount("overlay", dirs["m"], "overlay", NONE, _legacy_data(lower, dirs["u"], dirs["w"], ()))
        umount(dirs["m"])
        return None
    except SyscallError as err:
        return str(err)
    except OSError as err:
        return f"overlay: {err}"


class _NoNewAPI(Exception):
    """The kernel lacks fsopen or overlay's ``lowerdir+`` (before 6.8)."""


def _fsconfig(fd: int, cmd: int, key: str | None, value: str | None, what: str) -> None:
    k = key.encode() if key is not None else None
    v = os.fsencode(value) if value is not None else None
    number = syscall_number("fsconfig")
    try:
        call(lambda: int(libc.syscall(number, fd, cmd, k, v, 0)), "fsconfig", what)
    except SyscallError as err:
        raise SyscallError(err.errno or errno.EINVAL, "fsconfig", what, _kernel_message(fd)) from None


def _kernel_message(fd: int) -> str:
    # The fs context keeps the kernel's own explanation of a failed parameter.
    lines = []
    for _ in range(8):
        try:
            raw = os.read(fd, 1024)
        except OSError:
            break
        if not raw:
            break
        lines.append(raw.decode(errors="replace").strip())
    return "; ".join(lines)


def _configure(lower: Sequence[str], upper: str | None, work: str | None, options: Sequence[str]) -> int:
    try:
        fd = call(lambda: int(libc.syscall(syscall_number("fsopen"), b"overlay", FSOPEN_CLOEXEC)), "fsopen")
    except SyscallError as err:
        # ENOSYS: no new mount API; EPERM: a seccomp filter hides it (mount(2) will say
        # plainly if we really lack the privilege).
        if err.errno in (errno.ENOSYS, errno.EPERM):
            raise _NoNewAPI() from None
        raise
    try:
        try:
            _fsconfig(fd, FSCONFIG_SET_STRING, "lowerdir+", lower[0], lower[0])
        except SyscallError as err:
            if err.errno == errno.EINVAL and "Unknown parameter" in err.detail:
                raise _NoNewAPI() from None  # overlayfs before Linux 6.8
            raise
        for path in lower[1:]:
            _fsconfig(fd, FSCONFIG_SET_STRING, "lowerdir+", path, path)
        if upper is not None and work is not None:
            _fsconfig(fd, FSCONFIG_SET_STRING, "upperdir", upper, upper)
            _fsconfig(fd, FSCONFIG_SET_STRING, "workdir", work, work)
        for option in options:
            key, sep, value = option.partition("=")
            if sep:
                _fsconfig(fd, FSCONFIG_SET_STRING, key, value, option)
            else:
                _fsconfig(fd, FSCONFIG_SET_FLAG, key, None, option)
        _fsconfig(fd, FSCONFIG_CMD_CREATE, None, None, "overlay")
        return fd
    except BaseException:
        os.close(fd)
        raise


def _mount_new_api(
    target: str,
    lower: Sequence[str],
    upper: str | None,
    work: str | None,
    flags: MountFlag,
    options: Sequence[str],
) -> None:
    fsfd = _configure(lower, upper, work, options)
    try:
        attrs = sum(bit for flag, bit in _ATTR.items() if flags & flag)
        number = syscall_number("fsmount")
        mfd = call(lambda: int(libc.syscall(number, fsfd, FSMOUNT_CLOEXEC, attrs)), "fsmount", target)
    finally:
        os.close(fsfd)
    try:
        tgt = os.fsencode(target)
        number = syscall_number("move_mount")
        call(lambda: int(libc.syscall(number, mfd, b"", AT_FDCWD, tgt, MOVE_MOUNT_F_EMPTY_PATH)),
             "move_mount", target)
    finally:
        os.close(mfd)


def _legacy_data(lower: Sequence[str], upper: str | None, work: str | None, options: Sequence[str]) -> str:
    parts = ["lowerdir=" + ":".join(lower)]
    if upper is not None and work is not None:
        parts += ["upperdir=" + upper, "workdir=" + work]
    return ",".join([*parts, *options])


def _mount_legacy(
    target: str,
    lower: Sequence[str],
    upper: str | None,
    work: str | None,
    flags: MountFlag,
    options: Sequence[str],
) -> None:
    data = _legacy_data(lower, upper, work, options)
    if len(data) < PAGE:
        mount("overlay", target, "overlay", flags, data)
        return
    paths = [*lower, *([upper, work] if upper and work else [])]
    base = os.path.commonpath([os.path.abspath(p) for p in paths])
    rel = [os.path.relpath(os.path.abspath(p), base) for p in paths]
    rel_upper, rel_work = (rel[-2], rel[-1]) if upper and work else (None, None)
    short = _legacy_data(rel[: len(lower)], rel_upper, rel_work, options)
    if len(short) >= PAGE:
        raise SyscallError(errno.E2BIG, "mount", target,
                           f"overlay: {len(lower)} layers do not fit in one page of mount data on this kernel")
    target_abs = os.path.abspath(target)
    saved = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.chdir(base)
        mount("overlay", target_abs, "overlay", flags, short)
    finally:
        os.fchdir(saved)
        os.close(saved)
