"""Starting, reloading and stopping berth's DNS server from the manager.

``sync(wanted)`` is the one entry point: with ``wanted`` the server runs and has
re-read the networks when it returns (so a name is resolvable as soon as ``create``
or ``connect`` returns); without, it has exited. A lock file serialises berth
processes doing this at once.
"""

from __future__ import annotations

import fcntl
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Protocol

import berth
from berth.errors import Unavailable

START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0


class DnsControl(Protocol):
    def sync(self, wanted: bool) -> None:
        """Make the server run (and re-read networks) or be gone."""


class DnsDaemon:
    """The real server process, one per run directory."""

    def __init__(self, root: str, run_dir: str, upstreams: Sequence[str]) -> None:
        self.root = root
        self.run_dir = run_dir
        self.upstreams = tuple(upstreams)
        self.sock_path = os.path.join(run_dir, "dns.sock")
        self.pid_path = os.path.join(run_dir, "dns.pid")
        self.log_path = os.path.join(run_dir, "dns.log")

    def sync(self, wanted: bool) -> None:
        os.makedirs(self.run_dir, mode=0o700, exist_ok=True)
        with open(os.path.join(self.run_dir, "dns.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if wanted:
                reply = self._send("reload")
                if reply is None:
                    self._start()
                elif not reply.startswith("ok"):
                    raise Unavailable(f"berth dns: reload failed: {reply}")
                elif reply == "ok 0":  # nothing to serve after all: it has exited
                    self._wait_gone()
            else:
                pid = self.pid()
                if self._send("stop") is not None or pid is not None:
                    self._wait_gone(pid)

    def pid(self) -> int | None:
        try:
            with open(self.pid_path) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"berth.network.dns.server" not in f.read():
                    return None
        except OSError:
            return None
        return pid

    def _send(self, command: str) -> str | None:
        """The server's reply, or None when no server answers."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC) as s:
            s.settimeout(10)
            try:
                s.connect(self.sock_path)
            except (FileNotFoundError, ConnectionRefusedError):
                return None
            s.sendall(command.encode() + b"\n")
            return s.recv(256).decode(errors="replace").strip()

    def _start(self) -> None:
        read_fd, write_fd = os.pipe()
        cmd = [sys.executable, "-m", "berth.network.dns.server", "--root", self.root, "--run-dir", self.run_dir,
               "--ready-fd", str(write_fd), "--daemonize"]
        for upstream in self.upstreams:
            cmd += ["--upstream", upstream]
        # The server runs from "/": make sure it imports this very berth, whatever the cwd.
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(berth.__file__)))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        try:
            with open(self.log_path, "ab") as log:
                proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                                        pass_fds=(write_fd,), start_new_session=True, cwd="/")
            os.close(write_fd)
            write_fd = -1
            ready = _read_until_eof(read_fd, START_TIMEOUT)
            proc.wait(timeout=START_TIMEOUT)
        finally:
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)
        if b"ready" not in ready:
            raise Unavailable(f"berth dns: the server did not start: {self._log_tail()}")

    def _wait_gone(self, pid: int | None = None) -> None:
        pid = pid or self.pid()
        deadline = time.monotonic() + STOP_TIMEOUT
        while pid is not None and os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
            if _zombie(pid):
                return
            time.sleep(0.01)
        if pid is not None and os.path.exists(f"/proc/{pid}") and not _zombie(pid):
            os.kill(pid, 9)

    def _log_tail(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(max(0, os.path.getsize(self.log_path) - 2000))
                lines = f.read().decode(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return " | ".join(lines[-5:]) or "no log"


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except OSError:
        return True


def _read_until_eof(fd: int, timeout: float) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 256)
        if not chunk:
            break
        data += chunk
        if b"ready" in data:
            break
    return data
