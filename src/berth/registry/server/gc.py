"""Garbage collection: mark every blob something still needs, sweep the rest.

Roots, per repository: every manifest revision, every digest a tag points at, and
every digest a tag's history names (so rollbacks keep working). Marking a manifest
marks its bytes and, read from the blob store, its config and layers, or for an
index its children, recursively. A manifest that cannot be parsed is kept, with
nothing beneath it marked. The sweep deletes unmarked blobs, removes ``_layers``
links to blobs that are gone, and drops upload sessions older than a cut-off.

Run it while the registry is idle (``berth registry gc``, server stopped or quiet):
a blob uploaded but not yet named by a manifest is not a root, exactly as in
distribution's ``garbage-collect``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from berth.errors import InvalidArgument
from berth.oci import mediatype as mt
from berth.oci.digest import Digest
from berth.registry.server.blobs import BlobInfo
from berth.registry.server.errors import BlobUnknown, ManifestInvalid
from berth.registry.server.manifests import parse_manifest
from berth.registry.server.registry import Registry
from berth.registry.server.repository import Repository
from berth.registry.server.storage.api import PathNotFound
from berth.registry.server.storage.paths import LayerLink, UploadRoot, UploadsRoot, path_for


@dataclass(frozen=True, slots=True)
class GCReport:
    marked: frozenset[Digest]
    removed_blobs: tuple[BlobInfo, ...]  # removed, or that would go in a dry run
    removed_links: tuple[tuple[str, Digest], ...]  # (repository, digest)
    removed_uploads: tuple[tuple[str, str], ...]  # (repository, upload id)
    dry_run: bool = False
    unreadable: tuple[Digest, ...] = field(default=())

    @property
    def freed_bytes(self) -> int:
        return sum(b.size for b in self.removed_blobs)


def mark(registry: Registry) -> tuple[set[Digest], list[Digest]]:
    """Digests reachable from the roots, and the manifests among them that would not parse."""
    marked: set[Digest] = set()
    unreadable: list[Digest] = []
    for name in _all_repositories(registry):
        repo = registry.repository(name)
        roots: set[Digest] = set(repo.revisions())
        for tag in repo.tags.known():
            current = repo.tags.find(tag)
            if current is not None:
                roots.add(current)
            for move in repo.tags.history(tag):
                roots.update(d for d in (move.previous, move.current) if d is not None)
        for digest in roots:
            _mark_manifest(registry, digest, marked, unreadable)
    return marked, unreadable


def _mark_manifest(registry: Registry, digest: Digest, marked: set[Digest], unreadable: list[Digest]) -> None:
    pending = [digest]
    while pending:
        current = pending.pop()
        if current in marked:
            continue
        marked.add(current)
        try:
            parsed = parse_manifest(registry.blobs.read(current))
        except BlobUnknown:
            continue
        except ManifestInvalid:
            unreadable.append(current)
            continue
        marked.update(d.digest for d in parsed.blobs)
        for child in parsed.children:
            if child.media_type in mt.MANIFEST_TYPES | mt.INDEX_TYPES:
                pending.append(child.digest)
            else:
                marked.add(child.digest)


def collect(
    registry: Registry, *, dry_run: bool = False, upload_max_age: float = 24 * 3600.0, now: float | None = None
) -> GCReport:
    """Mark, then sweep (or, with ``dry_run``, only report what the sweep would do).

    Upload sessions untouched for ``upload_max_age`` seconds before ``now`` (default:
    the current time) go too."""
    marked, unreadable = mark(registry)
    removed: list[BlobInfo] = []
    for info in registry.blobs.walk():
        if info.digest in marked:
            continue
        removed.append(info)
        if not dry_run:
            try:
                registry.blobs.delete(info.digest)
            except BlobUnknown:
                pass
    gone = {b.digest for b in removed}
    links: list[tuple[str, Digest]] = []
    uploads: list[tuple[str, str]] = []
    cutoff = (time.time() if now is None else now) - upload_max_age
    for name in _all_repositories(registry):
        repo = registry.repository(name)
        for digest in list(repo.linked_blobs()):
            if digest in gone or not registry.blobs.exists(digest):
                links.append((name, digest))
                if not dry_run:
                    _unlink_quietly(repo, digest)
        uploads.extend((name, uid) for uid in _stale_uploads(repo, cutoff, dry_run))
    return GCReport(frozenset(marked), tuple(removed), tuple(links), tuple(uploads), dry_run, tuple(unreadable))


def _all_repositories(registry: Registry) -> list[str]:
    return sorted(registry.repositories(include_unfinished=True))


def _unlink_quietly(repo: Repository, digest: Digest) -> None:
    try:
        repo.driver.delete(path_for(LayerLink(repo.name, digest)).rsplit("/", 1)[0])
    except PathNotFound:
        pass


def _stale_uploads(repo: Repository, cutoff: float, dry_run: bool) -> list[str]:
    driver = repo.driver
    try:
        sessions = driver.list(path_for(UploadsRoot(repo.name)))
    except (PathNotFound, InvalidArgument):
        return []
    stale: list[str] = []
    for session in sessions:
        upload_id = session.rsplit("/", 1)[1]
        try:
            newest = max(info.mod_time for info in driver.walk(session))
        except (PathNotFound, ValueError):
            continue
        if newest >= cutoff:
            continue
        stale.append(upload_id)
        if not dry_run:
            try:
                driver.delete(path_for(UploadRoot(repo.name, upload_id)))
            except (PathNotFound, InvalidArgument):
                continue
    return stale
