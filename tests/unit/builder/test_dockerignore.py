""".dockerignore matching, with moby/patternmatcher's rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth.builder.dockerignore import Matcher, ignore_file_for, parse


def matcher(text: str) -> Matcher:
    return Matcher(parse(text))


def test_parse_cleans_patterns() -> None:
    assert parse("# comment\n\n  *.log  \n/abs/path\n!keep.log\n ! spaced\nsub/../x\n./y/\n") == [
        "*.log", "abs/path", "!keep.log", "!spaced", "x", "y"]


@pytest.mark.parametrize(("patterns", "path", "excluded"), [
    ("*.log", "a.log", True),
    ("*.log", "dir/a.log", False),  # * does not cross /
    ("**/*.log", "dir/sub/a.log", True),
    ("**/*.log", "a.log", True),  # ** matches zero folders too
    ("dir", "dir/file", True),  # a matched folder excludes what is under it
    ("dir/", "dir/deep/file", True),
    ("d?r", "dir", True),
    ("d?r", "d/r", False),
    ("[a-c].txt", "b.txt", True),
    ("[a-c].txt", "d.txt", False),
    ("*.log\n!keep.log", "keep.log", False),
    ("*.log\n!keep.log", "other.log", True),
    ("!keep.log\n*.log", "keep.log", True),  # the last match wins
    ("dir\n!dir/keep", "dir/keep", False),
    ("dir\n!dir/keep", "dir/other", True),
    ("docs/**", "docs/a/b.md", True),
    ("docs/**", "docs", False),
    ("a/**/b", "a/b", True),
    ("a/**/b", "a/x/y/b", True),
    ("\\*literal", "*literal", True),
    ("\\*literal", "xliteral", False),
    ("file.txt", "file_txt", False),  # . is literal
    ("/rooted", "rooted", True),
])
def test_matching(patterns: str, path: str, excluded: bool) -> None:
    assert matcher(patterns).excluded(path) is excluded


def test_walk_may_enter_excluded_folder_only_for_exceptions() -> None:
    assert matcher("dir\n!dir/keep").may_include_under("dir")
    assert not matcher("dir\n!other/keep").may_include_under("dir")
    assert not matcher("dir").may_include_under("dir")


def test_dockerfile_specific_ignore_file_wins(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("a\n")
    (tmp_path / "build").mkdir()
    dockerfile = tmp_path / "build" / "app.Dockerfile"
    dockerfile.write_text("FROM busybox\n")
    assert ignore_file_for(str(tmp_path), str(dockerfile)) == str(tmp_path / ".dockerignore")
    (tmp_path / "build" / "app.Dockerfile.dockerignore").write_text("b\n")
    assert ignore_file_for(str(tmp_path), str(dockerfile)) == str(dockerfile) + ".dockerignore"
    assert ignore_file_for(str(tmp_path / "build"), None) is None
