"""The Resolver of an OCI Distribution registry (distribution-spec v1.1 endpoints)::

    GET|HEAD /v2/<name>/manifests/<tag|digest>     resolve, fetch a manifest or index
    GET      /v2/<name>/blobs/<digest>             fetch a blob (Range to resume)
    HEAD     /v2/<name>/blobs/<digest>             does the registry have it?
    POST     /v2/<name>/blobs/uploads/?mount=<digest>&from=<repo>   cross-repository
             mount: 201 mounted; 202 an upload session instead
    POST     /v2/<name>/blobs/uploads/  →  PUT <Location>?digest=<digest>   upload
    PUT      /v2/<name>/manifests/<tag|digest>     push a manifest

``<name>`` is the repository path without the registry (``library/busybox``).
"""

from __future__ import annotations

import io
import queue
import threading
from collections.abc import Iterator
from typing import BinaryIO, cast

import httpx

from berth.errors import (
    AlreadyExists,
    BerthError,
    DigestMismatch,
    ImageNotFound,
    InvalidArgument,
    Unavailable,
)
from berth.oci import mediatype as mt
from berth.oci.descriptor import Descriptor
from berth.oci.digest import Digest
from berth.oci.jsonutil import loads
from berth.oci.reference import Reference
from berth.registry.client.api import Scope
from berth.registry.client.session import Session, check

MANIFEST_ACCEPT = ", ".join((mt.OCI_INDEX, mt.DOCKER_MANIFEST_LIST, mt.OCI_MANIFEST, mt.DOCKER_MANIFEST))
MANIFEST_LIMIT = 4 << 20  # the distribution spec lets registries refuse larger manifests
DOCUMENT_TYPES = mt.MANIFEST_TYPES | mt.INDEX_TYPES


