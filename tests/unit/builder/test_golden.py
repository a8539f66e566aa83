"""Golden tests, after BuildKit's parser/testfiles: each folder under testfiles/ holds a
Dockerfile and the expected result — the typed instructions as parsed, and the plan
they dispatch to (every variable expanded, the image config after each step, the
history text). testfiles-negative/ holds Dockerfiles that must fail, with the error.

Regenerate after an intended change with ``BERTH_UPDATE_GOLDEN=1 pytest …`` and
review the diff: these files are the specification.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from berth.builder.errors import DockerfileError
from berth.builder.instructions import parse_program
from berth.builder.parser import parse
from berth.builder.plan import BuildOptions, make_plan
from berth.builder.testing import FakeImages
from berth.oci.descriptor import Platform

HERE = Path(__file__).parent
CASES = sorted(p.name for p in (HERE / "testfiles").iterdir() if p.is_dir())
NEGATIVE = sorted(p.name for p in (HERE / "testfiles-negative").iterdir() if p.is_dir())
UPDATE = os.environ.get("BERTH_UPDATE_GOLDEN") == "1"


def _op(op: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"op": type(op).__name__}
    if hasattr(op, "definition"):
        out.update(op.definition())
    elif hasattr(op, "base"):
        out["base"] = str(op.base)
    return out


def result_of(text: str) -> dict[str, Any]:
    df = parse(text)
    program = parse_program(df)
    plan = make_plan(program, BuildOptions(build_args={"MODE": "fast"}, platform=Platform("linux", "amd64")),
                     FakeImages())
    return {
        "escape": df.escape,
        "syntax": df.syntax,
        "meta_args": [a.to_json() for a in program.meta_args],
        "stages": [{"index": s.index, "name": s.name, "from": s.source.to_json(),
                    "instructions": [i.to_json() for i in s.instructions]} for s in program.stages],
        "plan": {
            "target": plan.target,
            "unused_args": list(plan.unused_args),
            "stages": [{"index": s.index, "deps": list(s.deps), "steps": [
                {"n": st.number, "line": st.line, "text": st.text, **_op(st.op), "created_by": st.created_by,
                 "used_args": st.used_args, "config": st.config.to_json(), **({"author": st.author} if st.author
                                                                               else {})}
                for st in s.steps]} for s in plan.stages],
        },
    }


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str) -> None:
    folder = HERE / "testfiles" / case
    got = result_of((folder / "Dockerfile").read_text())
    expected_file = folder / "result.json"
    if UPDATE or not expected_file.exists():
        expected_file.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n")
    assert got == json.loads(expected_file.read_text())


@pytest.mark.parametrize("case", NEGATIVE)
def test_negative(case: str) -> None:
    folder = HERE / "testfiles-negative" / case
    with pytest.raises(DockerfileError) as err:
        result_of((folder / "Dockerfile").read_text())
    expected_file = folder / "error.txt"
    if UPDATE or not expected_file.exists():
        expected_file.write_text(str(err.value) + "\n")
    assert str(err.value) == expected_file.read_text().strip()
