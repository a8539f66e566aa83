"""A tar of one path inside a root, walked by descriptors only.

Each entry is opened ``O_PATH | O_NOFOLLOW`` relative to its folder's descriptor and
described by ``fstat`` of that descriptor; a regular file's data is read through a
reopen of the same descriptor, so what is archived is the inode that was looked at,
never what a path names a moment later. A FIFO or device is never opened (a swapped-in
FIFO would block, a device could have side effects). Mount points of kernel file
systems (proc, sysfs, cgroup…) are listed but not descended into.
"""

from __future__ import annotations

import os
import stat
from typing import Protocol

from berth.store.layers import tarformat as tf
from berth.store.layers import whiteout as wh
from berth.store.rooted.resolve import PathStat, Root, parse_target, stat_path
from berth.sys.openat2 import PSEUDO_FS, fd_path, fs_type

_SKIP_XATTRS = ("security.selinux",)
_CHUNK = 1 << 20


class Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...


def write_tar(root: Root, path: str, sink: Sink, *, rebase: str | None = None) -> PathStat:
    """Write a tar of ``path`` (Docker's archive semantics: the last name is not
    followed unless the path ends in ``/`` or ``/.``) to ``sink``, its entries named
    ``rebase`` (default: the path's own name) and below. Returns the path's stat."""
    target = parse_target(path)
    info = stat_path(root, path)
    fd, st = root.open_target(target)
    try:
        _Archiver(sink).entry(fd, st, rebase if rebase is not None else target.archive_name)
    finally:
        os.close(fd)
    sink.write(tf.END)
    return info


class _Archiver:
    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.links: dict[tuple[int, int], str] = {}

    def entry(self, fd: int, st: os.stat_result, name: str) -> None:
        mode = st.st_mode
        if stat.S_ISSOCK(mode):
            return  # sockets cannot be archived; tar skips them too
        entry = tf.Entry(name=name, mode=stat.S_IMODE(mode), uid=st.st_uid, gid=st.st_gid,
                         mtime_ns=st.st_mtime_ns, xattrs=_xattrs(fd))
        if stat.S_ISDIR(mode):
            entry.type, entry.name = tf.DIR, name.rstrip("/") + "/"
            self.sink.write(tf.encode_header(entry))
            self._children(fd, st, name.rstrip("/"))
            return
        if stat.S_ISLNK(mode):
            entry.type, entry.linkname = tf.SYM, os.readlink("", dir_fd=fd)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            entry.type = tf.CHR if stat.S_ISCHR(mode) else tf.BLK
            entry.devmajor, entry.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        elif stat.S_ISFIFO(mode):
            entry.type = tf.FIFO
        elif stat.S_ISREG(mode):
            if st.st_nlink > 1:
                first = self.links.setdefault((st.st_dev, st.st_ino), name)
                if first != name:
                    entry.type, entry.linkname = tf.LNK, first
                    self.sink.write(tf.encode_header(entry))
                    return
            self._file(fd, entry)
            return
        self.sink.write(tf.encode_header(entry))

    def _file(self, opath: int, entry: tf.Entry) -> None:
        # Reopening /proc/self/fd/N opens the very inode the O_PATH descriptor holds.
        fd = os.open(fd_path(opath), os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            st = os.fstat(fd)
            entry.size = st.st_size
            self.sink.write(tf.encode_header(entry))
            left = entry.size
            while left:
                chunk = os.read(fd, min(left, _CHUNK))
                if not chunk:
                    break
                self.sink.write(chunk)
                left -= len(chunk)
            # A file that shrank while it was read is padded: the header is already out.
            self.sink.write(bytes(left + tf.padding(entry.size)))
        finally:
            os.close(fd)

    def _children(self, opath: int, st: os.stat_result, name: str) -> None:
        dfd = os.open(fd_path(opath), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            if fs_type(dfd) in PSEUDO_FS:
                return
            with os.scandir(dfd) as it:
                names = sorted(e.name for e in it)
            for child in names:
                try:
                    cfd = os.open(child, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
                except FileNotFoundError:
                    continue  # removed while we walked
                try:
                    self.entry(cfd, os.fstat(cfd), f"{name}/{child}")
                finally:
                    os.close(cfd)
        finally:
            os.close(dfd)


def _xattrs(opath: int) -> dict[str, bytes]:
    where = fd_path(opath)
    try:
        names = os.listxattr(where)
    except OSError:
        return {}
    out = {}
    for key in names:
        if wh.private_xattr(key) or key in _SKIP_XATTRS:
            continue
        try:
            out[key] = os.getxattr(where, key)
        except OSError:
            continue
    return out
