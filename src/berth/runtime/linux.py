"""The runtime verbs on Linux: the parent side of every container.

State lives in ``<root>/<id>/`` (tmpfs under /run): ``state.json`` and, between create
and start, ``exec.fifo`` — the start gate the container's init blocks on, as runc's.
A container whose pid is gone (or reused: the start time is recorded) is stopped.

The caller must be single-threaded: the container is made by ``fork`` (see DESIGN.md,
"No namespace work in a threaded process"); the API server reaches this code through
a shim process, never in its own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import re
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

from berth.errors import (
    AlreadyExists,
    ContainerNotFound,
    ContainerNotRunning,
    InvalidArgument,
    StateTransitionError,
)
from berth.oci.spec import Process, Spec
from berth.runtime import init, plan, sync
from berth.runtime import seccomp as seccomp_cache
from berth.runtime.api import ContainerState, ProcessIO, Status
from berth.sys import ns, prctl
from berth.sys.cgroups import CgroupManager, open_cgroup
from berth.sys.fs import write_atomic as write_atomic
from berth.sys.ns import CLONE_NEWPID, CLONE_NEWUSER, PROC_NAME

if TYPE_CHECKING:
    from berth.oci.mount import Mount

_ID = re.compile(r"^[\w+\-.]{1,1024}$")
FIFO = "exec.fifo"
STATE = "state.json"
INIT_ANNOTATION = "run.berth.init"


@dataclass
class Created:
    """What ``create`` hands back: the container's init pid and, with a terminal and no
    console socket, the pty master."""

    pid: int
    master: int | None = None
    sock: socket.socket | None = None  # run mode: the sync socket that is also the start gate
    hooks: dict[str, tuple[tuple[str, tuple[str, ...], tuple[str, ...], int | None], ...]] = field(
        default_factory=dict
    )
    started: bool = False  # run mode: "start" was sent on ``sock`` already


def check_id(container_id: str) -> None:
    if not _ID.match(container_id) or container_id in (".", ".."):
        raise InvalidArgument(f"container id {container_id!r}: invalid (letters, digits, '_+-.' only)")


def process_start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (clock ticks since boot); None if gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = data[data.rfind(b")") + 2 :].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


def load_spec(bundle: str) -> Spec:
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError as err:
        raise InvalidArgument(f"bundle {bundle}: no config.json") from err
    except NotADirectoryError as err:
        raise InvalidArgument(f"bundle {bundle}: not a directory") from err
    return Spec.from_bytes(data)


def _now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


class LinuxRuntime:
    def __init__(self, root: str) -> None:
        self.root = root

    # ---- state -------------------------------------------------------------------

    def _dir(self, container_id: str) -> str:
        check_id(container_id)
        return os.path.join(self.root, container_id)

    def _read(self, container_id: str) -> dict[str, object]:
        try:
            with open(os.path.join(self._dir(container_id), STATE), "rb") as f:
                value = json.loads(f.read())
        except FileNotFoundError as err:
            raise ContainerNotFound(f"container {container_id}: does not exist") from err
        if not isinstance(value, dict):
            raise ContainerNotFound(f"container {container_id}: state is unreadable")
        return value

    def _write(self, container_id: str, record: dict[str, object]) -> None:
        write_atomic(os.path.join(self._dir(container_id), STATE), json.dumps(record).encode(), durable=False)

    def state(self, container_id: str) -> ContainerState:
        return self._state(container_id, self._read(container_id))

    def _state(self, container_id: str, record: dict[str, object]) -> ContainerState:
        pid = int(str(record.get("pid", 0)))
        started = record.get("start_time")
        alive = pid > 0 and process_start_time(pid) == started
        cgroup_path = str(record.get("cgroup_path", ""))
        if not alive:
            status = Status.STOPPED
        elif os.path.exists(os.path.join(self._dir(container_id), FIFO)):
            status = Status.CREATED
        elif record.get("paused"):
            status = Status.PAUSED
        else:
            status = Status.RUNNING
        annotations = record.get("annotations")
        return ContainerState(
            id=container_id,
            status=status,
            pid=pid,
            bundle=str(record.get("bundle", "")),
            created=str(record.get("created", "")),
            annotations=dict(annotations) if isinstance(annotations, dict) else {},
            cgroup_path=cgroup_path,
            rootfs=str(record.get("rootfs", "")),
            owner=str(record.get("owner", "")),
        )

    def containers(self) -> list[ContainerState]:
        try:
            names = sorted(os.listdir(self.root))
        except FileNotFoundError:
            return []
        out = []
        for name in names:
            if name.startswith("."):
                continue
            try:
                out.append(self.state(name))
            except (ContainerNotFound, InvalidArgument):
                continue
        return out

    # ---- create / start / run ----------------------------------------------------

    def create(self, container_id: str, bundle: str, io: ProcessIO | None = None, *,
               pid_file: str | None = None, run_mode: bool = False, rootfs_mounts: Sequence[Mount] = (),
               user_name: str | None = None) -> Created:
        """Build the container and leave its program waiting at the start gate.

        In ``run_mode`` the gate is the returned sync socket and the caller starts the
        container with :meth:`start_created`; otherwise it is ``exec.fifo`` and any
        process may call :meth:`start` later.
        """
        created, _ = self._create(container_id, bundle, io, pid_file=pid_file, run_mode=run_mode,
                                  rootfs_mounts=rootfs_mounts, user_name=user_name)
        return created

    def _create(self, container_id: str, bundle: str, io: ProcessIO | None, *, pid_file: str | None,
                run_mode: bool, rootfs_mounts: Sequence[Mount] = (), user_name: str | None = None,
                start: bool = False) -> tuple[Created, dict[str, object]]:
        """:meth:`create`, also returning the record it wrote to state.json. With
        ``start`` (run mode), a container without a terminal is released as soon as it
        is made, and its program execs while this writes the record (see
        :meth:`_wait_exec`); ``created.sock`` then only reports whether it did."""
        io = io or ProcessIO()
        bundle = os.path.realpath(bundle)
        directory = self._dir(container_id)
        spec = load_spec(bundle)
        init_plan = plan.build(spec, bundle, container_id)
        if rootfs_mounts:
            init_plan = dataclasses.replace(init_plan, rootfs_mounts=tuple(rootfs_mounts))
        if init_plan.process.terminal and not run_mode and io.console_socket is None:
            raise InvalidArgument("process.terminal is set: a detached container needs --console-socket")
        security = init.ProcessSecurity(
            seccomp=self._seccomp(spec),
            seccomp_flags=spec.linux.seccomp.flags if spec.linux.seccomp else (),
            use_init=spec.annotations.get(INIT_ANNOTATION) == "true",
            preserve_fds=io.preserve_fds,
            parent_death_signal=io.parent_death_signal,
            user_name=user_name,
        )
        os.makedirs(self.root, mode=0o711, exist_ok=True)
        try:
            os.mkdir(directory, 0o711)
        except FileExistsError as err:
            raise AlreadyExists(f"container {container_id}: already exists") from err
        with contextlib.ExitStack() as undo:
            undo.callback(_rmtree, directory)
            cgroup = open_cgroup(init_plan.cgroup_path)
            cgroup.create()
            undo.callback(_destroy_quietly, cgroup)
            cgroup.apply(init_plan.limits)
            created = self._launch(init_plan, security, io, directory, run_mode, undo)
            if start and created.master is None and created.sock is not None:
                created.sock.send(b"start")
                created.started = True
            record = {
                "id": container_id,
                "pid": created.pid,
                "start_time": process_start_time(created.pid),
                "bundle": bundle,
                "rootfs": init_plan.rootfs,
                "created": _now(),
                "annotations": dict(spec.annotations),
                "cgroup_path": init_plan.cgroup_path,
                "owner": "root" if os.geteuid() == 0 else str(os.geteuid()),
                "hooks": {k: [list(h[:1]) + [list(h[1]), list(h[2]), h[3]] for h in v]
                          for k, v in init_plan.hooks.items()},
            }
            self._write(container_id, record)
            if pid_file:
                write_atomic(os.path.abspath(pid_file), f"{created.pid}".encode(), durable=False)
            if created.master is not None and io.console_socket:
                _send_console(io.console_socket, created.master)
                os.close(created.master)
                created.master = None
            undo.pop_all()
        return created, record

    def _seccomp(self, spec: Spec) -> bytes | None:
        if spec.linux.seccomp is None:
            return None
        return seccomp_cache.program(spec.linux.seccomp, os.path.join(self.root, ".seccomp-cache"))

    def _launch(self, init_plan: plan.InitPlan, security: init.ProcessSecurity, io: ProcessIO,
                directory: str, run_mode: bool, undo: contextlib.ExitStack) -> Created:
        parent, child = sync.pair()
        undo.callback(parent.close)
        if run_mode:
            gate = child.fileno()
        else:
            fifo = os.path.join(directory, FIFO)
            os.mkfifo(fifo, 0o600)
            # Read-write, so that opening never blocks and the gate holds a reader for
            # `start` to find; the container's init reads the byte `start` writes.
            gate = os.open(fifo, os.O_RDWR | os.O_CLOEXEC)
        stdio = init.Stdio(io.stdin, io.stdout, io.stderr)
        init_pid = 0
        stage1 = 0
        if _can_fork_directly(init_plan):
            init_pid = _fork_into_pid_namespace(
                init_plan, lambda: init.direct(init_plan, child, gate, stdio, security, parent))
        else:
            _flush_std()
            stage1 = os.fork()
            if stage1 == 0:
                parent.close()
                init.stage1(init_plan, child, gate, stdio, security)
        if not run_mode:
            os.close(gate)
            child.close()

        def kill_init() -> None:
            if init_pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(init_pid, signal.SIGKILL)
                _reap_if_child(init_pid)

        undo.callback(kill_init)
        master: int | None = None
        try:
            if init_pid:
                # While this waits for the cgroup move, the child unshares and mounts.
                if init_plan.cgroup_path:
                    open_cgroup(init_plan.cgroup_path).add_process(init_pid)
                sync.send(parent, sync.JOINED)
            while True:
                message, fds = sync.recv(parent)
                if message is None:
                    raise sync.error_from({"message": "container init exited during set-up"})
                kind = message["type"]
                if kind == sync.ERROR:
                    raise sync.error_from(message)
                if kind == sync.USERNS:
                    _write_id_maps(stage1, init_plan)
                    sync.send(parent, sync.MAPPED)
                elif kind == sync.PID:
                    init_pid = int(message["pid"])
                    os.waitpid(stage1, 0)
                    stage1 = 0
                elif kind == sync.HOOKS:
                    # The environment exists and the program waits: "created", as crun
                    # reports it (and runtime-tools expects) for the create-time hooks.
                    state = {"ociVersion": "1.1.0", "id": os.path.basename(directory), "status": "created",
                             "pid": init_pid, "bundle": init_plan.bundle,
                             "annotations": dict(init_plan.annotations)}
                    for hook_kind in ("prestart", "createRuntime"):
                        run_hooks(init_plan.hooks.get(hook_kind, ()), state, kind=hook_kind)
                    sync.send(parent, sync.HOOKS_DONE)
                elif kind == sync.PTY:
                    master = fds[0]
                elif kind == sync.CREATED:
                    break
        finally:
            if stage1:
                _reap_if_child(stage1)
        created = Created(init_pid, master, parent if run_mode else None, init_plan.hooks)
        if run_mode:
            child.close()
        else:
            parent.close()
        return created

    def start(self, container_id: str) -> None:
        state = self.state(container_id)
        if not state.status.can_start():
            raise StateTransitionError(f"container {container_id}: cannot start a {state.status.value} container")
        fifo = os.path.join(self._dir(container_id), FIFO)
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as err:
            if err.errno in (errno.ENXIO, errno.ENOENT):
                raise ContainerNotRunning(f"container {container_id}: its init is gone") from err
            raise
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)
        os.unlink(fifo)
        self._poststart(container_id, state)

    def _poststart(self, container_id: str, state: ContainerState) -> None:
        hooks = self._hooks(container_id).get("poststart", ())
        if hooks:
            # The spec: a failing poststart hook is a warning; the container runs on.
            run_hooks(hooks, {**state.to_json(), "status": "running"}, kind="poststart", warn_only=True)

    def _hooks(self, container_id: str) -> dict[str, tuple[tuple[str, tuple[str, ...], tuple[str, ...], int | None], ...]]:
        return _hooks_of(self._read(container_id))

    def start_created(self, created: Created) -> None:
        """Release a container made with ``run_mode``: its gate is the sync socket."""
        assert created.sock is not None
        if not created.started:
            created.sock.send(b"start")
            created.started = True
        self._wait_exec(created)

    def _wait_exec(self, created: Created) -> None:
        """Wait until a released container's program has exec'd; raise its error if not."""
        assert created.sock is not None
        message, _ = sync.recv(created.sock)  # EOF once execve closed the socket
        created.sock.close()
        created.sock = None
        if message is not None and message.get("type") == sync.ERROR:
            raise sync.error_from(message)

    def run(self, container_id: str, bundle: str, io: ProcessIO | None = None, *, detach: bool = False,
            keep: bool = False, pid_file: str | None = None) -> int:
        """create + start; unless ``detach``, wait, relay the terminal, and return the
        exit status (128+N for death by signal N), then delete the container."""
        io = io or ProcessIO()
        if not detach:
            prctl.set_child_subreaper(True)
        created, record = self._create(container_id, bundle, io, run_mode=True, pid_file=pid_file, start=True)
        try:
            self.start_created(created)
        except BaseException:
            with contextlib.suppress(Exception):
                self.delete(container_id, force=True)
            raise
        if created.hooks.get("poststart"):  # (create's record has them too; no need to read it back)
            self._poststart(container_id, self.state(container_id))
        if detach:
            if created.master is not None:
                os.close(created.master)
            return 0
        try:
            status = _wait_foreground(created.pid, created.master)
        except BaseException:
            if not keep:
                self.delete(container_id, force=True)
            raise
        if not keep:
            # Its init is reaped, so it is stopped: what delete would find out by reading
            # state.json back, we know.
            self._remove(container_id, record)
        return status

    # ---- signals, pause, delete ----------------------------------------------------

    def kill(self, container_id: str, sig: int = signal.SIGTERM, *, all_processes: bool = False) -> None:
        state = self.state(container_id)
        if not state.status.can_kill():
            raise ContainerNotRunning(f"container {container_id}: is not running")
        if all_processes:
            open_cgroup(state.cgroup_path).kill_all(sig)
            return
        try:
            pidfd = os.pidfd_open(state.pid)
        except ProcessLookupError as err:
            raise ContainerNotRunning(f"container {container_id}: is not running") from err
        try:
            # The pidfd pins the process, so the check below cannot race a pid reuse.
            record = self._read(container_id)
            if process_start_time(state.pid) != record.get("start_time"):
                raise ContainerNotRunning(f"container {container_id}: is not running")
            signal.pidfd_send_signal(pidfd, sig)
        finally:
            os.close(pidfd)

    def oom_kills(self, container_id: str) -> int:
        """How many processes the kernel's OOM killer took from this container."""
        state = self.state(container_id)
        cgroup = open_cgroup(state.cgroup_path)
        return cgroup.oom_kills() if cgroup.exists() else 0

    def stats(self, container_id: str) -> dict[str, Any]:
        """Memory, CPU and pids usage from the container's cgroup; huge pages per size
        where a hugetlb controller is there."""
        state = self.state(container_id)
        s = open_cgroup(state.cgroup_path).stats()
        out: dict[str, Any] = {
            "memory_usage": s.memory_usage, "memory_limit": s.memory_limit,
            "memory_max_usage": s.memory_max_usage, "cpu_usage_ns": s.cpu_usage_ns,
            "pids_current": s.pids_current, "pids_limit": s.pids_limit}
        if s.hugetlb:
            out["hugetlb"] = {size: {"usage": usage, "max_usage": peak, "failcnt": failcnt}
                              for size, (usage, peak, failcnt) in s.hugetlb.items()}
        return out

    def processes(self, container_id: str) -> list[int]:
        """Host pids of every process in the container's cgroup."""
        state = self.state(container_id)
        cgroup = open_cgroup(state.cgroup_path)
        return cgroup.procs() if cgroup.exists() else []

    def pause(self, container_id: str) -> None:
        state = self.state(container_id)
        if not state.status.can_pause():
            raise StateTransitionError(f"container {container_id}: cannot pause a {state.status.value} container")
        open_cgroup(state.cgroup_path).freeze(True)
        record = self._read(container_id)
        record["paused"] = True
        self._write(container_id, record)

    def resume(self, container_id: str) -> None:
        state = self.state(container_id)
        if not state.status.can_resume():
            raise StateTransitionError(f"container {container_id}: is not paused")
        open_cgroup(state.cgroup_path).freeze(False)
        record = self._read(container_id)
        record["paused"] = False
        self._write(container_id, record)

    def delete(self, container_id: str, *, force: bool = False) -> None:
        record = self._read(container_id)
        state = self._state(container_id, record)
        if state.status in (Status.RUNNING, Status.PAUSED) and not force:
            raise StateTransitionError(
                f"container {container_id}: cannot delete a {state.status.value} container (stop it or use --force)"
            )
        cgroup = open_cgroup(state.cgroup_path) if state.cgroup_path else None
        if state.status is not Status.STOPPED:
            if cgroup is not None and cgroup.exists():
                if state.status is Status.PAUSED:
                    cgroup.freeze(False)
                cgroup.kill_all(signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.kill(state.pid, signal.SIGKILL)
            _reap_if_child(state.pid)
        self._remove(container_id, record, state)

    def _remove(self, container_id: str, record: dict[str, object], state: ContainerState | None = None) -> None:
        """The end of :meth:`delete`, once the container's init is gone: its cgroup (when
        empty), its folder, then the poststop hooks."""
        cgroup_path = str(record.get("cgroup_path", ""))
        if cgroup_path:
            cgroup = open_cgroup(cgroup_path)
            _wait_empty(cgroup)
            cgroup.destroy()
            if os.path.basename(os.path.dirname(cgroup_path)).startswith("berth"):
                cgroup.prune_parent()  # a berth root's own parent (engine.paths.cgroup_parent)
        directory = self._dir(container_id)
        try:
            os.unlink(os.path.join(directory, STATE))  # all a run-mode container leaves
            os.rmdir(directory)
        except OSError:
            _rmtree(directory)
        hooks = _hooks_of(record).get("poststop", ())
        if hooks:
            if state is None:
                state = self._state(container_id, record)
            run_hooks(hooks, {**state.to_json(), "status": "stopped"}, kind="poststop", warn_only=True)

    # ---- exec ------------------------------------------------------------------------

    def exec(self, container_id: str, process: Process, io: ProcessIO | None = None, *,
             user_name: str | None = None) -> Created:
        """Start ``process`` inside the running container; return its pid (and pty master).

        The caller reaps it if the caller is a child subreaper (the shim is)."""
        io = io or ProcessIO()
        state = self.state(container_id)
        if state.status is not Status.RUNNING:
            raise ContainerNotRunning(f"container {container_id}: is not running")
        spec = load_spec(state.bundle)
        proc_plan = plan.process_plan(process)
        joins = []
        for ns_spec in spec.linux.namespaces:
            name = PROC_NAME[ns_spec.type]
            path = f"/proc/{state.pid}/ns/{name}"
            if os.path.exists(path):
                joins.append((ns_spec.type, path))
        joins.sort(key=lambda j: j[0] != "user")
        security = init.ProcessSecurity(
            seccomp=self._seccomp(spec),
            seccomp_flags=spec.linux.seccomp.flags if spec.linux.seccomp else (),
            preserve_fds=io.preserve_fds,
            parent_death_signal=io.parent_death_signal,
            user_name=user_name,
        )
        parent, child = sync.pair()
        _flush_std()
        stage1 = os.fork()
        if stage1 == 0:
            parent.close()
            init.exec_stage1(tuple(joins), state.cgroup_path, child, init.Stdio(io.stdin, io.stdout, io.stderr),
                             proc_plan, security)
        child.close()
        pid = 0
        master = None
        try:
            while True:
                message, fds = sync.recv(parent)
                if message is None:
                    break  # execve closed the socket
                if message["type"] == sync.ERROR:
                    if pid:
                        _reap_if_child(pid)
                    raise sync.error_from(message)
                if message["type"] == sync.PID:
                    pid = int(message["pid"])
                    os.waitpid(stage1, 0)
                    stage1 = 0
                elif message["type"] == sync.PTY:
                    master = fds[0]
        finally:
            parent.close()
            if stage1:
                _reap_if_child(stage1)
        return Created(pid, master)


# ---- helpers ---------------------------------------------------------------------------


def warm_up() -> None:
    """Parse and plan berth's default spec, running nothing.

    A fork server's spare child calls this while it waits for a command: the memory
    this touches (the parser's and planner's objects, the allocator's free pools) is
    then its own already, where a worker would otherwise copy each page on its first
    write while it starts a container (~450 fewer page faults, a few ms here)."""
    from berth.runtime.defaults import default_spec

    spec = Spec.from_bytes(default_spec(("true",), terminal=False, rootfs="/").to_bytes())
    plan.build(spec, "/", "warm-up")
    if spec.linux.seccomp is not None:
        spec.linux.seccomp.canonical_bytes()


def _rmtree(path: str) -> None:
    import shutil  # (imported when needed: with bz2 and lzma, ~3 ms of a cold start)

    shutil.rmtree(path, ignore_errors=True)


def become_subreaper() -> None:
    """Adopt orphaned descendants: a container's init is forked by a child that exits."""
    prctl.set_child_subreaper(True)


def _flush_std() -> None:
    # Buffered output would otherwise be written twice, once by each side of the fork.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def _hooks_of(record: dict[str, object]) -> dict[str, tuple[tuple[str, tuple[str, ...], tuple[str, ...], int | None], ...]]:
    raw = record.get("hooks") or {}
    out = {}
    if isinstance(raw, dict):
        for kind, entries in raw.items():
            out[kind] = tuple((str(e[0]), tuple(e[1]), tuple(e[2]), e[3]) for e in entries)
    return out


def _can_fork_directly(init_plan: plan.InitPlan) -> bool:
    """Whether the container's PID 1 can be forked straight from here (``init.direct``):
    not with a user namespace, which must exist before the other namespaces are made
    (they belong to it) and needs the parent to write its id maps in between."""
    return not (init_plan.new_namespaces & CLONE_NEWUSER) and all(
        kind != "user" for kind, _ in init_plan.join_namespaces)


def _fork_into_pid_namespace(init_plan: plan.InitPlan, child: Callable[[], NoReturn]) -> int:
    """Fork ``child`` as the first process of the container's new (or joined) pid
    namespace. unshare and setns of a pid namespace apply to the caller's future
    children only, so this process moves its children's pid namespace there for the
    one fork and back right after."""
    joined = next((path for kind, path in init_plan.join_namespaces if kind == "pid"), None)
    switch = joined is not None or bool(init_plan.new_namespaces & CLONE_NEWPID)
    own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC) if switch else -1
    try:
        if joined is not None:
            ns.join(joined, CLONE_NEWPID)
        elif switch:
            ns.unshare(CLONE_NEWPID)
        _flush_std()
        pid = os.fork()
        if pid == 0:
            child()  # never returns: it execs or exits
    finally:
        if switch:
            ns.setns(own, CLONE_NEWPID, "/proc/self/ns/pid")
            os.close(own)
    return pid


