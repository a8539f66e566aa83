from __future__ import annotations

import os
from pathlib import Path

from berth.runtime.rootfs import secure_join


def test_symlinks_resolve_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc", root / "abs")
    os.symlink("../../../../etc", root / "rel")
    os.symlink("loop2", root / "loop1")
    os.symlink("loop1", root / "loop2")
    assert secure_join(str(root), "/abs/passwd") == str(root / "etc/passwd")
    assert secure_join(str(root), "/rel/passwd") == str(root / "etc/passwd")
    assert secure_join(str(root), "/../../x") == str(root / "x")
    assert secure_join(str(root), "/a/./b/../c") == str(root / "a/c")


def test_symlink_loops_are_an_error(tmp_path: Path) -> None:
    import pytest

    os.symlink("b", tmp_path / "a")
    os.symlink("a", tmp_path / "b")
    with pytest.raises(OSError):
        secure_join(str(tmp_path), "/a/x")
