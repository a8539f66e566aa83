"""The container's file-system view, set up inside its new mount namespace.

Order (runc's rootfs_linux.go does the same): make / a slave so nothing propagates back
to the host, bind the rootfs onto itself (pivot_root needs a mount point), mount the
spec's mounts in order under the rootfs, fill /dev, pivot_root, then mask paths and
make paths (and the root, when asked) read-only.

Mount destinations are resolved inside the rootfs with symlinks followed *inside* it
(:func:`secure_join`), so an image cannot point a mount at the host.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable

from berth.runtime.plan import REMOUNT_KEEP, DeviceNode, InitPlan, MountStep
from berth.sys import mount as m
from berth.sys._libc import SyscallError
from berth.sys.cgroups import unified
from berth.sys.cgroups.v1 import hierarchies

_MAX_LINKS = 255


def secure_join(root: str, unsafe: str) -> str:
    """``root`` + ``unsafe`` with every symlink resolved as if ``root`` were ``/``."""
    pending = [p for p in unsafe.split("/") if p]
    resolved: list[str] = []
    links = 0
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        full = os.path.join(root, *resolved, part)
        try:
            st = os.lstat(full)
        except FileNotFoundError:
            resolved.append(part)
            continue
        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > _MAX_LINKS:
                raise SyscallError(errno.ELOOP, "resolve", unsafe)
            target = os.readlink(full)
            if target.startswith("/"):
                resolved = []
            pending = [p for p in target.split("/") if p] + pending
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


def _locked_flags(path: str) -> int:
    """Flags a remount must keep: statvfs's ST_* bits equal the MS_* bits for these."""
    try:
        return os.statvfs(path).f_flag & REMOUNT_KEEP
    except OSError:
        return 0


