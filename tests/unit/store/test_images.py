"""Image names: Docker's normalisation, resolution order, ID prefixes, tags and rmi rules."""

from __future__ import annotations

import io

import pytest

from berth.errors import Conflict, ImageNotFound, InvalidArgument, InvalidReference
from berth.store import Image, Store
from berth.testing.tars import TarBuilder


def image(store: Store, content: bytes, ref: str | None = None) -> Image:
    data = TarBuilder().file("f", content).bytes()
    return store.import_tar(io.BytesIO(data), ref, ['CMD ["sh"]'])


def test_names_are_normalised(store: Store) -> None:
    img = image(store, b"1", "busybox")
    assert img.repo_tags == ("busybox:latest",)
    for text in ("busybox", "busybox:latest", "library/busybox", "docker.io/library/busybox:latest",
                 "index.docker.io/library/busybox"):
        assert store.images.get(text).id == img.id
    assert store.images.get("busybox").names == ("docker.io/library/busybox:latest",)


def test_ids_and_unique_prefixes(store: Store) -> None:
    img = image(store, b"1")
    hexid = img.id.encoded
    for text in (str(img.id), hexid, hexid[:12], hexid[:3], "sha256:" + hexid[:5]):
        assert store.images.get(text).id == img.id


def test_ambiguous_prefix_is_an_error(store: Store) -> None:
    ids = [image(store, str(i).encode()).id.encoded for i in range(40)]
    shared = next(a[0] for a in ids for b in ids if a != b and a[0] == b[0])
    with pytest.raises(InvalidArgument, match="more than one"):
        store.images.get(shared)


def test_a_tag_wins_over_an_id_prefix(store: Store) -> None:
    first = image(store, b"1")
    second = image(store, b"2")
    prefix = first.id.encoded[:4]
    store.images.tag(second, prefix)  # a repository named like the other image's ID prefix
    assert store.images.get(prefix).id == second.id
    assert store.images.get(first.id.encoded[:10]).id == first.id


def test_digest_reference(store: Store) -> None:
    img = image(store, b"1", "app:1")
    assert store.images.get(f"app@{img.manifest_digest}").id == img.id
    store.images.add_digest(img, "registry.local:5000/app", img.manifest_digest)
    again = store.images.get(f"registry.local:5000/app@{img.manifest_digest}")
    assert again.repo_digests == (f"registry.local:5000/app@{img.manifest_digest}",)


@pytest.mark.parametrize("bad", ["UPPER", "a b", "name:", ":tag", "x@sha256:12", "a//b", ""])
def test_bad_references(store: Store, bad: str) -> None:
    with pytest.raises(InvalidReference):
        store.images.get(bad)


def test_not_found(store: Store) -> None:
    with pytest.raises(ImageNotFound):
        store.images.get("nothing:here")


def test_tag_moves_and_refuses_digests(store: Store) -> None:
    a, b = image(store, b"1", "app:1"), image(store, b"2")
    _, previous = store.images.tag(b, "app:1")
    assert previous == a.id
    assert store.images.get("app:1").id == b.id
    with pytest.raises(InvalidReference):
        store.images.tag(b, f"app@{b.manifest_digest}")


def test_rmi_rules(store: Store) -> None:
    img = image(store, b"1", "app:1")
    store.images.tag(img, "app:2")
    assert store.images.remove("app:1") == [("Untagged", "app:1")]  # another name remains
    store.images.tag(img, "other:1")
    with pytest.raises(Conflict, match="multiple repositories"):
        store.images.remove(img.id.short)
    actions = store.images.remove(img.id.short, force=True)
    assert ("Untagged", "app:2") in actions and ("Untagged", "other:1") in actions
    assert ("Deleted", str(img.id)) in actions
    with pytest.raises(ImageNotFound):
        store.images.get(str(img.id))


def test_rmi_refuses_while_a_container_uses_the_image(store: Store) -> None:
    img = image(store, b"1", "app:1")
    store.prepare_rootfs("container-1", img, {})
    with pytest.raises(Conflict, match="container container-1"):
        store.images.remove("app:1")
    store.images.remove("app:1", force=True)
    # the container's snapshot keeps its layers through gc
    store.gc()
    assert store.snapshots.stat("container-1").parent == str(img.top_chain_id)
    store.snapshots.remove("container-1")
    result = store.gc()
    assert str(img.top_chain_id) in result.snapshots
