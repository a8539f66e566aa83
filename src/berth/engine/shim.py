"""The per-container monitor: one small process that owns a container's life.

A shim is started (detached: its own session, adopted by init) by ``berth start`` or
``run``. It creates the container through the runtime and is its parent, so it:

- keeps the container's stdio: a pty master (``-t``) or pipes, copied to the json-file
  log and to every attached client;
- listens on ``shim.sock`` for clients: ``attach`` streams (Docker's multiplexed frames
  without a tty, raw bytes with one; client input goes to the container's stdin and a
  client half-close is stdin EOF) and control requests (start, stop, kill, resize,
  wait, state);
- records the exit status, OOM kill and finish time in ``state.json`` and an event;
- restarts the container by its policy, with back-off (100 ms doubling to 1 min, reset
  after 10 s of running);
- runs health checks (starting → healthy / unhealthy, the last five results kept);
- removes the container itself when it was created with ``--rm``.

The container's init gets SIGKILL if the shim dies, so a killed shim is noticed as
the container's exit (the engine reconciles what the shim could not record).

Socket protocol: the client sends one JSON line, ``{"attach": {...}}`` or
``{"ctl": "start"|"stop"|"kill"|"resize"|"wait"|"state", ...}``; the shim answers one
JSON line, then (for attach) the stream follows.
"""

from __future__ import annotations

import array
import contextlib
import errno
import json
import logging
import os
import selectors
import signal
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, NoReturn

from berth.engine import events, logs
from berth.engine import state as st
from berth.engine.client import bind as bind_socket
from berth.engine.paths import ContainerPaths, runtime_root
from berth.engine.shimconfig import ShimConfig
from berth.errors import BerthError
from berth.oci.mount import Mount
from berth.oci.spec import Process
from berth.runtime.api import ProcessIO
from berth.runtime.linux import (
    Created,
    LinuxRuntime,
    become_subreaper,
    exit_code,
    load_spec,
    process_start_time,
)
from berth.runtime.sync import ExecNotFound, ExecPermission

log = logging.getLogger(__name__)

STDOUT, STDERR = 1, 2
BACKOFF_MIN, BACKOFF_MAX, BACKOFF_RESET = 0.1, 60.0, 10.0
HEALTH_LOG = 5
HEALTH_OUTPUT = 4096


def frame(stream: int, data: bytes) -> bytes:
    """Docker's stdcopy frame: stream id, three zero bytes, big-endian length."""
    return struct.pack(">BxxxI", stream, len(data)) + data


def in_child(work: Callable[[], tuple[dict[str, Any], list[int]]]) -> tuple[dict[str, Any], list[int]]:
    """Run ``work`` in a short-lived forked child and return its answer and fds.

    The runtime's heavy calls (parsing the spec, planning, forking the container)
    allocate and touch many objects; in a child, the pages that writes them copy are
    freed when it exits, so the long-lived shim stays small. Processes the child
    starts are adopted by the shim, a child subreaper, once their parents exit.
    """
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        ours.close()
        try:
            answer, fds = work()
        except BaseException as err:  # noqa: B036 - the child reports everything and exits
            answer, fds = {"error": str(err), "class": type(err).__name__}, []
        data = json.dumps(answer).encode()
        try:
            if fds:
                theirs.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
            else:
                theirs.send(data)
        finally:
            os._exit(0)
    theirs.close()
    try:
        fds_arr = array.array("i")
        data, ancdata, _, _ = ours.recvmsg(65536, socket.CMSG_SPACE(8 * fds_arr.itemsize))
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds_arr.frombytes(payload[: len(payload) - len(payload) % fds_arr.itemsize])
    finally:
        ours.close()
        os.waitpid(pid, 0)
    if not data:
        return {"error": "the runtime helper died", "class": "Internal"}, []
    answer = json.loads(data)
    return answer, list(fds_arr)


