"""Which stages a build needs, and how steps are numbered."""

from __future__ import annotations

import pytest

from berth.builder.errors import DockerfileError
from berth.builder.testing import FakeImages, plan_of

MULTI = """\
FROM busybox AS deps
RUN echo deps
FROM nosuchimage AS unused
RUN echo never
FROM busybox AS build
COPY --from=deps /x /x
FROM build AS test
RUN echo test
FROM busybox AS final
COPY --from=build /x /x
"""


def test_default_target_is_last_stage_and_only_needed_stages_are_planned() -> None:
    images = FakeImages()
    plan = plan_of(MULTI, images=images)
    assert [s.index for s in plan.stages] == [0, 2, 4]
    assert plan.target == 4
    assert "nosuchimage" not in images.asked  # an unneeded stage's base is never looked up
    assert [s.number for s in plan.stages[-1].steps] == [5, 6]
    assert plan.total == 6


def test_target_stage() -> None:
    plan = plan_of(MULTI, target="test")
    assert [s.index for s in plan.stages] == [0, 2, 3]
    assert plan.stage(3).deps == (2,)
    assert plan.stage(2).deps == (0,)


def test_target_may_be_the_stage_with_a_missing_base_only_if_asked() -> None:
    with pytest.raises(DockerfileError, match="Dockerfile:3: FROM nosuchimage"):
        plan_of(MULTI, target="unused")


def test_unknown_target() -> None:
    with pytest.raises(DockerfileError, match='target stage "nope" could not be found'):
        plan_of(MULTI, target="nope")


def test_from_an_arg_chosen_stage() -> None:
    dockerfile = "ARG FLAVOR=a\nFROM busybox AS a\nRUN echo a\nFROM busybox AS b\nRUN echo b\nFROM ${FLAVOR}\n"
    assert [s.index for s in plan_of(dockerfile).stages] == [0, 2]
    assert [s.index for s in plan_of(dockerfile, build_args={"FLAVOR": "b"}).stages] == [1, 2]


def test_copy_from_later_stage_is_an_error() -> None:
    with pytest.raises(DockerfileError, match="refers to current or later build stage"):
        plan_of("FROM busybox AS a\nCOPY --from=b /x /x\nFROM busybox AS b\n")


def test_run_mount_from_stage_is_a_dependency() -> None:
    plan = plan_of("FROM busybox AS tools\nRUN echo\nFROM busybox AS other\nFROM busybox\n"
                   "RUN --mount=from=tools,target=/t ls /t\n")
    assert [s.index for s in plan.stages] == [0, 2]


def test_global_arg_in_from_and_redeclared_in_stage() -> None:
    plan = plan_of("ARG TAG=latest\nFROM busybox:$TAG\nARG TAG\nRUN echo $TAG\n", build_args={"TAG": "1.36"})
    run = plan.stages[0].steps[-1]
    assert plan.stages[0].base.ref == "busybox:1.36"
    assert run.created_by == "RUN |1 TAG=1.36 /bin/sh -c echo $TAG # buildkit"


def test_global_arg_not_visible_in_stage_without_redeclaring() -> None:
    plan = plan_of("ARG TAG=latest\nFROM busybox:$TAG\nRUN echo $TAG\nLABEL t=$TAG\n")
    assert plan.stages[0].steps[-1].config.labels == {"t": ""}


def test_platform_args() -> None:
    plan = plan_of("FROM busybox\nARG TARGETARCH\nARG TARGETPLATFORM\nLABEL a=$TARGETARCH p=$TARGETPLATFORM\n")
    assert plan.stages[0].steps[-1].config.labels == {"a": "amd64", "p": "linux/amd64"}


def test_onbuild_triggers_run_after_from() -> None:
    plan = plan_of("FROM onbuild-base\nRUN echo mine\n")
    steps = plan.stages[0].steps
    assert [(s.text, s.trigger) for s in steps] == [
        ("FROM onbuild-base", False), ("ENV TRIGGERED=yes", True), ("RUN echo built", True),
        ("RUN echo mine", False)]


def test_describe_is_printable() -> None:
    text = plan_of(MULTI).describe()
    assert "stage 4 (final): FROM image busybox" in text and "result: stage 4" in text
