"""The ``berth`` command's entry point: a warm start through berth's fork server.

Starting Python and importing berth costs ~100 ms; the work of ``berth run`` or
``berth exec`` costs ~15 ms. So, like multiprocessing's forkserver, berth keeps one
warm, single-threaded process per user that has everything imported and forks a
worker per command. This module is all a command loads before it is handed over: it
sends its arguments, environment, working directory, umask and stdio file descriptors
to the server, forwards the signals it receives to the worker, and exits with the
worker's status. It uses only built-in modules (``_socket``, ``_signal``, ``marshal``):
the friendlier ``socket``, ``signal`` and ``json`` would cost more than the rest of
this path together.

The server holds no state — containers never depend on it — and exits after ten idle
minutes. It is keyed by a stamp of berth's installed files, so a changed berth never
runs old code. When it is not running, the command runs in this process (and starts a
server for the next one). ``BERTH_FORKSERVER=0`` turns it off.

Messages are ``marshal``-encoded dicts, each preceded by its length (4 bytes, big
endian), over a unix stream socket; the first request carries fds 0, 1 and 2.

``berth runtime run`` (the verb measured against runc and crun in
bench/runtime_start.py) has a second shortcut, taken cold or warm: when its arguments
are plain (the options that command defines, no help, no --debug), :class:`RuntimeRun`
parses them and runs the container without click, whose import alone costs ~25 ms and
whose parsing touches hundreds of the fork server's shared pages. Anything else goes
to click, which stays the definition of the command line (tests/unit/cli checks that
both read every accepted form the same).
"""

# No `from __future__ import annotations` (it costs a module import); the annotations
# here are valid at run time on Python 3.11.
import _signal
import _socket
import marshal
import os
import sys

TYPE_CHECKING = False  # (typing itself would cost an import)
if TYPE_CHECKING:
    from collections.abc import Callable

FORWARDED = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP, _signal.SIGQUIT, _signal.SIGUSR1, _signal.SIGUSR2,
             _signal.SIGWINCH, _signal.SIGCONT)
# Verbs that need this very process: a password prompt reads the controlling terminal,
# and long-running servers gain nothing.
DIRECT_VERBS = frozenset({"login", "serve", "registry"})


def package_stamp() -> str:
    """Changes whenever any file of the installed berth package or the interpreter does."""
    base = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    acc = [sys.executable, base]
    stack = [base]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        stack.append(entry.path)
                elif entry.name.endswith((".py", ".sql")):
                    st = entry.stat(follow_symlinks=False)
                    acc.append(f"{entry.path}:{st.st_mtime_ns}:{st.st_size}")
    acc.sort()
    return format(hash_text("\n".join(acc)), "016x")


def hash_text(text: str) -> int:
    """A 61-bit hash of the text, stable across processes: str hashes are salted, an
    int's is its value modulo the prime 2**61 - 1, computed in C (~100x faster than a
    byte loop in Python). Changing any part of the text changes it, barring a 2**-61
    coincidence; this is a cache key, not a defence against forgery."""
    return hash(int.from_bytes(text.encode(), "little"))


def server_dir() -> str:
    if os.geteuid() == 0:
        return "/run/berth-forkserver"
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/berth-{os.geteuid()}"
    return os.path.join(runtime, "berth-forkserver")


def open_files_limit() -> list[int] | None:
    """RLIMIT_NOFILE as [soft, hard] from /proc/self/limits (importing `resource`, an
    extension module, would cost more); None if unreadable."""
    try:
        with open("/proc/self/limits", "rb") as f:
            for line in f:
                if line.startswith(b"Max open files"):
                    soft, hard = line.split()[3:5]
                    return [_limit(soft), _limit(hard)]
    except (OSError, ValueError):
        pass
    return None


def _limit(text: bytes) -> int:
    return -1 if text == b"unlimited" else int(text)  # -1 is RLIM_INFINITY


def socket_path(stamp: str) -> str:
    return os.path.join(os.environ.get("BERTH_FORKSERVER_DIR") or server_dir(), f"{stamp}.sock")


def pack(message: dict[str, object]) -> bytes:
    data = marshal.dumps(message)
    return len(data).to_bytes(4, "big") + data


def read_message(sock: _socket.socket, buf: bytearray) -> dict[str, object] | None:
    """The next length-prefixed marshal message, or None at end of stream."""
    while True:
        if len(buf) >= 4:
            size = int.from_bytes(buf[:4], "big")
            if len(buf) >= 4 + size:
                message = marshal.loads(bytes(buf[4 : 4 + size]))
                del buf[: 4 + size]
                if not isinstance(message, dict):
                    return None
                return message
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buf.extend(chunk)


