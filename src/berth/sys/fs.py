"""File-system primitives every layer's storage uses: atomic writes, fsync of folders."""

from __future__ import annotations

import os


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: str, data: bytes, *, mode: int = 0o644, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` so a reader sees the old or the new file, never half.

    Temp names start with ``.tmp-`` so a start-up sweep can remove leftovers of a crash.
    ``durable`` fsyncs the file and its folder; state under /run (tmpfs) skips that.
    """
    directory = os.path.dirname(path) or "."
    tmp = temp_name(directory)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if durable:
        fsync_dir(directory)


def syncfs(path: str) -> None:
    """Flush the whole file system that holds ``path`` (syncfs(2)): one call that makes
    a freshly unpacked layer durable without an fsync per file."""
    from berth.sys._libc import call, libc

    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        call(lambda: int(libc.syncfs(fd)), "syncfs", path)
    finally:
        os.close(fd)


def remove_tree(path: str) -> None:
    """rm -rf, ignoring what is already gone. shutil loads on first use: it drags in
    the compression modules, which the fast path of ``berth run`` does not need."""
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def temp_name(folder: str, prefix: str = ".tmp-") -> str:
    """A fresh name in ``folder`` for a temp file or folder (swept if a crash leaves it)."""
    return os.path.join(folder, prefix + os.urandom(8).hex())
