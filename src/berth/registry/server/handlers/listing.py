"""``GET /v2/``, ``GET /v2/_catalog`` and ``GET /v2/<name>/tags/list``.

Both lists take ``n`` (page size) and ``last`` (the last name of the previous page)
and answer with a ``Link: <…>; rel="next"`` header while more remain. The catalog
lists only the repositories the client may pull.
"""

from __future__ import annotations

import json

from aiohttp import web

from berth.registry.server.errors import NameUnknown
from berth.registry.server.handlers.common import (
    authorizer,
    blocking,
    identity,
    next_link,
    pagination,
    registry,
    repo_name,
)
from berth.registry.server.registry import Registry


def _json(body: object, link: str | None) -> web.Response:
    headers = {"Content-Type": "application/json"}
    if link:
        headers["Link"] = link
    return web.Response(status=200, body=json.dumps(body).encode(), headers=headers)


def _page(items: list[str], n: int | None, last: str | None) -> tuple[list[str], bool]:
    """One page of the sorted ``items`` after ``last``, and whether more follow."""
    if last is not None:
        items = [item for item in items if item > last]
    if n is None:
        return items, False
    return items[:n], len(items) > n


async def version_check(request: web.Request) -> web.StreamResponse:
    return web.Response(status=200, body=b"{}", headers={"Content-Type": "application/json"})


async def catalog(request: web.Request) -> web.StreamResponse:
    n, last = pagination(request)
    auth, who = authorizer(request), identity(request)

    def visible(reg: Registry) -> list[str]:
        return sorted(name for name in reg.repositories() if auth.may_see(who, name))

    names, more = _page(await blocking(visible, registry(request)), n, last)
    return _json({"repositories": names}, next_link("/v2/_catalog", n, names, more))


async def list_tags(request: web.Request) -> web.StreamResponse:
    name = repo_name(request)
    n, last = pagination(request)
    repo = registry(request).repository(name)

    def tags() -> list[str]:
        if not repo.exists():
            raise NameUnknown(f"repository {name}: not found", {"name": name})
        return repo.tags.names()

    page, more = _page(await blocking(tags), n, last)
    return _json({"name": name, "tags": page}, next_link(f"/v2/{name}/tags/list", n, page, more))
