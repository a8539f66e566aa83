"""The events log: what happened to containers, in Docker's event shape.

One JSON object per line in ``$BERTH_ROOT/events.jsonl``, appended with O_APPEND by
whichever process saw the event (the engine in a command or the API server, a shim),
so concurrent writers' lines stay whole. A leaf module: the engine and the shim both
write here, and readers (``berth events``, ``GET /events``) iterate it with
:func:`read`, optionally following it as it grows.

A line, as written::

    {"Type": "container", "Action": "start",
     "Actor": {"ID": "<id>", "Attributes": {"name": "web", "image": "busybox", ...labels}},
     "scope": "local", "time": 1795805876, "timeNano": 1795805876745131709}
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from berth.errors import InvalidArgument

FILE = "events.jsonl"
POLL = 0.1  # seconds between looks at the file while following it
FILTER_KEYS = frozenset({"container", "event", "image", "label", "type", "network", "volume", "scope"})


def path_of(root: str) -> str:
    return os.path.join(root, FILE)


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    action: str
    actor_id: str
    attributes: dict[str, str] = field(default_factory=dict)
    time_nano: int = 0
    scope: str = "local"

    @property
    def time(self) -> float:
        return self.time_nano / 1e9

    def to_json(self) -> dict[str, Any]:
        """The line as stored (and as ``berth events --format json`` prints it)."""
        return {"Type": self.type, "Action": self.action,
                "Actor": {"ID": self.actor_id, "Attributes": dict(self.attributes)},
                "scope": self.scope, "time": self.time_nano // 1_000_000_000, "timeNano": self.time_nano}

    def to_docker(self) -> dict[str, Any]:
        """Docker's wire shape: the stored fields plus the legacy ``status``/``id``/``from``
        that compose and docker-py still read for container events."""
        out = self.to_json()
        if self.type == "container":
            out = {"status": self.action, "id": self.actor_id, "from": self.attributes.get("image", ""), **out}
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Event:
        actor = raw.get("Actor") or {}
        return cls(str(raw.get("Type", "")), str(raw.get("Action", "")), str(actor.get("ID", "")),
                   {str(k): str(v) for k, v in (actor.get("Attributes") or {}).items()},
                   int(raw.get("timeNano") or int(raw.get("time", 0)) * 1_000_000_000), str(raw.get("scope", "local")))


def append(root: str, event: Event) -> None:
    """Add one event to the log (O_APPEND: concurrent writers' lines stay whole)."""
    data = json.dumps(event.to_json()).encode() + b"\n"
    fd = os.open(path_of(root), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def container_event(root: str, action: str, container_id: str, name: str, image: str,
                    labels: Mapping[str, str] | None = None, extra: Mapping[str, str] | None = None) -> None:
    """A container event, with its name, image and labels as attributes (as Docker's)."""
    attributes = {"name": name, "image": image, **(labels or {}), **(extra or {})}
    append(root, Event("container", action, container_id, attributes, time.time_ns()))


@dataclass(frozen=True, slots=True)
class EventFilters:
    """Docker's event filters: values of one key are ORed, keys are ANDed; ``label``
    values must all match (``k`` or ``k=v``)."""

    values: Mapping[str, Sequence[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, values: Mapping[str, Sequence[str]]) -> EventFilters:
        for key in values:
            if key not in FILTER_KEYS:
                raise InvalidArgument(f"invalid filter '{key}'")
        return cls({k: tuple(v) for k, v in values.items()})

    def match(self, event: Event) -> bool:
        attrs = event.attributes
        for key, wanted in self.values.items():
            if key == "container":
                if not any(v in (event.actor_id, attrs.get("name")) or event.actor_id.startswith(v) for v in wanted):
                    return False
            elif key == "event":
                if event.action.split(":")[0] not in wanted and event.action not in wanted:
                    return False
            elif key == "type":
                if event.type not in wanted:
                    return False
            elif key == "image":
                if attrs.get("image") not in wanted:
                    return False
            elif key == "scope":
                if event.scope not in wanted:
                    return False
            elif key in ("network", "volume"):
                if event.type != key or not any(v in (event.actor_id, attrs.get("name")) for v in wanted):
                    return False
            elif key == "label":
                for item in wanted:
                    k, sep, v = item.partition("=")
                    if k not in attrs or (sep and attrs[k] != v):
                        return False
        return True


def read(root: str, *, since: float | None = None, until: float | None = None, follow: bool = False,
         filters: EventFilters | None = None,
         stopped: Callable[[], bool] | None = None) -> Iterator[Event]:
    """The events between ``since`` and ``until`` (unix seconds), oldest first; with
    ``follow``, then the new ones as they are written, until ``until`` passes or
    ``stopped()`` (a callable, checked between looks) returns true."""
    path = path_of(root)
    offset = 0
    while True:
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                for line in f:
                    if not line.endswith(b"\n"):
                        break  # a line being written: read it whole next time
                    offset += len(line)
                    try:
                        event = Event.from_json(json.loads(line))
                    except (ValueError, TypeError, AttributeError):
                        continue
                    if since is not None and event.time < since:
                        continue
                    if until is not None and event.time > until:
                        return
                    if filters is None or filters.match(event):
                        yield event
        except FileNotFoundError:
            pass
        if not follow or (until is not None and time.time() > until):
            return
        if stopped is not None and stopped():
            return
        time.sleep(POLL)
