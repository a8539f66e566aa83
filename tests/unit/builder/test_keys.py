"""Cache keys: what changes them and what must not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from berth.builder import context as context_module
from berth.builder.context import BuildContext
from berth.builder.copy import CopyError
from berth.builder.keys import copy_inputs, plan_keys
from berth.builder.ops import CopyOp
from berth.builder.testing import plan_of

ARGS_DOCKERFILE = """\
FROM busybox AS other
RUN echo no arg here
FROM busybox AS main
RUN echo before
ARG V
ENV UNRELATED=1
RUN echo uses $V implicitly
LABEL fixed=yes
"""


def keys(dockerfile: str, ctx: Path, **kwargs: object) -> dict[int, str]:
    plan = plan_of(dockerfile, **kwargs)  # type: ignore[arg-type]
    return plan_keys(plan, BuildContext(str(ctx)))


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    folder = tmp_path / "ctx"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "a.txt").write_text("a")
    (folder / "src" / "b.txt").write_text("b")
    (folder / "debug.log").write_text("log")
    (folder / ".dockerignore").write_text("*.log\n")
    return folder


def test_build_arg_changes_keys_only_from_its_first_use(ctx: Path) -> None:
    one = keys(ARGS_DOCKERFILE, ctx, build_args={"V": "1"})
    two = keys(ARGS_DOCKERFILE, ctx, build_args={"V": "2"})
    # 1 FROM, 2 RUN before, 3 ARG, 4 ENV (does not read V), 5 RUN (sees V), 6 LABEL
    assert one[2] == two[2] and one[3] == two[3] and one[4] == two[4]
    assert one[5] != two[5] and one[6] != two[6]
    other_one = keys(ARGS_DOCKERFILE, ctx, build_args={"V": "1"}, target="other")
    assert other_one == keys(ARGS_DOCKERFILE, ctx, build_args={"V": "2"}, target="other")


def test_build_arg_not_declared_changes_nothing(ctx: Path) -> None:
    plain = keys(ARGS_DOCKERFILE, ctx, build_args={"V": "1"})
    assert keys(ARGS_DOCKERFILE, ctx, build_args={"V": "1", "OTHER": "x"}) == plain
    assert keys(ARGS_DOCKERFILE, ctx, target="other") == keys(ARGS_DOCKERFILE, ctx, build_args={"V": "9"},
                                                              target="other")
    assert plan_of(ARGS_DOCKERFILE, build_args={"OTHER": "x"}).unused_args == ("OTHER",)


def test_arg_expanded_in_a_non_run_instruction(ctx: Path) -> None:
    dockerfile = "FROM busybox\nARG V\nLABEL a=b\nWORKDIR /app/$V\nLABEL c=d\n"
    one, two = keys(dockerfile, ctx, build_args={"V": "1"}), keys(dockerfile, ctx, build_args={"V": "2"})
    assert one[3] == two[3] and one[4] != two[4]
    assert plan_of(dockerfile, build_args={"V": "1"}).stages[0].steps[3].used_args == {"V": "1"}


def test_copied_file_content_and_mode_change_the_key_not_mtime(ctx: Path) -> None:
    dockerfile = "FROM busybox\nRUN echo first\nCOPY src/ /src/\nRUN echo after\n"
    before = keys(dockerfile, ctx)
    os.utime(ctx / "src" / "a.txt", ns=(1, 1))
    assert keys(dockerfile, ctx) == before
    (ctx / "src" / "a.txt").write_text("changed")
    changed = keys(dockerfile, ctx)
    assert changed[2] == before[2] and changed[3] != before[3] and changed[4] != before[4]
    (ctx / "src" / "a.txt").write_text("a")
    assert keys(dockerfile, ctx) == before
    os.chmod(ctx / "src" / "a.txt", 0o600)
    assert keys(dockerfile, ctx)[3] != before[3]


def test_ignored_files_do_not_matter(ctx: Path) -> None:
    dockerfile = "FROM busybox\nCOPY . /app/\n"
    before = keys(dockerfile, ctx)
    (ctx / "debug.log").write_text("a different log")
    (ctx / "new.log").write_text("new")
    assert keys(dockerfile, ctx) == before
    (ctx / "new.txt").write_text("not ignored")
    assert keys(dockerfile, ctx) != before


def test_ignored_files_are_not_copyable(ctx: Path) -> None:
    with pytest.raises(CopyError, match="excluded by .dockerignore"):
        copy_inputs(BuildContext(str(ctx)), CopyOp(("debug.log",), "/x"))
    inputs, _ = copy_inputs(BuildContext(str(ctx)), CopyOp((".",), "/app/"))
    assert sorted(inputs.files) == [".dockerignore", "src", "src/a.txt", "src/b.txt"]


def test_exception_reincludes(ctx: Path) -> None:
    (ctx / ".dockerignore").write_text("src\n!src/b.txt\n")
    inputs, _ = copy_inputs(BuildContext(str(ctx)), CopyOp((".",), "/app/"))
    assert "src/b.txt" in inputs.files and "src/a.txt" not in inputs.files


def test_source_outside_context_is_refused(ctx: Path) -> None:
    with pytest.raises(CopyError, match="outside the build context"):
        copy_inputs(BuildContext(str(ctx)), CopyOp(("../etc/passwd",), "/x"))


def test_globs(ctx: Path) -> None:
    inputs, matches = copy_inputs(BuildContext(str(ctx)), CopyOp(("src/*.txt",), "/dst/"))
    assert [m.rel for m in matches] == ["src/a.txt", "src/b.txt"]
    with pytest.raises(CopyError, match="matched nothing"):
        copy_inputs(BuildContext(str(ctx)), CopyOp(("*.none",), "/dst/"))


def test_index_spares_rereading_unchanged_files(ctx: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context_module, "RACY_NS", 0)  # the files were just written
    index = tmp_path / "index"
    first = BuildContext(str(ctx), index_dir=str(index))
    copy_inputs(first, CopyOp((".",), "/app/"))
    first.close()
    assert first.index.hashed_files == 3
    second = BuildContext(str(ctx), index_dir=str(index))
    inputs, _ = copy_inputs(second, CopyOp((".",), "/app/"))
    assert second.index.hashed_files == 0
    (ctx / "src" / "a.txt").write_text("A")  # same size: ctime (and mtime) give it away
    third = BuildContext(str(ctx), index_dir=str(index))
    changed, _ = copy_inputs(third, CopyOp((".",), "/app/"))
    assert third.index.hashed_files == 1 and changed.files["src/a.txt"] != inputs.files["src/a.txt"]


def test_recent_files_are_always_rehashed(ctx: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    first = BuildContext(str(ctx), index_dir=str(index))
    copy_inputs(first, CopyOp(("src",), "/app/"))
    first.close()
    second = BuildContext(str(ctx), index_dir=str(index))
    copy_inputs(second, CopyOp(("src",), "/app/"))
    assert second.index.hashed_files == 2  # changed less than RACY_NS ago: not trusted


def test_secret_content_is_never_in_a_key(ctx: Path) -> None:
    dockerfile = "FROM busybox\nRUN --mount=type=secret,id=token cat /run/secrets/token\n"
    plan = plan_of(dockerfile)
    definition = plan.stages[0].steps[1].op.definition()  # type: ignore[union-attr]
    assert definition["mounts"] == [{"type": "secret", "target": "/run/secrets/token", "id": "token",
                                     "readonly": True}]
