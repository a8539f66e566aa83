"""Mark and sweep over an in-memory (and a file system) registry."""

from __future__ import annotations

import time

from berth.oci.digest import Digest
from berth.registry.server.gc import collect
from berth.registry.server.registry import Registry
from berth.registry.server.storage.paths import BlobData, UploadData, UploadStartedAt, path_for

from .conftest import ALICE, push_blob, push_image, push_index


def stored(registry: Registry) -> set[Digest]:
    return {b.digest for b in registry.blobs.walk()}


def test_gc_keeps_everything_referenced_and_removes_the_rest(registry: Registry) -> None:
    tagged, tagged_blobs = push_image(registry, "app", "v1")
    untagged, untagged_blobs = push_image(registry, "app")  # pushed by digest: still a revision
    orphan = push_blob(registry, "app", b"uploaded, never named by a manifest")
    deleted, deleted_blobs = push_image(registry, "other")
    registry.manifests("other").delete(str(deleted), ALICE)
    keep = {tagged, untagged, *tagged_blobs, *untagged_blobs}

    dry = collect(registry, dry_run=True)
    assert {b.digest for b in dry.removed_blobs} == {orphan, deleted, *deleted_blobs}
    assert stored(registry) >= keep | {orphan, deleted}  # a dry run changes nothing

    report = collect(registry)
    assert {b.digest for b in report.removed_blobs} == {orphan, deleted, *deleted_blobs}
    assert report.freed_bytes > 0
    assert stored(registry) == keep
    assert ("app", orphan) in report.removed_links
    assert not registry.repository("app").has_blob(orphan)
    assert registry.manifests("app").get("v1").digest == tagged
    assert collect(registry).removed_blobs == ()  # nothing left to collect


def test_gc_keeps_what_tag_history_names(registry: Registry) -> None:
    old, old_blobs = push_image(registry, "app", "prod")
    new, _ = push_image(registry, "app", "prod")
    registry.manifests("app").delete(str(old), ALICE)  # the old image is not a revision any more
    collect(registry)
    assert {old, *old_blobs} <= stored(registry)
    registry.rollback("app", "prod", ALICE, to=old)  # so a rollback still finds it
    assert registry.manifests("app").get("prod").digest == old
    assert new in stored(registry)


def test_gc_follows_index_children(registry: Registry) -> None:
    child, child_blobs = push_image(registry, "multi")
    push_index(registry, "multi", [child], "latest")
    registry.repository("multi").unlink_manifest(child)  # reachable only through the index
    collect(registry)
    assert {child, *child_blobs} <= stored(registry)


def test_gc_drops_stale_uploads_only(registry: Registry) -> None:
    uploads = registry.uploads("app")
    stale = uploads.start()
    writer = uploads.writer(stale.upload_id)
    writer.write(b"abandoned")
    writer.close()
    time.sleep(0.02)
    fresh = uploads.start()
    stale_time = registry.driver.stat(path_for(UploadData("app", stale.upload_id))).mod_time
    fresh_time = registry.driver.stat(path_for(UploadStartedAt("app", fresh.upload_id))).mod_time
    assert stale_time < fresh_time
    between = (stale_time + fresh_time) / 2
    assert collect(registry, upload_max_age=3600, now=between + 3599).removed_uploads == ()
    report = collect(registry, upload_max_age=3600, now=between + 3600)
    assert report.removed_uploads == (("app", stale.upload_id),)
    uploads.status(fresh.upload_id)


def test_gc_leaves_unparsable_manifests_in_place(registry: Registry) -> None:
    digest, _ = push_image(registry, "app", "v1")
    data = registry.blobs.read(digest)
    registry.driver.put_content(path_for(BlobData(digest)), data[: len(data) // 2])  # damage it
    report = collect(registry)
    assert digest in stored(registry)
    assert report.unreadable == (digest,)


def test_gc_on_an_empty_registry(registry: Registry) -> None:
    report = collect(registry)
    assert (report.removed_blobs, report.removed_links, report.marked) == ((), (), frozenset())
