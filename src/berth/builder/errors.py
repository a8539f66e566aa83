"""The errors a build raises, all ``berth.errors`` classes so every edge maps them once.

    InvalidArgument
    └── DockerfileError      the Dockerfile (or what it names) is wrong; carries file and line
    BerthError
    └── StepFailed           a RUN step exited non-zero; carries its exit status
"""

from __future__ import annotations

from berth.errors import BerthError, InvalidArgument


class DockerfileError(InvalidArgument):
    """``Dockerfile:12: unknown instruction: FOO``. ``line`` is 0 when the problem is
    not tied to one line (an empty file, a missing --target stage)."""

    def __init__(self, filename: str, line: int, reason: str) -> None:
        where = f"{filename}:{line}" if line else filename
        super().__init__(f"{where}: {reason}")
        self.filename = filename
        self.line = line
        self.reason = reason


class StepFailed(BerthError):
    """A RUN step returned a non-zero status; ``exit_code`` becomes berth's own (the
    CLI maps errors with an ``exit_code`` attribute to it)."""

    def __init__(self, filename: str, line: int, command: str, exit_code: int) -> None:
        super().__init__(f"{filename}:{line}: the command '{command}' returned a non-zero code: {exit_code}")
        self.filename = filename
        self.line = line
        self.exit_code = exit_code
