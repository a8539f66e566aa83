"""Unpacking a tar into a folder inside a root, every entry checked before it is written.

What an entry may do: create or replace a file, folder, symlink, hard link, FIFO or
device node at a path below the destination folder. Names are cleaned (a leading ``/``
or ``./`` is dropped); a name that climbs out of the destination with ``..``, a hard
link to something outside it, a NUL, or an id above 2^31-1 is refused with an error
naming the entry. Parent folders are resolved inside the root (a container's symlinks
work as the container sees them, and cannot lead out of it); the entry itself is
created with ``*at`` calls relative to its parent's descriptor, never following a
symlink, so nothing another process does meanwhile can redirect a write. This is our
own extraction, not :meth:`tarfile.TarFile.extractall` (whose ``filter`` Debian 12's
Python 3.11.2 lacks).
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import stat
from dataclasses import dataclass
from typing import BinaryIO

from berth.errors import InvalidArgument, NotFound
from berth.store.layers import tarformat as tf
from berth.store.layers import whiteout as wh
from berth.store.rooted.resolve import Root
from berth.sys.openat2 import fd_path

_MAX_ID = (1 << 31) - 1
_CACHE = 128


@dataclass(frozen=True, slots=True)
class ExtractOptions:
    owner: tuple[int, int] | None = (0, 0)  # every entry's uid:gid; None keeps the tar's
    no_overwrite_dir_non_dir: bool = False  # Docker's noOverwriteDirNonDir: refuse dir ↔ non-dir
    rename_top: tuple[str, str] | None = None  # the archive's first name → another (cp to a new name)
    strip_setid: bool = False  # drop setuid/setgid bits (files copied out to the host)


def extract_tar(root: Root, dest: str, stream: BinaryIO, options: ExtractOptions = ExtractOptions()) -> int:
    """Unpack ``stream`` (a tar, plain or compressed) into the folder ``dest`` of
    ``root`` (resolved inside it). Returns the number of entries written. Raises
    NotFound when ``dest`` does not exist, InvalidArgument when it is not a folder or
    an entry is refused (entries before it stay written, as with Docker)."""
    from berth.store.layers import compression as comp

    try:
        dest_fd = root.open(dest, os.O_PATH | os.O_DIRECTORY)
    except OSError as err:
        if err.errno == errno.ENOENT:
            raise NotFound(f"Could not find the file {dest} in container") from None
        if err.errno == errno.ENOTDIR:
            raise InvalidArgument(f"extraction point is not a directory: {dest}") from None
        raise
    head, stream = comp.peek(stream)
    source = comp.decompressed(stream, comp.detect(head))
    try:
        return _Extractor(root, dest, options).run(tf.TarReader(tf.StreamSource(source)))
    finally:
        os.close(dest_fd)
        if source is not stream:
            source.close()


def check_tar(stream: BinaryIO) -> int:
    """Read a whole tar and refuse it (InvalidArgument, naming the entry) if any entry
    would be refused, so a bad archive writes nothing. The number of entries."""
    from berth.store.layers import compression as comp

    head, stream = comp.peek(stream)
    source = comp.decompressed(stream, comp.detect(head))
    try:
        reader = tf.TarReader(tf.StreamSource(source))
        count = 0
        for entry in reader:
            rel = clean_name(entry.name, entry.name)
            if rel != ".":
                check_entry(entry)
            reader.copy_data(entry, None)
            count += 1
        return count
    finally:
        if source is not stream:
            source.close()


def clean_name(name: str, shown: str) -> str:
    """An entry's name relative to the destination; refused if it would climb out."""
    if "\0" in name:
        raise InvalidArgument(f"tar entry {shown!r}: a NUL in its name")
    rel = posixpath.normpath(name.lstrip("/")) if name.strip("/") else "."
    if rel == ".." or rel.startswith("../"):
        raise InvalidArgument(f"tar entry {shown!r}: it would be written outside the destination")
    return rel


