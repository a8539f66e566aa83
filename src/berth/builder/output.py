"""What a build tells its user, step by step (Docker's classic builder layout, which
the Docker API's stream and docker-py's ``Successfully built`` parsing expect)::

    Step 1/4 : FROM busybox
     ---> 1887a1e7827d
    Step 2/4 : COPY app.txt /app/
     ---> cache miss: file app.txt changed
     ---> 7a8b9c0d1e2f 0.03s
    Step 3/4 : RUN make
     ---> CACHED 5c2d3e4f5a6b
    Successfully built 5c2d3e4f5a6b
    Successfully tagged app:latest

A RUN's own output goes straight to the terminal (file descriptors, not Python
streams: the step's container writes to them). ``-q`` prints only the image ID, and a
failed step's output, which it kept aside, on stderr.
"""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Protocol, TextIO

from berth.builder.plan import Plan, Step


class Progress(Protocol):
    def warn(self, text: str) -> None: ...

    def begin(self, plan: Plan) -> None: ...

    def step(self, step: Step, total: int) -> None: ...

    def base(self, step: Step, image_id: str) -> None: ...

    def cached(self, step: Step, image_id: str) -> None: ...

    def running(self, step: Step, reason: str) -> None: ...

    def output_fds(self) -> tuple[int, int]:
        """Where a RUN's stdout and stderr go."""
        ...

    def done(self, step: Step, image_id: str, seconds: float) -> None: ...

    def failed(self, step: Step) -> None: ...

    def built(self, image_id: str) -> None: ...

    def tagged(self, name: str) -> None: ...


def short_id(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


class TextProgress:
    def __init__(self, out: TextIO | None = None, err: TextIO | None = None, quiet: bool = False) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.quiet = quiet
        self._capture: tempfile._TemporaryFileWrapper[bytes] | None = None
        if quiet:
            self._capture = tempfile.NamedTemporaryFile(prefix="berth-build-", suffix=".log")

    def _say(self, line: str) -> None:
        if not self.quiet:
            self.out.write(line + "\n")

    def warn(self, text: str) -> None:
        self.err.write(f"[Warning] {text}\n")
        self.err.flush()

    def begin(self, plan: Plan) -> None:
        pass

    def step(self, step: Step, total: int) -> None:
        text = step.text + ("  # ONBUILD trigger" if step.trigger else "")
        self._say(f"Step {step.number}/{total} : {text}")

    def base(self, step: Step, image_id: str) -> None:
        self._say(f" ---> {short_id(image_id) if image_id != 'scratch' else 'scratch'}")

    def cached(self, step: Step, image_id: str) -> None:
        self._say(f" ---> CACHED {short_id(image_id)}")

    def running(self, step: Step, reason: str) -> None:
        self._say(f" ---> cache miss: {reason}")
        self.out.flush()
        if self._capture is not None:
            self._capture.seek(0)
            self._capture.truncate()

    def output_fds(self) -> tuple[int, int]:
        if self._capture is not None:
            fd = self._capture.fileno()
            return fd, fd
        self.out.flush()
        self.err.flush()
        return self.out.fileno(), self.err.fileno()

    def done(self, step: Step, image_id: str, seconds: float) -> None:
        self._say(f" ---> {short_id(image_id)} {seconds:.2f}s")

    def failed(self, step: Step) -> None:
        self.out.flush()
        if self._capture is not None:
            self._capture.flush()
            self._capture.seek(0)
            data = self._capture.read()
            if data:
                self.err.flush()
                os.write(self.err.fileno(), data)

    def built(self, image_id: str) -> None:
        if self.quiet:
            self.out.write(image_id + "\n")
        else:
            self._say(f"Successfully built {short_id(image_id)}")
        self.out.flush()

    def tagged(self, name: str) -> None:
        self._say(f"Successfully tagged {name}")
        self.out.flush()

    def close(self) -> None:
        if self._capture is not None:
            self._capture.close()
            self._capture = None
