"""save → load keeps every digest; import applies --change; the formats other tools
write load; bad input fails cleanly with nothing half-written."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from berth.errors import DigestMismatch, InvalidArgument, InvalidReference
from berth.oci.digest import Digest
from berth.store import Image, Store
from berth.store.errors import CorruptArchive
from berth.testing.tars import TarBuilder


def two_layers(store: Store) -> Image:
    base = store.import_tar(io.BytesIO(TarBuilder().dir("etc/").file("etc/a", b"a").file("bin/sh", b"#!").bytes()),
                            "base:1", ['CMD ["sh"]'])
    key = "work"
    store.prepare_rootfs(key, base, {})
    upper = store.snapshots.layout(key).upper
    os.makedirs(os.path.join(upper, "etc"), exist_ok=True)
    with open(os.path.join(upper, "etc/b"), "w") as f:
        f.write("b")
    from berth.oci.image import ContainerConfig

    img = store.commit(key, base, ContainerConfig(cmd=("sh", "-c", "cat /etc/b")), comment="second",
                       created_by="test")
    store.snapshots.remove(key)
    store.images.tag(img, "app:2")
    return store.images.get("app:2")


def saved(store: Store, *refs: str) -> bytes:
    out = io.BytesIO()
    store.save(list(refs), out)
    return out.getvalue()


def members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        return {m.name: t.extractfile(m).read() for m in t.getmembers() if m.isfile()}  # type: ignore[union-attr]


def state(store: Store) -> tuple[int, int, list[str]]:
    root = store.root
    temps = [n for d in ("snapshots", "content/ingest") if os.path.isdir(os.path.join(root, d))
             for n in os.listdir(os.path.join(root, d)) if n.startswith(".tmp-") or d.endswith("ingest")]
    images = store.db.conn.execute("SELECT COUNT(*) FROM images").fetchone()[0]
    tags = store.db.conn.execute("SELECT COUNT(*) FROM image_tags").fetchone()[0]
    return images, tags, temps


def test_save_load_round_trip_keeps_digests(any_store: Store, tmp_path: Path) -> None:
    img = two_layers(any_store)
    data = saved(any_store, "app:2")
    files = members(data)
    assert {"index.json", "manifest.json", "oci-layout", "repositories"} <= set(files)
    manifest = json.loads(files["manifest.json"])
    assert manifest[0]["RepoTags"] == ["app:2"] and len(manifest[0]["Layers"]) == 2
    index = json.loads(files["index.json"])
    assert index["manifests"][0]["annotations"]["io.containerd.image.name"] == "docker.io/library/app:2"
    for name, body in files.items():
        if name.startswith("blobs/sha256/"):
            assert Digest.from_bytes(body).encoded == name.rsplit("/", 1)[1]
    assert saved(any_store, "app:2") == data  # deterministic

    from berth.state import open_database
    from berth.store import open_store

    other_root = str(tmp_path / "other")
    db = open_database(other_root)
    other = open_store(other_root, db, any_store.snapshots.name)
    (loaded,) = other.load(io.BytesIO(data))
    assert loaded.id == img.id
    assert loaded.manifest_digest == img.manifest_digest
    assert [x.blob for x in loaded.layers] == [x.blob for x in img.layers]
    assert loaded.repo_tags == ("app:2",)
    assert loaded.config.config.cmd == ("sh", "-c", "cat /etc/b")
    assert open(os.path.join(other.snapshots.path(str(loaded.top_chain_id)), "etc/b")).read() == "b"
    db.close()


def test_load_accepts_compressed_archives_and_reports_moved_tags(store: Store) -> None:
    img = two_layers(store)
    data = gzip.compress(saved(store, "app:2"))
    other = store.import_tar(io.BytesIO(TarBuilder().file("x", b"x").bytes()), "app:2")
    moved: list[tuple[str, Digest, Digest | None]] = []
    (loaded,) = store.load(io.BytesIO(data), on_tag=lambda n, i, p: moved.append((n, i, p)))
    assert loaded.id == img.id
    assert moved == [("docker.io/library/app:2", img.id, other.id)]


def test_load_legacy_docker_archive(store: Store) -> None:
    """The layout Docker 1.10-24 and `skopeo copy docker-archive:` write."""
    layer = TarBuilder().file("hello", b"world").bytes()
    diff = Digest.from_bytes(layer)
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/hello"]},
                         "rootfs": {"type": "layers", "diff_ids": [str(diff)]}}).encode()
    cid = Digest.from_bytes(config).encoded
    b = TarBuilder()
    b.file(f"{cid}.json", config)
    b.dir("abc123/").file("abc123/layer.tar", layer).file("abc123/VERSION", b"1.0").file("abc123/json", b"{}")
    b.symlink("def456/layer.tar", "../abc123/layer.tar")  # Docker links duplicate layers
    b.file("manifest.json", json.dumps([{"Config": f"{cid}.json", "RepoTags": ["legacy:1"],
                                         "Layers": ["def456/layer.tar"]}]).encode())
    b.file("repositories", b'{"legacy":{"1":"abc123"}}')
    (img,) = store.load(io.BytesIO(b.bytes()))
    assert img.id.encoded == cid and img.repo_tags == ("legacy:1",)
    assert img.layers[0].blob == diff and img.media_type.endswith("manifest.v2+json")
    assert open(os.path.join(store.snapshots.path(str(img.top_chain_id)), "hello")).read() == "world"


def test_load_oci_layout_with_ref_name(store: Store) -> None:
    img = two_layers(store)
    files = members(saved(store, "app:2"))
    index = json.loads(files["index.json"])
    index["manifests"][0]["annotations"] = {"org.opencontainers.image.ref.name": "example.com/team/app:7"}
    b = TarBuilder().file("oci-layout", files["oci-layout"]).file("index.json", json.dumps(index).encode())
    for name, body in files.items():
        if name.startswith("blobs/"):
            b.file(name, body)
    (loaded,) = store.load(io.BytesIO(b.bytes()))
    assert loaded.id == img.id and "example.com/team/app:7" in loaded.repo_tags


def test_import_with_changes(store: Store) -> None:
    data = gzip.compress(TarBuilder().dir("app/").file("app/run", b"#!/bin/sh\n", mode=0o755).bytes())
    img = store.import_tar(io.BytesIO(data), "mine:1", [
        'CMD ["/app/run", "--flag"]', "ENV A=1 B='two words'", "ENV LEGACY some value", "EXPOSE 80 53/udp",
        "LABEL org.example=yes", "WORKDIR /app", "USER 1000:1000", "VOLUME /data", "ENTRYPOINT /bin/sh -c",
        "STOPSIGNAL SIGINT",
    ], message="from a test")
    cfg = img.config.config
    assert cfg.cmd == ("/app/run", "--flag")
    assert cfg.entrypoint == ("/bin/sh", "-c", "/bin/sh -c")
    assert cfg.env == ("A=1", "B=two words", "LEGACY=some value")
    assert cfg.exposed_ports == ("53/udp", "80/tcp")
    assert cfg.labels == {"org.example": "yes"}
    assert (cfg.working_dir, cfg.user, cfg.volumes, cfg.stop_signal) == ("/app", "1000:1000", ("/data",), "SIGINT")
    assert img.config.history[0].comment == "from a test"
    assert os.access(os.path.join(store.snapshots.path(str(img.top_chain_id)), "app/run"), os.X_OK)


def test_bad_change_and_bad_reference_write_nothing(store: Store) -> None:
    data = TarBuilder().file("a", b"1").bytes()
    with pytest.raises(InvalidArgument, match="FROM is not a supported"):
        store.import_tar(io.BytesIO(data), "x:1", ["FROM scratch"])
    with pytest.raises(InvalidReference):
        store.import_tar(io.BytesIO(data), "Bad Name", [])
    assert state(store) == (0, 0, []) and list(store.content.walk()) == []


def test_corrupt_tar_on_import_writes_nothing(store: Store) -> None:
    with pytest.raises(CorruptArchive):
        store.import_tar(io.BytesIO(b"this is not a tar archive" * 40), "x:1", [])
    assert state(store) == (0, 0, []) and list(store.content.walk()) == []
    assert list(store.snapshots.walk()) == []


def test_corrupt_archive_on_load_writes_nothing(store: Store) -> None:
    img = two_layers(store)
    data = bytearray(saved(store, "app:2"))
    store.images.remove(str(img.id), force=True)
    store.images.remove("base:1", force=True)
    store.gc()
    data[600] ^= 0xFF  # inside the first header
    with pytest.raises(CorruptArchive):
        store.load(io.BytesIO(bytes(data)))
    assert state(store) == (0, 0, []) and list(store.content.walk()) == []


def test_digest_mismatch_on_load_writes_nothing(store: Store) -> None:
    two_layers(store)
    files = members(saved(store, "app:2"))
    layer = json.loads(files["manifest.json"])[0]["Layers"][1]
    store.images.remove("app:2", force=True)
    store.images.remove("base:1", force=True)
    store.gc()
    b = TarBuilder()
    for name, body in files.items():
        if name == layer:
            body = body[:-1] + bytes([body[-1] ^ 1])  # one bit of one layer
        b.file(name, body)
    with pytest.raises(DigestMismatch):
        store.load(io.BytesIO(b.bytes()))
    assert state(store) == (0, 0, []) and list(store.content.walk()) == []


def test_manifest_naming_a_missing_blob_writes_nothing(store: Store) -> None:
    two_layers(store)
    files = members(saved(store, "app:2"))
    manifest = json.loads(files["manifest.json"])
    store.images.remove("app:2", force=True)
    store.images.remove("base:1", force=True)
    store.gc()
    b = TarBuilder()
    for name, body in files.items():
        if name != "index.json" and name != manifest[0]["Layers"][1]:
            b.file(name, body)
    with pytest.raises(CorruptArchive, match="not in the archive"):
        store.load(io.BytesIO(b.bytes()))
    assert state(store) == (0, 0, []) and list(store.content.walk()) == []


def test_layer_that_does_not_match_its_diff_id_is_refused(store: Store) -> None:
    layer = TarBuilder().file("x", b"1").bytes()
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "0" * 64]}}).encode()
    cid = Digest.from_bytes(config).encoded
    b = TarBuilder().file(f"{cid}.json", config).file("l/layer.tar", layer)
    b.file("manifest.json", json.dumps([{"Config": f"{cid}.json", "Layers": ["l/layer.tar"]}]).encode())
    with pytest.raises(DigestMismatch):
        store.load(io.BytesIO(b.bytes()))
    assert state(store) == (0, 0, []) and list(store.snapshots.walk()) == []


def test_not_an_archive(store: Store) -> None:
    with pytest.raises(CorruptArchive, match="no manifest.json or index.json"):
        store.load(io.BytesIO(TarBuilder().file("hello", b"x").bytes()))


def test_multi_platform_index_selects_the_host(store: Store) -> None:
    """An OCI layout whose index lists the image for several platforms loads the host's."""
    from berth.oci import mediatype as mt
    from berth.oci.descriptor import Descriptor, Platform

    img = two_layers(store)
    files = members(saved(store, "app:2"))
    host = Platform.host()
    other = Platform("linux", "s390x" if host.architecture != "s390x" else "arm64")
    foreign = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
                          "config": {"mediaType": mt.OCI_CONFIG, "digest": "sha256:" + "1" * 64, "size": 2},
                          "layers": []}).encode()
    entries = [Descriptor(mt.OCI_MANIFEST, Digest.from_bytes(foreign), len(foreign), platform=other).to_json(),
               Descriptor(img.media_type, img.manifest_digest, img.manifest_size, platform=host).to_json()]
    nested = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": entries}).encode()
    top = {"schemaVersion": 2, "manifests": [{"mediaType": mt.OCI_INDEX, "digest": str(Digest.from_bytes(nested)),
                                              "size": len(nested),
                                              "annotations": {"io.containerd.image.name": "multi/arch:1"}}]}
    b = TarBuilder().file("oci-layout", files["oci-layout"]).file("index.json", json.dumps(top).encode())
    b.file(f"blobs/sha256/{Digest.from_bytes(nested).encoded}", nested)
    b.file(f"blobs/sha256/{Digest.from_bytes(foreign).encoded}", foreign)
    for name, body in files.items():
        if name.startswith("blobs/"):
            b.file(name, body)
    (loaded,) = store.load(io.BytesIO(b.bytes()))
    assert loaded.id == img.id and "multi/arch:1" in loaded.repo_tags


def test_corrupt_gzip_on_import_is_a_clear_error(store: Store) -> None:
    data = bytearray(gzip.compress(TarBuilder().file("a", os.urandom(50_000)).bytes()))
    data[len(data) // 2] ^= 0xFF
    with pytest.raises(CorruptArchive, match="corrupt compressed data|truncated"):
        store.import_tar(io.BytesIO(bytes(data)), "x:1", [])
    assert state(store) == (0, 0, []) and list(store.content.walk()) == []
