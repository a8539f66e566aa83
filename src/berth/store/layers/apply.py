"""Applying a layer tar to a folder: ``apply(stream, dest, compression)``.

Two modes, chosen by who owns ``dest``:

``overlay``  ``dest`` is an overlay upper folder (an unpacked layer of its own); the
             layers below it are ``lowers`` (top first). Whiteouts become overlay
             whiteouts (char 0/0) and opaque dirs (``trusted.overlay.opaque=y``).
``delete``   ``dest`` already holds the full tree of the layers below (the copying
             snapshotter); whiteouts delete for real.

Kept from the tar: ownership (as root), permission bits incl. setuid, mtimes (ns),
xattrs, hard links, symlinks, device nodes and fifos.

Safety. A layer can never write outside ``dest``:

* names are cleaned; a name that climbs out with ``..`` is refused (:class:`UnsafeLayer`),
  a leading ``/`` is dropped (as GNU tar does);
* every parent folder is resolved *inside* ``dest``: a symlink met on the way, whether
  this layer made it or a lower layer did, is followed as if ``dest`` were ``/`` (the
  way a chroot, and so ``docker load``, follows it), so ``link -> /etc`` then
  ``link/passwd`` writes ``dest/etc/passwd``. Nothing is ever opened through a symlink
  (``O_NOFOLLOW``; the last component is replaced, not followed);
* a hard link must name a file inside the layer (or, in overlay mode, in a lower
  layer, which is copied up first); one that climbs out with ``..`` or names nothing is
  refused;
* overlay's own xattrs (``trusted.overlay.*``) in a layer are dropped.

Only this layer's process writes ``dest`` while it is applied (a new snapshot that no
container uses), which is what makes checking with lstat and then acting safe.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import posixpath
import shutil
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO, Literal

from berth.oci.digest import Digest
from berth.store.errors import CorruptArchive, UnsafeLayer
from berth.store.layers import compression as comp
from berth.store.layers import tarformat as tf
from berth.store.layers import whiteout as wh

log = logging.getLogger(__name__)

Mode = Literal["overlay", "delete"]
_MAX_LINKS = 40  # what the kernel allows on one path walk


@dataclass(frozen=True, slots=True)
class ApplyResult:
    diff_id: Digest | None  # sha256 of the uncompressed tar, when it was hashed
    size: int  # bytes of regular-file content
    entries: int  # tar entries applied (whiteouts included)


def apply(
    stream: BinaryIO,
    dest: str,
    compression: str = "auto",
    *,
    mode: Mode = "overlay",
    lowers: Sequence[str] = (),
    hash: bool = True,
    opaque_xattr: str = wh.OPAQUE_XATTR,
) -> ApplyResult:
    """Unpack the layer in ``stream`` into ``dest`` (which must exist).

    ``compression`` is ``gzip``, ``zstd``, ``none`` or ``auto`` (by magic bytes).
    With ``hash`` the uncompressed stream is hashed and the digest returned as
    ``diff_id``; pass ``hash=False`` when the stream is an uncompressed blob whose digest
    the content store has already verified. Raises :class:`CorruptArchive`,
    :class:`UnsafeLayer` or OSError; on error ``dest`` is left half-written and the caller
    discards it.
    """
    if compression == "auto":
        head, stream = comp.peek(stream)
        compression = comp.detect(head)
    hasher = hashlib.sha256() if hash else None
    source: tf.Source
    decoded = stream
    if compression == comp.NONE and hasher is None and _is_regular_file(stream):
        source = tf.FileSource(stream.fileno(), stream.tell())
    else:
        decoded = comp.decompressed(stream, compression)
        source = tf.StreamSource(decoded, hasher)
    applier = _Applier(os.path.abspath(dest), list(lowers), mode, opaque_xattr)
    reader = tf.TarReader(source)
    try:
        for entry in reader:
            applier.add(entry, reader)
        applier.finish()
        source.drain()
    except EOFError as err:  # a gzip stream cut short
        raise CorruptArchive(f"layer: compressed stream is truncated: {err}") from err
    except comp.codec_errors() as err:  # evaluated only when something was raised
        raise CorruptArchive(f"layer: corrupt compressed data: {err}") from err
    finally:
        if decoded is not stream:
            decoded.close()  # stops the decompressor's helper thread; the caller owns `stream`
    diff_id = Digest("sha256", hasher.hexdigest()) if hasher is not None else None
    return ApplyResult(diff_id, applier.size, applier.count)


def _is_regular_file(stream: BinaryIO) -> bool:
    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (AttributeError, OSError, ValueError):
        return False


def clean_name(name: str) -> str:
    """The layer-relative path of a tar member name; "" for the root. Raises UnsafeLayer
    for a name that climbs out of the layer."""
    rel = posixpath.normpath("/" + name).lstrip("/")
    if ".." not in name:
        return "" if rel == "." else rel
    # normpath of "/…" already folds ".." at the root, so compare with the raw parts.
    depth = 0
    for part in name.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                raise UnsafeLayer(f"layer entry {name!r}: points outside the layer")
        elif part not in ("", "."):
            depth += 1
    return "" if rel == "." else rel


class _Applier:
    def __init__(self, dest: str, lowers: list[str], mode: Mode, opaque_xattr: str) -> None:
        self.dest = dest
        self.lowers = lowers if mode == "overlay" else []
        self.mode = mode
        self.opaque_xattr = opaque_xattr
        self.root = os.geteuid() == 0
        self.known_dirs: set[str] = {""}  # real folders (not symlinks) of dest, relative
        self.aliases: dict[str, tuple[str, str]] = {}  # requested parent → (real parent, host path)
        self.written: set[str] = set()  # paths this layer created (delete mode)
        self.dir_times: list[tuple[str, int]] = []
        self.size = 0
        self.count = 0
        self._warned: set[str] = set()
        self.sgid_dirs: set[str] = set()  # new files there take the folder's group
        if os.stat(dest).st_mode & stat.S_ISGID:
            self.sgid_dirs.add("")
        self.fix_mode = 0o7000 | _umask()

    # ----------------------------------------------------------------- entries

    def add(self, entry: tf.Entry, reader: tf.TarReader) -> None:
        rel = clean_name(entry.name)
        self.count += 1
        parent, _, base = rel.rpartition("/")
        if base.startswith(wh.PREFIX):
            if base == wh.OPAQUE:
                self._opaque(parent)
            elif not base.startswith(wh.META_PREFIX):
                self._whiteout(parent, base[len(wh.PREFIX):], entry)
            return
        if rel == "":
            if entry.is_dir:
                self._set_meta(self.dest, entry, is_dir=True)
            return
        real_parent, host_parent = self._resolve_dir(parent, rel)
        path = f"{host_parent}/{base}"
        real = f"{real_parent}/{base}" if real_parent else base
        kind = entry.type
        if self.mode == "delete":
            self._mark_written(real)
        # Create first and look only on EEXIST: most entries are new, and this saves an
        # lstat per file (tar does the same).
        if entry.is_regular:
            try:
                fd = os.open(path, _CREATE, entry.mode & 0o777)
            except FileExistsError:
                self._remove(path, real, os.lstat(path))
                fd = os.open(path, _CREATE, entry.mode & 0o777)
            try:
                reader.copy_data(entry, fd)
                self.size += entry.size
                if self.root and (entry.uid or entry.gid or real_parent in self.sgid_dirs):
                    os.fchown(fd, entry.uid, entry.gid)
                if entry.mode & self.fix_mode:  # setuid/sticky bits, or bits the umask took
                    os.fchmod(fd, entry.mode)
                for key, value in entry.xattrs.items():
                    self._setxattr(fd, key, value)
                os.utime(fd, ns=(entry.mtime_ns, entry.mtime_ns))
            finally:
                os.close(fd)
        elif kind == tf.DIR:
            try:
                os.mkdir(path, 0o700)
            except FileExistsError:
                st = os.lstat(path)
                if not stat.S_ISDIR(st.st_mode):
                    self._remove(path, real, st)
                    os.mkdir(path, 0o700)
            self.known_dirs.add(real)
            if entry.mode & stat.S_ISGID:
                self.sgid_dirs.add(real)
            else:
                self.sgid_dirs.discard(real)
            self._set_meta(path, entry, is_dir=True)
        elif kind == tf.SYM:
            try:
                os.symlink(entry.linkname, path)
            except FileExistsError:
                self._remove(path, real, os.lstat(path))
                os.symlink(entry.linkname, path)
            self.aliases.clear()
            self._set_meta(path, entry, is_link=True)
        elif kind in (tf.LNK, tf.CHR, tf.BLK, tf.FIFO):
            existing = _lstat(path)
            if existing is not None:
                self._remove(path, real, existing)
            if kind == tf.LNK:
                self._hardlink(entry, path)
            else:
                self._node(entry, path)
        else:
            self._warn(f"type {kind!r}", f"layer entry {entry.name!r}: unknown type {kind!r}, skipped")

    def _mark_written(self, real: str) -> None:
        # Folders on the way count as this layer's too: an opaque whiteout of a parent
        # must keep them (and clear what lower layers had in them).
        while real and real not in self.written:
            self.written.add(real)
            real = real.rpartition("/")[0]

    def _node(self, entry: tf.Entry, path: str) -> None:
        fmt = {tf.CHR: stat.S_IFCHR, tf.BLK: stat.S_IFBLK, tf.FIFO: stat.S_IFIFO}[entry.type]
        if fmt != stat.S_IFIFO and not self.root:
            self._warn("devices", f"layer entry {entry.name!r}: device nodes need root, skipped")
            return
        os.mknod(path, fmt | 0o600, os.makedev(entry.devmajor, entry.devminor))
        self._set_meta(path, entry)

    def _hardlink(self, entry: tf.Entry, path: str) -> None:
        target_rel = clean_name(entry.linkname)
        if not target_rel:
            raise UnsafeLayer(f"layer entry {entry.name!r}: hard link to the layer's root")
        t_parent, _, t_base = target_rel.rpartition("/")
        real_parent, host_parent = self._resolve_dir(t_parent, target_rel)
        target = os.path.join(host_parent, t_base)
        st = _lstat(target)
        if st is None and self.lowers:
            real = f"{real_parent}/{t_base}" if real_parent else t_base
            st = self._copy_up(real, target)
        if st is None:
            raise UnsafeLayer(f"layer entry {entry.name!r}: hard link target {entry.linkname!r} is not in the layer")
        if stat.S_ISDIR(st.st_mode):
            raise UnsafeLayer(f"layer entry {entry.name!r}: hard link to a folder")
        if wh.is_whiteout(st) and self.mode == "overlay":
            raise UnsafeLayer(f"layer entry {entry.name!r}: hard link to a deleted file")
        os.link(target, path, follow_symlinks=False)

    def _copy_up(self, real: str, target: str) -> os.stat_result | None:
        """Copy a file a hard link names from the lower layers into dest (overlay mode)."""
        for lower in self.lowers:
            src = os.path.join(lower, real)
            st = _lstat(src)
            if st is None:
                continue
            if wh.is_whiteout(st) or stat.S_ISDIR(st.st_mode):
                return None
            if stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(src), target)
            elif stat.S_ISREG(st.st_mode):
                shutil.copyfile(src, target, follow_symlinks=False)
                os.chmod(target, stat.S_IMODE(st.st_mode))
            else:
                os.mknod(target, st.st_mode, st.st_rdev)
            if self.root:
                os.lchown(target, st.st_uid, st.st_gid)
            _copy_xattrs(src, target)
            os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
            return os.lstat(target)
        return None

    def _set_meta(self, path: str, entry: tf.Entry, *, is_dir: bool = False, is_link: bool = False) -> None:
        if self.root:
            os.chown(path, entry.uid, entry.gid, follow_symlinks=False)
        if not is_link:
            os.chmod(path, entry.mode)
        for key, value in entry.xattrs.items():
            self._setxattr(path, key, value)
        if is_dir:
            self.dir_times.append((path, entry.mtime_ns))  # children would bump it now
        else:
            os.utime(path, ns=(entry.mtime_ns, entry.mtime_ns), follow_symlinks=False)

    def _setxattr(self, target: int | str, key: str, value: bytes) -> None:
        if wh.private_xattr(key):
            self._warn("private-xattr", f"layer: overlay's private xattr {key} dropped")
            return
        try:
            if isinstance(target, int):
                os.setxattr(target, key, value)
            else:
                os.setxattr(target, key, value, follow_symlinks=False)
        except OSError as err:
            if err.errno not in (errno.ENOTSUP, errno.EPERM, errno.EACCES, errno.EINVAL):
                raise
            self._warn("xattr:" + key, f"layer: xattr {key} not kept here ({err.strerror})")

    def _warn(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning("%s", message)

    def finish(self) -> None:
        # Deepest first, so setting a folder's time is not undone by its parent's.
        for path, mtime_ns in reversed(self.dir_times):
            os.utime(path, ns=(mtime_ns, mtime_ns), follow_symlinks=False)

    # ----------------------------------------------------------------- whiteouts

    def _whiteout(self, parent: str, name: str, entry: tf.Entry) -> None:
        if not name or name in (".", ".."):
            raise UnsafeLayer(f"layer entry {entry.name!r}: malformed whiteout")
        real_parent, host_parent = self._resolve_dir(parent, entry.name)
        path = os.path.join(host_parent, name)
        real = f"{real_parent}/{name}" if real_parent else name
        existing = _lstat(path)
        if self.mode == "delete":
            if existing is not None and real not in self.written:
                self._remove(path, real, existing)
            return
        if existing is not None:
            self._remove(path, real, existing)
        wh.make_whiteout(path)
        if self.root:
            os.lchown(path, entry.uid, entry.gid)

    def _opaque(self, parent: str) -> None:
        real, host = self._resolve_dir(parent, parent + "/" + wh.OPAQUE, create_last=True)
        if self.mode == "overlay":
            wh.make_opaque(host, self.opaque_xattr)
            return
        self._clear_unwritten(host, real)

    def _clear_unwritten(self, host: str, real: str) -> None:
        for name in os.listdir(host):
            child_real = f"{real}/{name}" if real else name
            child = os.path.join(host, name)
            st = os.lstat(child)
            if child_real in self.written:
                if stat.S_ISDIR(st.st_mode):
                    self._clear_unwritten(child, child_real)
            else:
                self._remove(child, child_real, st)

    # ----------------------------------------------------------------- paths

    def _remove(self, path: str, real: str, st: os.stat_result) -> None:
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(path)
            prefix = real + "/"
            self.known_dirs = {d for d in self.known_dirs if d != real and not d.startswith(prefix)}
        else:
            os.unlink(path)
        self.aliases.clear()

    def _resolve_dir(self, rel: str, what: str, create_last: bool = True) -> tuple[str, str]:
        """(real relative path, host path) of folder ``rel`` of dest, with symlinks
        followed inside dest and missing folders created."""
        cached = self.aliases.get(rel)
        if cached is not None:
            return cached
        if rel in self.known_dirs:
            found = rel, f"{self.dest}/{rel}" if rel else self.dest
            self.aliases[rel] = found
            return found
        pending = [p for p in rel.split("/") if p]
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
            cand = "/".join([*resolved, part])
            if cand in self.known_dirs:
                resolved.append(part)
                continue
            host = os.path.join(self.dest, cand)
            st = _lstat(host)
            if st is not None and stat.S_ISDIR(st.st_mode):
                self.known_dirs.add(cand)
                if st.st_mode & stat.S_ISGID:
                    self.sgid_dirs.add(cand)
                resolved.append(part)
                continue
            link: str | None = None
            if st is not None and stat.S_ISLNK(st.st_mode):
                link = os.readlink(host)
            elif st is not None and not wh.is_whiteout(st):
                raise CorruptArchive(f"layer entry {what!r}: /{cand} is not a folder")
            elif st is None and self.lowers:
                below = self._lower_lookup(cand)
                if below is not None and stat.S_ISLNK(below[1].st_mode):
                    link = below[0]
                elif below is not None and not stat.S_ISDIR(below[1].st_mode):
                    raise CorruptArchive(f"layer entry {what!r}: /{cand} is not a folder in a lower layer")
                else:
                    self._mkdir_from(host, below[1] if below else None)
                    self.known_dirs.add(cand)
                    if below is not None and below[1].st_mode & stat.S_ISGID:
                        self.sgid_dirs.add(cand)
                    resolved.append(part)
                    continue
            if link is not None:
                links += 1
                if links > _MAX_LINKS:
                    raise UnsafeLayer(f"layer entry {what!r}: too many levels of symbolic links")
                if link.startswith("/"):
                    resolved = []  # absolute: from the layer's root, never the host's
                pending = [p for p in link.split("/") if p] + pending
                continue
            # Missing (or an overlay whiteout from this layer): a new folder.
            if st is not None:
                os.unlink(host)
                os.mkdir(host, 0o755)
                if self.mode == "overlay":
                    wh.make_opaque(host, self.opaque_xattr)  # must not show the deleted one
            else:
                os.mkdir(host, 0o755)
            self.known_dirs.add(cand)
            resolved.append(part)
        real = "/".join(resolved)
        found = real, f"{self.dest}/{real}" if real else self.dest
        self.aliases[rel] = found
        return found

    def _mkdir_from(self, host: str, lower: os.stat_result | None) -> None:
        """Create a folder that only a lower layer has, with that layer's metadata (as
        overlayfs' copy-up would), so the merged view keeps it."""
        os.mkdir(host, 0o755)
        if lower is None:
            return
        if self.root:
            os.chown(host, lower.st_uid, lower.st_gid)
        os.chmod(host, stat.S_IMODE(lower.st_mode))
        self.dir_times.append((host, lower.st_mtime_ns))

    def _lower_lookup(self, rel: str) -> tuple[str, os.stat_result] | None:
        """What the merged view of the lower layers has at ``rel``: (link target or "",
        stat), or None when nothing is there (absent, whited out or hidden by an opaque
        folder)."""
        parents = []
        head = rel
        while "/" in head:
            head = head.rsplit("/", 1)[0]
            parents.append(head)
        parents.append("")
        for lower in self.lowers:
            path = os.path.join(lower, rel)
            st = _lstat(path)
            if st is not None:
                if wh.is_whiteout(st):
                    return None
                return (os.readlink(path) if stat.S_ISLNK(st.st_mode) else ""), st
            # Absent here: an opaque ancestor in this layer hides the layers below.
            for anc in parents:
                anc_path = os.path.join(lower, anc) if anc else lower
                if os.path.isdir(anc_path) and wh.is_opaque(anc_path, self.opaque_xattr) and anc:
                    return None
        return None


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _umask() -> int:
    # Read, not set: os.umask() would change it for every thread of the process.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o777  # unknown: always chmod


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None


def _copy_xattrs(src: str, dst: str) -> None:
    try:
        names = os.listxattr(src, follow_symlinks=False)
    except OSError:
        return
    for name in names:
        if wh.private_xattr(name):
            continue
        try:
            os.setxattr(dst, name, os.getxattr(src, name, follow_symlinks=False), follow_symlinks=False)
        except OSError:
            pass
