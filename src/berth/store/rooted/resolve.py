"""Paths inside a root descriptor, and Docker's stat of one (``X-Docker-Container-Path-Stat``)."""

from __future__ import annotations

import base64
import errno
import json
import os
import posixpath
import stat
import time
from dataclasses import dataclass

from berth.errors import InvalidArgument, NotFound
from berth.sys.openat2 import open_in_root

_MAX_LINKS = 40

# Go's os.FileMode bits, which Docker's stat header carries.
_GO_DIR = 1 << 31
_GO_SYMLINK = 1 << 27
_GO_DEVICE = 1 << 26
_GO_PIPE = 1 << 25
_GO_SOCKET = 1 << 24
_GO_SETUID = 1 << 23
_GO_SETGID = 1 << 22
_GO_CHAR = 1 << 21
_GO_STICKY = 1 << 20


def go_file_mode(mode: int) -> int:
    out = mode & 0o777
    kind = stat.S_IFMT(mode)
    out |= {stat.S_IFDIR: _GO_DIR, stat.S_IFLNK: _GO_SYMLINK, stat.S_IFBLK: _GO_DEVICE,
            stat.S_IFCHR: _GO_DEVICE | _GO_CHAR, stat.S_IFIFO: _GO_PIPE, stat.S_IFSOCK: _GO_SOCKET}.get(kind, 0)
    if mode & stat.S_ISUID:
        out |= _GO_SETUID
    if mode & stat.S_ISGID:
        out |= _GO_SETGID
    if mode & stat.S_ISVTX:
        out |= _GO_STICKY
    return out


def rfc3339_nano(ns: int) -> str:
    secs, frac = divmod(ns, 1_000_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + "Z"


@dataclass(frozen=True, slots=True)
class PathStat:
    """Docker's ``ContainerPathStat``: what HEAD/GET ``/containers/{id}/archive`` say
    about the path, base64-encoded JSON in the ``X-Docker-Container-Path-Stat`` header."""

    name: str
    size: int
    mode: int  # Go's os.FileMode: permission bits plus type bits (1<<31 a folder, 1<<27 a symlink…)
    mtime: str  # RFC 3339 with nanoseconds
    link_target: str = ""  # for a symlink: its target resolved inside the container, absolute

    @property
    def is_dir(self) -> bool:
        return bool(self.mode & _GO_DIR)

    @property
    def is_symlink(self) -> bool:
        return bool(self.mode & _GO_SYMLINK)

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "size": self.size, "mode": self.mode, "mtime": self.mtime,
                "linkTarget": self.link_target}

    def header(self) -> str:
        return base64.b64encode(json.dumps(self.to_json()).encode()).decode()


@dataclass(frozen=True, slots=True)
class Target:
    """A container path as Docker's ResolvePath reads it: the folder resolved (symlinks
    followed inside the root), the last name kept as is unless the path ends in ``/``
    or ``/.``, which asks for it followed too."""

    abs_path: str  # the path as asked, made absolute, a trailing "/" or "/." kept
    parent: str  # abs_path's folder part
    name: str  # its last component ("" for the root, "." for ".../.")

    @property
    def follows_last(self) -> bool:
        return self.name in ("", ".")

    @property
    def base(self) -> str:
        """Docker's ``filepath.Base(absPath)``: the name stat reports."""
        if self.name:
            return self.name
        return posixpath.basename(self.parent) or "/"

    @property
    def archive_name(self) -> str:
        """The name the tar's entries are rebased to (the root's become ``./…``)."""
        return "." if self.base == "/" else self.base


def parse_target(path: str) -> Target:
    if "\0" in path:
        raise InvalidArgument("a path must not contain NUL")
    if not path:
        raise InvalidArgument("a path is required")
    clean = posixpath.normpath("/" + path)
    if clean.startswith("//"):
        clean = clean[1:]
    if path.endswith("/.") or path == ".":
        abs_path = clean.rstrip("/") + "/."
        return Target(abs_path, clean, ".")
    if path.endswith("/") or clean == "/":
        return Target(clean.rstrip("/") + "/", clean, "")
    parent, name = posixpath.split(clean)
    return Target(clean, parent, name)


class Root:
    """A root descriptor (owned by the caller) and the lookups berth makes in it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def open(self, path: str, flags: int = os.O_PATH) -> int:
        return open_in_root(self.fd, path, flags)

    def open_target(self, target: Target) -> tuple[int, os.stat_result]:
        """An O_PATH descriptor of ``target`` (its last name not followed unless asked)
        and its lstat. NotFound when it does not exist."""
        try:
            if target.follows_last:
                fd = self.open(target.parent)
            else:
                parent = self.open(target.parent, os.O_PATH | os.O_DIRECTORY)
                try:
                    fd = os.open(target.name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
                finally:
                    os.close(parent)
        except OSError as err:
            if err.errno in (errno.ENOENT, errno.ENOTDIR):
                raise NotFound(f"Could not find the file {target.abs_path.rstrip('.') or '/'}") from None
            raise
        return fd, os.fstat(fd)

    def canonical(self, path: str) -> str:
        """``path`` with every symlink resolved inside the root, as an absolute path
        (informational: what Docker reports as a symlink's linkTarget)."""
        pending = [p for p in path.split("/") if p]
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
            here = "/" + "/".join([*resolved, part])
            try:
                fd = open_in_root(self.fd, here, os.O_PATH | os.O_NOFOLLOW)
            except OSError:
                resolved.append(part)
                continue
            try:
                if not stat.S_ISLNK(os.fstat(fd).st_mode):
                    resolved.append(part)
                    continue
                link = os.readlink("", dir_fd=fd)
            finally:
                os.close(fd)
            links += 1
            if links > _MAX_LINKS:
                raise InvalidArgument(f"{path}: too many levels of symbolic links")
            if link.startswith("/"):
                resolved = []
            pending = [p for p in link.split("/") if p] + pending
        return "/" + "/".join(resolved)


def stat_path(root: Root, path: str) -> PathStat:
    """Docker's stat of ``path`` in the container (HEAD ``/containers/{id}/archive``)."""
    target = parse_target(path)
    fd, st = root.open_target(target)
    os.close(fd)
    link = root.canonical(target.abs_path) if stat.S_ISLNK(st.st_mode) else ""
    return PathStat(target.base, st.st_size, go_file_mode(st.st_mode), rfc3339_nano(st.st_mtime_ns), link)
