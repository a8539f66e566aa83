"""``GET``/``HEAD``/``DELETE /v2/<name>/blobs/<digest>``.

GET sends the file with ``sendfile`` when the driver has a local path, and honours
one ``Range: bytes=…`` (206); a range that cannot be served gets 416 RANGE_INVALID.
"""

from __future__ import annotations

import re

from aiohttp import web

from berth.errors import InvalidArgument
from berth.oci.digest import Digest
from berth.registry.server.blobs import BlobInfo
from berth.registry.server.errors import DigestInvalid, RangeInvalid
from berth.registry.server.handlers.common import blocking, registry, repo_name

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CHUNK = 1 << 20


def parse_digest(text: str) -> Digest:
    try:
        return Digest.parse(text)
    except InvalidArgument as err:
        raise DigestInvalid(str(err), {"digest": text[:200]}) from None


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive ``(first, last)`` byte positions a ``Range`` header asks for, or
    None for the whole blob. RangeInvalid for anything that is not one satisfiable
    ``bytes=`` range (several ranges included: blobs are served one range at a time)."""
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    if not match or match.group(1) == match.group(2) == "":
        raise RangeInvalid(f"range {header[:100]!r}: expected bytes=FIRST-LAST", size)
    first_text, last_text = match.groups()
    if first_text == "":  # the last N bytes
        count = int(last_text)
        if count == 0 or size == 0:
            raise RangeInvalid(f"range {header!r}: not satisfiable for {size} bytes", size)
        return max(size - count, 0), size - 1
    first = int(first_text)
    last = size - 1 if last_text == "" else min(int(last_text), size - 1)
    if first >= size or first > last:
        raise RangeInvalid(f"range {header[:100]!r}: not satisfiable for {size} bytes", size)
    return first, last


def _headers(info: BlobInfo) -> dict[str, str]:
    return {
        "Content-Type": "application/octet-stream",
        "Docker-Content-Digest": str(info.digest),
        "ETag": f'"{info.digest}"',
        "Accept-Ranges": "bytes",
        "Cache-Control": "max-age=31536000",
    }


async def head_blob(request: web.Request) -> web.StreamResponse:
    repo = registry(request).repository(repo_name(request))
    info = await blocking(repo.blob, parse_digest(request.match_info["digest"]))
    return web.Response(status=200, headers={**_headers(info), "Content-Length": str(info.size)})


async def get_blob(request: web.Request) -> web.StreamResponse:
    reg = registry(request)
    repo = reg.repository(repo_name(request))
    digest = parse_digest(request.match_info["digest"])

    def locate() -> tuple[BlobInfo, str | None]:
        return repo.blob(digest), reg.blobs.local_path(digest)

    info, local = await blocking(locate)
    try:
        wanted = parse_range(request.headers.get("Range"), info.size)
    except RangeInvalid as err:
        err.headers["Content-Range"] = f"bytes */{info.size}"
        raise
    if local is not None:
        # FileResponse applies the (already validated) Range itself and uses sendfile.
        return web.FileResponse(local, chunk_size=_CHUNK, headers=_headers(info))
    first, last = wanted if wanted is not None else (0, info.size - 1)
    headers = {**_headers(info), "Content-Length": str(last - first + 1)}
    if wanted is not None:
        headers["Content-Range"] = f"bytes {first}-{last}/{info.size}"
    response = web.StreamResponse(status=206 if wanted is not None else 200, headers=headers)
    await response.prepare(request)
    stream = await blocking(reg.blobs.open, info.digest, first)
    try:
        remaining = last - first + 1
        while remaining > 0:
            chunk = await blocking(stream.read, min(_CHUNK, remaining))
            if not chunk:
                break
            await response.write(chunk)
            remaining -= len(chunk)
    finally:
        stream.close()
    await response.write_eof()
    return response


async def delete_blob(request: web.Request) -> web.StreamResponse:
    repo = registry(request).repository(repo_name(request))
    await blocking(repo.unlink_blob, parse_digest(request.match_info["digest"]))
    return web.Response(status=202, headers={})
