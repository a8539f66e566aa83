"""COPY and ADD: choosing the source files, and writing them as a tar that the store's
layer code applies onto the step's snapshot.

Docker's rules, in the order they apply:

- Sources are relative to the context root (or, with ``--from``, to the stage's or
  image's root); ``..`` may not leave the context. Wildcards (``*``, ``?``, ``[…]``)
  match within one path component. A symlink named as a source is followed (inside
  the tree); symlinks met inside a copied folder are copied as symlinks.
- A folder source copies its contents, not itself. A file goes to ``dest/NAME`` when
  ``dest`` ends in ``/`` or is an existing folder, else to ``dest`` itself.
- Files from the context become root-owned (``--chown`` picks another owner, by name
  or number, looked up in the image's /etc/passwd and /etc/group; a user without a
  group uses the user's number for both); files from a stage keep their owners.
  ``--chmod`` sets the mode of everything copied. Modification times are kept.
- Missing folders on the way to ``dest`` are made (0755; owned like the files).
- ADD also takes URLs (a file named after the URL's last component, mode 0600) and
  unpacks local tar archives (plain, gzip, bzip2, xz) into ``dest``.

Going through a tar (rather than writing into the upper folder directly) reuses the
store's apply, which already resolves symlinks inside the root and copies folders up
from lower layers with their metadata, exactly as overlayfs would.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import stat
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from berth.builder.dockerignore import Matcher, compile_pattern
from berth.builder.ops import CopyOp
from berth.builder.trees import LayerTree, SourceTree, resolve, split
from berth.errors import InvalidArgument
from berth.store.layers import tarformat as tf

_GLOB_CHARS = set("*?[")
_SKIP_XATTRS = ("trusted.overlay.", "security.selinux")


class CopyError(InvalidArgument):
    """A source is missing, outside the context, or otherwise unusable (the caller
    adds the Dockerfile line)."""


@dataclass(frozen=True, slots=True)
class Match:
    word: str  # the source as written (expanded)
    rel: str  # the resolved path in the tree
    st: os.stat_result


@dataclass(frozen=True, slots=True)
class Fetched:
    """An ADD URL, downloaded: its file and the name it takes in ``dest``."""

    url: str
    path: str
    name: str
    digest: str
    mtime_ns: int


@dataclass
class Selection:
    tree: SourceTree
    matches: list[Match] = field(default_factory=list)
    fetched: list[Fetched] = field(default_factory=list)


def select(tree: SourceTree, op: CopyOp, *, in_context: bool) -> list[Match]:
    out: list[Match] = []
    for word in op.sources:
        if op.add and word.startswith(("http://", "https://")):
            continue
        rel = _clean_source(word, in_context)
        if _GLOB_CHARS & set(rel):
            found = _glob(tree, rel)
            if not found:
                raise CopyError(f"{_verb(op)} failed: no source files were specified: {word} matched nothing"
                                + (" in the build context (or .dockerignore excludes it)" if in_context else ""))
            out.extend(Match(word, r, st) for r, st in found)
            continue
        real = resolve(tree, rel)
        st = tree.lstat(real)
        if st is None:
            where = "in build context or excluded by .dockerignore" if in_context else "in the source stage"
            raise CopyError(f"{_verb(op)} failed: file not found {where}: stat {word}: file does not exist")
        out.append(Match(word, real, st))
    return out


def _verb(op: CopyOp) -> str:
    return "ADD" if op.add else "COPY"


def _clean_source(word: str, in_context: bool) -> str:
    norm = posixpath.normpath(word) if word else "."
    if in_context and (norm == ".." or norm.startswith("../")):
        raise CopyError(f"COPY failed: forbidden path outside the build context: {word}")
    return "/".join(split(posixpath.normpath("/" + norm.lstrip("/"))))


def _glob(tree: SourceTree, rel: str) -> list[tuple[str, os.stat_result]]:
    candidates = [""]
    for part in split(rel):
        next_round: list[str] = []
        if _GLOB_CHARS & set(part):
            pattern = compile_pattern(part)
            for cand in candidates:
                real = resolve(tree, cand)
                for name in tree.listdir(real):
                    if pattern.match(name):
                        next_round.append(f"{real}/{name}" if real else name)
        else:
            next_round = [f"{c}/{part}" if c else part for c in candidates]
        candidates = next_round
    found = []
    for cand in sorted(set(candidates)):
        real = resolve(tree, cand)
        st = tree.lstat(real)
        if st is not None:
            found.append((real, st))
    return found


def walk(tree: SourceTree, rel: str, exclude: Matcher | None = None) -> Iterator[tuple[str, os.stat_result]]:
    """Everything under folder ``rel`` (not ``rel`` itself), parents before children,
    names relative to ``rel``. Symlinks are not followed."""
    stack = [""]
    while stack:
        sub = stack.pop()
        base = f"{rel}/{sub}" if rel and sub else (rel or sub)
        children = tree.listdir(base)
        dirs = []
        for name in children:
            child_sub = f"{sub}/{name}" if sub else name
            if exclude and exclude.excluded(child_sub):
                continue
            st = tree.lstat(f"{base}/{name}" if base else name)
            if st is None:
                continue
            yield child_sub, st
            if stat.S_ISDIR(st.st_mode):
                dirs.append(child_sub)
        stack.extend(reversed(dirs))


def describe_file(st: os.stat_result, digest: str) -> str:
    """type:mode:content, what a COPY's cache key covers for one file."""
    kind = ("d" if stat.S_ISDIR(st.st_mode) else "l" if stat.S_ISLNK(st.st_mode)
            else "f" if stat.S_ISREG(st.st_mode) else "o")
    return f"{kind}:{stat.S_IMODE(st.st_mode):o}:{digest[:16] if kind == 'f' else digest}"


