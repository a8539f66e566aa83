"""From a container's files back to a layer: the tar of what changed, and ``docker diff``.

Two shapes of input, matching the two snapshotters:

``overlay``  ``upper`` is an overlay upper folder: everything in it changed; char 0/0
             whiteouts become ``.wh.NAME`` entries and opaque folders a
             ``.wh..wh..opq`` entry. ``lowers`` (top first) only decide whether a path
             was added (``A``) or changed (``C``) in :func:`changes`.
``trees``    ``upper`` is the container's whole tree and ``lowers[0]`` the image's;
             the two are compared (type, mode, owner, size, mtime, link target,
             xattrs), which is what Docker does for drivers without an upper folder.

Entries are written in sorted, depth-first order with mtimes truncated to whole seconds
and no atime/ctime, as Docker writes layers, so the same change gives the same diff ID.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Literal, cast

from berth.oci.digest import Digest
from berth.store.errors import CorruptArchive
from berth.store.layers import tarformat as tf
from berth.store.layers import whiteout as wh
from berth.sys.openat2 import fd_path, open_beneath

Kind = Literal["overlay", "trees"]
# Host-specific labels that must not travel inside a layer.
_SKIP_XATTRS = ("security.selinux",)
SOCKET = b"?"  # not a tar type: marks what write_diff leaves out


@dataclass(frozen=True, slots=True)
class DiffResult:
    diff_id: Digest  # sha256 of the tar written
    size: int  # bytes of regular-file content
    entries: int


# Files the runtime makes as targets of its bind mounts (a container's hosts,
# hostname and resolv.conf) when the image lacks them. Empty and absent from the
# lower layers, they are mount points, not changes: Docker keeps them in an init layer
# under the container's, berth leaves them out of diffs and committed layers.
MOUNT_PLACEHOLDERS = frozenset({"etc/hosts", "etc/hostname", "etc/resolv.conf", "dev/console"})


def is_placeholder(rel: str, st: os.stat_result, lowers: Sequence[str]) -> bool:
    return (rel in MOUNT_PLACEHOLDERS and stat.S_ISREG(st.st_mode) and st.st_size == 0
            and _lower_stat(lowers, rel) is None)


class _HashingSink:
    def __init__(self, out: tf.Sink) -> None:
        self._out = out
        self.hash = hashlib.sha256()
        self.written = 0

    def write(self, data: bytes | memoryview) -> int:
        self.hash.update(data)
        self._out.write(data)
        self.written += len(data)
        return len(data)


def write_diff(
    upper: str,
    lowers: Sequence[str],
    out: tf.Sink,
    *,
    kind: Kind = "overlay",
    opaque_xattr: str = wh.OPAQUE_XATTR,
) -> DiffResult:
    """Write the layer tar of ``upper`` over ``lowers`` to ``out``; see the module doc."""
    sink = _HashingSink(out)
    writer = tf.TarWriter(sink)
    walker = _Walker(writer, opaque_xattr, lowers)
    if kind == "overlay":
        walker.overlay(upper, "")
    else:
        walker.trees(upper, lowers[0] if lowers else None, "")
    writer.close()
    return DiffResult(Digest("sha256", sink.hash.hexdigest()), walker.size, walker.count)


def diff(upper: str, lowers: Sequence[str], *, kind: Kind = "overlay",
         opaque_xattr: str = wh.OPAQUE_XATTR) -> BinaryIO:
    """The layer tar of ``upper`` over ``lowers`` as a readable stream (written by a
    helper thread into a pipe). An error while walking is raised by ``read``."""
    rfd, wfd = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        with os.fdopen(wfd, "wb", buffering=1 << 20) as sink:
            try:
                write_diff(upper, lowers, sink, kind=kind, opaque_xattr=opaque_xattr)
            except BrokenPipeError:
                pass
            except BaseException as err:  # handed to the reader
                failure.append(err)

    thread = threading.Thread(target=produce, name="layer-diff", daemon=True)
    thread.start()
    return cast(BinaryIO, _PipeReader(os.fdopen(rfd, "rb"), thread, failure))


class _PipeReader:
    def __init__(self, raw: BinaryIO, thread: threading.Thread, failure: list[BaseException]) -> None:
        self._raw = raw
        self._thread = thread
        self._failure = failure

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        if not data or (n < 0):
            self._thread.join()
            if self._failure:
                raise self._failure[0]
        return data

    def close(self) -> None:
        self._raw.close()
        self._thread.join()

    def __enter__(self) -> _PipeReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Walker:
    def __init__(self, writer: tf.TarWriter, opaque_xattr: str, lowers: Sequence[str] = ()) -> None:
        self.writer = writer
        self.opaque_xattr = opaque_xattr
        self.lowers = lowers
        self.links: dict[tuple[int, int], str] = {}
        self.size = 0
        self.count = 0

    def _emit(self, path: str, rel: str, st: os.stat_result) -> None:
        try:
            self._emit_entry(path, rel, st)
        except FileNotFoundError:
            pass  # removed by a running container while we looked (before any byte of it was written)

    def _emit_entry(self, path: str, rel: str, st: os.stat_result) -> None:
        entry = entry_for(path, rel, st)
        if entry.type == SOCKET:
            return
        self.count += 1
        if entry.is_regular and st.st_nlink > 1:
            first = self.links.setdefault((st.st_dev, st.st_ino), rel)
            if first != rel:
                entry.type, entry.linkname, entry.size = tf.LNK, first, 0
                self.writer.add(entry)
                return
        if entry.is_regular and entry.size:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise CorruptArchive(f"{rel}: replaced by a non-file while it was being archived")
                self.writer.add(entry, fd=fd)
            finally:
                os.close(fd)
            self.size += entry.size
        else:
            self.writer.add(entry)

    def _whiteout(self, rel_parent: str, name: str, st: os.stat_result) -> None:
        self.count += 1
        self.writer.add(tf.Entry(name=_join(rel_parent, wh.PREFIX + name), mode=0o600, uid=st.st_uid,
                                 gid=st.st_gid, mtime_ns=_seconds(st.st_mtime_ns)))

    def overlay(self, folder: str, rel: str) -> None:
        for name, st in _sorted_entries(folder):
            path = os.path.join(folder, name)
            child = _join(rel, name)
            if wh.is_whiteout(st):
                self._whiteout(rel, name, st)
                continue
            if is_placeholder(child, st, self.lowers):
                continue
            self._emit(path, child, st)
            if stat.S_ISDIR(st.st_mode):
                if wh.is_opaque(path, self.opaque_xattr):
                    self.count += 1
                    self.writer.add(tf.Entry(name=_join(child, wh.OPAQUE), mode=0o600, uid=st.st_uid,
                                             gid=st.st_gid, mtime_ns=_seconds(st.st_mtime_ns)))
                with _pinned(path) as pinned:
                    if pinned is not None:
                        self.overlay(pinned, child)

    def trees(self, new: str, old: str | None, rel: str) -> None:
        new_entries = dict(_sorted_entries(new))
        old_entries = dict(_sorted_entries(old)) if old else {}
        for name in sorted(set(new_entries) | set(old_entries)):
            child = _join(rel, name)
            nst = new_entries.get(name)
            ost = old_entries.get(name)
            if nst is None:
                assert ost is not None
                self._whiteout(rel, name, ost)
                continue
            npath = os.path.join(new, name)
            opath = os.path.join(old, name) if old and ost else None
            same_kind_dir = ost is not None and stat.S_ISDIR(nst.st_mode) and stat.S_ISDIR(ost.st_mode)
            if ost is None or not _same(npath, nst, opath, ost):
                self._emit(npath, child, nst)
            if stat.S_ISDIR(nst.st_mode):
                with _pinned(npath) as pinned_new, _pinned(opath if same_kind_dir else None) as pinned_old:
                    if pinned_new is not None:
                        self.trees(pinned_new, pinned_old, child)


def _same(npath: str, nst: os.stat_result, opath: str | None, ost: os.stat_result) -> bool:
    if stat.S_IFMT(nst.st_mode) != stat.S_IFMT(ost.st_mode) or nst.st_mode != ost.st_mode:
        return False
    if (nst.st_uid, nst.st_gid) != (ost.st_uid, ost.st_gid):
        return False
    if stat.S_ISDIR(nst.st_mode):
        return _xattrs(npath) == _xattrs(opath) if opath else True
    if nst.st_mtime_ns != ost.st_mtime_ns or nst.st_size != ost.st_size or nst.st_rdev != ost.st_rdev:
        return False
    if stat.S_ISLNK(nst.st_mode) and opath and os.readlink(npath) != os.readlink(opath):
        return False
    return _xattrs(npath) == (_xattrs(opath) if opath else {})


def _join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


def _seconds(ns: int) -> int:
    return ns // 1_000_000_000 * 1_000_000_000


def _sorted_entries(folder: str | None) -> list[tuple[str, os.stat_result]]:
    if folder is None:
        return []
    entries = []
    with os.scandir(folder) as it:
        for e in it:
            try:
                entries.append((e.name, e.stat(follow_symlinks=False)))
            except FileNotFoundError:
                continue  # removed by a running container while we looked
    entries.sort(key=lambda item: item[0])
    return entries


def _xattrs(path: str | None) -> dict[str, bytes]:
    if path is None:
        return {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    out = {}
    for name in names:
        if wh.private_xattr(name) or name in _SKIP_XATTRS:
            continue
        try:
            out[name] = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue
    return out


def entry_for(path: str, rel: str, st: os.stat_result) -> tf.Entry:
    """The tar entry describing the file at ``path`` (named ``rel`` in the archive)."""
    mode = st.st_mode
    entry = tf.Entry(name=rel, mode=stat.S_IMODE(mode), uid=st.st_uid, gid=st.st_gid,
                     mtime_ns=_seconds(st.st_mtime_ns), xattrs=_xattrs(path))
    if stat.S_ISREG(mode):
        entry.size = st.st_size
    elif stat.S_ISDIR(mode):
        entry.type, entry.name = tf.DIR, rel + "/"
    elif stat.S_ISLNK(mode):
        entry.type, entry.linkname = tf.SYM, os.readlink(path)
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        entry.type = tf.CHR if stat.S_ISCHR(mode) else tf.BLK
        entry.devmajor, entry.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    elif stat.S_ISFIFO(mode):
        entry.type = tf.FIFO
    else:  # sockets cannot be archived; tar skips them too
        entry.type = SOCKET
    return entry


# ------------------------------------------------------------------- docker diff


def changes(upper: str, lowers: Sequence[str], *, kind: Kind = "overlay",
            opaque_xattr: str = wh.OPAQUE_XATTR) -> list[tuple[str, str]]:
    """``docker diff``: (``A``/``C``/``D``, ``/path``) sorted by path. A folder whose
    content was added or deleted counts as changed, as Docker reports it."""
    found: dict[str, str] = {}

    def record(change: str, path: str) -> None:
        found[path] = change
        if change in ("A", "D"):
            parent = os.path.dirname(path)
            if parent != "/":
                found.setdefault(parent, "C")

    if kind == "overlay":
        for path, st, rel in _walk(upper, ""):
            if wh.is_whiteout(st):
                record("D", "/" + rel)
                continue
            if stat.S_ISDIR(st.st_mode) and wh.is_opaque(path, opaque_xattr) and _in_lowers(lowers, rel):
                record("D", "/" + rel)
                continue
            if is_placeholder(rel, st, lowers):
                continue
            lower = _lower_stat(lowers, rel)
            if lower is None:
                record("A", "/" + rel)
            elif stat.S_ISDIR(st.st_mode) and stat.S_ISDIR(lower.st_mode) and st.st_mode == lower.st_mode \
                    and (st.st_uid, st.st_gid) == (lower.st_uid, lower.st_gid):
                # Only copied up (or its mtime moved) because something inside changed;
                # a real change inside marks it changed anyway.
                continue
            else:
                record("C", "/" + rel)
    else:
        for change, rel in _tree_changes(upper, lowers[0] if lowers else None, ""):
            record(change, "/" + rel)
    return [(found[path], path) for path in sorted(found)]


def _walk(folder: str, rel: str) -> Iterator[tuple[str, os.stat_result, str]]:
    for name, st in _sorted_entries(folder):
        path = os.path.join(folder, name)
        child = _join(rel, name)
        yield path, st, child
        if stat.S_ISDIR(st.st_mode) and not wh.is_whiteout(st):
            with _pinned(path) as pinned:
                if pinned is not None:
                    yield from _walk(pinned, child)


def _lower_stat(lowers: Sequence[str], rel: str) -> os.stat_result | None:
    for lower in lowers:
        try:
            root = os.open(lower, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            # No symlink of a layer is followed: a path under one is not in that layer.
            fd = open_beneath(root, rel, os.O_PATH | os.O_NOFOLLOW)
        except OSError as err:
            if err.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EXDEV):
                continue
            raise
        finally:
            os.close(root)
        try:
            st = os.fstat(fd)
        finally:
            os.close(fd)
        return None if wh.is_whiteout(st) else st
    return None


@contextlib.contextmanager
def _pinned(path: str | None) -> Iterator[str | None]:
    """The folder a walk is about to descend into, as ``/proc/self/fd/N`` of a
    descriptor opened without following a symlink: a container that swaps the folder
    for a symlink meanwhile cannot redirect the walk (to the host's /, say). None when
    it is no longer a folder."""
    if path is None:
        yield None
        return
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as err:
        if err.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
            yield None
            return
        raise
    try:
        yield fd_path(fd)
    finally:
        os.close(fd)


def _in_lowers(lowers: Sequence[str], rel: str) -> bool:
    return _lower_stat(lowers, rel) is not None


def _tree_changes(new: str, old: str | None, rel: str) -> Iterator[tuple[str, str]]:
    new_entries = dict(_sorted_entries(new))
    old_entries = dict(_sorted_entries(old)) if old else {}
    for name in sorted(set(new_entries) | set(old_entries)):
        child = _join(rel, name)
        nst, ost = new_entries.get(name), old_entries.get(name)
        if nst is None:
            yield "D", child
            continue
        npath = os.path.join(new, name)
        opath = os.path.join(old, name) if old and ost is not None else None
        if ost is None:
            yield "A", child
        elif not _same(npath, nst, opath, ost) and not (
            stat.S_ISDIR(nst.st_mode) and stat.S_ISDIR(ost.st_mode) and nst.st_mode == ost.st_mode
            and nst.st_mtime_ns == ost.st_mtime_ns
        ):
            yield "C", child
        if stat.S_ISDIR(nst.st_mode):
            both_dirs = ost is not None and stat.S_ISDIR(ost.st_mode)
            with _pinned(npath) as pinned_new, _pinned(opath if both_dirs else None) as pinned_old:
                if pinned_new is not None:
                    yield from _tree_changes(pinned_new, pinned_old, child)