class RegistryResolver:
    """Pull and push for one registry session; ``actions`` are the scopes asked of a
    token service (``("pull",)`` for pulls, ``("pull", "push")`` for pushes)."""

    def __init__(self, session: Session, actions: tuple[str, ...] = ("pull",)) -> None:
        self.session = session
        self.actions = actions
        self._documents: dict[Digest, bytes] = {}

    def _scopes(self, ref: Reference, *more: Scope) -> tuple[Scope, ...]:
        return (Scope.repository(ref.path, *self.actions), *more)

    # ----------------------------------------------------------------- pull

    def resolve(self, ref: Reference) -> tuple[str, Descriptor]:
        target = str(ref.digest) if ref.digest is not None else (ref.tag or "latest")
        response = self.session.request("GET", ref.domain, f"/v2/{ref.path}/manifests/{target}",
                                        scopes=self._scopes(ref), headers={"Accept": MANIFEST_ACCEPT},
                                        stream=True)
        try:
            if response.status_code == 404:
                response.read()
                raise ImageNotFound(f"manifest for {ref.familiar()} not found: manifest unknown")
            if response.status_code in (401, 403):
                response.read()
                raise _access_denied(ref, response)
            check(response, f"manifest for {ref.familiar()}")
            data = _read_limited(response, MANIFEST_LIMIT, f"manifest for {ref.familiar()}")
        finally:
            response.close()
        digest = Digest.from_bytes(data)
        if ref.digest is not None and digest != ref.digest:
            raise DigestMismatch(f"manifest for {ref.familiar()}: content has digest {digest}")
        header = response.headers.get("docker-content-digest")
        if ref.digest is None and header and header != str(digest):
            raise DigestMismatch(f"manifest for {ref.familiar()}: the registry says {header}, content is {digest}")
        media_type = response.headers.get("content-type", "").split(";", 1)[0].strip()
        if media_type not in DOCUMENT_TYPES:
            from berth.oci.image import sniff_media_type

            media_type = sniff_media_type(data)
        self._documents[digest] = data
        return str(ref), Descriptor(media_type, digest, len(data))

    def fetch(self, ref: Reference, desc: Descriptor, offset: int = 0) -> BinaryIO:
        if desc.media_type in DOCUMENT_TYPES:
            return io.BytesIO(self.fetch_document(ref, desc))
        return cast(BinaryIO, _ResponseReader(self.open_blob(ref, desc, offset)[0]))

    def fetch_document(self, ref: Reference, desc: Descriptor) -> bytes:
        """A manifest or index by digest, verified."""
        cached = self._documents.get(desc.digest)
        if cached is not None:
            return cached
        response = self.session.request("GET", ref.domain, f"/v2/{ref.path}/manifests/{desc.digest}",
                                        scopes=self._scopes(ref), headers={"Accept": MANIFEST_ACCEPT},
                                        stream=True)
        try:
            check(response, f"manifest {desc.digest}")
            data = _read_limited(response, MANIFEST_LIMIT, f"manifest {desc.digest}")
        finally:
            response.close()
        if Digest.from_bytes(data) != desc.digest:
            raise DigestMismatch(f"manifest {desc.digest}: content does not match its digest")
        self._documents[desc.digest] = data
        return data

    def open_blob(self, ref: Reference, desc: Descriptor, offset: int = 0) -> tuple[httpx.Response, int]:
        """A streaming response for the blob from ``offset`` (honoured when the registry
        answers 206; the second value is where the body really starts)."""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        response = self.session.request("GET", ref.domain, f"/v2/{ref.path}/blobs/{desc.digest}",
                                        scopes=self._scopes(ref), headers=headers, stream=True,
                                        follow_redirects=True)
        if response.status_code == 416 and offset:
            response.close()
            return self.open_blob(ref, desc, 0)
        check(response, f"blob {desc.digest}")
        start = offset if response.status_code == 206 else 0
        return response, start

    def tags(self, ref: Reference) -> list[str]:
        """Every tag of ``ref``'s repository (following ``Link`` pagination)."""
        out: list[str] = []
        path: str | None = f"/v2/{ref.path}/tags/list"
        while path is not None and len(out) < 100_000:
            response = self.session.request("GET", ref.domain, path, scopes=self._scopes(ref))
            if response.status_code in (401, 403):
                raise _access_denied(ref, response)
            check(response, f"tags of {ref.familiar_repository}")
            try:
                names = loads(response.content, "tags list").get("tags") or []
            except (InvalidArgument, AttributeError):
                raise InvalidArgument(f"tags of {ref.familiar_repository}: invalid JSON") from None
            out.extend(str(t) for t in names)
            link = response.links.get("next", {}).get("url")
            path = str(response.url.join(link)) if link else None
        return out

    # ----------------------------------------------------------------- push

    def exists(self, ref: Reference, desc: Descriptor) -> bool:
        response = self.session.request("HEAD", ref.domain, f"/v2/{ref.path}/blobs/{desc.digest}",
                                        scopes=self._scopes(ref), follow_redirects=True)
        if response.status_code == 404:
            return False
        check(response, f"blob {desc.digest}")
        return True

    def mount(self, ref: Reference, desc: Descriptor, source: str) -> bool | str:
        """Ask the registry to mount ``desc`` from repository ``source`` (a path on the same
        registry). True when mounted; otherwise the upload URL the registry opened."""
        response = self.session.request(
            "POST", ref.domain, f"/v2/{ref.path}/blobs/uploads/",
            scopes=self._scopes(ref, Scope.repository(source, "pull")),
            params={"mount": str(desc.digest), "from": source}, headers={"Content-Length": "0"})
        check(response, f"blob {desc.digest}")
        if response.status_code == 201:
            return True
        return _location(response, ref)

    def start_upload(self, ref: Reference) -> str:
        response = self.session.request("POST", ref.domain, f"/v2/{ref.path}/blobs/uploads/",
                                        scopes=self._scopes(ref), headers={"Content-Length": "0"})
        check(response, f"upload to {ref.repository}")
        if response.status_code not in (202, 201):
            raise Unavailable(f"upload to {ref.repository}: unexpected status {response.status_code}")
        return _location(response, ref)

    def push(self, ref: Reference, desc: Descriptor, location: str | None = None) -> BlobUpload | ManifestUpload:
        if desc.media_type in DOCUMENT_TYPES:
            return ManifestUpload(self, ref, desc)
        if location is None:
            if self.exists(ref, desc):
                raise AlreadyExists(f"blob {desc.digest}: already in {ref.repository}")
            location = self.start_upload(ref)
        return BlobUpload(self, ref, desc, location)

    def put_manifest(self, ref: Reference, desc: Descriptor, data: bytes) -> Digest:
        target = ref.tag or str(desc.digest)
        response = self.session.request("PUT", ref.domain, f"/v2/{ref.path}/manifests/{target}",
                                        scopes=self._scopes(ref), headers={"Content-Type": desc.media_type},
                                        content=data)
        check(response, f"manifest for {ref.familiar()}")
        header = response.headers.get("docker-content-digest")
        if header and header != str(desc.digest):
            raise DigestMismatch(f"manifest for {ref.familiar()}: the registry stored {header}, "
                                 f"we sent {desc.digest}")
        return desc.digest