def raise_for(answer: dict[str, Any]) -> None:
    if "error" not in answer:
        return
    cls = answer.get("class")
    if cls == "ExecNotFound":
        raise ExecNotFound(answer["error"])
    if cls == "ExecPermission":
        raise ExecPermission(answer["error"])
    raise BerthError(answer["error"])


class Client:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""
        self.mode = ""  # "" until the header line arrives; then attach | wait | stop
        self.stdout = self.stderr = self.stdin = False
        self.request: dict[str, Any] = {}

    def send(self, data: bytes) -> bool:
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def reply(self, message: dict[str, Any]) -> bool:
        return self.send(json.dumps(message).encode() + b"\n")


class Shim:
    def __init__(self, cfg: ShimConfig, report_fd: int | None, wait_for_start: bool) -> None:
        self.cfg = cfg
        self.paths = ContainerPaths(cfg.root, cfg.run_root, cfg.id)
        self.runtime = LinuxRuntime(runtime_root(cfg.run_root))
        self.report_fd = report_fd
        self.waiting_for_start = wait_for_start
        self.sel = selectors.DefaultSelector()
        self.clients: list[Client] = []
        self.state = st.LiveState(shim_pid=os.getpid(), shim_start=process_start_time(os.getpid()) or 0)
        self.log = logs.LogWriter(self.paths.log, cfg.log_max_size, cfg.log_max_file)
        self.init_pid = 0
        self.pidfd = -1
        self.stdin_w = -1  # the container's stdin (pipe write end or the pty master)
        self.outputs: dict[int, str] = {}  # fd → "stdout" | "stderr"
        self.master = -1
        self.started_at = 0.0
        self.backoff = BACKOFF_MIN
        self.restart_at: float | None = None
        self.stop_deadline: float | None = None
        self.stop_waiters: list[Client] = []
        self.health_next: float | None = None
        self.health_proc: tuple[int, int, int, float, str] | None = None  # pid, pidfd, out fd, deadline, start
        self.health_out = b""
        self.done = False

    # ---- reporting and state ---------------------------------------------------------

    def report(self, message: dict[str, Any]) -> None:
        if self.report_fd is None:
            return
        with contextlib.suppress(OSError):
            os.write(self.report_fd, json.dumps(message).encode() + b"\n")
        if "started" in message or "error" in message or "exited" in message:
            with contextlib.suppress(OSError):
                os.close(self.report_fd)
            self.report_fd = None

    def save(self, **changes: Any) -> None:
        self.state = replace(self.state, **changes)
        st.save(self.paths.state, self.state)

    def event(self, action: str, extra: dict[str, str] | None = None) -> None:
        with contextlib.suppress(OSError):
            events.container_event(self.cfg.root, action, self.cfg.id, self.cfg.name, self.cfg.image,
                                   self.cfg.labels, extra)

    # ---- container (re)creation ----------------------------------------------------------

    def _stdio(self) -> tuple[ProcessIO, list[int]]:
        """Pipes (or nothing, with a tty) for the container; returns the fds to close
        in the shim once the container holds them."""
        theirs: list[int] = []
        if self.cfg.tty:
            return ProcessIO(parent_death_signal=signal.SIGKILL), theirs
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        if self.cfg.open_stdin:
            in_r, in_w = os.pipe2(os.O_CLOEXEC)
            self.stdin_w = in_w
        else:
            in_r = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        self.outputs = {out_r: "stdout", err_r: "stderr"}
        theirs = [in_r, out_w, err_w]
        return ProcessIO(stdin=in_r, stdout=out_w, stderr=err_w, parent_death_signal=signal.SIGKILL), theirs

    def create(self) -> None:
        io, theirs = self._stdio()
        mounts = [Mount(t, s, "", o) for t, s, o in self.cfg.rootfs_mounts]

        def work() -> tuple[dict[str, Any], list[int]]:
            with contextlib.suppress(BerthError):
                self.runtime.delete(self.cfg.id, force=True)  # a leftover of a crashed shim
            made = self.runtime.create(self.cfg.id, self.paths.bundle, io, run_mode=True, rootfs_mounts=mounts,
                                       user_name=self.cfg.user or None)
            assert made.sock is not None
            # detach: the socket object must not close the fd when it goes out of scope
            fds = [made.sock.detach()] + ([made.master] if made.master is not None else [])
            return {"pid": made.pid, "master": made.master is not None}, fds

        try:
            answer, fds = in_child(work)
        finally:
            for fd in theirs:
                os.close(fd)
        raise_for(answer)
        master = fds[1] if answer.get("master") else None
        self.created = Created(int(answer["pid"]), master, socket.socket(fileno=fds[0]))
        self.init_pid = self.created.pid
        if master is not None:
            self.master = master
            self.stdin_w = master
            self.outputs = {master: "stdout"}
        for fd in self.outputs:
            os.set_blocking(fd, False)
            self.sel.register(fd, selectors.EVENT_READ, "output")
        self.pidfd = os.pidfd_open(self.init_pid)
        self.sel.register(self.pidfd, selectors.EVENT_READ, "exit")

    def start(self) -> None:
        self.runtime.start_created(self.created)
        self.started_at = time.monotonic()
        self.save(status=st.RUNNING, pid=self.init_pid, pid_start=process_start_time(self.init_pid) or 0,
                  started_at=logs.timestamp(), finished_at=st.ZERO_TIME, exit_code=0, oom_killed=False, error="",
                  health=st.HealthState() if self.cfg.health else None)
        self.event("start")
        self.waiting_for_start = False
        if self.cfg.health:
            self.health_next = time.monotonic() + self._health_interval(first=True)

    def launch(self, *, restarting: bool = False) -> bool:
        """Create and (unless waiting for a client) start; False if it cannot run."""
        try:
            self.create()
            if not self.waiting_for_start:
                self.start()
        except (ExecNotFound, ExecPermission) as err:
            code = 127 if isinstance(err, ExecNotFound) else 126
            self._failed(str(err), code)
            return False
        except (BerthError, OSError) as err:
            self._failed(str(err), 128)
            return False
        if not restarting:
            self.report({"started": True, "pid": self.init_pid} if not self.waiting_for_start
                        else {"created": True, "pid": self.init_pid})
        return True

    def _delete_container(self) -> None:
        def work() -> tuple[dict[str, Any], list[int]]:
            self.runtime.delete(self.cfg.id, force=True)
            return {}, []

        with contextlib.suppress(BerthError, OSError):
            in_child(work)

    def _failed(self, message: str, code: int) -> None:
        self._close_container_fds()
        self._delete_container()
        self.save(status=st.EXITED, exit_code=code, error=message, finished_at=logs.timestamp(), pid=0)
        self.event("die", {"exitCode": str(code)})
        self.report({"error": message, "exit_code": code})

    # ---- the loop ------------------------------------------------------------------------

    def serve(self) -> None:
        os.makedirs(self.paths.run_dir, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.paths.socket)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        bind_socket(self.listener, self.paths.socket)
        self.listener.listen(64)
        self.listener.setblocking(False)
        self.sel.register(self.listener, selectors.EVENT_READ, "accept")

    def loop(self) -> None:
        while not self.done:
            timeout = self._next_timer()
            for key, _ in self.sel.select(timeout):
                kind = key.data
                if kind == "accept":
                    self._accept()
                elif kind == "output":
                    self._read_output(int(key.fd))
                elif kind == "exit":
                    self._container_exited()
                elif kind == "client":
                    self._read_client(key.fileobj)  # type: ignore[arg-type]
                elif kind == "health-exit":
                    self._health_done()
                elif kind == "health-out":
                    self._health_read()
            self._timers()

    def _next_timer(self) -> float | None:
        times = [t for t in (self.restart_at, self.stop_deadline, self.health_next) if t is not None]
        if self.health_proc:
            times.append(self.health_proc[3])
        if not times:
            return None
        return max(0.0, min(times) - time.monotonic())

    def _timers(self) -> None:
        now = time.monotonic()
        if self.stop_deadline is not None and now >= self.stop_deadline:
            self.stop_deadline = None
            with contextlib.suppress(BerthError, OSError):
                self.runtime.kill(self.cfg.id, signal.SIGKILL, all_processes=True)
        if self.restart_at is not None and now >= self.restart_at:
            self.restart_at = None
            self.save(restart_count=self.state.restart_count + 1)
            if self.launch(restarting=True):
                self.event("restart")
            else:
                self._after_exit()
        if self.health_next is not None and now >= self.health_next and self.health_proc is None:
            self.health_next = None
            self._health_start()
        if self.health_proc is not None and now >= self.health_proc[3]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.health_proc[0], signal.SIGKILL)

    # ---- output --------------------------------------------------------------------------

    def _read_output(self, fd: int) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError as err:
            if err.errno != errno.EIO:  # EIO: the pty's last slave closed
                raise
            data = b""
        if not data:
            self.sel.unregister(fd)
            if fd != self.master:
                os.close(fd)
            self.outputs.pop(fd, None)
            return
        stream = self.outputs[fd]
        self.log.write(stream, data)
        payload = data if self.cfg.tty else frame(STDOUT if stream == "stdout" else STDERR, data)
        for client in list(self.clients):
            if client.mode == "attach" and (client.stdout if stream == "stdout" else client.stderr):
                if not client.send(payload):
                    self._drop(client)

    def _drain_output(self) -> None:
        for fd in list(self.outputs):
            while fd in self.outputs:
                try:
                    self._read_output(fd)
                except OSError:
                    break
                if fd in self.outputs and not self._readable(fd):
                    break
        self.log.flush()

    @staticmethod
    def _readable(fd: int) -> bool:
        import select

        r, _, _ = select.select([fd], [], [], 0)
        return bool(r)

    # ---- clients -------------------------------------------------------------------------

    def _accept(self) -> None:
        try:
            sock, _ = self.listener.accept()
        except BlockingIOError:
            return
        sock.setblocking(True)
        client = Client(sock)
        self.clients.append(client)
        self.sel.register(sock, selectors.EVENT_READ, "client")

    def _drop(self, client: Client) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.sel.unregister(client.sock)
        with contextlib.suppress(ValueError):
            self.clients.remove(client)
        client.sock.close()

    def _client(self, sock: socket.socket) -> Client | None:
        for c in self.clients:
            if c.sock is sock:
                return c
        return None

    def _read_client(self, sock: socket.socket) -> None:
        client = self._client(sock)
        if client is None:
            return
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if client.mode == "":
            if not data:
                self._drop(client)
                return
            client.buf += data
            if b"\n" not in client.buf:
                return
            line, _, rest = client.buf.partition(b"\n")
            client.buf = b""
            try:
                request = json.loads(line)
            except ValueError:
                client.reply({"error": "bad request"})
                self._drop(client)
                return
            self._handle(client, request)
            if rest and client.mode == "attach":
                self._stdin(client, rest)
            return
        if client.mode == "attach":
            if data:
                self._stdin(client, data)
            else:
                self._stdin_eof(client)
        elif not data:
            self._drop(client)

    def _stdin(self, client: Client, data: bytes) -> None:
        if client.stdin and self.stdin_w >= 0:
            with contextlib.suppress(OSError):
                os.write(self.stdin_w, data)

    def _stdin_eof(self, client: Client) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.sel.unregister(client.sock)  # keep streaming output to it; stop reading
        if client.stdin and self.cfg.stdin_once and self.stdin_w >= 0 and self.stdin_w != self.master:
            os.close(self.stdin_w)
            self.stdin_w = -1

    def _handle(self, client: Client, request: dict[str, Any]) -> None:
        if "attach" in request:
            opts = request["attach"]
            client.mode = "attach"
            client.stdout = bool(opts.get("stdout", True))
            client.stderr = bool(opts.get("stderr", True))
            client.stdin = bool(opts.get("stdin", False)) and self.cfg.open_stdin
            client.reply({"ok": True, "tty": self.cfg.tty})
            if self.state.status in (st.EXITED, st.DEAD) and not self.outputs:
                self._drop(client)
            return
        ctl = request.get("ctl")
        if ctl == "start":
            if self.waiting_for_start:
                try:
                    self.start()
                except (ExecNotFound, ExecPermission) as err:
                    code = 127 if isinstance(err, ExecNotFound) else 126
                    self._failed(str(err), code)
                    client.reply({"error": str(err), "exit_code": code})
                    self._finish_exit()
                    return
                except (BerthError, OSError) as err:
                    self._failed(str(err), 128)
                    client.reply({"error": str(err), "exit_code": 128})
                    self._finish_exit()
                    return
            client.reply({"ok": True, "pid": self.init_pid})
        elif ctl == "stop":
            self.save(manual_stop=True)
            if self.state.status != st.RUNNING:
                self.restart_at = None
                client.reply({"ok": True, "exit_code": self.state.exit_code})
                if self.restart_at is None and self.state.status == st.RESTARTING:
                    self.save(status=st.EXITED)
                    self.done = True
                return
            client.mode = "stop"
            self.stop_waiters.append(client)
            sig = int(request.get("signal") or self.cfg.stop_signal)
            timeout = request.get("timeout")
            timeout = self.cfg.stop_timeout if timeout is None else int(timeout)
            with contextlib.suppress(BerthError, OSError):
                self.runtime.kill(self.cfg.id, sig)
            self.stop_deadline = time.monotonic() + max(0, timeout)
        elif ctl == "kill":
            sig = int(request.get("signal") or signal.SIGKILL)
            if sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
                self.save(manual_stop=True)
            try:
                self.runtime.kill(self.cfg.id, sig)
                client.reply({"ok": True})
            except (BerthError, OSError) as err:
                client.reply({"error": str(err)})
        elif ctl == "resize":
            if self.master >= 0:
                import fcntl
                import termios

                with contextlib.suppress(OSError):
                    fcntl.ioctl(self.master, termios.TIOCSWINSZ,
                                struct.pack("HHHH", int(request["height"]), int(request["width"]), 0, 0))
            client.reply({"ok": True})
        elif ctl == "wait":
            client.mode = "wait"
            client.request = request
        elif ctl == "state":
            client.reply(json.loads(self.state.to_bytes()))
        else:
            client.reply({"error": f"unknown request {ctl!r}"})
            self._drop(client)

    # ---- exits and restarts --------------------------------------------------------------

    def _close_container_fds(self) -> None:
        for fd in list(self.outputs):
            with contextlib.suppress(KeyError, ValueError):
                self.sel.unregister(fd)
            with contextlib.suppress(OSError):
                os.close(fd)
        self.outputs = {}
        if self.stdin_w >= 0 and self.stdin_w != self.master:
            with contextlib.suppress(OSError):
                os.close(self.stdin_w)
        self.stdin_w = -1
        self.master = -1
        if self.pidfd >= 0:
            with contextlib.suppress(KeyError, ValueError):
                self.sel.unregister(self.pidfd)
            os.close(self.pidfd)
            self.pidfd = -1

    def _container_exited(self) -> None:
        try:
            _, status = os.waitpid(self.init_pid, 0)
            code = exit_code(status)
        except ChildProcessError:
            code = 255
        self._drain_output()
        oom = False
        with contextlib.suppress(BerthError, OSError):
            oom = self.runtime.oom_kills(self.cfg.id) > 0
        self._close_container_fds()
        self._health_cancel()
        self._delete_container()
        self.stop_deadline = None
        self.save(status=st.EXITED, exit_code=code, oom_killed=oom, finished_at=logs.timestamp(), pid=0)
        extra = {"exitCode": str(code)}
        if oom:
            self.event("oom")
        self.event("die", extra)
        for client in list(self.clients):
            if client.mode == "attach":
                self._drop(client)
            elif client.mode in ("wait", "stop") and client.request.get("condition") != "removed":
                client.reply({"exit_code": code, "oom_killed": oom, "ok": True})
                self._drop(client)
        self.stop_waiters = []
        self.report({"exited": True, "exit_code": code})
        ran = time.monotonic() - self.started_at
        if self._should_restart(code):
            if ran >= BACKOFF_RESET:
                self.backoff = BACKOFF_MIN
            self.restart_at = time.monotonic() + self.backoff
            self.backoff = min(BACKOFF_MAX, self.backoff * 2)
            self.save(status=st.RESTARTING)
            return
        self._after_exit()

    def _should_restart(self, code: int) -> bool:
        if self.state.manual_stop:
            return False
        policy = self.cfg.restart
        if policy in ("always", "unless-stopped"):
            return True
        if policy == "on-failure" and code != 0:
            return self.cfg.max_retries == 0 or self.state.restart_count < self.cfg.max_retries
        return False

    def _after_exit(self) -> None:
        if self.cfg.network and not self.cfg.auto_remove:
            self._release_network()
        self._finish_exit()

    def _release_network(self) -> None:
        """Free the address, ports and namespace: a stopped container holds none (the
        next start makes them again). In a child: the network code stays out of the shim."""

        def work() -> tuple[dict[str, Any], list[int]]:
            from berth.network import NetworkConfig, NetworkManager
            from berth.state import open_database

            NetworkManager(open_database(self.cfg.root), self.cfg.root, self.cfg.run_root,
                           config=NetworkConfig.from_env(self.cfg.network_env)).release(self.cfg.id)
            return {}, []

        with contextlib.suppress(BerthError, OSError):
            in_child(work)

    def _finish_exit(self) -> None:
        self.done = True

    # ---- health checks -------------------------------------------------------------------

    def _health_interval(self, first: bool = False) -> float:
        h = self.cfg.health or {}
        interval = (h.get("interval") or 30_000_000_000) / 1e9
        return interval

    def _health_start(self) -> None:
        h = self.cfg.health or {}
        test = list(h.get("test") or [])
        if not test or test[0] == "NONE":
            return
        args = ["/bin/sh", "-c", test[1]] if test[0] == "CMD-SHELL" else test[1:]
        if self.state.status != st.RUNNING:
            return
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        started = logs.timestamp()

        def work() -> tuple[dict[str, Any], list[int]]:
            base = load_spec(self.paths.bundle).process
            assert base is not None
            proc = Process(args=tuple(args), cwd=base.cwd, env=base.env, user=base.user,
                           capabilities=base.capabilities, no_new_privileges=base.no_new_privileges)
            made = self.runtime.exec(self.cfg.id, proc, ProcessIO(stdin=devnull, stdout=out_w, stderr=out_w),
                                     user_name=self.cfg.user or None)
            return {"pid": made.pid}, []

        try:
            answer, _ = in_child(work)
        finally:
            os.close(out_w)
            os.close(devnull)
        if "error" in answer:
            os.close(out_r)
            self._health_record(started, 1, str(answer["error"]))
            return
        pid = int(answer["pid"])
        pidfd = os.pidfd_open(pid)
        timeout = (h.get("timeout") or 30_000_000_000) / 1e9
        self.health_proc = (pid, pidfd, out_r, time.monotonic() + timeout, started)
        self.health_out = b""
        os.set_blocking(out_r, False)
        self.sel.register(pidfd, selectors.EVENT_READ, "health-exit")
        self.sel.register(out_r, selectors.EVENT_READ, "health-out")

    def _health_read(self) -> None:
        if self.health_proc is None:
            return
        try:
            data = os.read(self.health_proc[2], 65536)
        except BlockingIOError:
            return
        if not data:
            with contextlib.suppress(KeyError, ValueError):
                self.sel.unregister(self.health_proc[2])
            return
        self.health_out = (self.health_out + data)[:HEALTH_OUTPUT]

    def _health_done(self) -> None:
        if self.health_proc is None:
            return
        pid, pidfd, out_r, _, started = self.health_proc
        try:
            _, status = os.waitpid(pid, 0)
            code = exit_code(status)
        except ChildProcessError:
            code = 1
        with contextlib.suppress(OSError):
            while chunk := os.read(out_r, 65536):
                self.health_out = (self.health_out + chunk)[:HEALTH_OUTPUT]
        self._health_cancel()
        self._health_record(started, 0 if code == 0 else 1, self.health_out.decode(errors="replace"))

    def _health_cancel(self) -> None:
        if self.health_proc is None:
            return
        pid, pidfd, out_r, _, _ = self.health_proc
        for fd in (pidfd, out_r):
            with contextlib.suppress(KeyError, ValueError):
                self.sel.unregister(fd)
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        self.health_proc = None

    def _health_record(self, started: str, code: int, output: str) -> None:
        h = self.cfg.health or {}
        retries = h.get("retries") or 3
        in_start_period = (time.monotonic() - self.started_at) < (h.get("start_period") or 0) / 1e9
        current = self.state.health or st.HealthState()
        result = st.HealthResult(started, logs.timestamp(), code, output)
        entries = (current.log + (result,))[-HEALTH_LOG:]
        if code == 0:
            health = st.HealthState("healthy", 0, entries)
        elif in_start_period and current.status == "starting":
            health = st.HealthState("starting", current.failing_streak, entries)
        else:
            streak = current.failing_streak + 1
            health = st.HealthState("unhealthy" if streak >= retries else current.status, streak, entries)
        if health.status != current.status:
            self.event(f"health_status: {health.status}")
        self.save(health=health)
        if self.state.status == st.RUNNING:
            self.health_next = time.monotonic() + self._health_interval()


