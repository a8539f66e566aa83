"""Carrying out one step on the store: the only module of the build that makes
snapshots, runs containers and commits images.

Every step that changes files works on a fresh active snapshot (key ``build-…``)
over the previous step's image, and either commits it into a new image or fails; the
snapshot goes in both cases (``SnapshotStep``), so a failed build leaves nothing. A
crashed build's snapshots carry the pid that made them and are swept by the next build.

What a RUN leaves in its snapshot that is not its own doing — the mount points the
runtime had to create (``/etc/hosts``, a secret's ``/run/secrets/id``, a cache mount's
target), and folders overlayfs copied up only to hold them — is removed before the
commit, as Docker keeps those out of layers.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import stat
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from berth.builder.copy import Selection, parse_chown, write_copy
from berth.builder.dispatch import HISTORY_COMMENT
from berth.builder.ops import CopyOp, RunMount, RunOp, WorkdirOp
from berth.builder.plan import Step
from berth.builder.trees import LayerTree, SourceTree, resolve, split
from berth.errors import InvalidArgument, NotFound
from berth.oci.mount import Mount
from berth.oci.spec import SpecMount
from berth.store import Image, Store
from berth.store.layers import whiteout as wh

SNAPSHOT_PREFIX = "build-"
BUILD_LABEL = "berth.builder"
PID_LABEL = "berth.builder.pid"
# Mount points a step's container may create in its root: not the step's changes.
RUNTIME_STUBS = ("/etc/hosts", "/etc/resolv.conf", "/etc/hostname", "/proc", "/sys", "/dev", "/sys/fs/cgroup",
                 "/dev/pts", "/dev/shm", "/dev/mqueue")


@dataclass(frozen=True, slots=True)
class Secret:
    id: str
    data: bytes


@dataclass
class Workspace:
    """What the steps of one build share."""

    store: Store
    root: str  # BERTH_ROOT
    run_root: str  # BERTH_RUN
    work_dir: str  # BERTH_RUN/build/<build id>: bundles and temp files, removed at the end
    build_id: str
    secrets: Mapping[str, Secret] = field(default_factory=dict)
    stdout: int = 1
    stderr: int = 2

    def temp_path(self, name: str) -> str:
        os.makedirs(self.work_dir, mode=0o700, exist_ok=True)
        return os.path.join(self.work_dir, f"{secrets.token_hex(4)}-{name}")

    @property
    def cache_root(self) -> str:
        return os.path.join(self.root, "build", "cache")


def process_stamp(pid: int) -> str:
    """pid:start time, so a reused pid does not look like the build that died."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            start = f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        start = "0"
    return f"{pid}:{start}"


def sweep_stale(store: Store) -> list[str]:
    """Remove the snapshots of builds that are no longer running."""
    removed = []
    for info in list(store.snapshots.walk()):
        if not info.key.startswith(SNAPSHOT_PREFIX) or BUILD_LABEL not in info.labels:
            continue
        stamp = info.labels.get(PID_LABEL, "")
        pid_text = stamp.partition(":")[0]
        if pid_text.isdigit() and process_stamp(int(pid_text)) == stamp:
            continue
        with contextlib.suppress(NotFound, InvalidArgument):
            store.snapshots.remove(info.key)
            removed.append(info.key)
    return removed


def image_tree(store: Store, image: Image | None) -> LayerTree:
    """An image's files, read from its unpacked layers."""
    if image is None or image.top_chain_id is None:
        return LayerTree([])
    store.ensure_unpacked(image)
    layout = store.snapshots.layout(str(image.top_chain_id))
    return LayerTree([layout.upper, *layout.lowers] if layout.whiteouts == "overlay" else [layout.upper])


class SnapshotStep:
    """An active snapshot over ``base`` for one step; removed on exit, committed or not."""

    def __init__(self, ws: Workspace, base: Image | None) -> None:
        self.ws = ws
        self.base = base
        self.key = f"{SNAPSHOT_PREFIX}{secrets.token_hex(8)}"
        self.mounts: list[Mount] = []

    def __enter__(self) -> SnapshotStep:
        labels = {BUILD_LABEL: self.ws.build_id, PID_LABEL: process_stamp(os.getpid())}
        store = self.ws.store
        if self.base is not None:
            self.mounts = store.prepare_rootfs(self.key, self.base, labels)
        else:
            self.mounts = store.snapshots.prepare(self.key, None, labels)
        self.layout = store.snapshots.layout(self.key)
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(NotFound):
            self.ws.store.snapshots.remove(self.key)

    @property
    def overlay(self) -> bool:
        return self.layout.whiteouts == "overlay"

    def tree(self) -> LayerTree:
        if self.overlay:
            return LayerTree([self.layout.upper, *self.layout.lowers])
        return LayerTree([self.layout.upper])

    def base_tree(self) -> LayerTree:
        if self.overlay:
            return LayerTree(list(self.layout.lowers))
        return LayerTree(list(self.layout.lowers[:1]))

    def commit(self, step: Step) -> Image:
        return self.ws.store.commit(self.key, self.base, step.config, comment=HISTORY_COMMENT, author=step.author,
                                    created_by=step.created_by)

    def apply_tar(self, path: str) -> None:
        from berth.store import layers

        with open(path, "rb") as f:
            layers.apply(f, self.layout.upper, "none", mode=self.layout.whiteouts, lowers=self.layout.lowers,
                         hash=False)


