"""The build context: where it is, what .dockerignore hides, and the digests of its
files, hashed incrementally.

A cached rebuild must not read the context again: ``FileIndex`` keeps, per context
folder, ``path → (size, mtime_ns, ctime_ns, inode, sha256)`` in
``$BERTH_ROOT/build/contexts/<hash of the folder>.json``. A file whose stat still
matches is not re-read. ``ctime`` cannot be set from user space, so a rewrite that
restores size and mtime is still seen. A file changed within ``RACY_NS`` of when it was
hashed is never trusted (the same window git calls "racily clean"): its timestamps may
not have moved past the hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time

from berth.builder import dockerignore
from berth.builder.trees import ContextTree

INDEX_VERSION = 1
RACY_NS = 1_000_000_000
CHUNK = 1 << 20


class FileIndex:
    def __init__(self, path: str | None, root: str) -> None:
        self.path = path
        self.root = root
        self.entries: dict[str, list[int | str]] = {}
        self.dirty = False
        self.hashed_bytes = 0
        self.hashed_files = 0
        if path is not None:
            try:
                with open(path) as f:
                    data = json.load(f)
                if data.get("version") == INDEX_VERSION and data.get("root") == root:
                    self.entries = data["files"]
            except (OSError, ValueError, KeyError, TypeError):
                self.entries = {}

    def digest(self, rel: str, host_path: str, st: os.stat_result) -> str:
        """sha256 (hex) of the regular file ``rel``."""
        cached = self.entries.get(rel)
        if cached is not None and len(cached) == 6:
            size, mtime, ctime, ino, digest, hashed_at = cached
            if (size == st.st_size and mtime == st.st_mtime_ns and ctime == st.st_ctime_ns
                    and ino == st.st_ino and isinstance(hashed_at, int) and st.st_ctime_ns < hashed_at - RACY_NS):
                return str(digest)
        hashed_at = time.time_ns()
        digest = hash_file(host_path)
        self.hashed_bytes += st.st_size
        self.hashed_files += 1
        self.entries[rel] = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, digest, hashed_at]
        self.dirty = True
        return digest

    def save(self) -> None:
        if self.path is None or not self.dirty:
            return
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        tmp = f"{self.path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            json.dump({"version": INDEX_VERSION, "root": self.root, "files": self.entries}, f,
                      separators=(",", ":"))
        os.replace(tmp, self.path)
        self.dirty = False


def hash_file(path: str) -> str:
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        while chunk := os.read(fd, CHUNK):
            h.update(chunk)
    finally:
        os.close(fd)
    return h.hexdigest()


class BuildContext:
    """A context folder as a build sees it. ``index_dir`` (``$BERTH_ROOT/build/contexts``)
    keeps digests between builds; None hashes everything (a context from a tar)."""

    def __init__(self, root: str, dockerfile_path: str | None = None, index_dir: str | None = None) -> None:
        self.root = os.path.realpath(root)
        self.ignore_file = dockerignore.ignore_file_for(self.root, dockerfile_path)
        self.matcher = dockerignore.load(self.root, dockerfile_path)
        self.tree = ContextTree(self.root, self.matcher)
        index_path = None
        if index_dir is not None:
            name = hashlib.sha256(self.root.encode()).hexdigest()[:32]
            index_path = os.path.join(index_dir, name + ".json")
        self.index = FileIndex(index_path, self.root)

    def content_digest(self, rel: str, st: os.stat_result) -> str:
        """What a file's content is, for cache keys: sha256 of a regular file, the
        target of a symlink, "" for anything else."""
        if stat.S_ISREG(st.st_mode):
            return self.index.digest(rel, self.tree.host_path(rel), st)
        if stat.S_ISLNK(st.st_mode):
            return "link:" + os.readlink(self.tree.host_path(rel))
        return ""

    def close(self) -> None:
        self.index.save()
