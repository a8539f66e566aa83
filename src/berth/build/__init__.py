"""berth.build: Dockerfile → typed instructions → a plan of steps with cache keys → image.

    from berth.build import BuildRequest, Solver, TextProgress
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

Importing this package is cheap: the Go parser is only loaded in a child process.
"""

from berth.build.errors import DockerfileError, StepFailed
from berth.build.output import TextProgress
from berth.build.plan import BuildOptions, Plan
from berth.build.solver import BuildRequest, BuildResult, Solver, load_plan
from berth.build.steps import Secret

__all__ = ["BuildOptions", "BuildRequest", "BuildResult", "DockerfileError", "Plan", "Secret", "Solver",
           "StepFailed", "TextProgress", "load_plan"]