class BlobUpload:
    """A monolithic upload streamed as it is written: ``PUT <location>?digest=…`` with
    the body fed from ``write`` through a small queue (the request runs in a helper
    thread, as containerd's pusher runs it behind a pipe)."""

    _END = b""

    def __init__(self, resolver: RegistryResolver, ref: Reference, desc: Descriptor, location: str) -> None:
        self.desc = desc
        self._chunks: queue.Queue[bytes] = queue.Queue(maxsize=8)
        self._result: httpx.Response | BaseException | None = None
        self._done = threading.Event()
        self._closed = False
        self._written = 0
        params = {"digest": str(desc.digest)}
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(desc.size)}

        def body() -> Iterator[bytes]:
            while True:
                chunk = self._chunks.get()
                if chunk is self._END:
                    return
                yield chunk

        def run() -> None:
            try:
                self._result = resolver.session.request("PUT", ref.domain, location, scopes=resolver._scopes(ref),
                                                        params=params, headers=headers, content=body(),
                                                        replayable=False)
            except BaseException as err:  # handed to commit()
                self._result = err
            finally:
                self._done.set()

        self._thread = threading.Thread(target=run, name=f"upload-{desc.digest.short}", daemon=True)
        self._thread.start()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        chunk = bytes(data)
        while not self._done.is_set():
            try:
                self._chunks.put(chunk, timeout=0.2)
                self._written += len(chunk)
                return len(chunk)
            except queue.Full:
                continue
        self._raise_result()
        raise Unavailable(f"blob {self.desc.digest}: the upload ended early")

    def commit(self) -> Digest:
        if self._written != self.desc.size:
            self.close()
            raise InvalidArgument(f"blob {self.desc.digest}: wrote {self._written} bytes, expected {self.desc.size}")
        self._finish()
        self._raise_result()
        return self.desc.digest

    def _finish(self) -> None:
        while not self._done.is_set():
            try:
                self._chunks.put(self._END, timeout=0.2)
                break
            except queue.Full:
                continue
        self._thread.join()
        self._closed = True

    def _raise_result(self) -> None:
        result = self._result
        if isinstance(result, BaseException):
            raise result
        if isinstance(result, httpx.Response):
            check(result, f"blob {self.desc.digest}")
            header = result.headers.get("docker-content-digest")
            if header and header != str(self.desc.digest):
                raise DigestMismatch(f"blob {self.desc.digest}: the registry stored {header}")

    def close(self) -> None:
        if not self._closed:
            # Content-Length was promised: ending the body early aborts the request.
            self._finish()


class ManifestUpload:
    """Collects a manifest's bytes; ``commit`` PUTs them (tagged by ``ref.tag``)."""

    def __init__(self, resolver: RegistryResolver, ref: Reference, desc: Descriptor) -> None:
        self._resolver = resolver
        self._ref = ref
        self.desc = desc
        self._buf = bytearray()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._buf.extend(data)
        return len(data)

    def commit(self) -> Digest:
        data = bytes(self._buf)
        if Digest.from_bytes(data) != self.desc.digest:
            raise DigestMismatch(f"manifest {self.desc.digest}: content does not match its digest")
        return self._resolver.put_manifest(self._ref, self.desc, data)

    def close(self) -> None:
        self._buf.clear()


class _ResponseReader(io.RawIOBase):
    """A streaming response body as a file object (closing it closes the response)."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self._chunks = response.iter_raw()
        self._left = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if not self._left:
            self._left = next(self._chunks, b"")
        n = min(len(buffer), len(self._left))
        buffer[:n] = self._left[:n]
        self._left = self._left[n:]
        return n

    def close(self) -> None:
        self._response.close()
        super().close()


def _read_limited(response: httpx.Response, limit: int, what: str) -> bytes:
    buf = bytearray()
    for chunk in response.iter_bytes():
        buf.extend(chunk)
        if len(buf) > limit:
            raise InvalidArgument(f"{what}: larger than {limit} bytes")
    return bytes(buf)


def _location(response: httpx.Response, ref: Reference) -> str:
    location = response.headers.get("location")
    if not location:
        raise Unavailable(f"upload to {ref.repository}: the registry sent no Location")
    return str(response.url.join(location))


def _access_denied(ref: Reference, response: httpx.Response) -> BerthError:
    from berth.errors import PermissionDenied
    from berth.registry.client.errors import describe, parse_errors

    detail = describe(parse_errors(response.content), response.status_code, response.reason_phrase)
    return PermissionDenied(f"pull access denied for {ref.familiar_repository}, repository does not exist or "
                            f"may require 'berth login': {detail}")
