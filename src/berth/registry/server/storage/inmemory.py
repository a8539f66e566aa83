"""The in-memory driver: a dict of paths to bytes, for tests and throw-away registries.

Directories are implied by the files below them, so an empty directory cannot exist.
Readers see a snapshot of the file taken when they were opened.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import BinaryIO

from berth.registry.server.storage.api import FileInfo, InvalidOffset, PathNotFound, check_path


@dataclass(slots=True)
class _File:
    data: bytearray = field(default_factory=bytearray)
    mod_time: float = field(default_factory=time.time)


class _MemoryWriter:
    def __init__(self, driver: InMemoryDriver, path: str, file: _File) -> None:
        self._driver = driver
        self._path = path
        self._file: _File | None = file

    @property
    def size(self) -> int:
        return len(self._open().data)

    def _open(self) -> _File:
        if self._file is None:
            raise ValueError(f"{self._path}: writer is closed")
        return self._file

    def write(self, data: bytes) -> int:
        file = self._open()
        with self._driver._mutex:
            file.data += data
            file.mod_time = time.time()
        return len(data)

    def commit(self) -> None:
        self.close()

    def close(self) -> None:
        self._file = None

    def cancel(self) -> None:
        if self._file is not None:
            with self._driver._mutex:
                if self._driver._files.get(self._path) is self._file:
                    del self._driver._files[self._path]
        self._file = None


class InMemoryDriver:
    name = "inmemory"

    def __init__(self) -> None:
        self._files: dict[str, _File] = {}
        self._mutex = threading.RLock()
        self._locks: dict[str, threading.Lock] = {}

    def _file(self, path: str) -> _File:
        check_path(path, self.name)
        file = self._files.get(path)
        if file is None:
            raise PathNotFound(path, self.name)
        return file

    def _is_dir(self, path: str) -> bool:
        prefix = "/" if path == "/" else path + "/"
        return any(p.startswith(prefix) for p in self._files)

    def _check_parent_is_not_file(self, path: str) -> None:
        parts = path.split("/")
        for i in range(2, len(parts)):
            if "/".join(parts[:i]) in self._files:
                raise NotADirectoryError(f"{self.name}: {path}: a parent is a file")

    def get_content(self, path: str) -> bytes:
        with self._mutex:
            return bytes(self._file(path).data)

    def put_content(self, path: str, content: bytes) -> None:
        check_path(path, self.name)
        with self._mutex:
            if path == "/" or self._is_dir(path):
                raise IsADirectoryError(f"{self.name}: {path}: is a directory")
            self._check_parent_is_not_file(path)
            self._files[path] = _File(bytearray(content))

    def reader(self, path: str, offset: int = 0) -> BinaryIO:
        with self._mutex:
            data = bytes(self._file(path).data)
        if offset < 0 or offset > len(data):
            raise InvalidOffset(path, offset, self.name)
        stream = io.BytesIO(data)
        stream.seek(offset)
        return stream

    def writer(self, path: str, append: bool = False) -> _MemoryWriter:
        check_path(path, self.name)
        with self._mutex:
            if path == "/" or self._is_dir(path):
                raise IsADirectoryError(f"{self.name}: {path}: is a directory")
            self._check_parent_is_not_file(path)
            file = self._files.get(path)
            if file is None or not append:
                file = self._files[path] = _File()
            return _MemoryWriter(self, path, file)

    def stat(self, path: str) -> FileInfo:
        check_path(path, self.name)
        with self._mutex:
            file = self._files.get(path)
            if file is not None:
                return FileInfo(path, len(file.data), file.mod_time, False)
            if path == "/" or self._is_dir(path):
                prefix = "/" if path == "/" else path + "/"
                newest = max((f.mod_time for p, f in self._files.items() if p.startswith(prefix)), default=0.0)
                return FileInfo(path, 0, newest, True)
        raise PathNotFound(path, self.name)

    def list(self, path: str) -> list[str]:
        check_path(path, self.name)
        prefix = "/" if path == "/" else path + "/"
        with self._mutex:
            children = {prefix + p[len(prefix) :].split("/", 1)[0] for p in self._files if p.startswith(prefix)}
        if not children and path != "/":
            raise PathNotFound(path, self.name)
        return sorted(children)

    def move(self, src: str, dst: str) -> None:
        check_path(src, self.name)
        check_path(dst, self.name)
        with self._mutex:
            if src in self._files:
                if self._is_dir(dst):
                    raise IsADirectoryError(f"{self.name}: {dst}: is a directory")
                self._check_parent_is_not_file(dst)
                self._files[dst] = self._files.pop(src)
                return
            prefix = src + "/"
            moving = [p for p in self._files if p.startswith(prefix)]
            if not moving:
                raise PathNotFound(src, self.name)
            self._delete_quietly(dst)
            for p in moving:
                self._files[dst + p[len(src) :]] = self._files.pop(p)

    def delete(self, path: str) -> None:
        check_path(path, self.name)
        with self._mutex:
            if path != "/" and self._files.pop(path, None) is not None:
                return
            prefix = path + "/"
            doomed = [p for p in self._files if p.startswith(prefix)] if path != "/" else []
            if not doomed:
                raise PathNotFound(path, self.name)
            for p in doomed:
                del self._files[p]

    def _delete_quietly(self, path: str) -> None:
        try:
            self.delete(path)
        except PathNotFound:
            pass

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
        check_path(path, self.name)
        return None

    def lock(self, path: str) -> AbstractContextManager[None]:
        check_path(path, self.name)
        with self._mutex:
            lock = self._locks.setdefault(path, threading.Lock())
        return _held(lock)


@contextmanager
def _held(lock: threading.Lock) -> Iterator[None]:
    with lock:
        yield
