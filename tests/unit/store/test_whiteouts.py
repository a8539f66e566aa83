"""Whiteouts both ways: layer tar → overlay upper folder → layer tar."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

from berth.store import layers
from berth.store.layers import whiteout as wh
from berth.testing.tars import TarBuilder

from .conftest import needs_root


def lower(tmp_path: Path) -> Path:
    base = tmp_path / "lower"
    (base / "etc").mkdir(parents=True)
    (base / "etc/gone").write_text("x")
    (base / "etc/kept").write_text("k")
    (base / "opt/old").mkdir(parents=True)
    (base / "opt/old/file").write_text("o")
    return base


def layer2() -> bytes:
    return (TarBuilder().file("etc/.wh.gone").dir("opt/").file("opt/.wh..wh..opq")
            .file("opt/new", b"n").bytes())


@needs_root
def test_tar_whiteouts_become_overlay_whiteouts(tmp_path: Path) -> None:
    low = lower(tmp_path)
    upper = tmp_path / "upper"
    upper.mkdir()
    result = layers.apply(io.BytesIO(layer2()), str(upper), "none", lowers=[str(low)])
    st = os.lstat(upper / "etc/gone")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert wh.is_opaque(str(upper / "opt"))
    assert (upper / "opt/new").read_bytes() == b"n"
    assert not (upper / "etc/.wh.gone").exists() and not (upper / "opt/.wh..wh..opq").exists()
    assert result.entries == 4


@needs_root
def test_overlay_whiteouts_become_tar_whiteouts(tmp_path: Path) -> None:
    low = lower(tmp_path)
    upper = tmp_path / "upper"
    upper.mkdir()
    layers.apply(io.BytesIO(layer2()), str(upper), "none", lowers=[str(low)])
    out = io.BytesIO()
    result = layers.write_diff(str(upper), [str(low)], out)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as t:
        names = t.getnames()
    assert names == ["etc", "etc/.wh.gone", "opt", "opt/.wh..wh..opq", "opt/new"]
    # the diff ID is the digest of exactly what was written
    from berth.oci.digest import Digest

    assert result.diff_id == Digest.from_bytes(out.getvalue())
    assert layers.changes(str(upper), [str(low)]) == [("C", "/etc"), ("D", "/etc/gone"), ("D", "/opt"),
                                                       ("A", "/opt/new")]


def test_delete_mode_applies_whiteouts_for_real(tmp_path: Path) -> None:
    tree = lower(tmp_path)
    layers.apply(io.BytesIO(layer2()), str(tree), "none", mode="delete")
    assert not (tree / "etc/gone").exists() and (tree / "etc/kept").exists()
    assert sorted(os.listdir(tree / "opt")) == ["new"]  # the opaque dir hid opt/old


def test_opaque_keeps_entries_of_the_same_layer_in_delete_mode(tmp_path: Path) -> None:
    tree = lower(tmp_path)
    data = TarBuilder().file("opt/mine/a", b"1").file("opt/.wh..wh..opq").bytes()  # marker after the entry
    layers.apply(io.BytesIO(data), str(tree), "none", mode="delete")
    assert sorted(os.listdir(tree / "opt")) == ["mine"]
    assert (tree / "opt/mine/a").read_bytes() == b"1"


def test_tree_diff_finds_changes_and_deletions(tmp_path: Path) -> None:
    old = lower(tmp_path)
    new = tmp_path / "new"
    os.system(f"cp -a {old} {new}")
    (new / "etc/gone").unlink()
    (new / "etc/added").write_text("a")
    out = io.BytesIO()
    layers.write_diff(str(new), [str(old)], out, kind="trees")
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as t:
        names = t.getnames()
    assert "etc/.wh.gone" in names and "etc/added" in names and "etc/kept" not in names
