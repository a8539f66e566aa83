"""Blob uploads: ``POST /v2/<name>/blobs/uploads/`` and ``GET``/``PATCH``/``PUT``/
``DELETE /v2/<name>/blobs/uploads/<uuid>``.

POST starts a session (202), or with ``?digest=`` takes the whole blob at once
(201), or with ``?mount=<digest>&from=<repo>`` links a blob the client may pull
from another repository (201; 202 and a new session when it cannot). PATCH appends
a chunk (``Content-Range: <first>-<last>`` optional; out of order: 416). PUT with
``?digest=`` appends an optional last chunk and finishes: a digest that does not
match the bytes is refused with DIGEST_INVALID and the session is discarded.
"""

from __future__ import annotations

import re

from aiohttp import web

from berth.registry.server.errors import DigestInvalid, RangeInvalid
from berth.registry.server.handlers.blobs import parse_digest
from berth.registry.server.handlers.common import (
    authorizer,
    blocking,
    byte_range,
    identity,
    registry,
    repo_name,
    stream_into,
    upload_location,
)
from berth.registry.server.repository import check_name
from berth.registry.server.uploads import Uploads, UploadStatus, UploadWriter

_CONTENT_RANGE = re.compile(r"^(\d{1,19})-(\d{1,19})$")


def parse_content_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(first, last)`` of a chunk's ``Content-Range``; RangeInvalid when malformed."""
    if header is None:
        return None
    match = _CONTENT_RANGE.match(header.strip())
    if not match:
        raise RangeInvalid(f"Content-Range {header[:100]!r}: expected FIRST-LAST", size)
    first, last = int(match.group(1)), int(match.group(2))
    if last < first:
        raise RangeInvalid(f"Content-Range {header!r}: the last byte comes before the first", size)
    return first, last


def _session_headers(status: UploadStatus, size: int | None = None) -> dict[str, str]:
    return {
        "Location": upload_location(status.name, status.upload_id),
        "Range": byte_range(status.size if size is None else size),
        "Docker-Upload-UUID": status.upload_id,
    }


def _created(name: str, digest: str) -> web.Response:
    return web.Response(
        status=201,
        headers={"Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": digest},
    )


async def _receive(
    request: web.Request, uploads: Uploads, status: UploadStatus, *, keep_partial: bool
) -> tuple[UploadWriter, int]:
    """Open the session and stream the body into it, checking ``Content-Range``.

    Returns the open writer and the bytes it holds. On failure the writer is closed
    (keeping what arrived, for the client to resume) or, without ``keep_partial``,
    the session is cancelled."""
    try:
        chunk = parse_content_range(request.headers.get("Content-Range"), status.size)
        expected = None if chunk is None else chunk[1] - chunk[0] + 1
        if expected is not None and request.content_length is not None and request.content_length != expected:
            raise RangeInvalid(
                f"Content-Range covers {expected} bytes, Content-Length says {request.content_length}",
                status.size,
            )
        writer = await blocking(uploads.writer, status.upload_id, None if chunk is None else chunk[0])
    except RangeInvalid as err:
        err.headers.update(_session_headers(status))
        raise
    try:
        received = await stream_into(request, writer.write_all)
        if expected is not None and received != expected:
            raise RangeInvalid(
                f"Content-Range covers {expected} bytes, the body had {received}", status.size + received
            )
    except BaseException as err:
        size = writer.size
        await blocking(writer.close if keep_partial else writer.cancel)
        if isinstance(err, RangeInvalid):
            err.headers.update(_session_headers(status, size))
        raise
    return writer, writer.size


async def start_upload(request: web.Request) -> web.StreamResponse:
    name = repo_name(request)
    uploads = registry(request).uploads(name)
    mount = request.query.get("mount")
    if mount is not None:
        digest = parse_digest(mount)
        source = request.query.get("from")
        if source is not None and "pull" in authorizer(request).allowed(identity(request), check_name(source)):
            info = await blocking(uploads.mount, digest, registry(request).repository(source))
            if info is not None:
                return _created(name, str(info.digest))
    status = await blocking(uploads.start)
    digest_text = request.query.get("digest")
    if digest_text is None:
        return web.Response(status=202, headers=_session_headers(status))
    try:
        digest = parse_digest(digest_text)
    except DigestInvalid:
        await blocking(uploads.cancel, status.upload_id)
        raise
    writer, _ = await _receive(request, uploads, status, keep_partial=False)
    info = await blocking(writer.commit, digest)
    return _created(name, str(info.digest))


async def upload_status(request: web.Request) -> web.StreamResponse:
    uploads = registry(request).uploads(repo_name(request))
    status = await blocking(uploads.status, request.match_info["uuid"])
    return web.Response(status=204, headers=_session_headers(status))


async def patch_upload(request: web.Request) -> web.StreamResponse:
    uploads = registry(request).uploads(repo_name(request))
    status = await blocking(uploads.status, request.match_info["uuid"])
    writer, size = await _receive(request, uploads, status, keep_partial=True)
    await blocking(writer.close)
    return web.Response(status=202, headers=_session_headers(status, size))


async def finish_upload(request: web.Request) -> web.StreamResponse:
    name = repo_name(request)
    uploads = registry(request).uploads(name)
    status = await blocking(uploads.status, request.match_info["uuid"])
    digest_text = request.query.get("digest")
    if not digest_text:
        raise DigestInvalid("finishing an upload needs ?digest=<digest of the whole blob>")
    digest = parse_digest(digest_text)
    writer, _ = await _receive(request, uploads, status, keep_partial=True)
    info = await blocking(writer.commit, digest)
    return _created(name, str(info.digest))


async def cancel_upload(request: web.Request) -> web.StreamResponse:
    uploads = registry(request).uploads(repo_name(request))
    await blocking(uploads.cancel, request.match_info["uuid"])
    return web.Response(status=204, headers={})
