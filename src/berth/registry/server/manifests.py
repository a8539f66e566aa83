"""Manifests of one repository: validate, store, fetch, delete, list referrers.

A manifest is stored exactly as pushed (its bytes are a blob, so its digest is the
digest of those bytes) and linked into the repository as a *revision*. Before a
manifest is accepted:

- its media type must be an OCI or Docker image manifest or index, and the
  ``Content-Type`` of the request must agree with the ``mediaType`` it declares;
- it must parse as that type (``berth.oci.image``);
- every blob an image manifest names (config, layers) must be linked into the
  repository with the size the descriptor gives, except non-distributable layers
  that carry ``urls``; every manifest an index names must be a revision of the
  repository. Otherwise: MANIFEST_BLOB_UNKNOWN, naming the first missing digest.

A manifest with a ``subject`` is indexed for the referrers API at push time; the
descriptor stored is the one the API returns (``artifactType`` from the manifest, or
for an image manifest without one, its config's media type; its annotations).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from berth.errors import InvalidArgument
from berth.oci import mediatype as mt
from berth.oci.descriptor import Descriptor
from berth.oci.digest import Digest
from berth.oci.image import Index, Manifest, sniff_media_type
from berth.oci.jsonutil import loads_object
from berth.registry.server.errors import (
    BlobUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestTooLarge,
    ManifestUnknown,
    TagInvalid,
)
from berth.registry.server.repository import Repository
from berth.registry.server.storage.api import PathNotFound
from berth.registry.server.storage.paths import ReferrerDescriptor, ReferrersOf, path_for
from berth.registry.server.tags import Actor, check_tag

MAX_MANIFEST_SIZE = 4 * 1024 * 1024  # the spec asks registries to take at least 4 MiB
_OPTIONAL_LAYER_TYPES = frozenset(
    {
        mt.DOCKER_LAYER_FOREIGN,
        mt.OCI_LAYER_NONDIST,
        mt.OCI_LAYER_NONDIST_GZIP,
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    }
)


@dataclass(frozen=True, slots=True)
class ParsedManifest:
    """What the registry needs to know about a manifest or index it stores."""

    media_type: str
    blobs: tuple[Descriptor, ...] = ()  # config and layers of an image manifest
    children: tuple[Descriptor, ...] = ()  # entries of an index
    subject: Descriptor | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredManifest:
    digest: Digest
    media_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class PutResult:
    digest: Digest
    subject: Digest | None


def parse_reference(reference: str) -> Digest | str:
    """A digest when ``reference`` looks like one (it has a colon), else a valid tag.

    Raises DigestInvalid or TagInvalid."""
    if ":" in reference:
        try:
            return Digest.parse(reference)
        except InvalidArgument as err:
            raise DigestInvalid(str(err), {"digest": reference[:200]}) from None
    return check_tag(reference)


def lookup_reference(reference: str) -> Digest | str:
    """:func:`parse_reference` for reads and deletes: a reference that is neither a
    valid tag nor a digest names no manifest that could exist, so it is
    ManifestUnknown (404), as distribution answers. Only a push names a tag it
    means to create, and only a push gets TagInvalid or DigestInvalid (400)."""
    try:
        return parse_reference(reference)
    except (TagInvalid, DigestInvalid):
        shown = reference if len(reference) <= 200 else reference[:200] + "…"
        raise ManifestUnknown(f"manifest {shown!r}: no such tag or digest", {"reference": shown}) from None


def base_media_type(content_type: str | None) -> str:
    """``Content-Type`` without parameters, lower-case."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse_manifest(data: bytes, content_type: str | None = None) -> ParsedManifest:
    """Validate ``data`` as a manifest pushed with ``content_type``; ManifestInvalid if not."""
    if len(data) > MAX_MANIFEST_SIZE:
        raise ManifestTooLarge(f"manifest: {len(data)} bytes; at most {MAX_MANIFEST_SIZE} are accepted")
    try:
        obj = loads_object(data, "manifest")
        sniffed = sniff_media_type(data)
    except InvalidArgument as err:
        raise ManifestInvalid(str(err)) from None
    declared = obj.get("mediaType")
    header = base_media_type(content_type)
    kind = sniffed
    if header in mt.MANIFEST_TYPES | mt.INDEX_TYPES:
        if declared is not None and declared != header:
            raise ManifestInvalid(f"manifest: Content-Type {header} does not match its mediaType {declared}")
        if declared is None and header not in (mt.OCI_MANIFEST, mt.OCI_INDEX):
            raise ManifestInvalid(f"manifest: a {header} must declare its mediaType")
        if declared is None and header != sniffed:
            raise ManifestInvalid(f"manifest: the document is not a {header}")
        kind = header
    if kind not in mt.MANIFEST_TYPES | mt.INDEX_TYPES:
        raise ManifestInvalid(f"manifest: media type {kind!r} is not supported")
    try:
        if kind in mt.INDEX_TYPES:
            index = Index.from_bytes(data, kind)
            return ParsedManifest(
                kind, (), index.manifests, index.subject, index.artifact_type, dict(index.annotations)
            )
        manifest = Manifest.from_bytes(data, kind)
    except InvalidArgument as err:
        raise ManifestInvalid(str(err)) from None
    return ParsedManifest(
        kind,
        (manifest.config, *manifest.layers),
        (),
        manifest.subject,
        manifest.artifact_type or manifest.config.media_type,
        dict(manifest.annotations),
    )