# --------------------------------------------------------------------------- metadata

def commit_config(ws: Workspace, step: Step, base: Image | None) -> Image:
    """A step that only changes the config: a history entry, no layer."""
    return ws.store.commit("", base, step.config, comment=HISTORY_COMMENT, author=step.author,
                           created_by=step.created_by, empty_layer=True)


# --------------------------------------------------------------------------- COPY / ADD

def copy(ws: Workspace, step: Step, op: CopyOp, base: Image | None, selection: Selection,
         keep_owner: bool) -> Image:
    from berth.store.layers import tarformat as tf

    with SnapshotStep(ws, base) as snap:
        tree = snap.tree()
        owner = parse_chown(op.chown, tree) if op.chown else None
        path = ws.temp_path("copy.tar")
        try:
            with open(path, "wb") as f:
                writer = tf.TarWriter(f)
                write_copy(writer, op, selection, tree, owner, keep_owner=keep_owner)
                writer.close()
            snap.apply_tar(path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        return snap.commit(step)


def workdir(ws: Workspace, step: Step, op: WorkdirOp, base: Image | None) -> Image:
    """WORKDIR: make the folder when it is missing (a layer), else only the config."""
    tree = image_tree(ws.store, base)
    real = resolve(tree, op.path.strip("/"))
    st = tree.lstat(real)
    if st is not None and stat.S_ISDIR(st.st_mode):
        return commit_config(ws, step, base)
    copy_op = CopyOp((), op.path + "/")
    return copy(ws, step, copy_op, base, Selection(tree), keep_owner=False)


# --------------------------------------------------------------------------- RUN

class _Materials:
    """Host files a RUN's mounts need, made before and removed after it."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.paths: list[str] = []
        self.locks: list[int] = []
        self.env: list[str] = []

    def temp(self, name: str) -> str:
        path = self.ws.temp_path(name)
        self.paths.append(path)
        return path

    def close(self) -> None:
        for fd in self.locks:
            os.close(fd)
        for path in self.paths:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)


def cache_folder(ws: Workspace, mount: RunMount) -> str:
    """``$BERTH_ROOT/build/cache/<id>`` (the id percent-encoded: it is often a path)."""
    folder = os.path.join(ws.cache_root, urllib.parse.quote(mount.id, safe=""))
    if not os.path.isdir(folder):
        os.makedirs(ws.cache_root, mode=0o700, exist_ok=True)
        os.mkdir(folder, mount.mode if mount.mode is not None else 0o755)
        os.chmod(folder, mount.mode if mount.mode is not None else 0o755)
        if mount.uid is not None or mount.gid is not None:
            os.chown(folder, mount.uid or 0, mount.gid or 0)
    return folder


def _spec_mounts(ws: Workspace, op: RunOp, materials: _Materials,
                 trees: Mapping[str, tuple[SourceTree | None, str]]) -> list[SpecMount]:
    out: list[SpecMount] = []
    for mount in op.mounts:
        ro = ("ro",) if mount.readonly else ()
        if mount.type == "cache":
            folder = cache_folder(ws, mount)
            if mount.sharing == "locked":
                fd = os.open(folder + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                fcntl.flock(fd, fcntl.LOCK_EX)
                materials.locks.append(fd)
            out.append(SpecMount(mount.target, "bind", folder, ("rbind", "rprivate", *ro)))
        elif mount.type == "tmpfs":
            size = (f"size={mount.size}",) if mount.size else ()
            out.append(SpecMount(mount.target, "tmpfs", "tmpfs", ("nosuid", "nodev", "mode=1777", *size)))
        elif mount.type == "secret":
            secret = ws.secrets.get(mount.id)
            if secret is None:
                if mount.required:
                    raise InvalidArgument(f"secret {mount.id}: not provided (berth build --secret id={mount.id},"
                                          f"src=FILE)")
                continue
            if mount.env:
                materials.env.append(f"{mount.env}={secret.data.decode(errors='replace')}")
            path = materials.temp("secret")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, secret.data)
                os.fchown(fd, mount.uid or 0, mount.gid or 0)
                os.fchmod(fd, mount.mode if mount.mode is not None else 0o400)
            finally:
                os.close(fd)
            out.append(SpecMount(mount.target, "bind", path, ("rbind", "rprivate", "ro")))
        else:  # bind
            tree, root = trees[mount.target]
            if tree is None:  # the context folder itself, nothing to hide
                source = root
            else:
                source = materials.temp("bind")
                materialise(tree, root, source, copy=not mount.readonly)
            out.append(SpecMount(mount.target, "bind", source, ("rbind", "rprivate", *ro)))
    for inline in op.files:
        path = materials.temp("inline")
        with open(path, "w") as f:
            f.write(inline.data)
        os.chmod(path, inline.mode)
        out.append(SpecMount(inline.target, "bind", path, ("rbind", "rprivate", "ro")))
    return out


def materialise(tree: SourceTree, rel: str, dest: str, *, copy: bool) -> None:
    """The files under ``rel`` of ``tree`` as a host folder for a bind mount: hard
    links when read-only (cheap; the mount is read-only), copies when writable."""
    from berth.builder.copy import walk

    top = tree.lstat(rel)
    if top is not None and not stat.S_ISDIR(top.st_mode):
        _place(tree.host_path(rel), dest, top, copy)
        return
    os.makedirs(dest, mode=0o755, exist_ok=True)
    for sub, st in walk(tree, rel):
        host = tree.host_path(f"{rel}/{sub}" if rel else sub)
        target = os.path.join(dest, sub)
        if stat.S_ISDIR(st.st_mode):
            os.mkdir(target, stat.S_IMODE(st.st_mode) | 0o700)
        else:
            _place(host, target, st, copy)


def _place(host: str, target: str, st: os.stat_result, copy: bool) -> None:
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(host), target)
    elif stat.S_ISREG(st.st_mode):
        if not copy:
            try:
                os.link(host, target)
                return
            except OSError:
                pass
        shutil.copy2(host, target, follow_symlinks=False)


def run(ws: Workspace, step: Step, op: RunOp, base: Image | None,
        binds: Mapping[str, tuple[SourceTree | None, str]]) -> Image:
    """RUN: the command in a fresh container on the snapshot; its layer on success.
    Raises StepFailed (with the command's status) otherwise."""
    from berth.builder.errors import StepFailed
    from berth.engine.executor import StepProcess, run_step
    from berth.engine.paths import cgroup_parent

    materials = _Materials(ws)
    try:
        with SnapshotStep(ws, base) as snap:
            stubs = [*RUNTIME_STUBS, *(m.target for m in op.mounts), *(f.target for f in op.files)]
            before = _existing(snap.base_tree(), stubs)
            mounts = tuple(_spec_mounts(ws, op, materials, binds))
            proc = StepProcess(args=op.args, env=(*op.env, *op.proxy_env, *materials.env), cwd=op.cwd,
                               user=op.user, network=op.network, mounts=mounts)
            code = run_step(runtime_root=os.path.join(ws.run_root, "runtime"), work_dir=ws.work_dir,
                            rootfs_mounts=snap.mounts, proc=proc, stdout=ws.stdout, stderr=ws.stderr,
                            cgroup_parent=cgroup_parent(ws.root))
            if code != 0:
                raise StepFailed("", step.line, " ".join(op.args), code)
            remove_stubs(snap.layout.upper, stubs, before, overlay=snap.overlay, base=snap.base_tree())
            return snap.commit(step)
    finally:
        materials.close()


def _existing(tree: LayerTree, paths: list[str]) -> set[str]:
    """Which of ``paths`` and their parents exist in the base image."""
    out = set()
    for path in paths:
        parts = split(path)
        for i in range(1, len(parts) + 1):
            rel = "/".join(parts[:i])
            if tree.lstat(rel) is not None:
                out.add(rel)
    return out


def remove_stubs(upper: str, paths: list[str], existed: set[str], *, overlay: bool, base: LayerTree) -> None:
    """Drop what the runtime made for mount points (empty files and folders that were
    not in the base image), then overlay copy-ups of folders left empty by that."""
    parents: set[str] = set()
    for path in sorted(paths, key=lambda p: -len(split(p))):
        parts = split(path)
        for i in range(len(parts), 0, -1):
            rel = "/".join(parts[:i])
            if rel in existed:
                parents.add(rel)
                break
            _remove_if_empty(os.path.join(upper, rel))
    if not overlay:
        return
    for rel in sorted(parents, key=lambda p: -len(split(p))):
        host = os.path.join(upper, rel)
        st = _lstat(host)
        below = base.lstat(rel)
        if st is None or below is None or not stat.S_ISDIR(st.st_mode) or wh.is_opaque(host):
            continue
        if (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) != (
                stat.S_IMODE(below.st_mode), below.st_uid, below.st_gid):
            continue
        _remove_if_empty(host)


def _remove_if_empty(host: str) -> None:
    st = _lstat(host)
    if st is None:
        return
    if stat.S_ISREG(st.st_mode) and st.st_size == 0:
        os.unlink(host)
    elif stat.S_ISDIR(st.st_mode) and not wh.is_opaque(host):
        with contextlib.suppress(OSError):
            os.rmdir(host)


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def walk_cache_folders(root: str) -> Iterator[str]:
    folder = os.path.join(root, "build", "cache")
    if os.path.isdir(folder):
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".lock"):
                yield os.path.join(folder, name)