def _destroy_quietly(cgroup: CgroupManager) -> None:
    with contextlib.suppress(Exception):
        cgroup.kill_all(signal.SIGKILL)
        _wait_empty(cgroup)
    with contextlib.suppress(Exception):
        cgroup.destroy()
        if os.path.basename(os.path.dirname(cgroup.path)).startswith("berth"):
            cgroup.prune_parent()


def _wait_empty(cgroup: CgroupManager, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while cgroup.exists() and cgroup.procs() and time.monotonic() < deadline:
        time.sleep(0.002)


def _reap_if_child(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _write_id_maps(pid: int, init_plan: plan.InitPlan) -> None:
    for name, text in (("uid_map", init_plan.uid_map), ("gid_map", init_plan.gid_map)):
        if text:
            with open(f"/proc/{pid}/{name}", "w") as f:
                f.write(text)


def _send_console(path: str, master: int) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)
        sock.sendmsg([b"/dev/ptmx"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, master.to_bytes(4, sys.byteorder))])


def run_hooks(hooks: tuple[tuple[str, tuple[str, ...], tuple[str, ...], int | None], ...],
              state: dict[str, object], *, kind: str = "", warn_only: bool = False) -> None:
    """OCI hooks, in order: each gets the container state as JSON on stdin. A failure
    is an error, except with ``warn_only`` (poststart, poststop): then it is a warning
    on stderr and the next hook runs, as the spec's lifecycle says."""
    import subprocess

    payload = json.dumps(state).encode()
    for path, args, env, timeout in hooks:
        argv = list(args) if args else [path]
        problem = ""
        try:
            result = subprocess.run(argv, executable=path, input=payload, env=dict(e.split("=", 1) for e in env),
                                    timeout=timeout, capture_output=True, check=False)
        except subprocess.TimeoutExpired:
            problem = f"timed out after {timeout}s"
        except OSError as err:
            problem = err.strerror or str(err)
        else:
            if result.returncode != 0:
                detail = result.stderr.decode(errors="replace").strip()
                problem = f"exit status {result.returncode}" + (f": {detail}" if detail else "")
        if not problem:
            continue
        name = f"{kind} hook {path}" if kind else f"hook {path}"
        if not warn_only:
            raise InvalidArgument(f"{name}: {problem}")
        with contextlib.suppress(OSError):
            os.write(2, f"berth: warning: {name}: {problem}\n".encode())


def exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def _wait_foreground(pid: int, master: int | None) -> int:
    """Wait for the container's init; forward our signals to it; relay its terminal."""
    previous = {}

    def forward(sig: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)

    try:
        for sig in _FORWARDED:
            previous[sig] = signal.signal(sig, forward)
    except ValueError:
        pass  # not the main thread (the API server's): it cannot take signals
    try:
        if master is not None:
            _relay_terminal(master, pid)
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                return exit_code(status)
            except InterruptedError:
                continue
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _relay_terminal(master: int, pid: int) -> None:
    import selectors
    import termios

    stdin_tty = os.isatty(0)
    saved = termios.tcgetattr(0) if stdin_tty else None
    if stdin_tty:
        import tty as _tty

        _tty.setraw(0)
        with contextlib.suppress(OSError):
            rows, cols = os.get_terminal_size(0)
            import fcntl
            import struct

            fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    sel = selectors.DefaultSelector()
    sel.register(master, selectors.EVENT_READ)
    stdin_open = True
    try:
        sel.register(0, selectors.EVENT_READ)
    except (ValueError, OSError):
        stdin_open = False
    try:
        while True:
            for key, _ in sel.select():
                if key.fd == master:
                    try:
                        data = os.read(master, 65536)
                    except OSError as err:
                        if err.errno == errno.EIO:  # every slave fd closed: the program is done
                            return
                        raise
                    if not data:
                        return
                    os.write(1, data)
                elif stdin_open:
                    data = os.read(0, 65536)
                    if data:
                        os.write(master, data)
                    else:
                        sel.unregister(0)
                        stdin_open = False
                        with contextlib.suppress(OSError):
                            os.write(master, b"\x04")  # EOF on stdin: ^D to the terminal
    finally:
        sel.close()
        os.close(master)
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)
