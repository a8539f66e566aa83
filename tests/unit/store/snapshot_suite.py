"""The Snapshotter conformance suite (metadata and folders; mounting is tested in
tests/integration/store). Every implementation runs every check on a fresh one."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from berth.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from berth.store.snapshots.api import Kind, Snapshotter


def _layer(sn: Snapshotter, name: str, parent: str | None, files: dict[str, str]) -> None:
    key = f"extract-{name}"
    sn.prepare(key, parent)
    upper = sn.layout(key).upper
    for rel, text in files.items():
        with open(os.path.join(upper, rel), "w") as f:
            f.write(text)
    sn.commit(name, key, {"layer": name})


def lifecycle(sn: Snapshotter) -> None:
    _layer(sn, "L1", None, {"a": "1"})
    _layer(sn, "L2", "L1", {"b": "2"})
    info = sn.stat("L2")
    assert (info.kind, info.parent, info.labels) == (Kind.COMMITTED, "L1", {"layer": "L2"})
    with pytest.raises(NotFound):
        sn.stat("extract-L2")  # committing consumes the active key
    mounts = sn.prepare("c1", "L2", {"owner": "test"})
    assert len(mounts) == 1
    assert sn.mounts("c1") == mounts
    assert sn.stat("c1").kind is Kind.ACTIVE and sn.stat("c1").labels == {"owner": "test"}
    assert {i.key for i in sn.walk()} == {"L1", "L2", "c1"}
    layout = sn.layout("c1")
    assert os.path.isdir(layout.upper) and layout.upper == sn.path("c1")
    sn.remove("c1")
    assert not os.path.exists(layout.upper)
    with pytest.raises(NotFound):
        sn.stat("c1")


def overlay_layout_lists_parents_top_first(sn: Snapshotter) -> None:
    _layer(sn, "L1", None, {"a": "1"})
    _layer(sn, "L2", "L1", {"b": "2"})
    sn.prepare("c", "L2")
    layout = sn.layout("c")
    if layout.whiteouts == "overlay":
        assert layout.lowers == (sn.path("L2"), sn.path("L1"))
        assert os.listdir(layout.upper) == []  # nothing copied
    else:
        assert sorted(os.listdir(layout.upper)) == ["a", "b"]  # a full copy of the parent
        assert layout.lowers == (sn.path("L2"),)


def errors(sn: Snapshotter) -> None:
    _layer(sn, "L1", None, {"a": "1"})
    sn.prepare("active", "L1")
    with pytest.raises(AlreadyExists):
        sn.prepare("active", "L1")
    with pytest.raises(NotFound):
        sn.prepare("x", "no-such-parent")
    with pytest.raises(InvalidArgument):
        sn.prepare("y", "active")  # a parent must be committed
    with pytest.raises(Conflict):
        sn.remove("L1")  # 'active' is built on it
    with pytest.raises(AlreadyExists):
        sn.commit("L1", "active")
    with pytest.raises(InvalidArgument):
        sn.commit("L9", "L1")  # only active snapshots commit
    assert not [n for n in os.listdir(os.path.dirname(os.path.dirname(sn.path("L1")))) if n.startswith(".tmp-")]


def view_is_read_only(sn: Snapshotter) -> None:
    _layer(sn, "L1", None, {"a": "1"})
    mounts = sn.view("v", "L1")
    assert "ro" in mounts[0].options
    assert sn.stat("v").kind is Kind.VIEW


def usage_counts_own_files(sn: Snapshotter) -> None:
    _layer(sn, "L1", None, {"a": "12345"})
    usage = sn.usage("L1")
    assert (usage.size, usage.inodes) == (5, 1)


CHECKS: list[Callable[[Snapshotter], None]] = [
    lifecycle,
    overlay_layout_lists_parents_top_first,
    errors,
    view_is_read_only,
    usage_counts_own_files,
]
