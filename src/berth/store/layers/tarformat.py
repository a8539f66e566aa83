"""Reading and writing tar streams: ustar, GNU long names and PAX, as layers use them.

Our own reader instead of :mod:`tarfile` because applying a layer is a hot path: it reads
headers from a large buffer, hands file data straight to ``os.write`` (or to
``copy_file_range`` when the layer is an uncompressed file), keeps xattrs as raw bytes
(``SCHILY.xattr.*``, as Go's archive/tar writes them) and hashes the stream as it goes so
the diff ID comes for free. The writer emits what Go's archive/tar (and so Docker) emits:
ustar headers, with a PAX header first when a field does not fit.

Not supported, with a clear error: GNU and PAX sparse files and multi-volume archives,
which no image tool writes into layers.
"""

from __future__ import annotations

import errno
import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from berth.errors import Unsupported
from berth.store.errors import CorruptArchive

BLOCK = 512
ZERO = bytes(BLOCK)
END = bytes(2 * BLOCK)

REG = b"0"
AREG = b"\0"
LNK = b"1"
SYM = b"2"
CHR = b"3"
BLK = b"4"
DIR = b"5"
FIFO = b"6"
CONT = b"7"
PAX = b"x"
PAX_GLOBAL = b"g"
GNU_LONGNAME = b"L"
GNU_LONGLINK = b"K"

_HEADER_ONLY = frozenset({LNK, SYM, CHR, BLK, DIR, FIFO})
_EXTENDED = frozenset({PAX, PAX_GLOBAL, GNU_LONGNAME, GNU_LONGLINK})
_UNSUPPORTED = frozenset({b"S", b"M"})
_REGULAR = frozenset({REG, AREG, CONT})


