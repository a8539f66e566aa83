"""The fork server behind ``berth``'s warm start (see launch.py for why).

One process per user and berth version, started on demand, single-threaded for its
whole life (fork is only safe without threads). It imports every verb, freezes the
garbage collector so forked children share its memory pages, and forks:

- **cli workers**, ahead of time: one **spare** child always waits in ``accept`` on the
  socket, so a command never waits for the fork (about a millisecond and a half, most
  of it copying page tables and faulting in the pages the child writes first). The
  spare that takes a connection tells the server, which forks the next one; it takes
  the client's stdio fds, environment, working directory, umask and open-file limit,
  runs the ``berth`` command line, and sends back its exit status. While it waits, a
  spare **rehearses**: it parses and plans a default spec and rebuilds its
  environment, so that the pages a command's first steps write are copied before the
  command arrives (a container start then takes ~450 fewer copy-on-write faults);
- **shims**, per request on a second socket (``<socket>.shim``, which workers find in
  BERTH_FORKSERVER_SOCK): a container monitor (engine/shim.py) forked from this
  clean, frozen image, so each shim costs only the pages it writes — this is what
  keeps a thousand containers cheap (a rehearsed spare carries ~2 MB of its own).

A third child, the **primer**, hides most of a kernel wait from container starts: see
``_primer``.

Protocol: one length-prefixed marshal message (+ SCM_RIGHTS fds) from the client; the
server's child answers ``{"pid": N}`` and, for cli workers, ``{"exit": code}`` at the
end (launch.py defines the framing). Clients must have
the server's uid (SO_PEERCRED). The server exits after ``IDLE`` seconds without a
connection, or when its socket file is replaced; an idle spare and the primer die
with it (PR_SET_PDEATHSIG), a spare that took a connection lives on.
"""

from __future__ import annotations

import array
import contextlib
import gc
import importlib
import io
import marshal
import os
import random
import resource
import signal
import socket
import struct
import sys
from typing import Any, NoReturn

from berth.cli.launch import pack
from berth.engine.spawn import ENV_SOCKET, quiet_stdio
from berth.sys.cgroups import start_move_grace_period

IDLE = 600.0
SHIM_SUFFIX = ".shim"  # the socket shims are asked for on: <socket>.shim

PRELOAD = (
    "berth.cli.main", "berth.cli.containers", "berth.cli.runtime", "berth.cli.groups", "berth.cli.volumes",
    "berth.cli.attach", "berth.cli.files", "berth.engine.engine", "berth.engine.shim", "berth.engine.inspect",
    "berth.engine.options", "berth.runtime.linux", "berth.runtime.defaults", "berth.state.db",
    "berth.store", "berth.network", "berth.cli.images", "berth.cli.network", "berth.cli.system",
    "sqlite3", "tarfile", "termios", "tty", "selectors", "subprocess", "shlex",
    # pull and push: httpx alone costs ~120 ms to import
    "berth.registry.client.session", "berth.registry.client.resolver", "berth.registry.client.pull",
    "berth.registry.client.push", "berth.registry.client.progress", "berth.store.layers.apply",
    "rich.progress",
    # The network's pieces a bridged `run` uses (each is imported lazily by the manager).
    "berth.network.manager", "berth.network.kernel", "berth.network.store", "berth.network.plan",
    "berth.network.ports", "berth.network.ipam", "berth.network.resolv", "berth.network.naming",
    "berth.network.nat.rules", "berth.network.dns.control", "berth.sys.netlink", "berth.sys.netns",
    "berth.sys.nftables", "berth.sys.sysctl", "threading",
    # Loaded lazily by the runtime (a cold start may not need them).
    "berth.sys.seccomp", "berth.sys.mount_options", "shutil", "logging",
    # click looks every short option (-b, -d, -e …) up as a long one first and builds
    # its "did you mean" suggestions with difflib before falling back.
    "difflib",
)


