"""Pauses an operation makes for itself (``commit`` freezes the container while it reads
its files), undone on every exit path, the operation's own death included.

Before freezing, the operation writes ``paused-by`` (its pid and start time) beside
the shim's socket; it thaws and removes the file when done. A paused container whose
``paused-by`` names a process that is gone was frozen by an operation that died
(SIGKILL, OOM): :func:`thaw_orphaned` thaws it, and every look at the container calls
it. A user's ``berth pause`` writes no such file, so that pause stays.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from berth.errors import BerthError
from berth.runtime.linux import process_start_time, write_atomic

if TYPE_CHECKING:
    from berth.engine.engine import Engine

MARKER = "paused-by"


def _marker(engine: Engine, container_id: str) -> str:
    return os.path.join(engine.paths(container_id).run_dir, MARKER)


@contextlib.contextmanager
def paused_for_operation(engine: Engine, container_id: str) -> Iterator[None]:
    """Freeze the container for this block; thawed however the block ends."""
    marker = _marker(engine, container_id)
    os.makedirs(os.path.dirname(marker), exist_ok=True)
    pid = os.getpid()
    write_atomic(marker, f"{pid}:{process_start_time(pid)}\n".encode(), mode=0o600, durable=False)
    try:
        engine.runtime.pause(container_id)
        try:
            yield
        finally:
            engine.runtime.resume(container_id)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(marker)


def thaw_orphaned(engine: Engine, container_id: str) -> bool:
    """Thaw a container frozen by an operation that is gone; True if it did."""
    marker = _marker(engine, container_id)
    try:
        with open(marker) as f:
            pid_text, _, start = f.read().strip().partition(":")
    except FileNotFoundError:
        return False
    if pid_text.isdigit() and str(process_start_time(int(pid_text))) == start:
        return False  # the operation is still at work
    with contextlib.suppress(BerthError, OSError):
        engine.runtime.resume(container_id)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(marker)
    return True
