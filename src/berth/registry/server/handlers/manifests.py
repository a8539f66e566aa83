"""``GET``/``HEAD``/``PUT``/``DELETE /v2/<name>/manifests/<reference>`` and
``GET /v2/<name>/referrers/<digest>``."""

from __future__ import annotations

import json

from aiohttp import web

from berth.oci import mediatype as mt
from berth.registry.server.errors import ManifestInvalid, ManifestTooLarge
from berth.registry.server.handlers.blobs import parse_digest
from berth.registry.server.handlers.common import (
    BodyStalled,
    actor,
    blocking,
    body_chunks,
    registry,
    repo_name,
)
from berth.registry.server.manifests import MAX_MANIFEST_SIZE, StoredManifest


def _headers(manifest: StoredManifest) -> dict[str, str]:
    return {
        "Content-Type": manifest.media_type,
        "Docker-Content-Digest": str(manifest.digest),
        "ETag": f'"{manifest.digest}"',
        "Content-Length": str(len(manifest.data)),
    }


async def get_manifest(request: web.Request) -> web.StreamResponse:
    store = registry(request).manifests(repo_name(request))
    manifest = await blocking(store.get, request.match_info["reference"])
    headers = _headers(manifest)
    del headers["Content-Length"]  # aiohttp sets it from the body
    return web.Response(status=200, body=manifest.data, headers=headers)


async def head_manifest(request: web.Request) -> web.StreamResponse:
    store = registry(request).manifests(repo_name(request))
    manifest = await blocking(store.get, request.match_info["reference"])
    return web.Response(status=200, headers=_headers(manifest))


async def _read_manifest(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_MANIFEST_SIZE:
        raise ManifestTooLarge(f"manifest: {request.content_length} bytes; at most {MAX_MANIFEST_SIZE} are accepted")
    data = bytearray()
    try:
        async for chunk in body_chunks(request):
            data += chunk
            if len(data) > MAX_MANIFEST_SIZE:
                raise ManifestTooLarge(f"manifest: more than {MAX_MANIFEST_SIZE} bytes")
    except BodyStalled as err:
        raise ManifestInvalid(f"manifest: request body: {err}") from None
    return bytes(data)


async def put_manifest(request: web.Request) -> web.StreamResponse:
    name = repo_name(request)
    store = registry(request).manifests(name)
    data = await _read_manifest(request)
    result = await blocking(
        store.put, request.match_info["reference"], data, request.headers.get("Content-Type"), actor(request)
    )
    headers = {
        "Location": f"/v2/{name}/manifests/{result.digest}",
        "Docker-Content-Digest": str(result.digest),
    }
    if result.subject is not None:
        headers["OCI-Subject"] = str(result.subject)
    return web.Response(status=201, headers=headers)


async def delete_manifest(request: web.Request) -> web.StreamResponse:
    store = registry(request).manifests(repo_name(request))
    await blocking(store.delete, request.match_info["reference"], actor(request))
    return web.Response(status=202, headers={})


async def list_referrers(request: web.Request) -> web.StreamResponse:
    store = registry(request).manifests(repo_name(request))
    subject = parse_digest(request.match_info["digest"])
    artifact_type = request.query.get("artifactType")
    descriptors = await blocking(store.referrers, subject, artifact_type)
    body = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": descriptors}
    headers = {"Content-Type": mt.OCI_INDEX}
    if artifact_type is not None:
        headers["OCI-Filters-Applied"] = "artifactType"
    return web.Response(status=200, body=json.dumps(body).encode(), headers=headers)