def preload() -> None:
    from berth.cli import main as cli_main

    for name in PRELOAD + tuple(target.partition(":")[0] for target in cli_main.LAZY.values()):
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def warm_up() -> None:
    """Run the hot paths once, without side effects, before any fork.

    CPython 3.11 specialises bytecode the first times it runs, writing into code
    objects; a forked child that runs a function for the first time pays for that and
    for copying the pages it writes. Run here once, every worker and shim inherits the
    specialised code (measured: a shim's container creation drops from ~29 ms to the
    ~8 ms it costs in a warm process).
    """
    import tempfile

    from berth.engine import specgen
    from berth.engine import state as st
    from berth.engine.model import ContainerConfig
    from berth.engine.shimconfig import ShimConfig
    from berth.oci.image import ContainerConfig as ImageRunConfig
    from berth.oci.spec import Spec
    from berth.runtime import plan
    from berth.runtime.defaults import default_spec

    with tempfile.TemporaryDirectory(prefix="berth-warm-") as folder:
        os.mkdir(os.path.join(folder, "rootfs"))
        _warm_cli()
        _warm_engine(folder)
        for _ in range(3):
            spec = Spec.from_bytes(default_spec(("true",), terminal=False).to_bytes())
            plan.build(spec, folder, "warm-up")
            cfg = ContainerConfig.from_json(ContainerConfig(image="x", cmd=("true",)).to_json())
            res = specgen.Resolved("0" * 64, os.path.join(folder, "rootfs"), "/h", "/r", "/n", {}, None)
            Spec.from_bytes(specgen.generate(cfg, ImageRunConfig(), res).to_bytes())
            st.LiveState.from_bytes(st.LiveState(health=st.HealthState()).to_bytes())
            ShimConfig(id="x", name="x", image="x", root=folder, run_root=folder).to_json()


def _warm_cli() -> None:
    """Parse the common command lines (never run them)."""
    from berth.cli.main import cli

    for argv in (["run", "--rm", "--network", "none", "-e", "A=1", "-v", "/a:/b", "busybox", "true"],
                 ["run", "-d", "--name", "x", "-p", "80:80", "busybox", "sleep", "1"], ["exec", "-it", "x", "sh"],
                 ["ps", "-a"], ["logs", "-f", "x"], ["stop", "x"], ["rm", "-f", "x"], ["inspect", "x"],
                 ["runtime", "run", "-b", ".", "x"]):
        ctx = cli.make_context("berth", list(argv), resilient_parsing=True)
        command = cli.get_command(ctx, argv[0])
        if command is not None:
            command.make_context(argv[0], list(argv[1:]), parent=ctx, resilient_parsing=True)


def _warm_engine(folder: str) -> None:
    """The engine's bookkeeping against a throwaway root: records, state, views."""
    from berth.engine import records
    from berth.engine import state as st
    from berth.engine.engine import Engine
    from berth.engine.model import ContainerConfig

    engine = Engine(os.path.join(folder, "root"), os.path.join(folder, "run"))
    rec = records.ContainerRecord("f" * 64, "warm_up", "x", "sha256:" + "0" * 64, "2026-01-01T00:00:00Z",
                                  ContainerConfig(image="x", cmd=("true",)))
    records.insert(engine.db, rec)
    paths = engine.paths(rec.id)
    os.makedirs(paths.dir)
    st.save(paths.state, st.LiveState(status=st.EXITED))
    for _ in range(3):
        engine.get("warm_up")
        engine.containers(all_=True)
        engine.volumes.all()
    engine.db.close()


def _recv_request(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    data = bytearray()
    fds = array.array("i")
    while len(data) < 4 or len(data) < 4 + int.from_bytes(data[:4], "big"):
        chunk, ancdata, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(8 * fds.itemsize))
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
        if not chunk:
            raise ValueError("request cut short")
        data.extend(chunk)
    message = read_message_bytes(bytes(data))
    return message, list(fds)


def read_message_bytes(data: bytes) -> dict[str, Any]:
    value = marshal.loads(data[4 : 4 + int.from_bytes(data[:4], "big")])
    if not isinstance(value, dict):
        raise ValueError("request is not a dict")
    return value


