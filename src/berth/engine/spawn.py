"""Starting a shim: detached from the caller, reporting back through a pipe.

Inside a fork-server worker the server forks the shim (see cli/forkserver.py);
otherwise the caller forks twice (the middle process exits at once, so the shim is
adopted by init and never becomes the caller's zombie). The shim starts its own
session, creates
the container and writes one JSON line to the report pipe: ``{"created"}`` when it
waits for a client's start, ``{"started"}``, or ``{"error", "exit_code"}``.
"""

from __future__ import annotations

import array
import contextlib
import json
import marshal
import os
import socket
import sys
from collections.abc import Callable
from typing import Any

from berth.errors import Internal

ENV_SOCKET = "BERTH_FORKSERVER_SOCK"  # set in a fork-server worker (cli/forkserver.py)


def quiet_stdio() -> None:
    # The shim must not hold the caller's terminal or pipes open.
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def spawn(config_path: str, *, wait_for_start: bool, before_fork: Callable[[], None] | None = None) -> dict[str, Any]:
    """Start the shim for the container whose shim.json is at ``config_path``; return
    its first report. ``before_fork`` runs only when this process forks the shim itself
    (no fork server): whatever must not cross a fork is closed there."""
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    if not _via_forkserver(config_path, write_end, wait_for_start):
        if before_fork is not None:
            before_fork()
        _double_fork(config_path, read_end, write_end, wait_for_start)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as report:
        line = report.readline()
    if not line:
        raise Internal("the shim exited before reporting")
    message: dict[str, Any] = json.loads(line)
    return message


def _double_fork(config_path: str, read_end: int, write_end: int, wait_for_start: bool) -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    middle = os.fork()
    if middle == 0:
        try:
            os.close(read_end)
            if os.fork() != 0:
                os._exit(0)
            os.setsid()
            quiet_stdio()
            from berth.engine import shim

            shim.main(config_path, write_end, wait_for_start)
        finally:
            os._exit(1)
    os.waitpid(middle, 0)


def _via_forkserver(config_path: str, report_fd: int, wait_for_start: bool) -> bool:
    """In a fork-server worker, have the server fork the shim from its clean, frozen
    image (shared pages: a shim then costs only what it writes). False if not."""
    path = os.environ.get(ENV_SOCKET)
    if not path:
        return False
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
        data = marshal.dumps({"kind": "shim", "config": config_path, "wait_for_start": wait_for_start})
        sock.sendmsg([len(data).to_bytes(4, "big") + data],
                     [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [report_fd]))])
        answer = sock.recv(4096)
    except OSError:
        return False
    finally:
        sock.close()
    if len(answer) < 4:
        return False
    reply = marshal.loads(answer[4:])
    return isinstance(reply, dict) and "pid" in reply
