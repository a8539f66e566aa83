"""A Dockerfile and build options → the plan: the stages the target needs, in order,
each a list of steps whose ops, image configs and history text are fully worked out.

Nothing here touches a file system or a container. The only outside knowledge is the
config of base images (``ImageLookup``), so a plan can be printed and tested without
root: ``berth build --dry-run`` prints ``Plan.describe()``.

Which stages are built: the target (``--target``, else the last stage) and,
transitively, every stage it names in ``FROM``, ``COPY --from`` or
``RUN --mount=from=``. The others are not even resolved, so their base images need
not exist.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from berth.builder import instructions as ins
from berth.builder.dispatch import DEFAULT_PATH, PROXY_ARGS, Dispatcher, Scope, StageState, platform_args
from berth.builder.errors import DockerfileError
from berth.builder.ops import SCRATCH, ConfigOp, CopyOp, FromOp, Op, RunOp, SourceRef
from berth.builder.parser import Dockerfile, parse
from berth.builder.substitution import Lexer, SubstitutionError
from berth.oci.descriptor import Platform
from berth.oci.image import ContainerConfig


@dataclass(frozen=True, slots=True)
class BaseImage:
    ref: str  # as the Dockerfile wrote it (expanded)
    id: str  # sha256:… (the image config digest)
    config: ContainerConfig
    platform: Platform


class ImageLookup(Protocol):
    def base(self, ref: str) -> BaseImage:
        """The image ``ref`` names; raises ImageNotFound."""
        ...


@dataclass(frozen=True, slots=True)
class BuildOptions:
    build_args: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    network: str = "host"
    platform: Platform | None = None  # default: the host's


@dataclass(frozen=True, slots=True)
class Step:
    number: int  # 1-based over the whole plan
    stage: int
    line: int
    text: str  # the instruction as written, for the output
    op: Op
    config: ContainerConfig  # the image config after this step
    created_by: str
    author: str = ""
    used_args: dict[str, str] = field(default_factory=dict)
    trigger: bool = False  # an ONBUILD trigger of the base image

    @property
    def kind(self) -> str:
        return self.text.split(None, 1)[0].upper() if self.text else ""


@dataclass(frozen=True, slots=True)
class StagePlan:
    index: int
    name: str | None
    base: SourceRef
    base_image: BaseImage | None  # when ``base`` is an image
    steps: tuple[Step, ...]  # steps[0] is the FROM
    deps: tuple[int, ...]  # stages this one reads (base, COPY --from, RUN --mount from=)

    @property
    def config(self) -> ContainerConfig:
        return self.steps[-1].config

    @property
    def platform(self) -> Platform:
        return self.base_image.platform if self.base_image else Platform.host()

    def label(self) -> str:
        return f"stage {self.index}" + (f" ({self.name})" if self.name else "")


@dataclass(frozen=True, slots=True)
class Plan:
    filename: str
    stages: tuple[StagePlan, ...]  # the needed ones, in Dockerfile order
    target: int
    unused_args: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return sum(len(s.steps) for s in self.stages)

    def stage(self, index: int) -> StagePlan:
        for s in self.stages:
            if s.index == index:
                return s
        raise KeyError(index)

    def describe(self) -> str:
        lines = []
        for s in self.stages:
            lines.append(f"{s.label()}: FROM {s.base}" + (f" = {s.base_image.id}" if s.base_image else "")
                         + (f", needs stages {', '.join(map(str, s.deps))}" if s.deps else ""))
            for step in s.steps:
                lines.append(f"  {step.number}/{self.total} {_op_name(step.op)} {step.created_by}")
        lines.append(f"result: stage {self.target}")
        return "\n".join(lines)


def _op_name(op: Op) -> str:
    return type(op).__name__.removesuffix("Op").lower()


ParseText = Callable[[str], Dockerfile]


def make_plan(program: ins.Program, options: BuildOptions, images: ImageLookup,
              parse_text: ParseText | None = None) -> Plan:
    df = program.dockerfile
    lexer = Lexer(df.escape)
    platform = options.platform or Platform.host()
    auto = platform_args(platform)
    names = {s.name: s.index for s in program.stages if s.name}
    scope = Scope(df, lexer, dict(options.build_args), {}, auto, names, options.network)
    for arg in program.meta_args:
        for name, default in arg.pairs:
            env = {**auto, **{k: v for k, v in scope.meta.items() if v is not None}}
            if name in options.build_args:
                scope.meta[name] = options.build_args[name]
                scope.consumed.add(name)
            elif default is not None:
                scope.meta[name] = _expand(scope, lexer, default, env, arg.line)
            else:
                scope.meta[name] = auto.get(name)
    bases = [_base_of(scope, stage) for stage in program.stages]
    deps = [_deps_of(scope, stage, bases[stage.index], options) for stage in program.stages]
    target = _target(df, program, options.target)
    needed = _closure(target, deps)
    plans: dict[int, StagePlan] = {}
    counter = [0]
    for stage in program.stages:
        if stage.index in needed:
            plans[stage.index] = _dispatch_stage(scope, stage, bases[stage.index], plans, images,
                                                 options if stage.index == target else None,
                                                 parse_text or parse, counter)
    unused = sorted(k for k in options.build_args
                    if k not in scope.consumed and k not in PROXY_ARGS and k not in auto)
    ordered = tuple(plans[i] for i in sorted(plans))
    return Plan(df.filename, ordered, target, tuple(unused))


def _expand(scope: Scope, lexer: Lexer, word: str, env: Mapping[str, str], line: int) -> str:
    try:
        return lexer.word(word, env)
    except SubstitutionError as err:
        raise scope.error(line, f"{err}: {word!r}") from err


def _base_of(scope: Scope, stage: ins.Stage) -> SourceRef:
    env = {**scope.auto, **{k: v for k, v in scope.meta.items() if v is not None}}
    image = _expand(scope, scope.lexer, stage.source.image, env, stage.source.line)
    if not image:
        raise scope.error(stage.source.line, f"FROM {stage.source.image}: the base name expands to nothing")
    if image.lower() == "scratch":
        return SCRATCH
    index = scope.stage_names.get(image.lower())
    if index is not None:
        if index >= stage.index:
            raise scope.error(stage.source.line, f"FROM {image}: a stage can only build on an earlier stage")
        return SourceRef("stage", index)
    return SourceRef("image", ref=image)


def _deps_of(scope: Scope, stage: ins.Stage, base: SourceRef, options: BuildOptions) -> set[int]:
    """Stages ``stage`` reads, found with the ARG values known before dispatch."""
    out = {base.stage} if base.kind == "stage" else set()
    env: dict[str, str] = {**scope.auto, **{k: v for k, v in scope.meta.items() if v is not None}}
    for instr in stage.instructions:
        words: list[str] = []
        if isinstance(instr, ins.Arg):
            for name, default in instr.pairs:
                if name in options.build_args:
                    env[name] = options.build_args[name]
                elif default is not None:
                    env[name] = _expand(scope, scope.lexer, default, env, instr.line)
        elif isinstance(instr, ins.Copy) and instr.from_:
            words.append(instr.from_)
        elif isinstance(instr, ins.Run):
            for mount in instr.mounts:
                for item in mount.split(","):
                    key, _, value = item.partition("=")
                    if key.strip().lower() == "from":
                        words.append(value)
        for word in words:
            ref = scope.source_ref(_expand(scope, scope.lexer, word, env, instr.line), stage.index, instr.line)
            if ref.kind == "stage":
                out.add(ref.stage)
    return out


def _target(df: Dockerfile, program: ins.Program, wanted: str | None) -> int:
    if wanted is None:
        return program.stages[-1].index
    for stage in program.stages:
        if stage.name == wanted.lower():
            return stage.index
    raise DockerfileError(df.filename, 0, f'target stage "{wanted}" could not be found')


def _closure(target: int, deps: list[set[int]]) -> set[int]:
    needed: set[int] = set()
    todo = [target]
    while todo:
        index = todo.pop()
        if index not in needed:
            needed.add(index)
            todo.extend(deps[index])
    return needed


def _dispatch_stage(scope: Scope, stage: ins.Stage, base: SourceRef, plans: dict[int, StagePlan],
                    images: ImageLookup, final: BuildOptions | None, parse_text: ParseText,
                    counter: list[int]) -> StagePlan:
    from berth.errors import NotFound

    base_image = None
    if base.kind == "scratch":
        config = ContainerConfig(env=(f"PATH={DEFAULT_PATH}",), working_dir="/")
    elif base.kind == "stage":
        config = plans[base.stage].config
    else:
        try:
            base_image = images.base(base.ref)
        except NotFound as err:
            raise scope.error(stage.source.line, f"FROM {base.ref}: {err} (berth build uses images in the "
                                                 "store: berth load, import or pull it first)") from err
        config = base_image.config
    triggers = config.on_build
    if "PATH" not in config.env_map():  # BuildKit: "make sure that PATH is always set"
        config = replace(config, env=(*config.env, f"PATH={DEFAULT_PATH}"))
    state = StageState(stage.index, replace(config, on_build=()))
    steps: list[Step] = []

    def add(text: str, line: int, op: Op, created_by: str, used: dict[str, str], trigger: bool = False) -> None:
        counter[0] += 1
        steps.append(Step(counter[0], stage.index, line, text, op, state.config, created_by, state.author,
                          used, trigger))

    counter[0] += 1
    steps.append(Step(counter[0], stage.index, stage.source.line, _first_line(stage.source.original),
                      FromOp(base), state.config, ""))
    dispatcher = Dispatcher(scope, state)
    for expression in triggers:
        instr = _trigger(scope.df, stage.source.line, expression, parse_text)
        draft = dispatcher.dispatch(instr)
        add(expression, stage.source.line, draft.op, draft.created_by, draft.used_args, trigger=True)
    for instr in stage.instructions:
        draft = dispatcher.dispatch(instr)
        add(_first_line(instr.original), instr.line, draft.op, draft.created_by, draft.used_args)
    if final is not None and final.labels:
        labels = dict(state.config.labels)
        labels.update(final.labels)
        state.config = replace(state.config, labels=labels)
        shown = " ".join(f"{k}={v}" for k, v in sorted(final.labels.items()))
        add(f"LABEL {shown}", 0, ConfigOp(), "LABEL " + shown, {})
    deps = sorted({base.stage} if base.kind == "stage" else set()
                  | {s.op.source.stage for s in steps if isinstance(s.op, CopyOp) and s.op.source.kind == "stage"}
                  | {m.from_.stage for s in steps if isinstance(s.op, RunOp) for m in s.op.mounts
                     if m.from_.kind == "stage"})
    return StagePlan(stage.index, stage.name, base, base_image, tuple(steps), tuple(deps))


def _first_line(original: str) -> str:
    return original.split("\n", 1)[0]


def _trigger(df: Dockerfile, line: int, expression: str, parse_text: ParseText) -> ins.Instruction:
    try:
        parsed = parse_text(expression)
        if len(parsed.nodes) != 1:
            raise DockerfileError(df.filename, line, "expected one instruction")
        node = replace(parsed.nodes[0], start_line=line, end_line=line)
        instr = ins.parse_instruction(replace(parsed, filename=df.filename), node)
    except DockerfileError as err:
        raise DockerfileError(df.filename, line, f"ONBUILD trigger {expression!r}: {err.reason}") from err
    if isinstance(instr, (ins.From, ins.Onbuild, ins.Maintainer)):
        raise DockerfileError(df.filename, line, f"{instr.kind} isn't allowed as an ONBUILD trigger")
    return instr
