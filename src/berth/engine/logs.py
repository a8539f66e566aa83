"""Container logs in Docker's json-file format, rotated by size.

Each line the container writes becomes one JSON object per line::

    {"log":"hello\\n","stream":"stdout","time":"2026-11-27T20:15:56.123456789Z"}

Lines longer than 16 KiB are split as Docker splits them. The file is
``<id>-json.log``; when it passes ``max_size`` it becomes ``.1`` (the older ones shift
up) and at most ``max_file`` files are kept — rotation is on by default, so a chatty
container cannot fill the disk.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

MAX_LINE = 16 * 1024


def timestamp(t: float | None = None) -> str:
    ns = time.time_ns() if t is None else int(t * 1e9)
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def parse_timestamp(text: str) -> float:
    """RFC 3339 with nanoseconds → unix seconds (float)."""
    import calendar

    main, _, rest = text.rstrip("Z").partition(".")
    secs = calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S"))
    return secs + (float("0." + rest) if rest else 0.0)


class LogWriter:
    """Appends a container's output to its json-file log, rotating by size."""

    def __init__(self, path: str, max_size: int, max_file: int) -> None:
        self.path = path
        self.max_size = max_size
        self.max_file = max(1, max_file)
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self.size = os.fstat(self.fd).st_size
        self._partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}

    def write(self, stream: str, data: bytes) -> None:
        buf = self._partial[stream] + data
        records = []
        now = timestamp()
        while True:
            cut = buf.find(b"\n")
            if cut < 0 and len(buf) < MAX_LINE:
                break
            end = cut + 1 if 0 <= cut < MAX_LINE else MAX_LINE
            records.append(self._record(buf[:end], stream, now))
            buf = buf[end:]
        self._partial[stream] = buf
        self._append_records(records)

    def flush(self) -> None:
        """Write out partial lines (at exit: a last line without a newline)."""
        now = timestamp()
        records = [self._record(p, s, now) for s, p in self._partial.items() if p]
        self._partial = {"stdout": b"", "stderr": b""}
        self._append_records(records)

    @staticmethod
    def _record(line: bytes, stream: str, now: str) -> bytes:
        text = line.decode("utf-8", errors="replace")
        return json.dumps({"log": text, "stream": stream, "time": now}, ensure_ascii=False).encode() + b"\n"

    def _append_records(self, records: list[bytes]) -> None:
        """Write whole records, one write per batch that fits, rotating between them."""
        batch: list[bytes] = []
        size = 0
        for rec in records:
            if self.max_size > 0 and self.size + size + len(rec) > self.max_size and (self.size or batch):
                self._write(b"".join(batch))
                batch, size = [], 0
                self._rotate()
            batch.append(rec)
            size += len(rec)
        if batch:
            self._write(b"".join(batch))

    def _write(self, data: bytes) -> None:
        if data:
            os.write(self.fd, data)
            self.size += len(data)

    def _rotate(self) -> None:
        os.close(self.fd)
        if self.max_file <= 1:
            os.truncate(self.path, 0)
        else:
            for i in range(self.max_file - 1, 0, -1):
                src = self.path if i == 1 else f"{self.path}.{i - 1}"
                if os.path.exists(src):
                    os.replace(src, f"{self.path}.{i}")
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self.size = 0

    def close(self) -> None:
        self.flush()
        os.close(self.fd)


@dataclass(frozen=True, slots=True)
class LogRecord:
    stream: str
    line: str
    time: str

    @property
    def epoch(self) -> float:
        return parse_timestamp(self.time)


def log_files(path: str) -> list[str]:
    """Oldest first: ``.N`` … ``.1``, then the live file."""
    rotated = []
    i = 1
    while os.path.exists(f"{path}.{i}"):
        rotated.append(f"{path}.{i}")
        i += 1
    return list(reversed(rotated)) + ([path] if os.path.exists(path) else [])


def _parse(raw: bytes) -> LogRecord | None:
    try:
        obj = json.loads(raw)
        return LogRecord(obj.get("stream", "stdout"), obj.get("log", ""), obj.get("time", ""))
    except (ValueError, AttributeError):
        return None


@dataclass(frozen=True, slots=True)
class Position:
    """Where a read stopped in the live file, so ``follow`` continues without a gap."""

    inode: int = 0
    offset: int = 0


def read(path: str, *, tail: int | None = None, since: float | None = None,
         until: float | None = None) -> tuple[list[LogRecord], Position]:
    records: list[LogRecord] = []
    position = Position()
    for name in log_files(path):
        with open(name, "rb") as f:
            offset = 0
            for raw in f:
                if not raw.endswith(b"\n"):
                    break  # a record still being written: follow picks it up
                offset += len(raw)
                rec = _parse(raw)
                if rec is None:
                    continue
                if since is not None or until is not None:
                    t = rec.epoch
                    if since is not None and t < since:
                        continue
                    if until is not None and t > until:
                        continue
                records.append(rec)
            if name == path:
                position = Position(os.fstat(f.fileno()).st_ino, offset)
    if tail is not None:
        records = records[-tail:] if tail > 0 else []
    return records, position


def _inode(path: str) -> int:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return -1


def follow(path: str, done: Callable[[], bool], start: Position, poll: float = 0.05) -> Iterator[LogRecord]:
    """Records written after ``start``, across rotations, until ``done()`` is true and
    the file is drained."""
    f = None
    inode = start.inode
    offset = start.offset
    if inode:
        # The live file may have rotated since ``start``: finish the file we were in,
        # then every newer rotated one, before the live file.
        files = log_files(path)
        older = files[:-1] if files and files[-1] == path else files
        index = next((i for i, name in enumerate(older) if _inode(name) == inode), None)
        if index is not None:
            for i, name in enumerate(older[index:]):
                with open(name, "rb") as old:
                    old.seek(offset if i == 0 else 0)
                    for raw in old.read().splitlines(keepends=True):
                        rec = _parse(raw)
                        if rec is not None:
                            yield rec
            offset, inode = 0, 0
    while True:
        if f is None:
            try:
                f = open(path, "rb")  # noqa: SIM115 - kept open across iterations
            except FileNotFoundError:
                if done():
                    return
                time.sleep(poll)
                continue
            current = os.fstat(f.fileno()).st_ino
            f.seek(offset if current == inode else 0)
            inode = current
        line = f.readline()
        if line.endswith(b"\n"):
            rec = _parse(line)
            if rec is not None:
                yield rec
            continue
        if line:
            f.seek(-len(line), os.SEEK_CUR)
        try:
            rotated = os.stat(path).st_ino != inode
        except FileNotFoundError:
            rotated = True
        if rotated:
            for raw in f.read().splitlines(keepends=True):
                rec = _parse(raw)
                if rec is not None:
                    yield rec
            f.close()
            f = None
            offset = 0
            continue
        if done():
            for raw in f.read().splitlines(keepends=True):
                rec = _parse(raw)
                if rec is not None:
                    yield rec
            f.close()
            return
        time.sleep(poll)