def _send(conn: socket.socket, message: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        conn.sendall(pack(message))


def _child_defaults() -> None:
    # The server ignores SIGCHLD so its children are reaped automatically; its children
    # must wait for their own children again.
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    random.seed()
    # Objects stay frozen: a collection walking them would write every page the child
    # shares with the server (a shim would then cost megabytes instead of kilobytes).


def _run_cli(conn: socket.socket, request: dict[str, Any], fds: list[int], socket_path: str) -> NoReturn:
    for target, fd in zip((0, 1, 2), fds, strict=False):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in request["env"].items()})
    os.environ[ENV_SOCKET] = socket_path
    os.chdir(request["cwd"])
    os.umask(int(request["umask"]))
    soft, hard = request.get("nofile", (None, None))
    if soft is not None:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (int(soft), int(hard)))
    # Fresh stdio objects: buffering and isatty were decided for the server's /dev/null.
    sys.stdin = io.TextIOWrapper(open(0, "rb", closefd=False), encoding="utf-8", errors="surrogateescape")
    sys.stdout = io.TextIOWrapper(open(1, "wb", closefd=False), encoding="utf-8", errors="surrogateescape",
                                  line_buffering=os.isatty(1))
    sys.stderr = io.TextIOWrapper(open(2, "wb", closefd=False), encoding="utf-8", errors="backslashreplace",
                                  line_buffering=True)
    sys.argv = ["berth", *request["argv"]]
    _send(conn, {"pid": os.getpid()})
    code = 0
    try:
        from berth.cli.launch import RuntimeRun

        fast = RuntimeRun.parse(list(request["argv"]), os.environ)
        if fast is not None:
            fast.execute()  # a plain `runtime run` skips click (launch.py); it exits
        from berth.cli.main import main

        main(list(request["argv"]))
    except SystemExit as done:
        if done.code is None:
            code = 0
        elif isinstance(done.code, int):
            code = done.code
        else:
            sys.stderr.write(f"{done.code}\n")
            code = 1
    except KeyboardInterrupt:
        code = 130
    except BaseException as err:  # noqa: B036 - report anything to the client, never hang it
        sys.stderr.write(f"berth: internal error: {err!r}\n")
        code = 125
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    _send(conn, {"exit": code})
    os._exit(code)


def _run_shim(conn: socket.socket, request: dict[str, Any], fds: list[int]) -> NoReturn:
    from berth.engine import shim

    _send(conn, {"pid": os.getpid()})
    conn.close()
    os.setsid()
    quiet_stdio()
    report_fd = fds[0] if fds else None
    shim.main(str(request["config"]), report_fd, bool(request.get("wait_for_start")))


def _rehearse() -> None:
    """Touch, ahead of a command, what its first steps write (see the module's comment)."""
    with contextlib.suppress(Exception):
        from berth.runtime.linux import warm_up

        warm_up()
    env = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)


def _spare(listener: socket.socket, taken: int, prime: int, server: int, socket_path: str) -> NoReturn:
    """A child forked ahead of the next connection: accept it, tell the primer and the
    server (which forks the next spare), then serve it as a cli worker."""
    try:
        from berth.sys import prctl

        prctl.set_pdeathsig(signal.SIGKILL)  # an idle spare must not outlive the server
        if os.getppid() != server:
            os._exit(0)  # it is already gone
        _child_defaults()
        _rehearse()
        conn, _ = listener.accept()
        with contextlib.suppress(OSError):  # (a full pipe or a dead primer: no matter)
            os.write(prime, b".")
        os.write(taken, b".")
        prctl.set_pdeathsig(0)  # a worker or shim that has a client outlives the server
        listener.close()
        os.close(taken)
        os.close(prime)
        _handle(conn, socket_path)
    except BaseException as err:  # noqa: B036 - a forked child must never return into the server loop
        with contextlib.suppress(Exception):
            os.write(2, f"berth: fork server worker failed: {err!r}\n".encode())
    finally:
        os._exit(125)


def _primer(requests: int, server: int) -> NoReturn:
    """A child that, for every connection a spare takes, starts the RCU grace period a
    cgroup move waits for (see ``start_move_grace_period``): the worker may be about to
    move a container into its cgroup, ~10 ms later; by then the wait is (mostly) over.
    It blocks for the grace period, which is why neither the server nor the worker does
    this. It ends with the server."""
    try:
        from berth.sys import prctl

        prctl.set_pdeathsig(signal.SIGKILL)
        if os.getppid() != server:
            os._exit(0)
        while os.read(requests, 64):
            start_move_grace_period()
    finally:
        os._exit(0)