def is_archive(path: str) -> bool:
    """A tar ADD unpacks: plain, gzip, bzip2 or xz."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return False
    if head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00":
        try:
            with tarfile.open(path, "r:*") as t:
                return t.next() is not None
        except (tarfile.TarError, OSError, EOFError):
            return False
    return len(head) >= 262 and head[257:262] == b"ustar"


# --------------------------------------------------------------------------- ownership

def parse_chown(spec: str, root: LayerTree) -> tuple[int, int]:
    user, _, group = spec.partition(":")
    if not user:
        raise CopyError(f"--chown={spec}: no user given")
    uid = int(user) if user.isdigit() else _lookup(root, "etc/passwd", user, "user")
    if not group:
        return uid, uid
    gid = int(group) if group.isdigit() else _lookup(root, "etc/group", group, "group")
    return uid, gid


def _lookup(root: LayerTree, path: str, name: str, what: str) -> int:
    try:
        real = resolve(root, path)
        with open(root.host_path(real), encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.rstrip("\n").split(":")
                if len(fields) >= 3 and fields[0] == name and fields[2].isdigit():
                    return int(fields[2])
    except (OSError, FileNotFoundError):
        pass
    raise CopyError(f"unable to find {what} {name}: no matching entries in /{path}")


# --------------------------------------------------------------------------- writing

class CopyWriter:
    """Turns a selection into tar entries named by their place in the root file
    system ``dest_tree`` (the step's snapshot, read through its layers)."""

    def __init__(self, writer: tf.TarWriter, dest_tree: LayerTree, owner: tuple[int, int] | None,
                 chmod: int | None) -> None:
        self.writer = writer
        self.dest_tree = dest_tree
        self.owner = owner
        self.chmod = chmod
        self.made: set[str] = set()
        self.now_ns = time.time_ns()

    def _owner(self, st: os.stat_result | None, keep_owner: bool) -> tuple[int, int]:
        if self.owner is not None:
            return self.owner
        if keep_owner and st is not None:
            return st.st_uid, st.st_gid
        return 0, 0

    def ensure_dir(self, rel: str) -> str:
        """The real path of folder ``rel`` in the root, with entries for the parts
        that do not exist yet."""
        real = resolve(self.dest_tree, rel)
        parts = split(real)
        for i in range(1, len(parts) + 1):
            path = "/".join(parts[:i])
            if path in self.made:
                continue
            st = self.dest_tree.lstat(path)
            if st is not None and stat.S_ISDIR(st.st_mode):
                continue
            uid, gid = self._owner(None, False)
            self.writer.add(tf.Entry(name=path + "/", type=tf.DIR, mode=0o755, uid=uid, gid=gid,
                                     mtime_ns=self.now_ns))
            self.made.add(path)
        return real

    def is_dir(self, rel: str) -> bool:
        real = resolve(self.dest_tree, rel)
        st = self.dest_tree.lstat(real)
        return (st is not None and stat.S_ISDIR(st.st_mode)) or real in self.made

    def add(self, tree: SourceTree, rel: str, st: os.stat_result, target: str, keep_owner: bool) -> None:
        uid, gid = self._owner(st, keep_owner)
        mode = self.chmod if self.chmod is not None else stat.S_IMODE(st.st_mode)
        host = tree.host_path(rel)
        entry = tf.Entry(name=target, mode=mode, uid=uid, gid=gid, mtime_ns=st.st_mtime_ns, xattrs=_xattrs(host))
        if stat.S_ISREG(st.st_mode):
            entry.size = st.st_size
            fd = os.open(host, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
            try:
                self.writer.add(entry, fd=fd)
            finally:
                os.close(fd)
            return
        if stat.S_ISDIR(st.st_mode):
            entry.type, entry.name = tf.DIR, target + "/"
            self.made.add(target)
        elif stat.S_ISLNK(st.st_mode):
            entry.type, entry.linkname = tf.SYM, os.readlink(host)
            entry.mode = 0o777
        elif stat.S_ISFIFO(st.st_mode):
            entry.type = tf.FIFO
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            entry.type = tf.CHR if stat.S_ISCHR(st.st_mode) else tf.BLK
            entry.devmajor, entry.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        else:
            return  # sockets are not copied
        self.writer.add(entry)

    def add_data(self, target: str, data: bytes, mode: int, mtime_ns: int | None = None) -> None:
        uid, gid = self._owner(None, False)
        self.writer.add(tf.Entry(name=target, mode=self.chmod if self.chmod is not None else mode, uid=uid,
                                 gid=gid, size=len(data), mtime_ns=mtime_ns or self.now_ns), data=data)

    def add_file_at(self, path: str, target: str, mode: int, mtime_ns: int) -> None:
        uid, gid = self._owner(None, False)
        size = os.path.getsize(path)
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            self.writer.add(tf.Entry(name=target, mode=self.chmod if self.chmod is not None else mode, uid=uid,
                                     gid=gid, size=size, mtime_ns=mtime_ns), fd=fd)
        finally:
            os.close(fd)

    def add_archive(self, path: str, dest_dir: str) -> None:
        """Unpack a local tar archive into ``dest_dir`` (ADD)."""
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                name = posixpath.normpath("/" + member.name).lstrip("/")
                if not name or name == ".":
                    continue
                target = f"{dest_dir}/{name}" if dest_dir else name
                entry = tf.Entry(name=target, mode=member.mode & 0o7777, uid=member.uid, gid=member.gid,
                                 mtime_ns=int(member.mtime) * 1_000_000_000)
                if member.isreg():
                    source = archive.extractfile(member)
                    data = source.read() if source is not None else b""
                    entry.size = len(data)
                    self.writer.add(entry, data=data)
                    continue
                if member.isdir():
                    entry.type, entry.name = tf.DIR, target + "/"
                elif member.issym():
                    entry.type, entry.linkname = tf.SYM, member.linkname
                elif member.islnk():
                    link = posixpath.normpath("/" + member.linkname).lstrip("/")
                    entry.type, entry.linkname = tf.LNK, f"{dest_dir}/{link}" if dest_dir else link
                elif member.isfifo():
                    entry.type = tf.FIFO
                elif member.ischr() or member.isblk():
                    entry.type = tf.CHR if member.ischr() else tf.BLK
                    entry.devmajor, entry.devminor = member.devmajor, member.devminor
                else:
                    continue
                self.writer.add(entry)


def _xattrs(path: str) -> dict[str, bytes]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    out = {}
    for name in names:
        if name.startswith(_SKIP_XATTRS):
            continue
        try:
            out[name] = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue
    return out


def write_copy(writer: tf.TarWriter, op: CopyOp, selection: Selection, dest_tree: LayerTree,
               owner: tuple[int, int] | None, *, keep_owner: bool) -> None:
    """All entries of one COPY/ADD."""
    out = CopyWriter(writer, dest_tree, owner, op.chmod)
    dest_rel = op.dest.strip("/")
    count = len(selection.matches) + len(selection.fetched) + len(op.heredocs)
    into = (op.dest.endswith("/") or op.multiple or count > 1 or out.is_dir(dest_rel)
            or any(stat.S_ISDIR(m.st.st_mode) for m in selection.matches))
    dest_dir = ""
    file_target = ""
    if into:
        dest_dir = out.ensure_dir(dest_rel)
    else:
        parent, _, base = dest_rel.rpartition("/")
        parent_real = out.ensure_dir(parent)
        file_target = f"{parent_real}/{base}" if parent_real else base

    def target_of(name: str) -> str:
        if not into:
            return file_target
        return f"{dest_dir}/{name}" if dest_dir else name

    exclude = Matcher(list(op.exclude)) if op.exclude else None
    for match in selection.matches:
        st = match.st
        if stat.S_ISDIR(st.st_mode):
            for sub, child_st in walk(selection.tree, match.rel, exclude):
                out.add(selection.tree, f"{match.rel}/{sub}" if match.rel else sub, child_st,
                        f"{dest_dir}/{sub}" if dest_dir else sub, keep_owner)
            continue
        name = posixpath.basename(match.rel)
        if op.add and stat.S_ISREG(st.st_mode) and is_archive(selection.tree.host_path(match.rel)):
            out.add_archive(selection.tree.host_path(match.rel), dest_dir if into else out.ensure_dir(dest_rel))
            continue
        out.add(selection.tree, match.rel, st, target_of(name), keep_owner)
    for fetched in selection.fetched:
        out.add_file_at(fetched.path, target_of(fetched.name), 0o600, fetched.mtime_ns)
    for name, data in op.heredocs:
        out.add_data(target_of(name), data.encode(), 0o644)


def data_digest(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()