def run(cfg: ShimConfig, report_fd: int | None, wait_for_start: bool) -> int:
    shim = Shim(cfg, report_fd, wait_for_start)
    shim.serve()
    if shim.launch():
        shim.loop()
    shim.log.close()
    for client in list(shim.clients):
        if client.mode in ("wait", "stop"):
            if client.request.get("condition") == "removed" and cfg.auto_remove:
                continue
            client.reply({"exit_code": shim.state.exit_code, "ok": True, "error": shim.state.error})
    waiting_removal = [c for c in shim.clients if c.request.get("condition") == "removed"]
    with contextlib.suppress(OSError):
        shim.listener.close()
        os.unlink(shim.paths.socket)
    if cfg.auto_remove:
        remove = _remover()
        with contextlib.suppress(Exception):
            remove(cfg)
    for client in waiting_removal:
        client.reply({"exit_code": shim.state.exit_code, "ok": True, "removed": True})
    for client in list(shim.clients):
        client.sock.close()
    return 0


def _remover() -> Callable[[ShimConfig], None]:
    # Imported at the end of the shim's life only: removal needs the store and the
    # database, which a running shim never loads.
    from berth.engine.teardown import remove_after_exit

    return remove_after_exit


def main(config_path: str, report_fd: int | None, wait_for_start: bool) -> NoReturn:
    """Entry point in the forked shim process (see spawn.py)."""
    code = 1
    try:
        with contextlib.suppress(PermissionError):
            os.setsid()
        # The container's init is a grandchild (the runtime forks twice); as a child
        # subreaper the shim adopts it and can wait for its exit status.
        become_subreaper()
        code = run(ShimConfig.load(config_path), report_fd, wait_for_start)
    except BaseException as err:  # noqa: B036 - the shim reports every failure, then exits
        with contextlib.suppress(Exception):
            log.exception("shim failed")
            if report_fd is not None:
                os.write(report_fd, json.dumps({"error": f"shim: {err}", "exit_code": 125}).encode() + b"\n")
        code = 1
    os._exit(code)