def check_entry(entry: tf.Entry) -> None:
    for value, what in ((entry.uid, "uid"), (entry.gid, "gid")):
        if not 0 <= value <= _MAX_ID:
            raise InvalidArgument(f"tar entry {entry.name!r}: {what} {value} is out of range")
    if not (entry.is_dir or entry.is_regular or entry.type in _NODES):
        raise InvalidArgument(f"tar entry {entry.name!r}: unsupported type {entry.type!r}")
    if entry.type == tf.LNK:
        clean_name(entry.linkname, f"{entry.name} -> {entry.linkname}")
    if "\0" in entry.linkname:
        raise InvalidArgument(f"tar entry {entry.name!r}: a NUL in its link target")


_NODES = frozenset({tf.SYM, tf.LNK, tf.CHR, tf.BLK, tf.FIFO})


class _Extractor:
    def __init__(self, root: Root, dest: str, options: ExtractOptions) -> None:
        self.root = root
        self.dest = dest
        self.options = options
        self.dirs: dict[str, int] = {}
        self.dir_meta: list[tuple[str, tf.Entry]] = []

    def run(self, reader: tf.TarReader) -> int:
        count = 0
        try:
            for entry in reader:
                rel = self._clean(entry.name, entry.name)
                if rel == ".":
                    reader.copy_data(entry, None)
                    continue
                self._add(rel, entry, reader)
                count += 1
            for rel, entry in reversed(self.dir_meta):
                with contextlib.suppress(OSError):
                    self._dir_meta(rel, entry)
        finally:
            for fd in self.dirs.values():
                os.close(fd)
        return count

    def _clean(self, name: str, shown: str) -> str:
        rel = clean_name(name, shown)
        top = self.options.rename_top
        if top is not None and rel != ".":
            first, _, rest = rel.partition("/")
            if first == top[0]:
                rel = posixpath.join(top[1], rest) if rest else top[1]
        return rel

    # ----------------------------------------------------------------- entries

    def _add(self, rel: str, entry: tf.Entry, reader: tf.TarReader) -> None:
        check_entry(entry)
        parent_rel, name = posixpath.split(rel)
        parent = self._dir(parent_rel or ".", create=True)
        existing = _lstat_at(parent, name)
        if entry.is_dir:
            if existing is not None and stat.S_ISDIR(existing.st_mode):
                self.dir_meta.append((rel, entry))
                return
            self._clear(parent, name, existing, entry, new_is_dir=True)
            os.mkdir(name, 0o700, dir_fd=parent)
            self.dir_meta.append((rel, entry))
            return
        if existing is not None:
            self._clear(parent, name, existing, entry, new_is_dir=False)
        if entry.is_regular:
            self._file(parent, name, entry, reader)
        elif entry.type == tf.SYM:
            os.symlink(entry.linkname, name, dir_fd=parent)
            self._owner_at(parent, name, entry)
            os.utime(fd_path(parent, name), ns=(entry.mtime_ns, entry.mtime_ns), follow_symlinks=False)
        elif entry.type == tf.LNK:
            target = self._clean(entry.linkname, f"{entry.name} -> {entry.linkname}")
            tparent_rel, tname = posixpath.split(target)
            tparent = self._dir(tparent_rel or ".", create=False)
            os.link(tname, name, src_dir_fd=tparent, dst_dir_fd=parent, follow_symlinks=False)
        elif entry.type in (tf.CHR, tf.BLK, tf.FIFO):
            kind = {tf.CHR: stat.S_IFCHR, tf.BLK: stat.S_IFBLK, tf.FIFO: stat.S_IFIFO}[entry.type]
            os.mknod(name, kind | 0o600, os.makedev(entry.devmajor, entry.devminor), dir_fd=parent)
            self._node_meta(parent, name, entry, kind)

    def _clear(self, parent: int, name: str, existing: os.stat_result | None, entry: tf.Entry, *,
               new_is_dir: bool) -> None:
        if existing is None:
            return
        old_is_dir = stat.S_ISDIR(existing.st_mode)
        if self.options.no_overwrite_dir_non_dir and old_is_dir != new_is_dir:
            which = "directory" if old_is_dir else "non-directory"
            raise InvalidArgument(f"cannot overwrite {which} {entry.name!r} with "
                                  f"{'a directory' if new_is_dir else 'a non-directory'}")
        if old_is_dir:  # descriptors of folders below it would point at removed folders
            keep = self.dirs.pop(".", None)
            for fd in self.dirs.values():
                if fd != parent:
                    os.close(fd)
            self.dirs = {k: v for k, v in self.dirs.items() if v == parent}
            if keep is not None:
                self.dirs["."] = keep
        remove_at(parent, name)

    def _file(self, parent: int, name: str, entry: tf.Entry, reader: tf.TarReader) -> None:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                     dir_fd=parent)
        try:
            reader.copy_data(entry, fd)
            uid, gid = self._ids(entry)
            os.fchown(fd, uid, gid)
            os.fchmod(fd, self._mode(entry))
            for key, value in entry.xattrs.items():
                if not wh.private_xattr(key) and not (self.options.strip_setid and key == "security.capability"):
                    with contextlib.suppress(OSError):
                        os.setxattr(fd, key, value)
            os.utime(fd, ns=(entry.mtime_ns, entry.mtime_ns))
        finally:
            os.close(fd)

    def _mode(self, entry: tf.Entry) -> int:
        mode = entry.mode & 0o7777
        return mode & ~0o6000 if self.options.strip_setid else mode

    def _ids(self, entry: tf.Entry) -> tuple[int, int]:
        return self.options.owner if self.options.owner is not None else (entry.uid, entry.gid)

    def _owner_at(self, parent: int, name: str, entry: tf.Entry) -> None:
        uid, gid = self._ids(entry)
        os.chown(fd_path(parent, name), uid, gid, follow_symlinks=False)

    def _node_meta(self, parent: int, name: str, entry: tf.Entry, kind: int) -> None:
        self._owner_at(parent, name, entry)
        fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
        try:
            if stat.S_IFMT(os.fstat(fd).st_mode) != kind:
                return  # replaced meanwhile: not ours to change
            os.chmod(fd_path(fd), self._mode(entry))  # the very inode fd holds
            os.utime(fd_path(fd), ns=(entry.mtime_ns, entry.mtime_ns))
        finally:
            os.close(fd)

    def _dir_meta(self, rel: str, entry: tf.Entry) -> None:
        parent_rel, name = posixpath.split(rel)
        parent = self._dir(parent_rel or ".", create=False)
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
        try:
            uid, gid = self._ids(entry)
            os.fchown(fd, uid, gid)
            os.fchmod(fd, self._mode(entry))
            for key, value in entry.xattrs.items():
                if not wh.private_xattr(key):
                    with contextlib.suppress(OSError):
                        os.setxattr(fd, key, value)
            os.utime(fd, ns=(entry.mtime_ns, entry.mtime_ns))
        finally:
            os.close(fd)

    # ----------------------------------------------------------------- folders

    def _dir(self, rel: str, *, create: bool) -> int:
        """An O_PATH descriptor of the folder ``rel`` below the destination, resolved
        inside the root; missing folders are made (0755, the owner's) when ``create``."""
        fd = self.dirs.get(rel)
        if fd is not None:
            return fd
        try:
            fd = self.root.open(posixpath.join(self.dest, rel), os.O_PATH | os.O_DIRECTORY)
        except OSError as err:
            if err.errno == errno.ENOTDIR:
                raise InvalidArgument(f"{rel}: not a directory") from None
            if err.errno != errno.ENOENT or not create or rel == ".":
                raise
            parent_rel, name = posixpath.split(rel)
            parent = self._dir(parent_rel or ".", create=True)
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, 0o755, dir_fd=parent)
                owner = self.options.owner or (0, 0)
                os.chown(fd_path(parent, name), *owner, follow_symlinks=False)
            fd = self.root.open(posixpath.join(self.dest, rel), os.O_PATH | os.O_DIRECTORY)
        if len(self.dirs) >= _CACHE:
            for old in self.dirs.values():
                os.close(old)
            self.dirs.clear()
        self.dirs[rel] = fd
        return fd


def _lstat_at(parent: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return None


def remove_at(parent: int, name: str) -> None:
    """rm -rf of ``name`` in the folder ``parent``, by descriptors: a symlink is
    removed, never followed."""
    try:
        os.unlink(name, dir_fd=parent)
        return
    except FileNotFoundError:
        return
    except IsADirectoryError:
        pass
    except PermissionError as err:
        if err.errno != errno.EPERM:
            raise
    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
    try:
        with os.scandir(fd) as it:
            children = [e.name for e in it]
        for child in children:
            remove_at(fd, child)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=parent)
