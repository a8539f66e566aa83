"""Hostile layers: nothing may land outside the destination folder, and what is
refused says why. Each tar is built with tarfile, exactly as an attacker would."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from berth.store import layers
from berth.store.errors import UnsafeLayer
from berth.testing.tars import TarBuilder


@pytest.fixture
def box(tmp_path: Path) -> tuple[Path, Path]:
    """(dest, outside): a layer folder and a sibling folder it must never touch."""
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    (outside / "secret").write_text("host data")
    return dest, outside


def untouched(outside: Path) -> bool:
    return sorted(os.listdir(outside)) == ["secret"] and (outside / "secret").read_text() == "host data"


def test_path_traversal_is_refused(box: tuple[Path, Path]) -> None:
    dest, outside = box
    data = TarBuilder().file("ok", b"1").file("../outside/evil", b"pwned").bytes()
    with pytest.raises(UnsafeLayer, match=r"points outside the layer"):
        layers.apply(io.BytesIO(data), str(dest), "none")
    assert untouched(outside)


def test_absolute_path_is_contained(box: tuple[Path, Path]) -> None:
    dest, outside = box
    data = TarBuilder().file(str(outside / "evil"), b"pwned").bytes()
    layers.apply(io.BytesIO(data), str(dest), "none")
    assert untouched(outside)
    assert (dest / str(outside).lstrip("/") / "evil").read_bytes() == b"pwned"


def test_absolute_symlink_then_file_through_it_is_contained(box: tuple[Path, Path]) -> None:
    dest, outside = box
    data = TarBuilder().symlink("escape", str(outside)).file("escape/evil", b"pwned").bytes()
    layers.apply(io.BytesIO(data), str(dest), "none")
    assert untouched(outside)
    # followed as if dest were "/", like a chroot would
    assert (dest / str(outside).lstrip("/") / "evil").read_bytes() == b"pwned"
    assert os.readlink(dest / "escape") == str(outside)  # the link itself is kept as written


def test_relative_symlink_climbing_out_then_file_is_contained(box: tuple[Path, Path]) -> None:
    dest, outside = box
    data = TarBuilder().symlink("up", "../../../../../../outside").file("up/evil", b"pwned").bytes()
    layers.apply(io.BytesIO(data), str(dest), "none")
    assert untouched(outside)
    assert (dest / "outside/evil").read_bytes() == b"pwned"


def test_symlink_chain_loop_is_refused(box: tuple[Path, Path]) -> None:
    dest, outside = box
    data = TarBuilder().symlink("a", "b").symlink("b", "a").file("a/x", b"1").bytes()
    with pytest.raises(UnsafeLayer, match="symbolic links"):
        layers.apply(io.BytesIO(data), str(dest), "none")
    assert untouched(outside)


def test_file_replacing_a_symlink_does_not_write_through_it(box: tuple[Path, Path]) -> None:
    dest, outside = box
    data = TarBuilder().symlink("victim", str(outside / "secret")).file("victim", b"pwned").bytes()
    layers.apply(io.BytesIO(data), str(dest), "none")
    assert untouched(outside)
    assert (dest / "victim").read_bytes() == b"pwned" and not (dest / "victim").is_symlink()


@pytest.mark.parametrize("target", ["../outside/secret", "../../../../etc/passwd"])
def test_hard_link_out_of_the_layer_is_refused(box: tuple[Path, Path], target: str) -> None:
    dest, outside = box
    data = TarBuilder().hardlink("steal", target).bytes()
    with pytest.raises(UnsafeLayer, match="points outside the layer"):
        layers.apply(io.BytesIO(data), str(dest), "none")
    assert untouched(outside)
    assert not (dest / "steal").exists()


def test_hard_link_to_an_absolute_host_path_is_refused(box: tuple[Path, Path]) -> None:
    dest, outside = box
    data = TarBuilder().hardlink("steal", str(outside / "secret")).bytes()
    with pytest.raises(UnsafeLayer, match="not in the layer"):
        layers.apply(io.BytesIO(data), str(dest), "none")
    assert untouched(outside)
    assert os.stat(outside / "secret").st_nlink == 1


def test_hard_link_through_a_symlink_is_refused(box: tuple[Path, Path]) -> None:
    dest, outside = box
    data = TarBuilder().symlink("out", str(outside)).hardlink("steal", "out/secret").bytes()
    with pytest.raises(UnsafeLayer, match="not in the layer"):
        layers.apply(io.BytesIO(data), str(dest), "none")
    assert os.stat(outside / "secret").st_nlink == 1


def test_overlay_private_xattrs_are_dropped(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("trusted.* xattrs need root")
    dest = tmp_path / "dest"
    dest.mkdir()
    data = TarBuilder().file("f", b"1", pax={"SCHILY.xattr.trusted.overlay.redirect": "/etc"}).bytes()
    layers.apply(io.BytesIO(data), str(dest), "none")
    assert "trusted.overlay.redirect" not in os.listxattr(dest / "f")
