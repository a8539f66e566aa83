"""Both snapshotters pass the Snapshotter suite; overlay mounts are built as data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from berth.state import open_database
from berth.store.snapshots import CopySnapshotter, OverlaySnapshotter
from berth.store.snapshots.api import Snapshotter

from .snapshot_suite import CHECKS

KINDS: dict[str, type[OverlaySnapshotter] | type[CopySnapshotter]] = {
    "overlay": OverlaySnapshotter, "copy": CopySnapshotter}


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("kind", KINDS)
def test_snapshotter_suite(kind: str, check: Callable[[Snapshotter], None], tmp_path: Path) -> None:
    db = open_database(str(tmp_path))
    try:
        check(KINDS[kind](str(tmp_path / "snapshots"), db))
    finally:
        db.close()


def test_overlay_mount_options(tmp_path: Path) -> None:
    db = open_database(str(tmp_path))
    sn = OverlaySnapshotter(str(tmp_path / "s"), db)
    sn.prepare("k1")
    sn.commit("L1", "k1")
    assert sn.prepare("bare")[0].type == "bind"  # no parent: the folder itself
    sn.prepare("k2", "L1")
    sn.commit("L2", "k2")
    (mount,) = sn.prepare("c", "L2")
    assert mount.type == "overlay"
    opts = dict(o.partition("=")[::2] for o in mount.options)
    assert opts["lowerdir"] == f"{sn.path('L2')}:{sn.path('L1')}"
    assert opts["upperdir"] == sn.path("c") and opts["workdir"].endswith("/work")
    assert "index=off" in mount.options
    (view,) = sn.view("v", "L2")
    assert view.type == "overlay" and "upperdir" not in view.option_string()
    db.close()


def test_crash_leftovers_are_swept(tmp_path: Path) -> None:
    db = open_database(str(tmp_path))
    sn = OverlaySnapshotter(str(tmp_path / "s"), db)
    (tmp_path / "s" / ".tmp-dead").mkdir()  # a create that died before its rename
    assert sn.tree.sweep() == 1
    db.close()
