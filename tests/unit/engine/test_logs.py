from __future__ import annotations

import json
import os
from pathlib import Path

from berth.engine import logs


def test_lines_become_json_records(tmp_path: Path) -> None:
    path = str(tmp_path / "c-json.log")
    w = logs.LogWriter(path, 0, 1)
    w.write("stdout", b"hello\nwor")
    w.write("stdout", b"ld\n")
    w.write("stderr", b"oops\n")
    w.write("stdout", b"no newline")
    w.close()
    lines = [json.loads(line) for line in open(path)]
    assert [(r["stream"], r["log"]) for r in lines] == [
        ("stdout", "hello\n"), ("stdout", "world\n"), ("stderr", "oops\n"), ("stdout", "no newline")]
    assert lines[0]["time"].endswith("Z")
    records, position = logs.read(path, tail=2)
    assert [r.line for r in records] == ["oops\n", "no newline"]
    assert position.offset == os.path.getsize(path)


def test_rotation_keeps_at_most_max_file_files(tmp_path: Path) -> None:
    path = str(tmp_path / "c-json.log")
    w = logs.LogWriter(path, 1000, 3)
    for i in range(200):
        w.write("stdout", f"line {i:04d} {'x' * 40}\n".encode())
    w.close()
    files = sorted(os.listdir(tmp_path))
    assert files == ["c-json.log", "c-json.log.1", "c-json.log.2"]
    assert all(os.path.getsize(tmp_path / f) <= 1000 for f in files)
    records, _ = logs.read(path)
    numbers = [int(r.line.split()[1]) for r in records]
    assert numbers == sorted(numbers) and numbers[-1] == 199


def test_long_lines_are_split(tmp_path: Path) -> None:
    path = str(tmp_path / "c-json.log")
    w = logs.LogWriter(path, 0, 1)
    w.write("stdout", b"a" * (logs.MAX_LINE * 2 + 10) + b"\n")
    w.close()
    records, _ = logs.read(path)
    assert [len(r.line) for r in records] == [logs.MAX_LINE, logs.MAX_LINE, 11]


def test_follow_continues_after_read_without_gaps(tmp_path: Path) -> None:
    path = str(tmp_path / "c-json.log")
    w = logs.LogWriter(path, 300, 10)
    w.write("stdout", b"first\n")
    _, position = logs.read(path)
    for i in range(10):  # several rotations happen before follow starts
        w.write("stdout", f"more {i}\n".encode())
    got = [r.line for r in logs.follow(path, lambda: True, position)]
    assert got == [f"more {i}\n" for i in range(10)]
