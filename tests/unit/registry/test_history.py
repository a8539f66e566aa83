"""Tag moves, their history, and rollback."""

from __future__ import annotations

import threading

import pytest

from berth.oci.digest import Digest
from berth.registry.server import history
from berth.registry.server.errors import ManifestUnknown, ParameterInvalid
from berth.registry.server.history import TagMove, rollback_target
from berth.registry.server.registry import Registry
from berth.registry.server.tags import Actor

from .conftest import ALICE, push_image

A, B, C = (Digest.from_bytes(x) for x in (b"a", b"b", b"c"))


def moves(*targets: Digest | None) -> list[TagMove]:
    out: list[TagMove] = []
    previous = None
    for target in targets:
        out.append(TagMove("t", "u", "push", previous, target))
        previous = target
    return out


def test_steps_count_moves_back_like_a_reflog() -> None:
    log = moves(A, B, C)
    assert rollback_target(log) == B
    assert rollback_target(log, steps=1) == B
    assert rollback_target(log, steps=2) == A
    with pytest.raises(ManifestUnknown):
        rollback_target(log, steps=3)
    with pytest.raises(ParameterInvalid):
        rollback_target(log, steps=0)
    with pytest.raises(ParameterInvalid):
        rollback_target(log, to=A, steps=1)


def test_to_must_be_a_digest_the_tag_held() -> None:
    log = moves(A, B)
    assert rollback_target(log, to=A) == A
    with pytest.raises(ManifestUnknown):
        rollback_target(log, to=C)


def test_a_step_that_lands_on_a_deletion_is_refused() -> None:
    with pytest.raises(ManifestUnknown, match="deleted"):
        rollback_target(moves(A, None, B), steps=1)


def test_history_file_round_trips_and_skips_torn_lines() -> None:
    log = [TagMove("2026-01-01T00:00:00.000000Z", "alice", "push", None, A, "10.0.0.1"), *moves(B)]
    data = history.encode(log)
    assert history.decode(data) == log
    assert history.decode(data + b'{"time": "x", "user"') == log
    assert history.decode(b"not json\n" + data) == log


def test_moves_are_recorded_with_who_when_and_from_to(registry: Registry) -> None:
    first, _ = push_image(registry, "app", "prod")
    second, _ = push_image(registry, "app", "prod", actor=Actor("bob", "10.1.1.1"))
    push_image(registry, "app", "other")
    tags = registry.repository("app").tags
    log = tags.history("prod")
    assert [(m.user, m.action, m.previous, m.current) for m in log] == [
        ("alice", "push", None, first),
        ("bob", "push", first, second),
    ]
    assert log[1].remote == "10.1.1.1"
    assert log[0].time <= log[1].time
    assert tags.names() == ["other", "prod"]


def test_pushing_the_same_digest_again_records_nothing(registry: Registry) -> None:
    digest, _ = push_image(registry, "app", "prod")
    data = registry.blobs.read(digest)
    registry.manifests("app").put("prod", data, None, ALICE)
    assert len(registry.repository("app").tags.history("prod")) == 1


def test_rollback_is_itself_a_recorded_move(registry: Registry) -> None:
    first, _ = push_image(registry, "app", "prod")
    second, _ = push_image(registry, "app", "prod")
    move = registry.rollback("app", "prod", Actor("carol"))
    assert (move.action, move.previous, move.current, move.user) == ("rollback", second, first, "carol")
    assert registry.repository("app").tags.get("prod") == first
    registry.rollback("app", "prod", Actor("carol"))  # undo the undo
    assert registry.repository("app").tags.get("prod") == second
    assert len(registry.repository("app").tags.history("prod")) == 4


def test_rollback_restores_a_deleted_manifest_and_its_links(registry: Registry) -> None:
    first, blobs = push_image(registry, "app", "prod")
    push_image(registry, "app", "prod")
    store = registry.manifests("app")
    store.delete(str(first), ALICE)
    repo = registry.repository("app")
    for digest in blobs:
        repo.unlink_blob(digest)
    assert not repo.has_manifest(first)
    registry.rollback("app", "prod", ALICE, to=first)
    assert store.get("prod").digest == first
    assert all(repo.has_blob(d) for d in blobs)


def test_deleting_a_tag_is_a_move_to_nothing(registry: Registry) -> None:
    digest, _ = push_image(registry, "app", "prod")
    registry.manifests("app").delete("prod", Actor("dave"))
    tags = registry.repository("app").tags
    assert tags.names() == []
    assert tags.history("prod")[-1].to_json()["to"] is None
    registry.rollback("app", "prod", ALICE)
    assert tags.get("prod") == digest


def test_concurrent_moves_lose_no_entry(registry: Registry) -> None:
    digests = [push_image(registry, "app", layers=1)[0] for _ in range(4)]
    tags = registry.repository("app").tags
    recorded: list[TagMove] = []

    def mover(n: int) -> None:
        for i in range(10):
            move = tags.move("hot", digests[(n + i) % 4], Actor(f"u{n}"), "push")
            if move is not None:
                recorded.append(move)

    threads = [threading.Thread(target=mover, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log = tags.history("hot")
    assert len(log) == len(recorded) >= 1
    for before, after in zip(log, log[1:], strict=False):
        assert after.previous == before.current  # an unbroken chain: nothing lost, nothing stale
    assert log[-1].current == tags.get("hot")
