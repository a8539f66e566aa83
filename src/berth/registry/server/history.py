"""Tag history: every move of a tag, who made it and when, and rollback targets.

A tag's history is a list of :class:`TagMove`, oldest first, stored as one JSON object
a line (``_manifests/tags/<tag>/history``, see ``storage/paths.py``)::

    {"time":"2026-11-27T20:40:28.123456Z","user":"alice","action":"push","from":null,"to":"sha256:…"}

``action`` is ``push`` (a manifest PUT by tag), ``delete`` (the tag was deleted, or
the manifest it named; ``to`` is null) or ``rollback``. A move is recorded only when
the digest changes, so pushing the same image twice leaves one entry.

Rollback reads history like git's reflog: ``steps=N`` means "the digest the tag held
N moves ago", so ``steps=1`` undoes the last move, and since a rollback is itself a
move, a second ``steps=1`` undoes the rollback. ``to=DIGEST`` picks a digest the tag
held at some point. The registry keeps every manifest named in a history (and the
blobs it references) through garbage collection, so a rollback target always exists.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from berth.errors import InvalidArgument
from berth.oci.digest import Digest
from berth.registry.server.errors import ManifestUnknown, ParameterInvalid

ACTIONS = frozenset({"push", "delete", "rollback"})


@dataclass(frozen=True, slots=True)
class TagMove:
    time: str  # RFC 3339, UTC
    user: str
    action: str
    previous: Digest | None  # "from" in JSON
    current: Digest | None  # "to" in JSON
    remote: str | None = None  # the client's address, when the move came over HTTP

    def to_json(self) -> dict[str, str | None]:
        out: dict[str, str | None] = {
            "time": self.time,
            "user": self.user,
            "action": self.action,
            "from": str(self.previous) if self.previous else None,
            "to": str(self.current) if self.current else None,
        }
        if self.remote:
            out["remote"] = self.remote
        return out

    @classmethod
    def from_json(cls, obj: object) -> TagMove:
        if not isinstance(obj, dict):
            raise InvalidArgument("tag history entry: expected an object")
        time, user, action = obj.get("time"), obj.get("user"), obj.get("action")
        if not isinstance(time, str) or not isinstance(user, str) or action not in ACTIONS:
            raise InvalidArgument("tag history entry: missing time, user or action")
        remote = obj.get("remote")
        return cls(
            time,
            user,
            str(action),
            _digest_or_none(obj.get("from")),
            _digest_or_none(obj.get("to")),
            remote if isinstance(remote, str) else None,
        )


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode(moves: Sequence[TagMove]) -> bytes:
    return b"".join(json.dumps(m.to_json(), separators=(",", ":")).encode() + b"\n" for m in moves)


def decode(data: bytes) -> list[TagMove]:
    """Parse a history file. A line that does not parse (a torn write from a crash on
    a file system without atomic rename, or a hand edit) is skipped, not fatal."""
    moves: list[TagMove] = []
    for line in data.splitlines():
        if not line.strip():
            continue
        try:
            moves.append(TagMove.from_json(json.loads(line)))
        except (ValueError, InvalidArgument):
            continue
    return moves


def rollback_target(moves: Sequence[TagMove], *, to: Digest | None = None, steps: int | None = None) -> Digest:
    """The digest a rollback moves the tag to. Exactly one of ``to`` and ``steps``
    may be given; neither means ``steps=1``.

    Raises ParameterInvalid for a bad ``steps`` and ManifestUnknown when the history
    is too short, names no digest at that point (the tag was deleted then), or never
    held ``to``."""
    if to is not None and steps is not None:
        raise ParameterInvalid("rollback: give either a digest or a number of steps, not both")
    if to is not None:
        if any(m.current == to for m in moves):
            return to
        raise ManifestUnknown(f"rollback: the tag never pointed at {to}", {"digest": str(to)})
    steps = 1 if steps is None else steps
    if steps < 1:
        raise ParameterInvalid(f"rollback: steps must be at least 1, not {steps}")
    if steps >= len(moves):
        raise ManifestUnknown(f"rollback: the tag has moved {len(moves)} times; cannot go back {steps}")
    target = moves[len(moves) - 1 - steps].current
    if target is None:
        raise ManifestUnknown(f"rollback: {steps} moves ago the tag was deleted; pick a digest with --to")
    return target


def _digest_or_none(value: object) -> Digest | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidArgument("tag history entry: digest must be a string")
    return Digest.parse(value)
