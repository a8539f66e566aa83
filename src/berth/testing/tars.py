"""Tar archives built in memory with tarfile, for tests and benchmarks (hostile layers
included: tarfile writes whatever names and links it is given)."""

from __future__ import annotations

import io
import tarfile


class TarBuilder:
    """Builds a tar in memory with tarfile: members in the order added."""

    def __init__(self, fmt: int = tarfile.PAX_FORMAT) -> None:
        self.buf = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buf, mode="w", format=fmt)

    def file(self, name: str, data: bytes = b"", mode: int = 0o644, uid: int = 0, gid: int = 0,
             mtime: int = 1_600_000_000, pax: dict[str, str] | None = None) -> TarBuilder:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.uid, info.gid, info.mtime = len(data), mode, uid, gid, mtime
        if pax:
            info.pax_headers = pax
        self.tar.addfile(info, io.BytesIO(data))
        return self

    def dir(self, name: str, mode: int = 0o755, mtime: int = 1_600_000_000) -> TarBuilder:
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.mtime = tarfile.DIRTYPE, mode, mtime
        self.tar.addfile(info)
        return self

    def symlink(self, name: str, target: str) -> TarBuilder:
        info = tarfile.TarInfo(name)
        info.type, info.linkname = tarfile.SYMTYPE, target
        self.tar.addfile(info)
        return self

    def hardlink(self, name: str, target: str) -> TarBuilder:
        info = tarfile.TarInfo(name)
        info.type, info.linkname = tarfile.LNKTYPE, target
        self.tar.addfile(info)
        return self

    def device(self, name: str, kind: bytes, major: int, minor: int) -> TarBuilder:
        info = tarfile.TarInfo(name)
        info.type, info.devmajor, info.devminor = kind, major, minor
        self.tar.addfile(info)
        return self

    def bytes(self) -> bytes:
        self.tar.close()
        return self.buf.getvalue()
