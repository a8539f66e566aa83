"""Starting a shim: detached from the caller, reporting back through a pipe.

The caller forks twice (the middle process exits at once, so the shim is adopted by
init and never becomes the caller's zombie); the shim starts its own session, creates
the container and writes one JSON line to the report pipe: ``{"created"}`` when it
waits for a client's start, ``{"started"}``, or ``{"error", "exit_code"}``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import Any

from berth.errors import Internal


def _quiet_stdio() -> None:
    # The shim must not hold the caller's terminal or pipes open.
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def spawn(config_path: str, *, wait_for_start: bool) -> dict[str, Any]:
    """Start the shim for the container whose shim.json is at ``config_path``; return
    its first report."""
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
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
            _quiet_stdio()
            from berth.engine import shim

            shim.main(config_path, write_end, wait_for_start)
        finally:
            os._exit(1)
    os.close(write_end)
    os.waitpid(middle, 0)
    with os.fdopen(read_end, "rb") as report:
        line = report.readline()
    if not line:
        raise Internal("the shim exited before reporting")
    message: dict[str, Any] = json.loads(line)
    return message
