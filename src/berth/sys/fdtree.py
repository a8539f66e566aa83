"""Copying a folder tree by descriptors: nothing is ever reached through a symlink.

Used where both sides may be written by a container while we copy (a new volume
filled from the image while another container already has the volume): every entry is
opened ``O_PATH | O_NOFOLLOW`` relative to its folder's descriptor, files are created
with ``O_EXCL | O_NOFOLLOW``, and metadata is set through the descriptor (or
``/proc/self/fd``). A name that appears on the destination meanwhile is left alone,
never written through.
"""

from __future__ import annotations

import contextlib
import os
import stat

from berth.sys.openat2 import fd_path

_PRIVATE_XATTRS = ("trusted.overlay.", "user.overlay.")


def copy_tree(src: int, dst: int) -> None:
    """Copy the content of the folder ``src`` into the folder ``dst`` (descriptors),
    keeping owners, modes, times, xattrs, symlinks and hard links within the copy."""
    copier = _Copier()
    try:
        copier.folder(src, dst)
    finally:
        for fd, _ in copier.links.values():
            os.close(fd)


class _Copier:
    def __init__(self) -> None:
        self.links: dict[tuple[int, int], tuple[int, str]] = {}  # first copy: (its folder, dup'ed), name

    def folder(self, src: int, dst: int) -> None:
        with os.scandir(src) as it:
            names = sorted(e.name for e in it)
        for name in names:
            try:
                fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src)
            except FileNotFoundError:
                continue
            try:
                self.entry(fd, os.fstat(fd), dst, name)
            except FileExistsError:
                continue  # made on the destination meanwhile: not ours to replace
            finally:
                os.close(fd)

    def entry(self, fd: int, st: os.stat_result, dst: int, name: str) -> None:
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            os.mkdir(name, 0o700, dir_fd=dst)
            sub_src = os.open(fd_path(fd), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            sub_dst = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dst)
            try:
                self.folder(sub_src, sub_dst)
                copy_meta(fd, st, sub_dst)
            finally:
                os.close(sub_src)
                os.close(sub_dst)
            return
        if stat.S_ISLNK(mode):
            os.symlink(os.readlink("", dir_fd=fd), name, dir_fd=dst)
            os.chown(fd_path(dst, name), st.st_uid, st.st_gid, follow_symlinks=False)
            os.utime(fd_path(dst, name), ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
            return
        if stat.S_ISREG(mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in self.links:
                first_dir, first_name = self.links[key]
                with contextlib.suppress(OSError):
                    os.link(first_name, name, src_dir_fd=first_dir, dst_dir_fd=dst, follow_symlinks=False)
                    return
            self._file(fd, st, dst, name)
            return
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
            os.mknod(name, stat.S_IFMT(mode) | 0o600, st.st_rdev, dir_fd=dst)
            node = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dst)
            try:
                if stat.S_IFMT(os.fstat(node).st_mode) == stat.S_IFMT(mode):
                    os.chown(fd_path(node), st.st_uid, st.st_gid)
                    os.chmod(fd_path(node), stat.S_IMODE(mode))
            finally:
                os.close(node)
        # sockets are not copied (cp -a does not either)

    def _file(self, opath: int, st: os.stat_result, dst: int, name: str) -> None:
        src = os.open(fd_path(opath), os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                          dir_fd=dst)
            try:
                while os.sendfile(out, src, None, 1 << 30) > 0:
                    pass
                copy_meta(opath, st, out)
            finally:
                os.close(out)
        finally:
            os.close(src)
        if st.st_nlink > 1 and (st.st_dev, st.st_ino) not in self.links:
            self.links[(st.st_dev, st.st_ino)] = (os.dup(dst), name)


def copy_meta(src: int, st: os.stat_result, dst: int) -> None:
    """Owner, mode, xattrs and times of ``src`` (an O_PATH descriptor is fine) onto the
    open file or folder ``dst``."""
    os.fchown(dst, st.st_uid, st.st_gid)
    os.fchmod(dst, stat.S_IMODE(st.st_mode))
    where = fd_path(src)
    with contextlib.suppress(OSError):
        for key in os.listxattr(where):
            if key.startswith(_PRIVATE_XATTRS):
                continue
            with contextlib.suppress(OSError):
                os.setxattr(dst, key, os.getxattr(where, key))
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