def _direct() -> None:
    fast = RuntimeRun.parse(sys.argv[1:], os.environ)
    if fast is not None:
        primer = _ColdPrimer()
        try:
            fast.execute(primer.go)
        except SystemExit as done:
            primer.done()
            _exit_now(done.code if isinstance(done.code, int) else 0 if done.code is None else 1)
    from berth.cli.main import main as cli_main

    cli_main()


def _exit_now(code: int) -> None:
    """Exit without the interpreter's teardown (~1.5 ms for this client, more once berth is
    imported): nothing registers exit handlers on these paths, and output is flushed."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


# `berth [--root D] [--run-root D] runtime [--root D] run [options] ID`, as cli/main.py and
# cli/runtime.py define it: option → (attribute, takes a value).
_TOP_OPTIONS = {"--root": ("data_root", True), "--run-root": ("run_root", True)}
_RUNTIME_OPTIONS = {"--root": ("root", True)}
_RUN_OPTIONS = {
    "-b": ("bundle", True), "--bundle": ("bundle", True), "-d": ("detach", False), "--detach": ("detach", False),
    "--keep": ("keep", False), "--console-socket": ("console_socket", True), "--pid-file": ("pid_file", True),
    "--preserve-fds": ("preserve_fds", True),
}


def _read_options(argv: list[str], i: int, known: dict[str, tuple[str, bool]], out: dict[str, object],
                  positionals: list[str] | None) -> int | None:
    """Read options from ``argv[i:]`` into ``out`` as click would: up to the first
    positional (a group: ``positionals`` is None), or all of them, collecting the
    positionals. The index where it stopped, or None for anything click would treat
    differently or reject (unknown or clustered options, ``--``, empty values)."""
    while i < len(argv):
        arg = argv[i]
        if arg[:1] != "-" or arg == "-":
            if positionals is None:
                return i
            if not arg:
                return None
            positionals.append(arg)
            i += 1
            continue
        name, eq, value = arg.partition("=")
        if name not in known:
            return None
        attr, takes_value = known[name]
        if not takes_value:
            if eq:
                return None
            out[attr] = True
            i += 1
            continue
        if not eq:
            if i + 1 >= len(argv):
                return None
            value = argv[i + 1]
            i += 1
        if not value or value[:1] == "-":
            return None
        out[attr] = value
        i += 1
    return i


class RuntimeRun:
    """The arguments of a plain ``berth runtime run`` (see this module's comment)."""

    __slots__ = ("root", "container_id", "bundle", "detach", "keep", "console_socket", "pid_file", "preserve_fds")

    def __init__(self, root: str, container_id: str, bundle: str = ".", detach: bool = False, keep: bool = False,
                 console_socket: str | None = None, pid_file: str | None = None, preserve_fds: int = 0) -> None:
        self.root = root
        self.container_id = container_id
        self.bundle = bundle
        self.detach = detach
        self.keep = keep
        self.console_socket = console_socket
        self.pid_file = pid_file
        self.preserve_fds = preserve_fds

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RuntimeRun) and all(
            getattr(self, name) == getattr(other, name) for name in self.__slots__)

    def __repr__(self) -> str:
        return "RuntimeRun(" + ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__) + ")"

    @classmethod
    def parse(cls, argv: list[str], environ: "os._Environ[str] | dict[str, str]") -> "RuntimeRun | None":
        """The command if ``argv`` is a plain ``runtime run``, else None (click's job)."""
        if "BERTH_DEBUG" in environ or "runtime" not in argv:
            return None
        top: dict[str, object] = {}
        i = _read_options(argv, 0, _TOP_OPTIONS, top, None)
        if i is None or argv[i:i + 1] != ["runtime"]:
            return None
        group: dict[str, object] = {}
        i = _read_options(argv, i + 1, _RUNTIME_OPTIONS, group, None)
        if i is None or argv[i:i + 1] != ["run"]:
            return None
        options: dict[str, object] = {}
        positionals: list[str] = []
        if _read_options(argv, i + 1, _RUN_OPTIONS, options, positionals) is None or len(positionals) != 1:
            return None
        fds = str(options.pop("preserve_fds", "0"))
        if not fds.isdigit():
            return None
        from berth.cli.settings import default_run_root

        run_root = os.path.abspath(str(top.get("run_root") or environ.get("BERTH_RUN") or default_run_root()))
        root = str(group.get("root") or os.path.join(run_root, "runtime"))
        return cls(root, positionals[0], preserve_fds=int(fds), **options)  # type: ignore[arg-type]

    def execute(self, imported: "Callable[[], None] | None" = None) -> None:
        """Run it as cli/runtime.py's ``run`` does, with cli/main.py's error reporting;
        exits with the container's status. ``imported`` is called once the runtime is
        imported, just before it starts."""
        from berth.cli.settings import exit_code_for
        from berth.errors import BerthError

        try:
            from berth.runtime.api import ProcessIO
            from berth.runtime.linux import LinuxRuntime

            if imported is not None:
                imported()
            io = ProcessIO(console_socket=os.path.abspath(self.console_socket) if self.console_socket else None,
                           preserve_fds=self.preserve_fds)
            status = LinuxRuntime(self.root).run(self.container_id, self.bundle, io, detach=self.detach,
                                                 keep=self.keep, pid_file=self.pid_file)
        except BerthError as err:
            _report(err, exit_code_for(err))
        except OSError as err:
            _report(err, 125)
        except KeyboardInterrupt:
            sys.exit(130)
        sys.exit(status)


