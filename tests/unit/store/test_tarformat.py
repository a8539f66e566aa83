"""Our tar reader and writer against Python's tarfile, both ways."""

from __future__ import annotations

import io
import tarfile

import pytest

from berth.store.errors import CorruptArchive
from berth.store.layers import tarformat as tf
from berth.testing.tars import TarBuilder


def read_all(data: bytes) -> list[tuple[tf.Entry, bytes]]:
    reader = tf.TarReader(tf.StreamSource(io.BytesIO(data), chunk=4096))
    out = []
    for entry in reader:
        buf = bytearray()
        if entry.is_regular:
            reader.read_into(entry, buf.extend)
        out.append((entry, bytes(buf)))
    return out


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_reads_what_tarfile_writes(fmt: int) -> None:
    long = "deep/" * 30 + "name.txt"  # > 100 bytes: ustar prefix, GNU longname or PAX path
    b = TarBuilder(fmt).dir("deep/").file("a.txt", b"alpha", mode=0o4755, uid=1000, gid=50)
    b.file(long[:250] if fmt != tarfile.USTAR_FORMAT else "p/" * 60 + "x", b"long")
    b.symlink("link", "a.txt").hardlink("hard", "a.txt")
    b.device("null", tarfile.CHRTYPE, 1, 3)
    entries = read_all(b.bytes())
    names = [e.name for e, _ in entries]
    assert names[1] == "a.txt" and entries[1][1] == b"alpha"
    first = entries[1][0]
    assert (first.mode, first.uid, first.gid, first.mtime_ns) == (0o4755, 1000, 50, 1_600_000_000 * 10**9)
    assert entries[2][1] == b"long" and len(entries[2][0].name) > 100
    assert (entries[3][0].type, entries[3][0].linkname) == (tf.SYM, "a.txt")
    assert (entries[4][0].type, entries[4][0].linkname) == (tf.LNK, "a.txt")
    assert (entries[5][0].devmajor, entries[5][0].devminor) == (1, 3)


def test_pax_xattrs_and_big_ids() -> None:
    b = TarBuilder().file("f", b"x", uid=5_000_000, pax={"SCHILY.xattr.user.k": "v", "mtime": "1600000000.5"})
    (entry, _), = read_all(b.bytes())
    assert entry.xattrs == {"user.k": b"v"}
    assert entry.uid == 5_000_000
    assert entry.mtime_ns == 1_600_000_000_500_000_000


def test_writer_output_is_read_by_tarfile() -> None:
    out = io.BytesIO()
    w = tf.TarWriter(out)
    w.add(tf.Entry(name="dir/", type=tf.DIR, mode=0o755))
    w.add(tf.Entry(name="dir/" + "x" * 150, size=3, mode=0o600, uid=3_000_000), data=b"abc")
    w.add(tf.Entry(name="caps", size=0, xattrs={"security.capability": b"\x01\x00\xff"}))
    w.add(tf.Entry(name="ln", type=tf.SYM, linkname="/" + "t" * 120))
    w.close()
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as t:
        members = t.getmembers()
        assert [m.name for m in members] == ["dir", "dir/" + "x" * 150, "caps", "ln"]
        assert members[1].uid == 3_000_000
        assert t.extractfile(members[1]).read() == b"abc"  # type: ignore[union-attr]
        assert members[3].linkname == "/" + "t" * 120
    # and our reader gets the binary xattr back byte for byte
    assert read_all(out.getvalue())[2][0].xattrs == {"security.capability": b"\x01\x00\xff"}


def test_corrupt_header_is_a_clear_error() -> None:
    data = bytearray(TarBuilder().file("a", b"x" * 10).bytes())
    data[10] ^= 0xFF
    with pytest.raises(CorruptArchive, match="checksum: not a tar stream"):
        read_all(bytes(data))


def test_truncated_stream_is_a_clear_error() -> None:
    data = TarBuilder().file("a", b"x" * 5000).bytes()
    with pytest.raises(CorruptArchive, match="unexpected end"):
        read_all(data[:2048])
