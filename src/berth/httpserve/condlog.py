"""One log line per condition, not per event.

A server under attack or out of a resource sees the same failure thousands of times a
second; logging each one (with a traceback) turns a denial of service into a full
disk. :class:`ConditionLog` logs the first event of a condition in full, counts the
repeats, writes one summary line per ``interval`` while they go on, and one last
count when they stop. A condition is a key the caller picks from a small, fixed set
(``"accept:EMFILE"``, ``"slow-headers"``, an exception class and a route), so the
number of lines is bounded however many events arrive.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

_MAX_KEYS = 1000  # a condition log is keyed by a fixed set; this only bounds a mistake


@dataclass(slots=True)
class _Condition:
    message: str
    level: int
    last_line: float
    last_event: float
    repeats: int = 0  # events since the last line


class ConditionLog:
    def __init__(
        self, log: logging.Logger, interval: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.log = log
        self.interval = interval
        self.clock = clock
        self._conditions: dict[str, _Condition] = {}

    def event(
        self, key: str, message: str, *, level: int = logging.WARNING, exc_info: BaseException | None = None
    ) -> None:
        """One occurrence of condition ``key``. The first (or the first after the
        condition ended) is logged as ``message``, with ``exc_info``'s traceback."""
        now = self.clock()
        cond = self._conditions.get(key)
        if cond is None or now - cond.last_event > self.interval:
            if cond is not None:
                self._ended(key, cond)
            if len(self._conditions) >= _MAX_KEYS:
                self.flush(force=True)
            self.log.log(level, "%s (repeats are counted, one line a minute while they go on)", message,
                         exc_info=exc_info)
            self._conditions[key] = _Condition(message, level, now, now)
            return
        cond.repeats += 1
        cond.last_event = now
        if now - cond.last_line >= self.interval:
            self.log.log(level, "%s: %d more times in the last %.0f s", message, cond.repeats, now - cond.last_line)
            cond.repeats = 0
            cond.last_line = now

    def active(self, key: str) -> bool:
        """Whether ``key`` had an event within the last interval."""
        cond = self._conditions.get(key)
        return cond is not None and self.clock() - cond.last_event <= self.interval

    def flush(self, *, force: bool = False) -> None:
        """Close the conditions that had no event for an interval (all of them with
        ``force``), logging the repeats not yet reported. Call it now and then (a
        server's housekeeping tick); :meth:`event` also closes a stale one itself."""
        now = self.clock()
        for key, cond in list(self._conditions.items()):
            if force or now - cond.last_event > self.interval:
                self._ended(key, cond)

    def _ended(self, key: str, cond: _Condition) -> None:
        del self._conditions[key]
        if cond.repeats:
            self.log.log(cond.level, "%s: %d more times, then it stopped", cond.message, cond.repeats)
