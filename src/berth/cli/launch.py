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
"""

from __future__ import annotations

import _signal
import _socket
import marshal
import os
import sys

FORWARDED = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP, _signal.SIGQUIT, _signal.SIGUSR1, _signal.SIGUSR2,
             _signal.SIGWINCH, _signal.SIGCONT)
# Verbs that need this very process: a password prompt reads the controlling terminal,
# and long-running servers gain nothing.
DIRECT_VERBS = frozenset({"login", "serve", "registry"})
RLIMIT_NOFILE = 7


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
    """FNV-1a over the text: stable across processes (str hashes are salted)."""
    h = 0xCBF29CE484222325
    for byte in text.encode():
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def server_dir() -> str:
    if os.geteuid() == 0:
        return "/run/berth-forkserver"
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/berth-{os.geteuid()}"
    return os.path.join(runtime, "berth-forkserver")


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
    from berth.cli.main import main as cli_main

    cli_main()


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
    import resource

    umask = os.umask(0o022)
    os.umask(umask)
    request = {
        "kind": "cli",
        "argv": argv,
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "umask": umask,
        "nofile": list(resource.getrlimit(RLIMIT_NOFILE)),
    }
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
    sys.exit(int(str(message.get("exit", 125))))


if __name__ == "__main__":
    main()
