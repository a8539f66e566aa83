"""berth's extension next to ``/v2/``: tag history and rollback over HTTP.

``GET /berth/v1/<name>/tags/<tag>/history`` (needs pull)::

    {"name": "app", "tag": "prod", "current": "sha256:…",
     "history": [{"time": "…", "user": "alice", "action": "push", "from": null, "to": "sha256:…"}, …]}

``history`` is oldest first. ``POST /berth/v1/<name>/tags/<tag>/rollback`` (needs
push) with ``{"steps": N}`` or ``{"to": "sha256:…"}`` (or no body: one step) moves
the tag and answers ``{"name", "tag", "current", "move"}``. Errors use the
distribution spec's error document.
"""

from __future__ import annotations

import json

from aiohttp import web

from berth.errors import InvalidArgument
from berth.oci.jsonutil import loads
from berth.registry.server.errors import DigestInvalid, ManifestUnknown, NameUnknown, ParameterInvalid
from berth.registry.server.handlers.blobs import parse_digest
from berth.registry.server.handlers.common import actor, blocking, registry, repo_name
from berth.registry.server.tags import check_tag

_MAX_BODY = 64 * 1024


def _json(body: object) -> web.Response:
    return web.Response(status=200, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})


async def tag_history(request: web.Request) -> web.StreamResponse:
    name = repo_name(request)
    tag = check_tag(request.match_info["tag"])
    repo = registry(request).repository(name)

    def read() -> dict[str, object]:
        if not repo.exists():
            raise NameUnknown(f"repository {name}: not found", {"name": name})
        moves = repo.tags.history(tag)
        current = repo.tags.find(tag)
        if not moves and current is None:
            raise ManifestUnknown(f"{name}:{tag}: no such tag", {"tag": tag})
        return {
            "name": name,
            "tag": tag,
            "current": str(current) if current else None,
            "history": [m.to_json() for m in moves],
        }

    return _json(await blocking(read))


async def rollback(request: web.Request) -> web.StreamResponse:
    name = repo_name(request)
    tag = check_tag(request.match_info["tag"])
    raw = await request.content.read(_MAX_BODY + 1)
    if len(raw) > _MAX_BODY:
        raise ParameterInvalid("rollback: request body too large")
    try:
        body = loads(raw, "rollback") if raw.strip() else {}
    except InvalidArgument:
        raise ParameterInvalid("rollback: body must be JSON: {\"steps\": N} or {\"to\": DIGEST}") from None
    if not isinstance(body, dict):
        raise ParameterInvalid("rollback: body must be a JSON object")
    to, steps = body.get("to"), body.get("steps")
    if to is not None and not isinstance(to, str):
        raise DigestInvalid("rollback: 'to' must be a digest string")
    if steps is not None and (not isinstance(steps, int) or isinstance(steps, bool)):
        raise ParameterInvalid("rollback: 'steps' must be an integer")
    reg = registry(request)
    target = parse_digest(to) if to is not None else None
    who = actor(request)

    def run() -> dict[str, object]:
        if not reg.repository(name).exists():
            raise NameUnknown(f"repository {name}: not found", {"name": name})
        move = reg.rollback(name, tag, who, to=target, steps=steps)
        return {"name": name, "tag": tag, "current": str(move.current) if move.current else None, "move": move.to_json()}

    return _json(await blocking(run))
