"""Upload sessions and manifest validation, on both drivers."""

from __future__ import annotations

import json
import os
import threading

import pytest

from berth.oci import mediatype as mt
from berth.oci.descriptor import Descriptor
from berth.oci.digest import Digest
from berth.oci.image import Index, Manifest
from berth.registry.server.errors import (
    BlobUnknown,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestTooLarge,
    ManifestUnknown,
    RangeInvalid,
    SizeInvalid,
    TagInvalid,
)
from berth.registry.server.manifests import MAX_MANIFEST_SIZE, parse_manifest
from berth.registry.server.registry import Registry
from berth.registry.server.storage.paths import BLOBS
from berth.registry.server.uploads import HashStates

from .conftest import ALICE, push_blob, push_image


def stored_blobs(registry: Registry) -> list[Digest]:
    return [b.digest for b in registry.blobs.walk()]


def test_chunked_upload_verifies_and_links(registry: Registry) -> None:
    data = os.urandom(300_000)
    uploads = registry.uploads("app")
    status = uploads.start()
    for start in range(0, len(data), 100_000):
        writer = uploads.writer(status.upload_id, start)
        writer.write(data[start : start + 100_000])
        writer.close()
        assert uploads.status(status.upload_id).size == start + 100_000
    info = uploads.writer(status.upload_id).commit(Digest.from_bytes(data))
    assert info.size == len(data)
    assert registry.repository("app").blob(info.digest) == info
    with registry.blobs.open(info.digest) as f:
        assert f.read() == data
    with pytest.raises(BlobUploadUnknown):
        uploads.status(status.upload_id)


def test_out_of_order_chunk_is_refused_with_the_current_size(registry: Registry) -> None:
    uploads = registry.uploads("app")
    status = uploads.start()
    writer = uploads.writer(status.upload_id, 0)
    writer.write(b"12345")
    writer.close()
    with pytest.raises(RangeInvalid) as err:
        uploads.writer(status.upload_id, 3)
    assert err.value.size == 5
    with pytest.raises(RangeInvalid):
        uploads.writer(status.upload_id, 10**18)


def test_wrong_digest_leaves_nothing(registry: Registry) -> None:
    uploads = registry.uploads("app")
    status = uploads.start()
    writer = uploads.writer(status.upload_id)
    writer.write(b"some bytes")
    with pytest.raises(DigestInvalid):
        writer.commit(Digest.from_bytes(b"other bytes"))
    with pytest.raises(BlobUploadUnknown):
        uploads.status(status.upload_id)
    assert stored_blobs(registry) == []
    assert list(registry.repository("app").linked_blobs()) == []


def test_size_that_does_not_match_leaves_nothing(registry: Registry) -> None:
    uploads = registry.uploads("app")
    status = uploads.start()
    writer = uploads.writer(status.upload_id)
    writer.write(b"12345")
    with pytest.raises(SizeInvalid):
        writer.commit(Digest.from_bytes(b"12345"), size=6)
    with pytest.raises(BlobUploadUnknown):
        uploads.status(status.upload_id)
    assert stored_blobs(registry) == []


def test_a_restart_between_chunks_rehashes_the_data(registry: Registry) -> None:
    uploads = registry.uploads("app")
    status = uploads.start()
    writer = uploads.writer(status.upload_id)
    writer.write(b"first half,")
    writer.close()
    registry.hashes = HashStates()  # what a new server process starts with
    writer = registry.uploads("app").writer(status.upload_id, 11)
    writer.write(b" second half")
    assert writer.commit(Digest.from_bytes(b"first half, second half")).size == 23


def test_one_writer_at_a_time(registry: Registry) -> None:
    uploads = registry.uploads("app")
    status = uploads.start()
    writer = uploads.writer(status.upload_id)
    with pytest.raises(RangeInvalid):
        uploads.writer(status.upload_id)
    writer.close()
    uploads.writer(status.upload_id).cancel()
    with pytest.raises(BlobUploadUnknown):
        uploads.status(status.upload_id)


def test_sha512_digests_are_verified(registry: Registry) -> None:
    uploads = registry.uploads("app")
    writer = uploads.writer(uploads.start().upload_id)
    writer.write(b"data")
    assert writer.commit(Digest.from_bytes(b"data", "sha512")).digest.algorithm == "sha512"


