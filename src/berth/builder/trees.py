"""Read-only file trees a COPY can take files from: the build context (a host folder
seen through .dockerignore) and an image's layers (merged as overlayfs would show them).

Both answer the same few questions — what is at a path, what a folder holds, where a
symlink leads inside the tree — so source selection (copy.py) is written once. Paths
are relative and ``/``-separated ("" is the root). Symlinks are followed the way a
chroot follows them: an absolute target starts again at the tree's root, and ``..``
never climbs above it.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Sequence
from typing import Protocol

from berth.builder.dockerignore import Matcher
from berth.errors import InvalidArgument
from berth.store.layers import whiteout as wh

MAX_LINKS = 40


class SourceTree(Protocol):
    """What COPY reads. ``lstat`` and ``listdir`` see only what a build may see (for
    the context: what .dockerignore lets through)."""

    def lstat(self, rel: str) -> os.stat_result | None: ...

    def listdir(self, rel: str) -> list[str]: ...

    def host_path(self, rel: str) -> str:
        """Where the entry at ``rel`` (an existing, resolved path) is on the host."""
        ...

    def readlink(self, rel: str) -> str: ...


def split(rel: str) -> list[str]:
    return [p for p in rel.split("/") if p and p != "."]


def resolve(tree: SourceTree, rel: str, *, follow_last: bool = True) -> str:
    """``rel`` with every symlink on the way followed inside ``tree`` (the last one
    only with ``follow_last``). Missing components are kept as they are."""
    pending = split(rel)
    done: list[str] = []
    hops = 0
    while pending:
        part = pending.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        cand = "/".join([*done, part])
        st = tree.lstat(cand)
        if st is not None and stat.S_ISLNK(st.st_mode) and (pending or follow_last):
            hops += 1
            if hops > MAX_LINKS:
                raise InvalidArgument(f"{cand}: too many levels of symbolic links")
            target = tree.readlink(cand)
            if target.startswith("/"):
                done = []
            pending = split(target) + pending
            continue
        done.append(part)
    return "/".join(done)


class ContextTree:
    """The build context: a host folder minus what .dockerignore excludes."""

    def __init__(self, root: str, matcher: Matcher) -> None:
        self.root = os.path.abspath(root)
        self.matcher = matcher
        self._stats: dict[str, os.stat_result | None] = {}

    def visible(self, rel: str) -> bool:
        if not self.matcher or not rel:
            return True
        if not self.matcher.excluded(rel):
            return True
        st = self._raw_lstat(rel)
        return st is not None and stat.S_ISDIR(st.st_mode) and self.matcher.may_include_under(rel)

    def _raw_lstat(self, rel: str) -> os.stat_result | None:
        if rel in self._stats:
            return self._stats[rel]
        try:
            st: os.stat_result | None = os.lstat(self.host_path(rel))
        except (FileNotFoundError, NotADirectoryError):
            st = None
        self._stats[rel] = st
        return st

    def lstat(self, rel: str) -> os.stat_result | None:
        return self._raw_lstat(rel) if self.visible(rel) else None

    def listdir(self, rel: str) -> list[str]:
        try:
            with os.scandir(self.host_path(rel)) as it:
                names = []
                for entry in it:
                    child = f"{rel}/{entry.name}" if rel else entry.name
                    if child not in self._stats:
                        self._stats[child] = entry.stat(follow_symlinks=False)
                    names.append(entry.name)
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(n for n in names if self.visible(f"{rel}/{n}" if rel else n))

    def host_path(self, rel: str) -> str:
        return os.path.join(self.root, rel) if rel else self.root

    def readlink(self, rel: str) -> str:
        return os.readlink(self.host_path(rel))


class LayerTree:
    """An image's file system read straight from its layer folders (top first), with
    overlayfs' rules: a whiteout (char 0/0) hides a name, an opaque folder hides the
    folders below it. With a single full tree (the copying snapshotter) it is just
    that folder."""

    def __init__(self, layers: Sequence[str]) -> None:
        self.layers = list(layers)
        self._stacks: dict[str, list[str] | None] = {"": self._root_stack()}

    def _root_stack(self) -> list[str]:
        out = []
        for layer in self.layers:
            out.append(layer)
            if wh.is_opaque(layer):
                break
        return out

    def _stack(self, rel: str) -> list[str] | None:
        """The host folders (top first) whose union is folder ``rel`` (a resolved
        path); None when ``rel`` is not a folder."""
        if rel in self._stacks:
            return self._stacks[rel]
        parent, _, name = rel.rpartition("/")
        parent_stack = self._stack(parent)
        stack: list[str] | None = None
        if parent_stack is not None:
            found: list[str] = []
            for folder in parent_stack:
                path = os.path.join(folder, name)
                st = _lstat(path)
                if st is None:
                    continue
                if wh.is_whiteout(st) or not stat.S_ISDIR(st.st_mode):
                    break
                found.append(path)
                if wh.is_opaque(path):
                    break
            stack = found or None
        self._stacks[rel] = stack
        return stack

    def _find(self, rel: str) -> tuple[str, os.stat_result] | None:
        if not rel:
            return (self.layers[0], os.lstat(self.layers[0])) if self.layers else None
        parent, _, name = rel.rpartition("/")
        stack = self._stack(parent)
        if stack is None:
            return None
        for folder in stack:
            path = os.path.join(folder, name)
            st = _lstat(path)
            if st is None:
                continue
            if wh.is_whiteout(st):
                return None
            return path, st
        return None

    def lstat(self, rel: str) -> os.stat_result | None:
        found = self._find(rel)
        return found[1] if found else None

    def listdir(self, rel: str) -> list[str]:
        stack = self._stack(rel)
        if stack is None:
            return []
        seen: dict[str, bool] = {}
        for folder in stack:
            with os.scandir(folder) as it:
                for entry in it:
                    if entry.name in seen:
                        continue
                    st = entry.stat(follow_symlinks=False)
                    seen[entry.name] = not wh.is_whiteout(st)
        return sorted(name for name, shown in seen.items() if shown)

    def host_path(self, rel: str) -> str:
        found = self._find(rel)
        if found is None:
            raise FileNotFoundError(rel)
        return found[0]

    def readlink(self, rel: str) -> str:
        return os.readlink(self.host_path(rel))


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def clean_abs(path: str) -> str:
    """An absolute, normalised path inside a root file system."""
    return posixpath.normpath("/" + path.lstrip("/"))