class _Hasher(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...


@dataclass(slots=True)
class Entry:
    """One member of a tar stream. ``name`` is the path as the archive spells it."""

    name: str
    type: bytes = REG
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    size: int = 0
    mtime_ns: int = 0
    linkname: str = ""
    devmajor: int = 0
    devminor: int = 0
    uname: str = ""
    gname: str = ""
    xattrs: dict[str, bytes] = field(default_factory=dict)

    @property
    def is_regular(self) -> bool:
        return self.type in _REGULAR

    @property
    def is_dir(self) -> bool:
        return self.type == DIR


def padding(size: int) -> int:
    return -size % BLOCK


# --------------------------------------------------------------------------- sources


class StreamSource:
    """A non-seekable byte stream read through one large buffer, optionally hashed."""

    def __init__(self, raw: object, hasher: _Hasher | None = None, chunk: int = 1 << 20) -> None:
        self._read = raw.read  # type: ignore[attr-defined]
        self._hash = hasher
        self._chunk = chunk
        self._buf = memoryview(b"")
        self._pos = 0

    def _next(self) -> memoryview:
        data = self._read(self._chunk)
        if data and self._hash is not None:
            self._hash.update(data)
        return memoryview(data)

    def read(self, n: int) -> bytes:
        """Exactly ``n`` bytes; b"" at a clean end of stream; CorruptArchive if cut short."""
        end = self._pos + n
        if end <= len(self._buf):
            out = self._buf[self._pos : end].tobytes()
            self._pos = end
            return out
        parts = [self._buf[self._pos :].tobytes()]
        have = len(parts[0])
        while have < n:
            self._buf = self._next()
            self._pos = 0
            if not self._buf:
                if have == 0:
                    return b""
                raise CorruptArchive("tar: unexpected end of stream")
            take = min(n - have, len(self._buf))
            parts.append(self._buf[:take].tobytes())
            self._pos = take
            have += take
        return b"".join(parts)

    def copy_to(self, fd: int | None, n: int) -> None:
        """Pass the next ``n`` bytes to ``fd`` (or drop them when ``fd`` is None)."""
        while n:
            if self._pos >= len(self._buf):
                self._buf = self._next()
                self._pos = 0
                if not self._buf:
                    raise CorruptArchive("tar: unexpected end of stream inside a file")
            take = min(n, len(self._buf) - self._pos)
            if fd is not None:
                _write_all(fd, self._buf[self._pos : self._pos + take])
            self._pos += take
            n -= take

    def copy_into(self, write: Callable[[memoryview], object], n: int) -> None:
        """Hand the next ``n`` bytes to ``write`` in large pieces."""
        while n:
            if self._pos >= len(self._buf):
                self._buf = self._next()
                self._pos = 0
                if not self._buf:
                    raise CorruptArchive("tar: unexpected end of stream inside a file")
            take = min(n, len(self._buf) - self._pos)
            write(self._buf[self._pos : self._pos + take])
            self._pos += take
            n -= take

    def drain(self) -> None:
        """Read to the end so a hash covers the whole stream (the zero blocks after the
        end-of-archive marker belong to the diff ID too)."""
        self._pos = len(self._buf)
        while self._next():
            pass


class FileSource:
    """An uncompressed tar in a regular file: headers by pread, file data by
    copy_file_range, so file contents never pass through Python."""

    _WINDOW = 1 << 20

    def __init__(self, fd: int, start: int = 0) -> None:
        self._fd = fd
        self._off = start  # file offset of the next unread byte
        self._buf = b""
        self._buf_start = start
        self._in_kernel = True

    def _buffered(self, n: int) -> bytes:
        rel = self._off - self._buf_start
        if 0 <= rel and rel + n <= len(self._buf):
            return self._buf[rel : rel + n]
        self._buf = os.pread(self._fd, max(n, self._WINDOW), self._off)
        self._buf_start = self._off
        return self._buf[:n]

    def read(self, n: int) -> bytes:
        data = self._buffered(n)
        if len(data) < n:
            if not data:
                return b""
            raise CorruptArchive("tar: unexpected end of file")
        self._off += n
        return data

    def copy_to(self, fd: int | None, n: int) -> None:
        if fd is None:
            self._off += n
            return
        rel = self._off - self._buf_start
        if 0 <= rel < len(self._buf):
            take = min(n, len(self._buf) - rel)
            _write_all(fd, memoryview(self._buf)[rel : rel + take])
            self._off += take
            n -= take
        while n:
            if self._in_kernel:
                try:
                    done = os.copy_file_range(self._fd, fd, n, self._off)
                except OSError as err:
                    if err.errno not in (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                        raise
                    self._in_kernel = False
                    continue
            else:
                chunk = os.pread(self._fd, min(n, 1 << 20), self._off)
                _write_all(fd, chunk)
                done = len(chunk)
            if done == 0:
                raise CorruptArchive("tar: unexpected end of file inside a file")
            self._off += done
            n -= done

    def drain(self) -> None:
        pass


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


Source = StreamSource | FileSource


# --------------------------------------------------------------------------- reader


_HEADER = struct.Struct("100s8s8s8s12s12s8sc100s8s32s32s8s8s155s12x")


def _octal(field: bytes, what: str) -> int:
    if field and field[0] & 0x80:  # GNU base-256 for values that do not fit in octal
        if field[0] == 0xFF:
            return int.from_bytes(field, "big", signed=True)
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    try:
        return int(field.split(b"\0", 1)[0] or b"0", 8)
    except ValueError:
        text = field.split(b"\0", 1)[0].strip()
        if not text:
            return 0
        raise CorruptArchive(f"tar: invalid {what} field {text!r}") from None


def _cstr(field: bytes) -> bytes:
    return field.split(b"\0", 1)[0]


def _parse_pax(data: bytes) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    pos = 0
    while pos < len(data) and data[pos] != 0:
        space = data.find(b" ", pos)
        if space < 0:
            raise CorruptArchive("tar: malformed PAX record")
        try:
            length = int(data[pos:space])
        except ValueError:
            raise CorruptArchive("tar: malformed PAX record length") from None
        record = data[space + 1 : pos + length]
        if length <= 0 or pos + length > len(data) or not record.endswith(b"\n") or b"=" not in record:
            raise CorruptArchive("tar: malformed PAX record")
        key, _, value = record[:-1].partition(b"=")
        out[key.decode("utf-8", "surrogateescape")] = value
        pos += length
    return out


def _mtime_ns(text: bytes) -> int:
    whole, _, frac = text.decode("ascii", "replace").partition(".")
    try:
        seconds = int(whole)
        nanos = int((frac + "000000000")[:9]) if frac else 0
    except ValueError:
        raise CorruptArchive(f"tar: invalid PAX mtime {text!r}") from None
    return seconds * 1_000_000_000 + (nanos if seconds >= 0 else -nanos)


class TarReader:
    """Iterates the entries of a tar stream. File data must be consumed with
    :meth:`copy_data` before the next entry, or it is skipped."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self._pending = 0  # data + padding of the current entry not yet consumed
        self._global: dict[str, bytes] = {}

    def __iter__(self) -> Iterator[Entry]:
        while (entry := self.next()) is not None:
            yield entry

    def copy_data(self, entry: Entry, fd: int | None) -> None:
        if self._pending:
            self.source.copy_to(fd, entry.size)
            self.source.copy_to(None, self._pending - entry.size)
            self._pending = 0

    def read_into(self, entry: Entry, write: Callable[[memoryview], object]) -> None:
        """Hand a regular file's data to ``write`` (StreamSource only)."""
        if not isinstance(self.source, StreamSource):
            raise TypeError("read_into needs a StreamSource")
        if self._pending:
            self.source.copy_into(write, entry.size)
            self.source.copy_to(None, self._pending - entry.size)
            self._pending = 0

    def next(self) -> Entry | None:
        if self._pending:
            self.source.copy_to(None, self._pending)
            self._pending = 0
        pax: dict[str, bytes] = {}
        longname: bytes | None = None
        longlink: bytes | None = None
        while True:
            block = self.source.read(BLOCK)
            if not block or block == ZERO:
                return None  # end of archive (or a stream without the marker)
            (name, mode, uid, gid, size_f, mtime, chksum, kind, linkname, magic,
             _uname, _gname, devmajor, devminor, prefix) = _HEADER.unpack(block)
            try:
                stored = _octal(chksum, "checksum")
            except CorruptArchive:
                stored = -1
            if stored != sum(block) - sum(chksum) + 256 and stored != _signed_sum(block):
                raise CorruptArchive("tar: bad header checksum: not a tar stream, or a corrupt one")
            size = _octal(size_f, "size")
            if size < 0:
                raise CorruptArchive("tar: negative size")
            if kind in _EXTENDED:
                if size > 16 << 20:
                    raise CorruptArchive(f"tar: {size}-byte extended header is implausibly large")
                data = self.source.read(size + padding(size))[:size] if size else b""
                if len(data) < size:
                    raise CorruptArchive("tar: unexpected end of stream in an extended header")
                if kind == PAX:
                    pax.update(_parse_pax(data))
                elif kind == PAX_GLOBAL:
                    self._global.update(_parse_pax(data))
                elif kind == GNU_LONGNAME:
                    longname = _cstr(data)
                else:
                    longlink = _cstr(data)
                continue
            if longname is not None:
                name = longname
            else:
                name = name.split(b"\0", 1)[0]
                if magic == b"ustar\x0000" and prefix[0]:  # POSIX ustar splits long paths
                    name = _cstr(prefix) + b"/" + name
            entry = Entry(
                name="",
                type=kind,
                mode=_octal(mode, "mode") & 0o7777,
                uid=_octal(uid, "uid"),
                gid=_octal(gid, "gid"),
                size=size,
                mtime_ns=_octal(mtime, "mtime") * 1_000_000_000,
            )
            if kind == CHR or kind == BLK:
                entry.devmajor = _octal(devmajor, "devmajor")
                entry.devminor = _octal(devminor, "devminor")
            link = longlink if longlink is not None else linkname.split(b"\0", 1)[0]
            if self._global:
                pax = {**self._global, **pax}
            if pax:
                name, link = self._apply_pax(entry, pax, name, link)
                if any(k.startswith("GNU.sparse") for k in pax):
                    raise Unsupported(f"tar: {os.fsdecode(name)}: sparse files are not supported")
            if kind in _UNSUPPORTED:
                raise Unsupported(f"tar: {os.fsdecode(name)}: sparse and multi-volume entries are not supported")
            entry.name = os.fsdecode(name)
            if link:
                entry.linkname = os.fsdecode(link)
            if kind in _HEADER_ONLY:
                entry.size = 0
            elif kind == AREG and name.endswith(b"/"):
                entry.type, entry.size = DIR, 0  # pre-POSIX tars mark folders by a trailing slash
            elif kind == b"D":
                entry.type = DIR  # GNU dumpdir: its data (a listing) is informational
                self._pending = entry.size + padding(entry.size)
                entry.size = 0
            else:
                self._pending = entry.size + padding(entry.size)
            return entry

    @staticmethod
    def _apply_pax(entry: Entry, pax: dict[str, bytes], name: bytes, linkname: bytes) -> tuple[bytes, bytes]:
        for key, value in pax.items():
            if key == "path":
                name = value
            elif key == "linkpath":
                linkname = value
            elif key in ("size", "uid", "gid"):
                try:
                    setattr(entry, key, int(value))
                except ValueError:
                    raise CorruptArchive(f"tar: invalid PAX {key} {value!r}") from None
            elif key == "mtime":
                entry.mtime_ns = _mtime_ns(value)
            elif key.startswith("SCHILY.xattr."):
                entry.xattrs[key[len("SCHILY.xattr."):]] = value
            elif key.startswith("LIBARCHIVE.xattr."):
                import base64
                from urllib.parse import unquote

                entry.xattrs[unquote(key[len("LIBARCHIVE.xattr."):])] = base64.b64decode(value + b"==")
        return name, linkname


def _signed_sum(block: bytes) -> int:
    # Some historic tars summed signed chars.
    total = sum(b - 256 if b > 127 else b for b in block)
    field = sum(b - 256 if b > 127 else b for b in block[148:156])
    return total - field + 8 * 32


# --------------------------------------------------------------------------- writer


class Sink(Protocol):
    def write(self, data: bytes | memoryview, /) -> object: ...


_OCTAL_MAX = {8: 0o7777777, 12: 0o77777777777}


def _pax_record(key: str, value: bytes) -> bytes:
    body = b" " + key.encode("utf-8", "surrogateescape") + b"=" + value + b"\n"
    length = len(body) + len(str(len(body)))
    if len(str(length)) > len(str(len(body))):
        length += 1
    return str(length).encode() + body


def _field(value: int, width: int) -> bytes:
    return b"%0*o\0" % (width - 1, value)


def _ustar_split(name: bytes) -> tuple[bytes, bytes] | None:
    """(prefix, name) for the ustar fields, or None when the path cannot fit."""
    if len(name) <= 100:
        return b"", name
    cut = name.rfind(b"/", 0, 156)
    while cut > 0:
        if len(name) - cut - 1 <= 100 and cut <= 155:
            return name[:cut], name[cut + 1 :]
        cut = name.rfind(b"/", 0, cut)
    return None


def encode_header(entry: Entry) -> bytes:
    """The header block(s) for ``entry``: a PAX header first when a value does not fit
    in ustar (long paths, large ids or sizes, xattrs, non-ASCII names)."""
    name = os.fsencode(entry.name)
    link = os.fsencode(entry.linkname)
    pax: list[bytes] = []
    split = _ustar_split(name) if name.isascii() else None
    if split is None:
        pax.append(_pax_record("path", name))
        split = (b"", name[:100])
    if len(link) > 100 or not link.isascii():
        pax.append(_pax_record("linkpath", link))
        link = link[:100]
    uid, gid, size = entry.uid, entry.gid, entry.size
    if uid > _OCTAL_MAX[8]:
        pax.append(_pax_record("uid", str(uid).encode()))
        uid = 0
    if gid > _OCTAL_MAX[8]:
        pax.append(_pax_record("gid", str(gid).encode()))
        gid = 0
    if size > _OCTAL_MAX[12]:
        pax.append(_pax_record("size", str(size).encode()))
        size = 0
    mtime = entry.mtime_ns // 1_000_000_000
    if not 0 <= mtime <= _OCTAL_MAX[12]:
        pax.append(_pax_record("mtime", str(mtime).encode()))
        mtime = 0
    for key in sorted(entry.xattrs):
        pax.append(_pax_record("SCHILY.xattr." + key, entry.xattrs[key]))
    out = b""
    if pax:
        records = b"".join(pax)
        base = os.path.basename(name.rstrip(b"/"))[:80] or b"root"
        out = _block(Entry(name="", type=PAX, mode=0o644, size=len(records)), b"PaxHeaders.0/" + base, b"", b"")
        out += records + bytes(padding(len(records)))
    prefix, short = split
    header = Entry(name="", type=entry.type, mode=entry.mode, uid=uid, gid=gid, size=size,
                   mtime_ns=mtime * 1_000_000_000, devmajor=entry.devmajor, devminor=entry.devminor,
                   uname=entry.uname, gname=entry.gname)
    return out + _block(header, short, link, prefix)


def _block(e: Entry, name: bytes, link: bytes, prefix: bytes) -> bytes:
    head = bytearray(BLOCK)
    head[0 : len(name)] = name
    head[100:108] = _field(e.mode & 0o7777, 8)
    head[108:116] = _field(e.uid, 8)
    head[116:124] = _field(e.gid, 8)
    head[124:136] = _field(e.size, 12)
    head[136:148] = _field(e.mtime_ns // 1_000_000_000, 12)
    head[148:156] = b" " * 8
    head[156:157] = e.type
    head[157 : 157 + len(link)] = link
    head[257:265] = b"ustar\x0000"
    uname = e.uname.encode()[:31]
    gname = e.gname.encode()[:31]
    head[265 : 265 + len(uname)] = uname
    head[297 : 297 + len(gname)] = gname
    head[329:337] = _field(e.devmajor, 8)
    head[337:345] = _field(e.devminor, 8)
    head[345 : 345 + len(prefix)] = prefix
    head[148:156] = b"%06o\0 " % sum(head)
    return bytes(head)


class TarWriter:
    """Writes entries to ``sink``; :meth:`close` writes the end-of-archive marker."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    def add(self, entry: Entry, data: bytes | None = None, fd: int | None = None) -> None:
        """Add ``entry``; a regular file's ``entry.size`` bytes come from ``data`` or
        are read from ``fd``. A file that shrank while being read is an error."""
        self.sink.write(encode_header(entry))
        if not entry.is_regular or entry.size == 0:
            return
        if data is not None:
            if len(data) != entry.size:
                raise CorruptArchive(f"tar: {entry.name}: {len(data)} bytes given, header says {entry.size}")
            self.sink.write(data)
        elif fd is not None:
            left = entry.size
            while left:
                chunk = os.read(fd, min(left, 1 << 20))
                if not chunk:
                    raise CorruptArchive(f"tar: {entry.name}: file shrank while it was being archived")
                self.sink.write(chunk)
                left -= len(chunk)
        else:
            raise ValueError("TarWriter.add: a regular file needs data or fd")
        if pad := padding(entry.size):
            self.sink.write(bytes(pad))

    def close(self) -> None:
        self.sink.write(END)
