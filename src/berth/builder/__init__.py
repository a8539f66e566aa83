"""berth.builder: Dockerfile → typed instructions → a plan of steps with cache keys → image.

    from berth.builder import BuildRequest, Solver, TextProgress
    result = Solver(store, root, run_root, TextProgress()).build(BuildRequest(context_dir="."))

The pipeline, one module per stage (after BuildKit's frontend and solver):

    parser.py        text → nodes (the `dockerfile` package: BuildKit's parser)
    instructions.py  nodes → typed instructions, flags checked
    substitution.py  $VAR, ${VAR:-x}, quotes, escapes
    dispatch.py      one instruction's effect: config, op, history text, args used
    plan.py          stages the target needs → steps (pure data; printable)
    dockerignore.py, context.py, trees.py   what COPY may read, and its digests
    keys.py, cache.py                        cache keys, why a step missed, the DB table
    copy.py, steps.py, solver.py             carrying the plan out on the store
    output.py                                what the user sees
    testing.py                               fakes for tests without a store

Importing this package is cheap (names below load on first use), and the Go parser is
only ever loaded in a child process.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from berth.builder.errors import DockerfileError, StepFailed
    from berth.builder.output import TextProgress
    from berth.builder.plan import BuildOptions, Plan
    from berth.builder.solver import BuildRequest, BuildResult, Solver, load_plan
    from berth.builder.steps import Secret

_WHERE = {
    "DockerfileError": "errors", "StepFailed": "errors", "TextProgress": "output", "BuildOptions": "plan",
    "Plan": "plan", "BuildRequest": "solver", "BuildResult": "solver", "Solver": "solver", "load_plan": "solver",
    "Secret": "steps",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'berth.builder' has no attribute {name!r}")
    return getattr(importlib.import_module(f"berth.builder.{module}"), name)


__all__ = ["BuildOptions", "BuildRequest", "BuildResult", "DockerfileError", "Plan", "Secret", "Solver",
           "StepFailed", "TextProgress", "load_plan"]
