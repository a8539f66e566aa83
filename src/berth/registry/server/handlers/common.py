"""What every handler shares: the app's registry and authorizer, the request's
identity, thread offloading, pagination and body streaming."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import ParamSpec, TypeVar
from urllib.parse import urlencode

from aiohttp import ClientError, web
from aiohttp.http_exceptions import HttpProcessingError

from berth.registry.server.auth import Authorizer, Identity
from berth.registry.server.errors import BlobUploadInvalid, ParameterInvalid
from berth.registry.server.registry import Registry
from berth.registry.server.repository import check_name
from berth.registry.server.tags import Actor

REGISTRY = web.AppKey("registry", Registry)
AUTHORIZER = web.AppKey("authorizer", Authorizer)
IDENTITY = web.RequestKey("identity", Identity)
# How long a request body may pause before the request fails (BLOB_UPLOAD_INVALID,
# or MANIFEST_INVALID): a client that trickles a body must not hold a handler forever.
BODY_TIMEOUT = web.AppKey("body_timeout", float)
BATCH = 4 << 20  # bytes handed to a worker thread at a time

# Reading a body that breaks off or is malformed: the client's fault, not the server's.
_BODY_ERRORS = (OSError, ValueError, asyncio.IncompleteReadError, HttpProcessingError, ClientError)

P = ParamSpec("P")
T = TypeVar("T")


async def blocking(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run synchronous storage work in a worker thread."""
    return await asyncio.to_thread(func, *args, **kwargs)


def registry(request: web.Request) -> Registry:
    return request.app[REGISTRY]


def authorizer(request: web.Request) -> Authorizer:
    return request.app[AUTHORIZER]


def identity(request: web.Request) -> Identity:
    return request.get(IDENTITY) or Identity(None, "none")


def actor(request: web.Request) -> Actor:
    return Actor(identity(request).name, request.remote)


def repo_name(request: web.Request) -> str:
    return check_name(request.match_info["name"])


def pagination(request: web.Request) -> tuple[int | None, str | None]:
    """``n`` and ``last`` from the query; ParameterInvalid for an ``n`` that is not a
    non-negative integer."""
    n_text = request.query.get("n")
    n: int | None = None
    if n_text is not None:
        if not n_text.isdigit() or len(n_text) > 9:
            raise ParameterInvalid(f"n={n_text[:20]!r}: expected a non-negative integer")
        n = int(n_text)
    last = request.query.get("last")
    return n, last


def next_link(path: str, n: int | None, items: list[str], total_after: bool) -> str | None:
    """The RFC 5988 ``Link`` header for the next page, when there is one."""
    if n is None or n == 0 or not items or not total_after:
        return None
    return f'<{path}?{urlencode({"n": n, "last": items[-1]})}>; rel="next"'


async def stream_into(request: web.Request, write: Callable[[list[bytes]], None]) -> int:
    """Feed the request body to ``write`` in batches of about BATCH bytes, each in a
    worker thread, reading the next batch while the previous one is written.

    Returns the number of bytes read. A body that breaks off or is malformed raises
    BlobUploadInvalid, after writing what did arrive (a client may resume from there);
    a failing ``write`` raises its own error (the server's fault, not the client's).
    Either way no write is still running when this returns."""
    pending: asyncio.Future[None] | None = None
    batch: list[bytes] = []
    batched = total = 0
    chunks = body_chunks(request)
    broken: BaseException | None = None
    try:
        while True:
            try:
                chunk = await chunks.__anext__()
            except StopAsyncIteration:
                break
            except (*_BODY_ERRORS, BodyStalled) as err:
                broken = err
                break
            batch.append(chunk)
            batched += len(chunk)
            total += len(chunk)
            if batched >= BATCH:
                if pending is not None:
                    await pending
                pending = asyncio.ensure_future(blocking(write, batch))
                batch, batched = [], 0
        if pending is not None:
            await pending
        if batch:  # also when the body broke off: what arrived is kept, to resume from
            await blocking(write, batch)
        if broken is not None:
            raise BlobUploadInvalid(f"request body: {broken or type(broken).__name__}") from broken
    finally:
        if pending is not None and not pending.done():
            await asyncio.wait({pending})  # the writer must be idle before anyone closes it
    return total


class BodyStalled(Exception):
    """The request body paused for longer than the app allows."""


def body_timeout(request: web.Request) -> float:
    return request.app.get(BODY_TIMEOUT, 60.0)


async def body_chunks(request: web.Request) -> AsyncIterator[bytes]:
    """The request body as it arrives; BodyStalled when it pauses for longer than
    the app's BODY_TIMEOUT."""
    timeout = body_timeout(request)
    chunks = request.content.iter_any()
    while True:
        try:
            async with asyncio.timeout(timeout):
                chunk = await chunks.__anext__()
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise BodyStalled(f"no data for {timeout:g} s") from None
        yield chunk


def upload_location(name: str, upload_id: str) -> str:
    return f"/v2/{name}/blobs/uploads/{upload_id}"


def byte_range(size: int) -> str:
    """The ``Range`` header of an upload: ``0-<last byte>`` (``0-0`` when empty)."""
    return f"0-{max(size - 1, 0)}"
