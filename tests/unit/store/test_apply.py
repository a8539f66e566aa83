"""Applying layers keeps what a file system holds: owners, modes, times, xattrs, links,
devices; in every compression layers come in."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest
import zstandard

from berth.oci.digest import Digest
from berth.store import layers
from berth.store.layers import compression as comp
from berth.testing.tars import TarBuilder

from .conftest import ROOT, needs_root


def rich_layer() -> bytes:
    b = TarBuilder().dir("bin/", mode=0o755, mtime=1_500_000_000)
    b.file("bin/tool", b"#!/bin/sh\n", mode=0o4755, uid=0, gid=0, mtime=1_500_000_001)
    b.file("home/user/notes", b"mine", mode=0o600, uid=1000, gid=1000)
    b.file("bin/cap", b"x", pax={"SCHILY.xattr.user.origin": "layer"})
    b.hardlink("bin/tool-link", "bin/tool").symlink("bin/sh", "/bin/busybox")
    b.device("dev/null", tarfile.CHRTYPE, 1, 3).device("run/fifo", tarfile.FIFOTYPE, 0, 0)
    return b.bytes()


@pytest.mark.parametrize("codec", ["none", "gzip", "zstd"])
def test_every_compression_and_the_diff_id(tmp_path: Path, codec: str) -> None:
    data = rich_layer()
    blob = data
    if codec == "gzip":
        out = io.BytesIO()
        sink = comp.Compressor(out, comp.GZIP)
        sink.write(data)
        sink.close()
        blob = out.getvalue()
    elif codec == "zstd":
        blob = zstandard.ZstdCompressor().compress(data)
    assert comp.detect(blob[:6]) == codec
    result = layers.apply(io.BytesIO(blob), str(tmp_path), "auto")
    assert result.diff_id == Digest.from_bytes(data)  # of the uncompressed tar, whatever the codec
    assert result.size == len(b"#!/bin/sh\n") + 4 + 1
    assert (tmp_path / "bin/tool").read_bytes() == b"#!/bin/sh\n"


def test_metadata_is_kept(tmp_path: Path) -> None:
    layers.apply(io.BytesIO(rich_layer()), str(tmp_path), "none")
    tool = os.lstat(tmp_path / "bin/tool")
    assert stat.S_IMODE(tool.st_mode) == 0o4755 and tool.st_mtime == 1_500_000_001
    assert os.lstat(tmp_path / "bin").st_mtime == 1_500_000_000  # folders' times set last
    assert os.lstat(tmp_path / "bin/tool-link").st_ino == tool.st_ino and tool.st_nlink == 2
    assert os.readlink(tmp_path / "bin/sh") == "/bin/busybox"
    assert stat.S_ISFIFO(os.lstat(tmp_path / "run/fifo").st_mode)
    assert os.getxattr(tmp_path / "bin/cap", "user.origin") == b"layer"
    if ROOT:
        notes = os.lstat(tmp_path / "home/user/notes")
        assert (notes.st_uid, notes.st_gid, stat.S_IMODE(notes.st_mode)) == (1000, 1000, 0o600)
        null = os.lstat(tmp_path / "dev/null")
        assert stat.S_ISCHR(null.st_mode) and os.major(null.st_rdev) == 1 and os.minor(null.st_rdev) == 3


@needs_root
def test_apply_then_diff_round_trip(tmp_path: Path) -> None:
    """A folder written by a layer diffs back to an equivalent layer."""
    first = tmp_path / "a"
    first.mkdir()
    layers.apply(io.BytesIO(rich_layer()), str(first), "none")
    out = io.BytesIO()
    layers.write_diff(str(first), [], out)
    second = tmp_path / "b"
    second.mkdir()
    layers.apply(io.BytesIO(out.getvalue()), str(second), "none")
    listing = {}
    for base in (first, second):
        entries = {}
        for folder, dirs, files in os.walk(base):
            for name in dirs + files:
                p = os.path.join(folder, name)
                st = os.lstat(p)
                entries[os.path.relpath(p, base)] = (st.st_mode, st.st_uid, st.st_size, int(st.st_mtime),
                                                     st.st_rdev)
        listing[base.name] = entries
    assert listing["a"] == listing["b"]


def test_hard_link_to_a_lower_file_is_copied_up(tmp_path: Path) -> None:
    if not ROOT:
        pytest.skip("overlay mode needs root")
    lower = tmp_path / "lower"
    (lower / "usr/bin").mkdir(parents=True)
    (lower / "usr/bin/python3.11").write_bytes(b"python")
    upper = tmp_path / "upper"
    upper.mkdir()
    layers.apply(io.BytesIO(TarBuilder().hardlink("usr/bin/python3", "usr/bin/python3.11").bytes()),
                 str(upper), "none", lowers=[str(lower)])
    assert (upper / "usr/bin/python3").read_bytes() == b"python"
    assert os.lstat(upper / "usr/bin/python3").st_ino == os.lstat(upper / "usr/bin/python3.11").st_ino


def test_paths_through_a_lower_layers_symlink_follow_it(tmp_path: Path) -> None:
    """usrmerge: /bin is a symlink to usr/bin in the base layer; a later layer's bin/x
    must land in usr/bin, or the new folder would hide every command."""
    if not ROOT:
        pytest.skip("overlay mode needs root")
    lower = tmp_path / "lower"
    (lower / "usr/bin").mkdir(parents=True)
    os.symlink("usr/bin", lower / "bin")
    upper = tmp_path / "upper"
    upper.mkdir()
    layers.apply(io.BytesIO(TarBuilder().file("bin/new", b"1").bytes()), str(upper), "none", lowers=[str(lower)])
    assert (upper / "usr/bin/new").read_bytes() == b"1"
    assert not (upper / "bin").exists()


def test_diff_as_a_stream_matches_write_diff(tmp_path: Path) -> None:
    layers.apply(io.BytesIO(rich_layer()), str(tmp_path), "none")
    direct = io.BytesIO()
    result = layers.write_diff(str(tmp_path), [], direct, kind="trees")
    with layers.diff(str(tmp_path), [], kind="trees") as stream:
        streamed = b"".join(iter(lambda: stream.read(4096), b""))
    assert streamed == direct.getvalue()
    assert Digest.from_bytes(streamed) == result.diff_id


def test_diff_stream_raises_what_went_wrong(tmp_path: Path) -> None:
    stream = layers.diff(str(tmp_path / "missing"), [])
    with pytest.raises(FileNotFoundError):
        while stream.read(4096):
            pass