def referrer_descriptor(parsed: ParsedManifest, digest: Digest, size: int) -> dict[str, Any]:
    out: dict[str, Any] = {"mediaType": parsed.media_type, "digest": str(digest), "size": size}
    if parsed.artifact_type:
        out["artifactType"] = parsed.artifact_type
    if parsed.annotations:
        out["annotations"] = parsed.annotations
    return out


class ManifestStore:
    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self.blobs = repo.blobs
        self.driver = repo.driver
        self.name = repo.name

    def resolve(self, reference: str) -> Digest:
        """The digest a tag or digest reference names in this repository."""
        ref = lookup_reference(reference)
        digest = self.repo.tags.get(ref) if isinstance(ref, str) else ref
        if not self.repo.has_manifest(digest):
            raise ManifestUnknown(f"{self.name}@{digest}: manifest not found", {"digest": str(digest)})
        return digest

    def get(self, reference: str) -> StoredManifest:
        digest = self.resolve(reference)
        try:
            data = self.blobs.read(digest)
        except BlobUnknown:
            raise ManifestUnknown(f"{self.name}@{digest}: manifest not found", {"digest": str(digest)}) from None
        try:
            media_type = sniff_media_type(data)
        except InvalidArgument:
            media_type = mt.OCI_MANIFEST
        return StoredManifest(digest, media_type, data)

    def put(self, reference: str, data: bytes, content_type: str | None, actor: Actor) -> PutResult:
        ref = parse_reference(reference)
        parsed = parse_manifest(data, content_type)
        algorithm = ref.algorithm if isinstance(ref, Digest) else "sha256"
        digest = Digest.from_bytes(data, algorithm)
        if isinstance(ref, Digest) and ref != digest:
            raise DigestInvalid(
                f"manifest: its digest is {digest}, not {ref}", {"expected": str(ref), "actual": str(digest)}
            )
        self._check_references(parsed)
        self.blobs.put(data, algorithm)
        self.repo.link_manifest(digest)
        if parsed.subject is not None:
            descriptor = referrer_descriptor(parsed, digest, len(data))
            path = path_for(ReferrerDescriptor(self.name, parsed.subject.digest, digest))
            self.driver.put_content(path, json.dumps(descriptor, sort_keys=True).encode())
        if isinstance(ref, str):
            self.repo.tags.move(ref, digest, actor, "push")
        return PutResult(digest, parsed.subject.digest if parsed.subject else None)

    def _check_references(self, parsed: ParsedManifest) -> None:
        for desc in parsed.blobs:
            if desc.urls and desc.media_type in _OPTIONAL_LAYER_TYPES:
                continue
            try:
                info = self.repo.blob(desc.digest)
            except BlobUnknown:
                raise ManifestBlobUnknown(
                    f"{self.name}: manifest names blob {desc.digest}, which the repository does not have",
                    {"digest": str(desc.digest)},
                ) from None
            if info.size != desc.size:
                raise ManifestInvalid(
                    f"manifest: blob {desc.digest} has {info.size} bytes, the descriptor says {desc.size}",
                    {"digest": str(desc.digest)},
                )
        for desc in parsed.children:
            if desc.media_type in mt.MANIFEST_TYPES | mt.INDEX_TYPES:
                known = self.repo.has_manifest(desc.digest)
            else:
                known = self.repo.has_blob(desc.digest)
            if not known:
                raise ManifestBlobUnknown(
                    f"{self.name}: index names {desc.digest}, which the repository does not have",
                    {"digest": str(desc.digest)},
                )
            size = self.blobs.stat(desc.digest).size
            if size != desc.size:
                raise ManifestInvalid(
                    f"index: {desc.digest} has {size} bytes, the descriptor says {desc.size}",
                    {"digest": str(desc.digest)},
                )

    def delete(self, reference: str, actor: Actor) -> None:
        """Delete a tag (the manifest stays), or a manifest and every tag naming it."""
        ref = lookup_reference(reference)
        if isinstance(ref, str):
            self.repo.tags.get(ref)  # ManifestUnknown when there is no such tag
            self.repo.tags.move(ref, None, actor, "delete")
            return
        if not self.repo.has_manifest(ref):
            raise ManifestUnknown(f"{self.name}@{ref}: manifest not found", {"digest": str(ref)})
        for tag in self.repo.tags.pointing_to(ref):
            self.repo.tags.move(tag, None, actor, "delete")
        subject = self._subject_of(ref)
        if subject is not None:
            try:
                self.driver.delete(path_for(ReferrerDescriptor(self.name, subject, ref)))
            except PathNotFound:
                pass
        self.repo.unlink_manifest(ref)

    def _subject_of(self, digest: Digest) -> Digest | None:
        try:
            parsed = parse_manifest(self.blobs.read(digest))
        except (BlobUnknown, ManifestInvalid):
            return None
        return parsed.subject.digest if parsed.subject else None

    def referrers(self, subject: Digest, artifact_type: str | None = None) -> list[dict[str, Any]]:
        """Descriptors of this repository's manifests whose subject is ``subject``."""
        root = path_for(ReferrersOf(self.name, subject))
        out: list[dict[str, Any]] = []
        try:
            algorithms = self.driver.list(root)
        except PathNotFound:
            return out
        for alg_path in algorithms:
            try:
                entries = self.driver.list(alg_path)
            except PathNotFound:
                continue
            for entry in entries:
                try:
                    descriptor = json.loads(self.driver.get_content(entry))
                    digest = Digest.parse(descriptor["digest"])
                except (PathNotFound, ValueError, KeyError, TypeError, InvalidArgument):
                    continue
                if not self.repo.has_manifest(digest):
                    continue
                if artifact_type is not None and descriptor.get("artifactType") != artifact_type:
                    continue
                out.append(descriptor)
        return out

    def restore(self, digest: Digest) -> None:
        """Make ``digest`` a revision again, with every blob and child it names linked.

        Used by rollback: a tag's earlier manifest may have been deleted since, but
        garbage collection keeps its bytes while the tag's history names it."""
        try:
            data = self.blobs.read(digest)
        except BlobUnknown:
            raise ManifestUnknown(
                f"{self.name}@{digest}: the manifest's bytes are gone", {"digest": str(digest)}
            ) from None
        parsed = parse_manifest(data)
        for desc in parsed.blobs:
            if self.blobs.exists(desc.digest):
                self.repo.link_blob(desc.digest)
        for desc in parsed.children:
            if desc.media_type in mt.MANIFEST_TYPES | mt.INDEX_TYPES:
                self.restore(desc.digest)
            elif self.blobs.exists(desc.digest):
                self.repo.link_blob(desc.digest)
        self._check_references(parsed)
        self.repo.link_manifest(digest)
        if parsed.subject is not None:
            path = path_for(ReferrerDescriptor(self.name, parsed.subject.digest, digest))
            self.driver.put_content(path, json.dumps(referrer_descriptor(parsed, digest, len(data))).encode())