def _handle(conn: socket.socket, socket_path: str) -> None:
    request, fds = _authorised_request(conn)
    if request is not None and request.get("kind") == "cli":
        _run_cli(conn, request, fds, socket_path + SHIM_SUFFIX)


def _authorised_request(conn: socket.socket) -> tuple[dict[str, Any] | None, list[int]]:
    """The request on ``conn`` if its peer has our uid, else (None, [])."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _, uid, _ = struct.unpack("3i", creds)
    if uid != os.geteuid():
        return None, []
    try:
        return _recv_request(conn)
    except (OSError, ValueError):
        return None, []


def _fork_shim(shims: socket.socket, listener: socket.socket, closing: list[int]) -> None:
    """Serve one connection on the shim socket: fork a shim from the untouched image
    (``listener`` and the ``closing`` fds are the server's, closed in the shim)."""
    try:
        conn, _ = shims.accept()
    except OSError:
        return
    conn.settimeout(5.0)  # the server reads the request itself: a stuck client must not stall it
    request, fds = _authorised_request(conn)
    pid = os.fork() if request is not None and request.get("kind") == "shim" else -1
    if pid != 0:  # the server (or nothing was forked)
        for fd in fds:
            os.close(fd)
        conn.close()
        return
    assert request is not None
    try:
        for fd in closing:
            os.close(fd)
        shims.close()
        listener.close()
        conn.settimeout(None)
        _child_defaults()
        _run_shim(conn, request, fds)
    except BaseException as err:  # noqa: B036 - a forked child must never return into the server loop
        with contextlib.suppress(Exception):
            os.write(2, f"berth: fork server shim failed: {err!r}\n".encode())
    finally:
        os._exit(125)


def serve(path: str) -> None:
    import fcntl
    import select

    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    lock = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return  # another server for this stamp is starting or running
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    preload()
    with contextlib.suppress(Exception):
        warm_up()
    gc.collect()
    gc.freeze()
    shims = _listen(path + SHIM_SUFFIX)  # first: a worker may ask for a shim at once
    listener = _listen(path)
    inode = os.stat(path).st_ino
    taken_r, taken_w = os.pipe2(os.O_CLOEXEC)
    prime_r, prime_w = os.pipe2(os.O_CLOEXEC)
    os.set_blocking(prime_w, False)
    server = os.getpid()
    if os.fork() == 0:
        for fd in (taken_r, taken_w, prime_w, lock):
            os.close(fd)
        listener.close()
        shims.close()
        _primer(prime_r, server)
    os.close(prime_r)

    def fork_spare() -> int:
        pid = os.fork()
        if pid == 0:
            # The lock fd stays with the server: a child holding it (a long-lived worker)
            # would keep the next server for this stamp from starting.
            os.close(lock)
            os.close(taken_r)
            shims.close()
            _spare(listener, taken_w, prime_w, server, path)
        return os.pidfd_open(pid)

    spare = fork_spare()
    try:
        while True:
            # A byte on the pipe: the spare took a connection. The pidfd alone: it died
            # before it could (it is reaped already, SIGCHLD is ignored).
            ready, _, _ = select.select([taken_r, spare, shims.fileno()], [], [], IDLE)
            if not ready:
                return
            if shims.fileno() in ready:
                _fork_shim(shims, listener, [taken_r, taken_w, prime_w, lock, spare])
            if taken_r not in ready and spare not in ready:
                continue
            os.close(spare)
            try:
                if os.stat(path).st_ino != inode:
                    return
            except FileNotFoundError:
                return
            spare = fork_spare()
            if taken_r in ready:
                os.read(taken_r, 64)
    finally:
        with contextlib.suppress(OSError):
            if os.stat(path).st_ino == inode:
                os.unlink(path)
                os.unlink(path + SHIM_SUFFIX)
        listener.close()
        shims.close()


def _listen(path: str) -> socket.socket:
    """A listening unix socket at ``path``, which appears there only once it listens."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    temp = f"{path}.{os.getpid()}"
    sock.bind(temp)
    os.chmod(temp, 0o600)
    sock.listen(128)
    os.rename(temp, path)
    return sock


if __name__ == "__main__":
    serve(sys.argv[1])
