"""Reading and writing cgroupfs files, with errors that name the file."""

from __future__ import annotations

import errno
import os
import time

from berth.sys._libc import SyscallError


def write(path: str, value: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    except FileNotFoundError:
        # A real cgroupfs has every file already; a test tree may not.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, value.encode())
    except OSError as err:
        raise SyscallError(err.errno or errno.EIO, "write", path, f"value {value!r}") from err
    finally:
        os.close(fd)


def read(path: str, default: str = "") -> str:
    # os-level: a buffered text file object costs more than these small reads.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, ProcessLookupError):
        return default
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except ProcessLookupError:
        return default
    finally:
        os.close(fd)
    return b"".join(chunks).decode().strip()


def read_int(path: str, default: int = 0) -> int:
    text = read(path)
    if not text or text == "max":
        return default
    try:
        return int(text.split()[0])
    except ValueError:
        return default


def read_keyed(path: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in read(path).splitlines():
        key, _, value = line.partition(" ")
        try:
            out[key] = int(value)
        except ValueError:
            continue
    return out


def rmdir(path: str, attempts: int = 50) -> None:
    """Remove a cgroup folder; tasks that just died can keep it busy for a moment."""
    for i in range(attempts):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as err:
            if err.errno != errno.EBUSY or i == attempts - 1:
                raise SyscallError(err.errno or errno.EIO, "rmdir", path) from err
            time.sleep(0.002 * (i + 1))


def procs(path: str) -> list[int]:
    return [int(line) for line in read(os.path.join(path, "cgroup.procs")).split() if line]
