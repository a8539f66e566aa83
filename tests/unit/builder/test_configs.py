"""The image config a Dockerfile produces, written from Docker's documentation
(https://docs.docker.com/reference/dockerfile/) rather than from berth's output.

Base images come from berth.builder.testing.BASES: ``busybox`` has Env PATH and Cmd ["sh"];
``base-with-cmd`` has Env, Cmd, WorkingDir, Labels, ExposedPorts and Volumes.
"""

from __future__ import annotations

from typing import Any

import pytest

from berth.builder.testing import plan_of

PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

CASES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "cmd-shell-and-exec-forms",
        'FROM busybox\nCMD echo "$HOME"\n',
        {"Env": [PATH], "Cmd": ["/bin/sh", "-c", 'echo "$HOME"']},
    ),
    (
        # "If CMD is defined from the base image, setting ENTRYPOINT will reset CMD to an empty value."
        "entrypoint-resets-inherited-cmd",
        'FROM busybox\nENTRYPOINT ["/bin/echo"]\n',
        {"Env": [PATH], "Entrypoint": ["/bin/echo"]},
    ),
    (
        "entrypoint-keeps-cmd-set-in-this-stage",
        'FROM busybox\nCMD ["hi"]\nENTRYPOINT ["/bin/echo"]\n',
        {"Env": [PATH], "Entrypoint": ["/bin/echo"], "Cmd": ["hi"]},
    ),
    (
        "cmd-after-entrypoint",
        'FROM busybox\nENTRYPOINT /bin/echo\nCMD ["hi"]\n',
        {"Env": [PATH], "Entrypoint": ["/bin/sh", "-c", "/bin/echo"], "Cmd": ["hi"]},
    ),
    (
        "shell-changes-shell-forms",
        'FROM busybox\nSHELL ["/bin/ash", "-c"]\nCMD run me\n',
        {"Env": [PATH], "Cmd": ["/bin/ash", "-c", "run me"], "Shell": ["/bin/ash", "-c"]},
    ),
    (
        # ENV replaces a variable in place; each ENV sees the values before it; ARG is not kept.
        "env-order-and-arg-not-persisted",
        "FROM busybox\nARG VERSION=2\nENV A=1 B=x\nENV B=${A}-$VERSION C=$B\n",
        {"Env": [PATH, "A=1", "B=1-2", "C=x"], "Cmd": ["sh"]},
    ),
    (
        # "Environment variables defined using the ENV instruction always override an ARG
        # instruction of the same name."
        "env-wins-over-arg",
        "FROM busybox\nARG CONT_IMG_VER=v2.0.1\nENV CONT_IMG_VER=v1.0.0\nLABEL v=$CONT_IMG_VER\n",
        {"Env": [PATH, "CONT_IMG_VER=v1.0.0"], "Cmd": ["sh"], "Labels": {"v": "v1.0.0"}},
    ),
    (
        "workdir-relative-to-previous",
        "FROM busybox\nENV DIRPATH=/path\nWORKDIR $DIRPATH/a\nWORKDIR b\nWORKDIR ../c\n",
        {"Env": [PATH, "DIRPATH=/path"], "Cmd": ["sh"], "WorkingDir": "/path/a/c"},
    ),
    (
        "inherits-and-merges-base-config",
        "FROM base-with-cmd\nLABEL own=1\nEXPOSE 80\nVOLUME /data\nENV LANG=C.UTF-8\n",
        {"Env": ["PATH=/bin", "LANG=C.UTF-8"], "Cmd": ["/bin/sh"], "WorkingDir": "/srv",
         "Labels": {"from.base": "yes", "own": "1"}, "ExposedPorts": {"22/tcp": {}, "80/tcp": {}},
         "Volumes": {"/data": {}, "/var/base": {}}},
    ),
    (
        "expose-protocols-and-ranges",
        "FROM busybox\nEXPOSE 80/tcp 53/UDP 7000-7001\n",
        {"Env": [PATH], "Cmd": ["sh"],
         "ExposedPorts": {"53/udp": {}, "7000/tcp": {}, "7001/tcp": {}, "80/tcp": {}}},
    ),
    (
        "user-stopsignal-volume-json",
        'FROM busybox\nARG UID=1000\nUSER ${UID}:${UID}\nSTOPSIGNAL SIGINT\nVOLUME ["/a", "/b"]\n',
        {"Env": [PATH], "Cmd": ["sh"], "User": "1000:1000", "StopSignal": "SIGINT",
         "Volumes": {"/a": {}, "/b": {}}},
    ),
    (
        # Durations are stored in nanoseconds; options not given are left out (0 = default).
        "healthcheck",
        "FROM busybox\nHEALTHCHECK --interval=5m --timeout=3s --retries=2 CMD curl -f http://localhost/ || exit 1\n",
        {"Env": [PATH], "Cmd": ["sh"],
         "Healthcheck": {"Test": ["CMD-SHELL", "curl -f http://localhost/ || exit 1"], "Interval": 300000000000,
                         "Timeout": 3000000000, "Retries": 2}},
    ),
    (
        "healthcheck-none-disables-the-base-one",
        "FROM busybox\nHEALTHCHECK CMD true\nHEALTHCHECK NONE\n",
        {"Env": [PATH], "Cmd": ["sh"], "Healthcheck": {"Test": ["NONE"]}},
    ),
    (
        # The trigger is stored for images built FROM this one; this image's own
        # triggers from its base ran and are gone.
        "onbuild-recorded-base-triggers-cleared",
        "FROM onbuild-base\nONBUILD RUN make\n",
        {"Env": ["PATH=/bin", "TRIGGERED=yes"], "OnBuild": ["RUN make"]},
    ),
    (
        # BuildKit's empty image: the default PATH and WorkingDir /.
        "scratch",
        "FROM scratch\nCMD [\"/app\"]\n",
        {"Env": [PATH], "Cmd": ["/app"], "WorkingDir": "/"},
    ),
    (
        "stage-inherits-stage-config",
        "FROM busybox AS base\nENV FROM_BASE=1\nWORKDIR /w\nFROM base\nCMD [\"x\"]\n",
        {"Env": [PATH, "FROM_BASE=1"], "Cmd": ["x"], "WorkingDir": "/w"},
    ),
]


