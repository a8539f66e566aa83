"""Where berth keeps its state by default, and how errors become exit statuses.

Small and import-free on purpose (only ``os``): launch.py's cold path, the click entry
point (main.py) and ``berth serve`` all read these, and none may pull the others in.

Roots: ``/var/lib/berth`` and ``/run/berth`` for root; per user otherwise
(``$XDG_DATA_HOME/berth``, ``$XDG_RUNTIME_DIR/berth``), as DESIGN.md leaves room for
rootless berth. Exit statuses are Docker's: 125 when berth itself fails, 126 when the
program cannot be invoked, 127 when it does not exist.
"""

from __future__ import annotations

import os

ENGINE_ERROR = 125
CANNOT_INVOKE = 126
NOT_FOUND = 127


def default_root() -> str:
    if os.geteuid() == 0:
        return "/var/lib/berth"
    return os.path.join(os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "berth")


def default_run_root() -> str:
    if os.geteuid() == 0:
        return "/run/berth"
    return os.path.join(os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/berth-{os.geteuid()}", "berth")


def exit_code_for(err: BaseException) -> int:
    """Docker's convention: 125 engine error, 126 cannot invoke, 127 not found."""
    from berth.runtime.sync import ExecNotFound, ExecPermission

    if isinstance(err, ExecNotFound):
        return NOT_FOUND
    if isinstance(err, ExecPermission):
        return CANNOT_INVOKE
    code = getattr(err, "exit_code", None)  # ContainerStartError carries 125, 126 or 127
    return code if isinstance(code, int) else ENGINE_ERROR


class Settings:
    """The global options every verb sees (click's context object)."""

    def __init__(self, root: str, run_root: str, debug: bool) -> None:
        self.root = root
        self.run_root = run_root
        self.debug = debug