def test_concurrent_pushes_of_one_blob_store_one_copy(registry: Registry) -> None:
    data = os.urandom(1 << 20)
    errors: list[BaseException] = []

    def push(name: str) -> None:
        try:
            push_blob(registry, name, data)
        except BaseException as err:  # noqa: BLE001 - collected for the assertion
            errors.append(err)

    threads = [threading.Thread(target=push, args=(f"repo{i % 2}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert stored_blobs(registry) == [Digest.from_bytes(data)]
    assert [f.path for f in registry.driver.walk(BLOBS)][0].endswith("/data")
    for name in ("repo0", "repo1"):
        assert registry.repository(name).has_blob(Digest.from_bytes(data))


def test_mount_links_only_what_the_source_has(registry: Registry) -> None:
    digest = push_blob(registry, "source", b"layer")
    uploads = registry.uploads("target")
    assert uploads.mount(digest, registry.repository("elsewhere")) is None
    assert uploads.mount(digest, registry.repository("source")) is not None
    assert registry.repository("target").has_blob(digest)


def _manifest(registry: Registry, name: str, **extra: object) -> bytes:
    config = push_blob(registry, name, b"{}")
    layer = push_blob(registry, name, b"layer")
    doc = Manifest(mt.OCI_MANIFEST, Descriptor(mt.OCI_CONFIG, config, 2), (Descriptor(mt.OCI_LAYER, layer, 5),)).to_json()
    doc.update(extra)
    return json.dumps(doc).encode()


def test_manifest_round_trip_by_tag_and_digest(registry: Registry) -> None:
    data = _manifest(registry, "app")
    store = registry.manifests("app")
    result = store.put("v1", data, mt.OCI_MANIFEST + "; charset=utf-8", ALICE)
    assert result.digest == Digest.from_bytes(data)
    by_tag, by_digest = store.get("v1"), store.get(str(result.digest))
    assert by_tag.data == by_digest.data == data  # stored byte for byte
    assert by_tag.media_type == mt.OCI_MANIFEST
    with pytest.raises(ManifestUnknown):
        store.get("v2")
    with pytest.raises(ManifestUnknown):
        registry.manifests("other").get(str(result.digest))  # another repository does not have it


@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        (b"not json", mt.OCI_MANIFEST, ManifestInvalid),
        (b"[]", mt.OCI_MANIFEST, ManifestInvalid),
        (b'{"schemaVersion": 1}', mt.OCI_MANIFEST, ManifestInvalid),
        (b'{"schemaVersion": 2, "mediaType": "text/plain", "config": {}}', None, ManifestInvalid),
        (b'{"schemaVersion": 2, "config": {"mediaType": "x", "digest": "sha256:zz", "size": 1}, "layers": []}', None, ManifestInvalid),
        (b'{"schemaVersion": 2, "config": {"mediaType": "x", "digest": "sha256:' + b"a" * 64 + b'", "size": -1}}', None, ManifestInvalid),
        (b'{"schemaVersion": 2, "mediaType": "' + mt.OCI_MANIFEST.encode() + b'"}', mt.DOCKER_MANIFEST, ManifestInvalid),
        (b'{"schemaVersion": 2, "manifests": []}', mt.DOCKER_MANIFEST_LIST, ManifestInvalid),
        (b'{"schemaVersion": 2, "manifests": []}', mt.OCI_MANIFEST, ManifestInvalid),
        (b" " * (MAX_MANIFEST_SIZE + 1), None, ManifestTooLarge),
    ],
)
def test_malformed_manifests_are_refused(body: bytes, content_type: str | None, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_manifest(body, content_type)


def test_manifest_naming_missing_or_wrong_sized_blobs_is_refused(registry: Registry) -> None:
    store = registry.manifests("app")
    missing = Digest.from_bytes(b"never pushed")
    config = push_blob(registry, "app", b"{}")
    doc = Manifest(mt.OCI_MANIFEST, Descriptor(mt.OCI_CONFIG, config, 2), (Descriptor(mt.OCI_LAYER, missing, 12),))
    with pytest.raises(ManifestBlobUnknown) as err:
        store.put("v1", doc.to_bytes(), None, ALICE)
    assert err.value.detail == {"digest": str(missing)}
    wrong = Manifest(mt.OCI_MANIFEST, Descriptor(mt.OCI_CONFIG, config, 3), ())
    with pytest.raises(ManifestInvalid):
        store.put("v1", wrong.to_bytes(), None, ALICE)
    foreign = Manifest(
        mt.OCI_MANIFEST,
        Descriptor(mt.OCI_CONFIG, config, 2),
        (Descriptor(mt.OCI_LAYER_NONDIST_GZIP, missing, 12, urls=("https://example.com/l",)),),
    )
    store.put("v1", foreign.to_bytes(), None, ALICE)  # non-distributable layers may live elsewhere
    assert registry.repository("app").tags.names() == ["v1"]


def test_blob_of_another_repository_is_unknown_here(registry: Registry) -> None:
    layer = push_blob(registry, "private", b"secret layer")
    config = push_blob(registry, "mine", b"{}")
    doc = Manifest(mt.OCI_MANIFEST, Descriptor(mt.OCI_CONFIG, config, 2), (Descriptor(mt.OCI_LAYER, layer, 12),))
    with pytest.raises(ManifestBlobUnknown):
        registry.manifests("mine").put("v1", doc.to_bytes(), None, ALICE)
    with pytest.raises(BlobUnknown):
        registry.repository("mine").blob(layer)


def test_index_children_must_exist(registry: Registry) -> None:
    child, _ = push_image(registry, "app")
    size = len(registry.blobs.read(child))
    index = Index(mt.OCI_INDEX, (Descriptor(mt.OCI_MANIFEST, child, size),)).to_bytes()
    registry.manifests("app").put("multi", index, mt.OCI_INDEX, ALICE)
    ghost = Index(mt.OCI_INDEX, (Descriptor(mt.OCI_MANIFEST, Digest.from_bytes(b"ghost"), 10),)).to_bytes()
    with pytest.raises(ManifestBlobUnknown):
        registry.manifests("app").put("ghost", ghost, mt.OCI_INDEX, ALICE)


def test_digest_and_tag_references_are_checked(registry: Registry) -> None:
    data = _manifest(registry, "app")
    store = registry.manifests("app")
    with pytest.raises(DigestInvalid):
        store.put(str(Digest.from_bytes(b"other")), data, None, ALICE)
    with pytest.raises(DigestInvalid):
        store.put("sha256:nothex", data, None, ALICE)
    with pytest.raises(TagInvalid):
        store.put("-bad", data, None, ALICE)
    assert store.put(str(Digest.from_bytes(data)), data, None, ALICE).digest == Digest.from_bytes(data)


def test_referrers_are_indexed_with_artifact_type(registry: Registry) -> None:
    subject, _ = push_image(registry, "app", "v1")
    subject_size = len(registry.blobs.read(subject))
    store = registry.manifests("app")
    sbom = _manifest(
        registry, "app",
        subject={"mediaType": mt.OCI_MANIFEST, "digest": str(subject), "size": subject_size},
        artifactType="application/spdx+json", annotations={"k": "v"},
    )
    plain = _manifest(registry, "app", subject={"mediaType": mt.OCI_MANIFEST, "digest": str(subject), "size": subject_size})
    result = store.put(str(Digest.from_bytes(sbom)), sbom, None, ALICE)
    assert result.subject == subject
    store.put(str(Digest.from_bytes(plain)), plain, None, ALICE)
    found = {d["digest"]: d for d in store.referrers(subject)}
    assert found[str(Digest.from_bytes(sbom))]["artifactType"] == "application/spdx+json"
    assert found[str(Digest.from_bytes(sbom))]["annotations"] == {"k": "v"}
    assert found[str(Digest.from_bytes(plain))]["artifactType"] == mt.OCI_CONFIG  # the config's type
    only = store.referrers(subject, "application/spdx+json")
    assert [d["digest"] for d in only] == [str(Digest.from_bytes(sbom))]
    store.delete(str(Digest.from_bytes(sbom)), ALICE)
    assert [d["digest"] for d in store.referrers(subject)] == [str(Digest.from_bytes(plain))]
    assert store.referrers(Digest.from_bytes(b"nothing refers to me")) == []


def test_deleting_a_manifest_removes_its_tags(registry: Registry) -> None:
    digest, _ = push_image(registry, "app", "v1")
    store = registry.manifests("app")
    store.put("v2", registry.blobs.read(digest), None, ALICE)
    store.delete(str(digest), ALICE)
    assert registry.repository("app").tags.names() == []
    with pytest.raises(ManifestUnknown):
        store.get("v1")
    with pytest.raises(ManifestUnknown):
        store.delete(str(digest), ALICE)
