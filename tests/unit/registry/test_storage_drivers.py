"""The storage-driver behaviour suite: every driver must pass all of it."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from berth.registry.server.storage.api import (
    InvalidOffset,
    InvalidPath,
    PathNotFound,
    StorageDriver,
    check_path,
)
from berth.registry.server.storage.filesystem import FilesystemDriver

BAD_PATHS = ["", "a", "a/b", "/", "//a", "/a/", "/a//b", "/..", "/a/../b", "/a/./b", "/.hidden", "/a b", "/a\x00b", "/é"]


def test_put_then_get_returns_the_content(driver: StorageDriver) -> None:
    driver.put_content("/a/b/c", b"hello")
    assert driver.get_content("/a/b/c") == b"hello"
    driver.put_content("/a/b/c", b"replaced")
    assert driver.get_content("/a/b/c") == b"replaced"


def test_get_missing_raises_path_not_found(driver: StorageDriver) -> None:
    with pytest.raises(PathNotFound):
        driver.get_content("/nothing/here")
    driver.put_content("/dir/file", b"x")
    with pytest.raises(PathNotFound):
        driver.get_content("/dir")  # a directory is not a file


@pytest.mark.parametrize("path", [p for p in BAD_PATHS if p != "/"])
def test_every_method_refuses_invalid_paths(driver: StorageDriver, path: str) -> None:
    calls = [
        lambda: driver.get_content(path),
        lambda: driver.put_content(path, b"x"),
        lambda: driver.reader(path),
        lambda: driver.writer(path),
        lambda: driver.stat(path),
        lambda: driver.list(path),
        lambda: driver.move(path, "/ok"),
        lambda: driver.move("/ok", path),
        lambda: driver.delete(path),
        lambda: list(driver.walk(path)),
        lambda: driver.local_path(path),
        lambda: driver.lock(path),
    ]
    driver.put_content("/ok", b"x")
    for call in calls:
        with pytest.raises(InvalidPath):
            call()


def test_reader_starts_at_offset(driver: StorageDriver) -> None:
    driver.put_content("/f", b"0123456789")
    with driver.reader("/f", 4) as r:
        assert r.read() == b"456789"
    with driver.reader("/f", 10) as r:
        assert r.read() == b""
    with pytest.raises(InvalidOffset):
        driver.reader("/f", 11)
    with pytest.raises(InvalidOffset):
        driver.reader("/f", -1)
    with pytest.raises(PathNotFound):
        driver.reader("/missing")


def test_writer_truncates_or_appends(driver: StorageDriver) -> None:
    w = driver.writer("/up/data")
    w.write(b"abc")
    w.write(b"def")
    assert w.size == 6
    w.close()
    assert driver.get_content("/up/data") == b"abcdef"
    w = driver.writer("/up/data", append=True)
    assert w.size == 6
    w.write(b"gh")
    assert w.size == 8
    w.commit()
    assert driver.get_content("/up/data") == b"abcdefgh"
    w = driver.writer("/up/data")  # not appending: starts empty
    assert w.size == 0
    w.write(b"new")
    w.commit()
    assert driver.get_content("/up/data") == b"new"


def test_writer_append_creates_missing_file(driver: StorageDriver) -> None:
    w = driver.writer("/fresh/data", append=True)
    w.write(b"x")
    w.commit()
    assert driver.get_content("/fresh/data") == b"x"


def test_writer_cancel_removes_the_file_and_closed_writers_refuse_writes(driver: StorageDriver) -> None:
    w = driver.writer("/c/data")
    w.write(b"partial")
    w.cancel()
    with pytest.raises(PathNotFound):
        driver.stat("/c/data")
    w2 = driver.writer("/c/data2")
    w2.commit()
    with pytest.raises(ValueError):
        w2.write(b"late")


def test_large_content_through_writer_and_reader(driver: StorageDriver) -> None:
    chunk = os.urandom(1 << 16)
    w = driver.writer("/big")
    for _ in range(64):
        w.write(chunk)
    w.commit()
    assert driver.stat("/big").size == 64 << 16
    with driver.reader("/big", (63 << 16)) as r:
        assert r.read() == chunk


def test_stat_files_and_directories(driver: StorageDriver) -> None:
    driver.put_content("/d/e/f", b"12345")
    info = driver.stat("/d/e/f")
    assert (info.path, info.size, info.is_dir) == ("/d/e/f", 5, False)
    assert info.mod_time > time.time() - 60
    assert driver.stat("/d/e").is_dir
    assert driver.stat("/").is_dir
    with pytest.raises(PathNotFound):
        driver.stat("/d/x")


def test_list_gives_sorted_full_child_paths(driver: StorageDriver) -> None:
    for path in ("/r/b", "/r/a/x", "/r/c/y/z", "/other"):
        driver.put_content(path, b"")
    assert driver.list("/r") == ["/r/a", "/r/b", "/r/c"]
    assert driver.list("/") == ["/other", "/r"]
    with pytest.raises(PathNotFound):
        driver.list("/nope")


def test_move_renames_and_replaces(driver: StorageDriver) -> None:
    driver.put_content("/src/data", b"one")
    driver.move("/src/data", "/dst/deep/data")
    assert driver.get_content("/dst/deep/data") == b"one"
    with pytest.raises(PathNotFound):
        driver.stat("/src/data")
    driver.put_content("/src/data", b"two")
    driver.move("/src/data", "/dst/deep/data")
    assert driver.get_content("/dst/deep/data") == b"two"
    with pytest.raises(PathNotFound):
        driver.move("/src/data", "/x")


def test_delete_files_and_trees(driver: StorageDriver) -> None:
    driver.put_content("/t/a/1", b"")
    driver.put_content("/t/a/2", b"")
    driver.put_content("/t/b", b"")
    driver.delete("/t/b")
    with pytest.raises(PathNotFound):
        driver.stat("/t/b")
    driver.delete("/t/a")
    with pytest.raises(PathNotFound):
        driver.stat("/t/a/1")
    with pytest.raises(PathNotFound):
        driver.delete("/t/a")


def test_walk_yields_files_depth_first(driver: StorageDriver) -> None:
    for path in ("/w/b/2", "/w/a", "/w/b/1", "/w/b-c/3"):
        driver.put_content(path, b"xy")
    walked = [(i.path, i.size, i.is_dir) for i in driver.walk("/w")]
    assert walked == [("/w/a", 2, False), ("/w/b/1", 2, False), ("/w/b/2", 2, False), ("/w/b-c/3", 2, False)]
    assert [i.path for i in driver.walk("/w/a")] == ["/w/a"]
    with pytest.raises(PathNotFound):
        list(driver.walk("/none"))


def test_lock_excludes_other_holders(driver: StorageDriver) -> None:
    inside = 0
    most = 0
    mutex = threading.Lock()

    def work() -> None:
        nonlocal inside, most
        for _ in range(20):
            with driver.lock("/repositories/x/_manifests/tags/t"):
                with mutex:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.0005)
                with mutex:
                    inside -= 1

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most == 1
    with driver.lock("/a"), driver.lock("/b"):  # different names do not block each other
        pass


def test_local_path_is_the_file_or_none(driver: StorageDriver) -> None:
    driver.put_content("/blob/data", b"content")
    local = driver.local_path("/blob/data")
    if isinstance(driver, FilesystemDriver):
        assert local is not None
        with open(local, "rb") as f:
            assert f.read() == b"content"
        assert driver.local_path("/blob/missing") is None
    else:
        assert local is None


def test_filesystem_temporary_files_are_invisible_and_swept(tmp_path: Path) -> None:
    driver = FilesystemDriver(str(tmp_path / "root"))
    driver.put_content("/a/file", b"x")
    stray = tmp_path / "root" / "a" / ".tmp-file.1.2"
    stray.write_bytes(b"torn")
    os.utime(stray, (0, 0))
    assert driver.list("/a") == ["/a/file"]
    assert [i.path for i in driver.walk("/")] == ["/a/file"]
    assert driver.sweep_temporary() == [str(stray)]
    assert not stray.exists()


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab./-_\\ \x00:é")), max_size=24))
def test_any_accepted_path_stays_inside_the_root(text: str) -> None:
    """Whatever string comes in, a path the drivers accept resolves below the root."""
    path = "/" + text
    try:
        check_path(path)
    except InvalidPath:
        return
    root = "/srv/registry"
    resolved = os.path.normpath(root + path)
    assert resolved == root or resolved.startswith(root + "/")
    assert path == "/" or all(part not in ("", ".", "..") and not part.startswith(".") for part in path.split("/")[1:])
