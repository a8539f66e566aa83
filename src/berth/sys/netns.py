"""Network namespaces kept alive by a bind mount on a file, as ``ip netns`` does.

A namespace is made by a short-lived helper *thread* that unshares its own network
namespace, bind-mounts ``/proc/thread-self/ns/net`` on the target file and brings
``lo`` up, then exits. The network namespace is per thread in Linux, so the calling
thread (and every other one) never changes namespace: this is safe in a threaded
process and costs no fork. :func:`run_in` works the same way to open a socket inside
an existing namespace; a socket stays in the namespace it was made in.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable
from typing import TypeVar

from berth.sys._libc import SyscallError
from berth.sys.mount import MNT_DETACH, MountFlag, mount, umount
from berth.sys.ns import CloneFlag, join, unshare

T = TypeVar("T")

NSFS = "nsfs"


def _in_thread(fn: Callable[[], T]) -> T:
    result: list[T] = []
    failure: list[BaseException] = []

    def body() -> None:
        try:
            result.append(fn())
        except BaseException as err:  # handed to the caller below
            failure.append(err)

    thread = threading.Thread(target=body, name="berth-netns")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]


def run_in(path: str, fn: Callable[[], T]) -> T:
    """Call ``fn`` in a thread that has joined the network namespace at ``path``."""

    def body() -> T:
        join(path, CloneFlag.CLONE_NEWNET)
        return fn()

    return _in_thread(body)


def create(path: str, setup: Callable[[], None] | None = None) -> None:
    """A new network namespace bind-mounted at ``path`` (a new file; EEXIST if taken).

    ``setup`` runs inside the new namespace before it is published (``lo`` up, say).
    On failure nothing is left: no file, no mount.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
    except OSError as err:
        raise SyscallError(err.errno or errno.EIO, "create netns", path) from err
    os.close(fd)

    def body() -> None:
        unshare(CloneFlag.CLONE_NEWNET)
        if setup is not None:
            setup()
        mount("/proc/thread-self/ns/net", path, None, MountFlag.MS_BIND)

    try:
        _in_thread(body)
    except BaseException:
        os.unlink(path)
        raise


def delete(path: str) -> None:
    """Unmount and remove a namespace file; a missing or unmounted file is fine.

    The namespace itself goes when its last user (a process, a socket) goes.
    """
    try:
        umount(path, MNT_DETACH)
    except SyscallError as err:
        if err.errno not in (errno.EINVAL, errno.ENOENT):
            raise
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def mounted() -> set[str]:
    """Every path where a namespace file (nsfs) is mounted, from mountinfo."""
    found = set()
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f:
            head, _, tail = line.partition(b" - ")
            if tail.split(b" ", 1)[0].decode() == NSFS:
                found.add(os.fsdecode(head.split(b" ")[4]).replace("\\040", " "))
    return found


def alive(path: str, nsfs_mounts: set[str] | None = None) -> bool:
    """True while ``path`` still names a network namespace: a /proc entry of a live
    process, or a file with a namespace bind-mounted on it."""
    if path.startswith("/proc/"):
        return os.path.exists(path)
    mounts = mounted() if nsfs_mounts is None else nsfs_mounts
    return os.path.realpath(path) in mounts


def share_dir(path: str) -> None:
    """Make ``path`` a mount point with shared propagation, as ``ip netns`` does for
    /run/netns: a namespace file unmounted here is unmounted in every mount namespace
    copied since, so no stray copy keeps a namespace (and its veth pairs) alive."""
    try:
        mount(None, path, None, MountFlag.MS_SHARED | MountFlag.MS_REC)
        return
    except SyscallError as err:
        if err.errno != errno.EINVAL:  # EINVAL: not a mount point yet
            raise
    mount(path, path, None, MountFlag.MS_BIND | MountFlag.MS_REC)
    mount(None, path, None, MountFlag.MS_SHARED | MountFlag.MS_REC)


def unshare_dir(path: str) -> None:
    """Undo :func:`share_dir` (when no namespace file is left in ``path``)."""
    try:
        umount(path, MNT_DETACH)
    except SyscallError as err:
        if err.errno not in (errno.EINVAL, errno.ENOENT):
            raise