class _ColdPrimer:
    """The fork server's primer (see forkserver.py), for a cold ``runtime run``.

    Moving the container into its cgroup waits for an RCU grace period (~10 ms) unless
    one ended moments before. A child forked now, while this process is small, imports
    what it needs alongside this process's imports; told when the runtime is about to
    start (the move follows ~5 ms later), it makes a no-op cgroup move that starts the
    grace period early. Told nothing, it exits with this process."""

    def __init__(self) -> None:
        self.pid = 0
        self.pipe = -1
        try:
            read_end, self.pipe = os.pipe2(os.O_CLOEXEC)
            self.pid = os.fork()
        except OSError:
            return
        if self.pid:
            os.close(read_end)
            return
        try:
            os.close(self.pipe)
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):  # hold none of the caller's pipes open
                os.dup2(null, fd)
            _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
            from berth.sys.cgroups import start_move_grace_period

            if os.read(read_end, 1):
                start_move_grace_period()
        finally:
            os._exit(0)

    def go(self) -> None:
        if self.pipe >= 0:
            try:
                os.write(self.pipe, b".")
            except OSError:
                pass

    def done(self) -> None:
        if self.pipe >= 0:
            os.close(self.pipe)
        if self.pid:
            try:
                os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                pass


def _report(err: BaseException, code: int) -> None:
    sys.stdout.flush()
    sys.stderr.write(f"berth: {err}\n")
    sys.stderr.flush()
    sys.exit(code)


def _start_server(path: str) -> None:
    import fcntl
    import subprocess

    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    try:
        fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return  # a server for this stamp is starting or running
    finally:
        os.close(fd)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": os.environ.get("LANG", "C.UTF-8"),
           # The server must import the very package the stamp was computed over (a
           # PYTHONPATH checkout, not whatever the venv's editable install points at).
           "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))}
    subprocess.Popen([sys.executable, "-m", "berth.cli.forkserver", path], stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env,
                     close_fds=True)


def main() -> None:
    argv = sys.argv[1:]
    verb = next((a for a in argv if not a.startswith("-")), "")
    if os.environ.get("BERTH_FORKSERVER", "1") == "0" or verb in DIRECT_VERBS:
        _direct()
        return
    path = socket_path(package_stamp())
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        _start_server(path)
        _direct()
        return
    umask = os.umask(0o022)
    os.umask(umask)
    request = {
        "kind": "cli",
        "argv": argv,
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "umask": umask,
    }
    nofile = open_files_limit()
    if nofile is not None:
        request["nofile"] = nofile
    fds = b"".join(fd.to_bytes(4, sys.byteorder) for fd in (0, 1, 2))
    sock.sendmsg([pack(request)], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
    buf = bytearray()
    first = read_message(sock, buf)
    if first is None or "pid" not in first:
        sys.stderr.write("berth: the fork server refused the command; set BERTH_FORKSERVER=0 to bypass it\n")
        sys.exit(125)
    worker = int(str(first["pid"]))

    def forward(sig: int, _frame: object) -> None:
        try:
            os.kill(worker, sig)
        except ProcessLookupError:
            pass

    for sig in FORWARDED:
        _signal.signal(sig, forward)
    message = read_message(sock, buf)
    if message is None:
        sys.stderr.write("berth: the command's worker died unexpectedly\n")
        sys.exit(125)
    _exit_now(int(str(message.get("exit", 125))))


if __name__ == "__main__":
    main()
