"""What a pull or push tells its user, as Docker words it.

Events: ``message`` (a whole line: ``latest: Pulling from library/busybox``), ``status``
of one layer (``Pulling fs layer``, ``Download complete``, ``Pull complete``, ``Layer
already exists``…) and ``transfer`` ticks (``Downloading``/``Extracting``/``Pushing``,
bytes done of total). Renderers:

``RichProgress``  a terminal: one live row per layer with a bar, sizes and speed;
``PlainProgress`` anything else (a pipe, a log): one line per status change, the lines
                  ``docker pull | cat`` prints; transfer ticks are not printed;
``Recorder``      keeps every event with a timestamp (tests, callers that render
                  their own way).

Renderers are called from several threads at once. Only ``RichProgress`` imports rich.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgressBar


class Progress(Protocol):
    def message(self, text: str) -> None: ...

    def status(self, ident: str, text: str) -> None: ...

    def transfer(self, ident: str, action: str, done: int, total: int) -> None: ...

    def close(self) -> None: ...


class QuietProgress:
    def message(self, text: str) -> None:
        pass

    def status(self, ident: str, text: str) -> None:
        pass

    def transfer(self, ident: str, action: str, done: int, total: int) -> None:
        pass

    def close(self) -> None:
        pass


class PlainProgress:
    def __init__(self, out: IO[str]) -> None:
        self._out = out
        self._lock = threading.Lock()
        self._last: dict[str, str] = {}

    def message(self, text: str) -> None:
        with self._lock:
            self._out.write(text + "\n")
            self._out.flush()

    def status(self, ident: str, text: str) -> None:
        with self._lock:
            if self._last.get(ident) == text:
                return
            self._last[ident] = text
            self._out.write(f"{ident}: {text}\n")
            self._out.flush()

    def transfer(self, ident: str, action: str, done: int, total: int) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass(frozen=True, slots=True)
class Event:
    time: float
    kind: str  # "message", "status" or "transfer"
    ident: str
    text: str
    done: int = 0
    total: int = 0


class Recorder:
    def __init__(self, then: Progress | None = None) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()
        self._then = then

    def _add(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def message(self, text: str) -> None:
        self._add(Event(time.monotonic(), "message", "", text))
        if self._then is not None:
            self._then.message(text)

    def status(self, ident: str, text: str) -> None:
        self._add(Event(time.monotonic(), "status", ident, text))
        if self._then is not None:
            self._then.status(ident, text)

    def transfer(self, ident: str, action: str, done: int, total: int) -> None:
        self._add(Event(time.monotonic(), "transfer", ident, action, done, total))
        if self._then is not None:
            self._then.transfer(ident, action, done, total)

    def close(self) -> None:
        if self._then is not None:
            self._then.close()

    def first(self, ident: str, text: str, kind: str = "status") -> Event | None:
        return next((e for e in self.events if e.kind == kind and e.ident == ident and e.text == text), None)


class RichProgress:
    """Live rows on a terminal: ``ab12cd34ef56: Downloading ━━━━━━╸──── 12.3/48.0 MB 95.1 MB/s``."""

    def __init__(self, out: IO[str]) -> None:
        from rich.console import Console

        self._console = Console(file=out, highlight=False)
        self._bar: RichProgressBar = _make_bar(self._console)
        self._tasks: dict[str, Any] = {}
        self._action: dict[str, str] = {}
        self._lock = threading.Lock()
        self._bar.start()

    def _task(self, ident: str) -> Any:
        task = self._tasks.get(ident)
        if task is None:
            task = self._bar.add_task("", total=None, ident=ident, bytes=False, start=True)
            self._tasks[ident] = task
        return task

    def message(self, text: str) -> None:
        with self._lock:
            self._bar.console.print(text, markup=False)

    def status(self, ident: str, text: str) -> None:
        with self._lock:
            self._bar.update(self._task(ident), description=text, bytes=False)
            self._action[ident] = text

    def transfer(self, ident: str, action: str, done: int, total: int) -> None:
        with self._lock:
            task = self._task(ident)
            if self._action.get(ident) != action:  # a new phase: restart the speed estimate
                self._action[ident] = action
                self._bar.reset(task, total=total, completed=done, description=action, ident=ident, bytes=True)
            else:
                self._bar.update(task, total=total, completed=done, bytes=True)

    def close(self) -> None:
        with self._lock:
            self._bar.stop()


def _make_bar(console: Any) -> RichProgressBar:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TransferSpeedColumn,
    )
    from rich.text import Text

    class OnlyBytes(ProgressColumn):
        """Shows ``inner`` for rows that are moving bytes, nothing for status rows."""

        def __init__(self, inner: ProgressColumn) -> None:
            super().__init__()
            self.inner = inner

        def render(self, task: Task) -> Any:
            if not task.fields.get("bytes"):
                return Text("")
            return self.inner.render(task)

    return Progress(
        TextColumn("{task.fields[ident]}: {task.description}"),
        OnlyBytes(BarColumn(bar_width=40)),
        OnlyBytes(DownloadColumn()),
        OnlyBytes(TransferSpeedColumn()),
        console=console,
        refresh_per_second=8,
    )


def for_output(out: IO[str], quiet: bool = False) -> Progress:
    """Rich rows on a terminal, plain lines elsewhere, nothing with ``quiet``."""
    if quiet:
        return QuietProgress()
    try:
        tty = out.isatty()
    except (AttributeError, ValueError):
        tty = False
    if tty:
        return RichProgress(out)
    return PlainProgress(out)
