"""``docker cp``'s rules on top of the archive calls: where a copy lands on either side.

The container side is only ever reached through :mod:`berth.engine.archive` (a tar of
a path, a tar unpacked into a folder), as a REST client would reach it; the host side
is walked and written by descriptors as well, so a tar that came out of a container
cannot lead a write out of the destination either (its symlinks are made, never
followed). Copied out, files belong to the caller and lose setuid/setgid bits unless
``archive`` (-a) asks to keep the container's owners and modes: a container must not
be able to plant a setuid-root program on the host.

Destination rules (Docker's): copying to an existing folder puts the source inside it;
to a missing path creates it (its parent must exist); ``SRC/.`` copies a folder's
content; a folder never replaces a file.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, BinaryIO

from berth.errors import BerthError, InvalidArgument, NotFound
from berth.store.rooted import ExtractOptions, PathStat, Root, extract_tar, stat_path, write_tar
from berth.store.rooted.resolve import parse_target

if TYPE_CHECKING:
    from berth.engine.engine import Engine


@contextlib.contextmanager
def _host_root(path: str = "/") -> Iterator[Root]:
    fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield Root(fd)
    finally:
        os.close(fd)


def copy_out(engine: Engine, container: str, src: str, dest: str, *, follow_link: bool = False,
             archive: bool = False, stdout: BinaryIO | None = None) -> None:
    """``berth cp CONTAINER:SRC DEST`` (``DEST`` ``-``: the tar to ``stdout``)."""
    info = engine.archive_stat(container, src)
    if follow_link and info.is_symlink:
        src = info.link_target
        info = engine.archive_stat(container, src)
    if dest == "-":
        assert stdout is not None
        engine.archive_get(container, src, stdout)
        return
    target = parse_target(src)
    where, rename = _host_destination(dest, info, contents=target.name == ".")
    options = ExtractOptions(owner=None if archive else (os.getuid(), os.getgid()), no_overwrite_dir_non_dir=True,
                             rename_top=(target.archive_name, rename) if rename else None, strip_setid=not archive)
    with _host_root(where) as root, _Producer(lambda sink: engine.archive_get(container, src, sink)) as tar:
        extract_tar(root, ".", tar, options)


def _host_destination(dest: str, info: PathStat, *, contents: bool) -> tuple[str, str | None]:
    """The host folder to unpack into and the name the source takes there (None: its own)."""
    dest_abs = os.path.abspath(dest)
    try:
        st = os.stat(dest_abs)
    except FileNotFoundError:
        st = None
    if st is not None and os.path.isdir(dest_abs):
        return dest_abs, None
    if st is not None:
        if info.is_dir:
            raise InvalidArgument(f"cannot overwrite non-directory {dest!r} with directory")
        return os.path.dirname(dest_abs), os.path.basename(dest_abs)
    if dest.endswith("/") and not info.is_dir:
        raise NotFound(f"{dest}: no such directory")
    parent = os.path.dirname(dest_abs.rstrip("/")) or "/"
    if not os.path.isdir(parent):
        raise NotFound(f"{parent}: no such directory")
    if contents:
        os.mkdir(dest_abs, 0o755)
        return dest_abs, None
    return parent, os.path.basename(dest_abs.rstrip("/"))


def copy_in(engine: Engine, src: str, container: str, dest: str, *, archive: bool = False,
            follow_link: bool = False, stdin: BinaryIO | None = None) -> None:
    """``berth cp SRC CONTAINER:DEST`` (``SRC`` ``-``: a tar from ``stdin`` unpacked
    into the folder DEST, every entry checked first)."""
    if src == "-":
        assert stdin is not None
        engine.archive_put(container, dest, stdin, copy_uid_gid=archive, check_first=True)
        return
    src_abs = os.path.abspath(src)
    if not os.path.lexists(src_abs):
        raise NotFound(f"{src}: no such file or directory")
    with _host_root() as host:
        if follow_link and os.path.islink(src_abs):
            src_abs = host.canonical(src_abs)
        src_info = stat_path(host, src_abs + ("/." if src.endswith("/.") else ""))
    folder, name = _container_destination(engine, container, dest, src_info)
    rebase = name if name is not None else (posixpath.basename(src_abs.rstrip("/")) or ".")
    if src.endswith("/."):
        rebase = "."
    source = src_abs + ("/." if src.endswith("/.") else "")
    with _host_root() as host, _Producer(lambda sink: write_tar(host, source, sink, rebase=rebase)) as tar:
        engine.archive_put(container, folder, tar, copy_uid_gid=archive, no_overwrite_dir_non_dir=True,
                           check_first=False)


def _container_destination(engine: Engine, container: str, dest: str, src: PathStat) -> tuple[str, str | None]:
    try:
        info: PathStat | None = engine.archive_stat(container, dest)
    except NotFound:
        info = None
    if info is not None and (info.is_dir or (info.is_symlink and _is_dir(engine, container, info.link_target))):
        return dest, None
    if info is not None:
        if src.is_dir:
            raise InvalidArgument(f"cannot overwrite non-directory {container}:{dest} with directory")
        return posixpath.dirname(posixpath.normpath("/" + dest)), posixpath.basename(posixpath.normpath(dest))
    if dest.endswith("/") and not src.is_dir:
        raise NotFound(f"Could not find the file {dest} in container {container}")
    clean = posixpath.normpath("/" + dest)
    parent = posixpath.dirname(clean)
    if not _is_dir(engine, container, parent):
        raise NotFound(f"Could not find the file {parent} in container {container}")
    return parent, posixpath.basename(clean)


def _is_dir(engine: Engine, container: str, path: str) -> bool:
    try:
        return engine.archive_stat(container, path.rstrip("/") + "/").is_dir
    except NotFound:
        return False


class _Producer:
    """A tar written by ``make`` in a helper thread, read from the other end of a pipe.
    An error of the writer wins over the reader's (a cut tar is only its symptom)."""

    def __init__(self, make: Callable[[BinaryIO], object]) -> None:
        rfd, wfd = os.pipe()
        self.reader: BinaryIO = os.fdopen(rfd, "rb", buffering=1 << 16)
        self._writer: BinaryIO = os.fdopen(wfd, "wb", buffering=1 << 16)
        self._make = make
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="cp-tar", daemon=True)

    def _run(self) -> None:
        try:
            self._make(self._writer)
            self._writer.flush()
        except BrokenPipeError:
            pass
        except BaseException as err:  # handed to the reader's side
            self._error = err
        finally:
            with contextlib.suppress(OSError):
                self._writer.close()

    def __enter__(self) -> BinaryIO:
        self._thread.start()
        return self.reader

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        self.reader.close()  # a writer still writing gets EPIPE and stops
        self._thread.join()
        if self._error is not None and (exc is None or isinstance(exc, BerthError)):
            raise self._error
