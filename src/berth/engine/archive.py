"""A container's files from the host: Docker's archive calls (HEAD, GET and PUT
``/containers/{id}/archive``), which ``berth cp`` and the REST API both use.

Everything goes through a *root descriptor* (``berth.store.rooted``): the kernel
resolves paths inside it, so a container that swaps a folder for a symlink while we
work cannot make the host read or write a host file.

- a running (or paused) container: ``/proc/PID/root`` of its init, opened with the pid
  pinned by a pidfd and checked against the start time the shim recorded, so a pid
  reused by a host process is never mistaken for the container;
- a stopped one: its snapshot as a *detached* mount (fsmount(2), attached nowhere):
  no other process sees it, nothing can be left mounted on the host, and it is gone
  when its descriptor closes, the command's own death by SIGKILL included.
"""

from __future__ import annotations

import contextlib
import os
import select
from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO

from berth.errors import ContainerNotRunning, InvalidArgument, NotFound
from berth.store.rooted import ExtractOptions, PathStat, Root, extract_tar, stat_path, write_tar
from berth.store.rooted.tarout import Sink

if TYPE_CHECKING:
    from berth.engine.engine import ContainerView, Engine


@contextlib.contextmanager
def container_root(engine: Engine, view: ContainerView, *, writable: bool = False) -> Iterator[Root]:
    """The root of ``view``'s files as the container sees them, for this block only."""
    if view.running and view.live.pid:
        fd = _live_root(view)
    else:
        from berth.store.mounting import open_detached

        try:
            mounts = engine.store.snapshots.mounts(view.id)
        except NotFound:
            raise NotFound(f"container {view.id}: its file system is gone (an interrupted removal?); "
                           "remove it with 'berth rm -f'") from None
        fd = open_detached(mounts, read_only=not writable)
    try:
        yield Root(fd)
    finally:
        os.close(fd)


def _live_root(view: ContainerView) -> int:
    pid = view.live.pid
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        raise ContainerNotRunning(f"Container {view.id} is not running") from None
    try:
        if not view.live.process_alive():  # the pid is someone else's now
            raise ContainerNotRunning(f"Container {view.id} is not running")
        fd = os.open(f"/proc/{pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        # Still alive after the open: the pid was the container's init all along.
        if select.select([pidfd], [], [], 0)[0]:
            os.close(fd)
            raise ContainerNotRunning(f"Container {view.id} is not running")
        return fd
    finally:
        os.close(pidfd)


def _in(view: ContainerView, path: str) -> NotFound:
    return NotFound(f"Could not find the file {path} in container {view.name}")


def archive_stat(engine: Engine, ref: str, path: str) -> PathStat:
    view = engine.get(ref)
    with container_root(engine, view) as root:
        try:
            return stat_path(root, path)
        except NotFound:
            raise _in(view, path) from None


def archive_get(engine: Engine, ref: str, path: str, sink: Sink) -> PathStat:
    """Write a tar of ``path`` in the container to ``sink``; the path's stat."""
    view = engine.get(ref)
    with container_root(engine, view) as root:
        try:
            stat_path(root, path)
        except NotFound:
            raise _in(view, path) from None
        return write_tar(root, path, sink)


def archive_put(engine: Engine, ref: str, path: str, stream: BinaryIO, *, copy_uid_gid: bool = False,
                no_overwrite_dir_non_dir: bool = False, check_first: bool = True) -> int:
    """Unpack a tar (plain or compressed) into the folder ``path`` of the container.
    Entries are owned by root unless ``copy_uid_gid`` keeps the tar's ids. With
    ``check_first`` every entry is checked before anything is written (the stream is
    spooled to a temporary file when it cannot seek). The number of entries written."""
    view = engine.get(ref)
    options = ExtractOptions(owner=None if copy_uid_gid else (0, 0), no_overwrite_dir_non_dir=no_overwrite_dir_non_dir)
    with contextlib.ExitStack() as stack:
        if check_first:
            stream = stack.enter_context(_checked(stream))
        root = stack.enter_context(container_root(engine, view, writable=True))
        try:
            return extract_tar(root, path, stream, options)
        except NotFound:
            raise _in(view, path) from None
        except OSError as err:
            raise InvalidArgument(f"copying into {view.name}:{path}: {err.strerror or err}") from None


@contextlib.contextmanager
def _checked(stream: BinaryIO) -> Iterator[BinaryIO]:
    from berth.store.rooted.extract import check_tar

    with contextlib.ExitStack() as stack:
        seekable = False
        with contextlib.suppress(OSError, AttributeError, ValueError):
            seekable = stream.seekable() and stream.tell() >= 0
        if not seekable:
            import tempfile

            spool = stack.enter_context(tempfile.TemporaryFile())
            while chunk := stream.read(1 << 20):
                spool.write(chunk)
            spool.seek(0)
            stream = spool
        start = stream.tell()
        check_tar(stream)
        stream.seek(start)
        yield stream