def _make_target(dest: str, source_is_file: bool) -> None:
    if os.path.lexists(dest):
        return
    if source_is_file:
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        os.close(os.open(dest, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
    else:
        os.makedirs(dest, exist_ok=True)


def _mount_cgroup(dest: str, step: MountStep) -> None:
    ro = step.flags & m.MS_RDONLY
    flags = step.flags & ~m.MS_RDONLY
    if unified():
        try:
            m.mount("cgroup2", dest, "cgroup2", step.flags)
        except SyscallError:
            m.mount("/sys/fs/cgroup", dest, None, m.MS_BIND | m.MS_REC)
        return
    # cgroup v1: a tmpfs holding one mount per hierarchy. Inside a cgroup namespace each
    # hierarchy shows the container's own group as its root.
    m.mount("tmpfs", dest, "tmpfs", flags | m.MS_NOSUID | m.MS_NOEXEC | m.MS_NODEV, "mode=755")
    by_point: dict[str, list[str]] = {}
    for controller, point in hierarchies().items():
        by_point.setdefault(point, []).append(controller)
    for point, controllers in sorted(by_point.items()):
        name = os.path.basename(point)
        target = os.path.join(dest, name)
        os.makedirs(target, exist_ok=True)
        try:
            m.mount("cgroup", target, "cgroup", flags | (m.MS_RDONLY if ro else 0), ",".join(sorted(controllers)))
        except SyscallError:
            m.mount(point, target, None, m.MS_BIND | m.MS_REC)
    if ro:
        m.mount(None, dest, None, m.MS_REMOUNT | m.MS_RDONLY | flags | m.MS_NOSUID | m.MS_NOEXEC | m.MS_NODEV)


def _copy_up(rootfs: str, destination: str, volume: str) -> None:
    """Fill an empty volume folder with the image's files at the mount point.

    By descriptors on both sides (berth.sys.fdtree): the volume may already be in use
    by a running container, which could otherwise swap a name for a symlink to a host
    path between our check and our write (we run before pivot_root, so / is the host's).
    """
    from berth.sys.fdtree import copy_meta, copy_tree
    from berth.sys.openat2 import open_in_root

    root = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            src = open_in_root(root, destination, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return  # nothing (or no folder) there in the image
    finally:
        os.close(root)
    try:
        dst = os.open(volume, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            with os.scandir(dst) as it:
                if any(True for _ in it):
                    return
            copy_meta(src, os.fstat(src), dst)
            copy_tree(src, dst)
        finally:
            os.close(dst)
    finally:
        os.close(src)


def mount_step(rootfs: str, step: MountStep) -> None:
    dest = secure_join(rootfs, step.destination)
    source_is_file = step.bind and not os.path.isdir(step.source)
    if step.copyup and step.bind and not source_is_file:
        _copy_up(rootfs, step.destination, step.source)
    _make_target(dest, source_is_file)
    if step.fstype == "cgroup":
        _mount_cgroup(dest, step)
    elif step.bind:
        m.mount(step.source, dest, None, m.MS_BIND | (step.flags & m.MS_REC))
        if step.needs_remount:
            flags = step.flags | m.MS_REMOUNT | m.MS_BIND | _locked_flags(dest)
            m.mount(None, dest, None, flags)
    else:
        source = step.source or step.fstype
        try:
            m.mount(source, dest, step.fstype, step.flags, step.data)
        except SyscallError as err:
            # Without its own network (or ipc) namespace a container in a user namespace
            # may not mount sysfs (or mqueue); runc falls back to the host's, bound.
            fallback = {"sysfs": "/sys", "mqueue": "/dev/mqueue"}.get(step.fstype)
            if err.errno != errno.EPERM or fallback is None:
                raise
            m.mount(fallback, dest, None, m.MS_BIND | m.MS_REC)
            m.mount(None, dest, None, m.MS_BIND | m.MS_REMOUNT | step.flags | _locked_flags(dest))
    for propagation in step.propagation:
        m.mount(None, dest, None, propagation)


def _make_device(rootfs: str, dev: DeviceNode) -> None:
    dest = secure_join(rootfs, dev.path)
    if os.path.lexists(dest):
        return
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    kind = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}[dev.kind]
    try:
        os.mknod(dest, kind | (dev.mode & 0o7777), os.makedev(dev.major, dev.minor))  # umask is 0 here
        os.chown(dest, dev.uid, dev.gid)
    except PermissionError:
        # In a user namespace mknod is refused: bind the host's node instead.
        _make_target(dest, True)
        m.mount(dev.path, dest, None, m.MS_BIND)


_DEV_LINKS = (
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
)


def populate_dev(rootfs: str, plan: InitPlan) -> None:
    old = os.umask(0)  # device nodes get exactly their mode
    try:
        for dev in plan.devices:
            _make_device(rootfs, dev)
    finally:
        os.umask(old)
    links = list(_DEV_LINKS)
    if os.path.exists("/proc/kcore"):
        links.append(("/proc/kcore", "/dev/core"))
    if any(s.destination == "/dev/pts" for s in plan.mounts):
        links.append(("pts/ptmx", "/dev/ptmx"))
    for target, link in links:
        path = secure_join(rootfs, link)
        if os.path.lexists(path):
            if link == "/dev/ptmx" and not os.path.islink(path):
                os.unlink(path)  # the image's own ptmx node would open the host's devpts
            else:
                continue
        os.symlink(target, path)


def mount_rootfs(plan: InitPlan) -> None:
    """Mount the snapshot's file system (an overlay of the image's layers) onto the
    rootfs folder, in the container's own mount namespace: nothing stays on the host."""
    from berth.sys.mount_options import mount_by_options  # (before pivot_root: files still in reach)

    for mnt in plan.rootfs_mounts:
        mount_by_options(mnt.type, mnt.source or mnt.type, mnt.options, plan.rootfs)


def prepare(plan: InitPlan, enter_cgroup: Callable[[], None] | None = None) -> None:
    """Everything before pivot_root. ``enter_cgroup``, when given, runs once, before the
    first cgroup file system is mounted (which shows the cgroup namespace's root) or
    else after the last mount."""
    m.mount(None, "/", None, plan.root_propagation)
    if plan.rootfs_mounts:
        mount_rootfs(plan)
    else:
        m.mount(plan.rootfs, plan.rootfs, None, m.MS_BIND | m.MS_REC)
    for step in plan.mounts:
        if enter_cgroup is not None and step.fstype in ("cgroup", "cgroup2"):
            enter_cgroup()
            enter_cgroup = None
        mount_step(plan.rootfs, step)
    if enter_cgroup is not None:
        enter_cgroup()
    populate_dev(plan.rootfs, plan)
    cwd = secure_join(plan.rootfs, plan.process.cwd)
    if not os.path.exists(cwd):
        os.makedirs(cwd, mode=0o755)


def pivot(rootfs: str) -> None:
    os.chdir(rootfs)
    m.pivot_root(".", ".")
    # The old root is now stacked under the new one at "/"; make it a slave so the
    # detach below cannot propagate to the host, then drop it.
    m.mount(None, ".", None, m.MS_SLAVE | m.MS_REC)
    m.umount(".", m.MNT_DETACH)
    os.chdir("/")


def finish(plan: InitPlan) -> None:
    """Masks and read-only remounts, after pivot_root, on the container's own paths."""
    for path in plan.masked_paths:
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            continue
        if stat.S_ISDIR(st.st_mode):
            m.mount("tmpfs", path, "tmpfs", m.MS_RDONLY)
        else:
            m.mount("/dev/null", path, None, m.MS_BIND)
    for path in plan.readonly_paths:
        if not os.path.exists(path):
            continue
        m.mount(path, path, None, m.MS_BIND | m.MS_REC)
        m.mount(None, path, None, m.MS_BIND | m.MS_REMOUNT | m.MS_RDONLY | m.MS_REC | _locked_flags(path))
    if plan.readonly:
        m.mount(None, "/", None, m.MS_BIND | m.MS_REMOUNT | m.MS_RDONLY | _locked_flags("/"))
    if plan.set_root_propagation:
        m.mount(None, "/", None, plan.set_root_propagation)


def bind_console(slave_path: str) -> None:
    """/dev/console is the container's terminal, as Docker and runc set it up."""
    _make_target("/dev/console", True)
    m.mount(slave_path, "/dev/console", None, m.MS_BIND)
