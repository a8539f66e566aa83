"""The file system driver: storage paths are files below one local folder.

``put_content`` writes a temporary dot-file in the same folder, fsyncs it and renames
it over the target; ``move`` is ``rename(2)`` followed by an fsync of the target's
folder. Temporary files (``.tmp-*``) left by a crash are invisible to ``list`` and
``walk`` and are removed by :meth:`FilesystemDriver.sweep_temporary`. Locks are
``flock(2)`` on files under ``<root>/.locks``, so they exclude other processes too.
"""

from __future__ import annotations

import builtins
import errno
import fcntl
import hashlib
import os
import shutil
import stat as stat_mod
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import BinaryIO

from berth.registry.server.storage.api import FileInfo, InvalidOffset, PathNotFound, check_path

_TMP_PREFIX = ".tmp-"


class _FileWriter:
    def __init__(self, path: str, fd: int, size: int) -> None:
        self._path = path
        self._fd: int | None = fd
        self._size = size

    @property
    def size(self) -> int:
        return self._size

    def write(self, data: bytes) -> int:
        if self._fd is None:
            raise ValueError(f"{self._path}: writer is closed")
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._size += len(data)
        return len(data)

    def commit(self) -> None:
        if self._fd is None:
            raise ValueError(f"{self._path}: writer is closed")
        try:
            os.fsync(self._fd)
        finally:
            self.close()

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def cancel(self) -> None:
        self.close()
        try:
            os.unlink(self._path)
        except FileNotFoundError:
            pass


class FilesystemDriver:
    """Files under ``root``; see the module docstring."""

    name = "filesystem"

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        os.makedirs(self.root, exist_ok=True)
        self._thread_locks: dict[str, threading.Lock] = {}
        self._thread_locks_guard = threading.Lock()

    def _os_path(self, path: str) -> str:
        check_path(path, self.name)
        return self.root if path == "/" else self.root + path

    def _missing(self, path: str) -> PathNotFound:
        return PathNotFound(path, self.name)

    def get_content(self, path: str) -> bytes:
        try:
            with open(self._os_path(path), "rb") as f:
                return f.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise self._missing(path) from None

    def put_content(self, path: str, content: bytes) -> None:
        target = self._os_path(path)
        folder = os.path.dirname(target)
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, f"{_TMP_PREFIX}{os.path.basename(target)}.{os.getpid()}.{threading.get_ident()}")
        try:
            with open(tmp, "wb") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            _unlink_quietly(tmp)
            raise
        _fsync_dir(folder)

    def reader(self, path: str, offset: int = 0) -> BinaryIO:
        target = self._os_path(path)
        try:
            f = open(target, "rb")  # noqa: SIM115 - returned to the caller
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise self._missing(path) from None
        size = os.fstat(f.fileno()).st_size
        if offset < 0 or offset > size:
            f.close()
            raise InvalidOffset(path, offset, self.name)
        f.seek(offset)
        return f

    def writer(self, path: str, append: bool = False) -> _FileWriter:
        target = self._os_path(path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | (os.O_APPEND if append else os.O_TRUNC)
        try:
            fd = os.open(target, flags, 0o644)
        except IsADirectoryError:
            raise self._missing(path) from None
        size = os.fstat(fd).st_size
        return _FileWriter(target, fd, size)

    def stat(self, path: str) -> FileInfo:
        try:
            st = os.stat(self._os_path(path))
        except (FileNotFoundError, NotADirectoryError):
            raise self._missing(path) from None
        is_dir = stat_mod.S_ISDIR(st.st_mode)
        return FileInfo(path, 0 if is_dir else st.st_size, st.st_mtime, is_dir)

    def list(self, path: str) -> list[str]:
        try:
            names = os.listdir(self._os_path(path))
        except (FileNotFoundError, NotADirectoryError):
            raise self._missing(path) from None
        prefix = "" if path == "/" else path
        return sorted(f"{prefix}/{name}" for name in names if not name.startswith("."))

    def move(self, src: str, dst: str) -> None:
        source, target = self._os_path(src), self._os_path(dst)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            os.replace(source, target)
        except FileNotFoundError:
            if not os.path.lexists(source):
                raise self._missing(src) from None
            raise
        _fsync_dir(os.path.dirname(target))

    def delete(self, path: str) -> None:
        target = self._os_path(path)
        if path == "/":
            raise self._missing(path)  # the root itself is never deleted
        try:
            os.unlink(target)
        except IsADirectoryError:
            shutil.rmtree(target)
        except (FileNotFoundError, NotADirectoryError):
            raise self._missing(path) from None
        except OSError as err:  # Linux reports EISDIR; some systems EPERM for directories
            if err.errno in (errno.EPERM, errno.EISDIR) and os.path.isdir(target):
                shutil.rmtree(target)
            else:
                raise

    def walk(self, path: str) -> Iterator[FileInfo]:
        info = self.stat(path)
        if not info.is_dir:
            yield info
            return
        for child in self.list(path):
            try:
                yield from self.walk(child)
            except PathNotFound:
                continue  # removed while we walked

    def local_path(self, path: str) -> str | None:
        target = self._os_path(path)
        return target if os.path.isfile(target) else None

    def lock(self, path: str) -> AbstractContextManager[None]:
        check_path(path, self.name)
        return self._lock(path)

    @contextmanager
    def _lock(self, path: str) -> Iterator[None]:
        # flock excludes other processes; the thread lock keeps this process's threads
        # from each opening their own description of the same lock file.
        with self._thread_lock(path):
            folder = os.path.join(self.root, ".locks")
            os.makedirs(folder, exist_ok=True)
            name = hashlib.sha256(path.encode()).hexdigest()
            fd = os.open(os.path.join(folder, name), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing releases the flock

    def _thread_lock(self, path: str) -> threading.Lock:
        with self._thread_locks_guard:
            lock = self._thread_locks.get(path)
            if lock is None:
                lock = self._thread_locks[path] = threading.Lock()
            return lock

    def sweep_temporary(self, older_than: float = 3600.0) -> builtins.list[str]:
        """Remove temporary files a crash left behind; returns their local paths."""
        removed: builtins.list[str] = []
        cutoff = time.time() - older_than
        for folder, dirs, files in os.walk(self.root):
            dirs[:] = [d for d in dirs if d != ".locks"]
            for name in files:
                if name.startswith(_TMP_PREFIX):
                    full = os.path.join(folder, name)
                    try:
                        if os.stat(full).st_mtime < cutoff:
                            os.unlink(full)
                            removed.append(full)
                    except FileNotFoundError:
                        continue
        return removed


def _fsync_dir(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
