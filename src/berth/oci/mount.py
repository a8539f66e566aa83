"""``Mount``: a serialised mount(2), never performed here.

Snapshotters return lists of these; only ``berth.sys`` turns one into a syscall.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Mount:
    type: str
    source: str
    target: str = ""
    options: tuple[str, ...] = ()

    def option_string(self) -> str:
        return ",".join(self.options)