@pytest.mark.parametrize(("name", "dockerfile", "expected"), CASES, ids=[c[0] for c in CASES])
def test_image_config(name: str, dockerfile: str, expected: dict[str, Any]) -> None:
    plan = plan_of(dockerfile)
    assert plan.stage(plan.target).config.to_json() == expected


def test_build_labels_are_added_last() -> None:
    plan = plan_of("FROM busybox\nLABEL a=dockerfile b=dockerfile\n", labels={"b": "cli", "c": "cli"})
    final = plan.stage(plan.target)
    assert final.config.labels == {"a": "dockerfile", "b": "cli", "c": "cli"}
    assert final.steps[-1].created_by == "LABEL b=cli c=cli"


def test_maintainer_sets_author() -> None:
    plan = plan_of("FROM busybox\nMAINTAINER Jane <jane@example.com>\nRUN true\n")
    assert plan.stages[0].steps[-1].author == "Jane <jane@example.com>"


def test_build_arg_overrides_default_and_reaches_run_env_only() -> None:
    plan = plan_of("FROM busybox\nARG V=default\nRUN echo $V\n", build_args={"V": "given"})
    run = plan.stages[0].steps[-1]
    assert run.op.env[-1] == "V=given"  # type: ignore[union-attr]
    assert run.created_by == "RUN |1 V=given /bin/sh -c echo $V # buildkit"
    assert "V=given" not in run.config.env


def test_proxy_args_reach_run_but_not_history_or_config() -> None:
    plan = plan_of("FROM busybox\nRUN wget x\n", build_args={"HTTP_PROXY": "http://proxy:3128"})
    run = plan.stages[0].steps[-1]
    assert run.op.proxy_env == ("HTTP_PROXY=http://proxy:3128",)  # type: ignore[union-attr]
    assert "proxy" not in run.created_by and "proxy" not in str(run.op.definition())  # type: ignore[union-attr]
    assert plan.unused_args == ()
