"""Nodes → typed instructions (after BuildKit's ``frontend/dockerfile/instructions``).

Each instruction keeps its words as written: variables are expanded later, by the
dispatcher (plan.py), because their values depend on the ARGs and ENVs before them.
What can be checked without values is checked here: the instruction is known, its
flags exist and are not repeated, it has the arguments it needs, its JSON form is
allowed. Errors name the file and line.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from berth.builder.parser import Dockerfile, Heredoc, Node

STAGE_NAME = re.compile(r"^[a-z][a-z0-9\-_.]*$")


@dataclass(frozen=True, slots=True)
class Instruction:
    line: int
    original: str

    @property
    def kind(self) -> str:
        return type(self).__name__.upper()

    def to_json(self) -> dict[str, Any]:
        """The fields, for golden tests and ``berth build --print-plan``."""
        out: dict[str, Any] = {"kind": self.kind}
        for f in dataclasses.fields(self):
            if f.name in ("original",):
                continue
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = [_jsonable(v) for v in value]
            out[f.name] = _jsonable(value)
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, Heredoc):
        return {"name": value.name, "data": value.data, "expand": value.expand}
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class From(Instruction):
    image: str
    stage: str | None = None  # lower case
    platform: str | None = None


@dataclass(frozen=True, slots=True)
class Arg(Instruction):
    pairs: tuple[tuple[str, str | None], ...]  # (name, default as written)


@dataclass(frozen=True, slots=True)
class Env(Instruction):
    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Label(Instruction):
    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Workdir(Instruction):
    path: str


@dataclass(frozen=True, slots=True)
class User(Instruction):
    user: str


@dataclass(frozen=True, slots=True)
class Run(Instruction):
    command: tuple[str, ...]  # shell form: one string
    shell_form: bool
    heredocs: tuple[Heredoc, ...] = ()
    mounts: tuple[str, ...] = ()  # --mount values as written
    network: str | None = None
    security: str | None = None


@dataclass(frozen=True, slots=True)
class Copy(Instruction):
    sources: tuple[str, ...]
    dest: str
    from_: str | None = None
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    exclude: tuple[str, ...] = ()
    heredocs: tuple[Heredoc, ...] = ()  # sources that are "<<NAME" words


@dataclass(frozen=True, slots=True)
class Add(Instruction):
    sources: tuple[str, ...]
    dest: str
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    exclude: tuple[str, ...] = ()
    checksum: str | None = None
    keep_git_dir: bool = False
    heredocs: tuple[Heredoc, ...] = ()


@dataclass(frozen=True, slots=True)
class Cmd(Instruction):
    command: tuple[str, ...]
    shell_form: bool


@dataclass(frozen=True, slots=True)
class Entrypoint(Instruction):
    command: tuple[str, ...]
    shell_form: bool


@dataclass(frozen=True, slots=True)
class Shell(Instruction):
    shell: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Expose(Instruction):
    ports: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Volume(Instruction):
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Healthcheck(Instruction):
    test: tuple[str, ...]  # ("NONE",), ("CMD", args…) or ("CMD-SHELL", command)
    interval: str | None = None
    timeout: str | None = None
    start_period: str | None = None
    start_interval: str | None = None
    retries: str | None = None


@dataclass(frozen=True, slots=True)
class Stopsignal(Instruction):
    signal: str


@dataclass(frozen=True, slots=True)
class Onbuild(Instruction):
    expression: str  # "RUN make", stored in the image config's OnBuild


@dataclass(frozen=True, slots=True)
class Maintainer(Instruction):
    name: str


@dataclass(frozen=True, slots=True)
class Stage:
    """A FROM and the instructions up to the next FROM."""

    index: int
    source: From
    instructions: tuple[Instruction, ...] = field(default=())

    @property
    def name(self) -> str | None:
        return self.source.stage


@dataclass(frozen=True, slots=True)
class Program:
    """A whole Dockerfile: the ARGs before the first FROM, and the stages."""

    dockerfile: Dockerfile
    meta_args: tuple[Arg, ...]
    stages: tuple[Stage, ...]


# --------------------------------------------------------------------------- flags

_FLAGS: dict[str, dict[str, str]] = {  # instruction → flag → "str" | "bool" | "multi"
    "FROM": {"platform": "str"},
    "RUN": {"mount": "multi", "network": "str", "security": "str"},
    "COPY": {"from": "str", "chown": "str", "chmod": "str", "link": "bool", "exclude": "multi",
             "parents": "bool"},
    "ADD": {"chown": "str", "chmod": "str", "link": "bool", "exclude": "multi", "checksum": "str",
            "keep-git-dir": "bool"},
    "HEALTHCHECK": {"interval": "str", "timeout": "str", "start-period": "str", "start-interval": "str",
                    "retries": "str"},
}


class _Flags:
    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if isinstance(value, str) else None

    def flag(self, name: str) -> bool:
        return bool(self.values.get(name, False))

    def many(self, name: str) -> tuple[str, ...]:
        return tuple(self.values.get(name, ()))


def _flags(df: Dockerfile, node: Node, cmd: str) -> _Flags:
    known = _FLAGS.get(cmd, {})
    values: dict[str, Any] = {}
    for raw in node.flags:
        if not raw.startswith("--"):
            raise df.error(node, f"{cmd}: malformed flag {raw!r}")
        name, has_value, value = raw[2:].partition("=")
        kind = known.get(name)
        if kind is None:
            raise df.error(node, f"unknown flag: --{name} ({cmd} takes "
                           f"{', '.join('--' + k for k in known) if known else 'no flags'})")
        if kind == "multi":
            values.setdefault(name, []).append(value)
            continue
        if name in values:
            raise df.error(node, f"duplicate flag specified: --{name}")
        if kind == "bool":
            if has_value and value.lower() not in ("true", "false"):
                raise df.error(node, f"expecting boolean value for flag --{name}, not: {value}")
            values[name] = not has_value or value.lower() == "true"
        else:
            if not has_value:
                raise df.error(node, f"missing a value on flag: --{name}")
            values[name] = value
    return _Flags(values)


# --------------------------------------------------------------------------- parsing

def parse_program(df: Dockerfile) -> Program:
    """Typed stages of a parsed Dockerfile."""
    meta: list[Arg] = []
    stages: list[Stage] = []
    current: From | None = None
    body: list[Instruction] = []
    names: set[str] = set()
    for node in df.nodes:
        instr = parse_instruction(df, node)
        if isinstance(instr, From):
            if current is not None:
                stages.append(Stage(len(stages), current, tuple(body)))
            if instr.stage is not None:
                if instr.stage in names:
                    raise df.error(node, f"duplicate stage name {instr.stage!r}")
                names.add(instr.stage)
            current, body = instr, []
        elif current is None:
            if not isinstance(instr, Arg):
                raise df.error(node, f"{instr.kind} before FROM: only ARG may come before the first FROM")
            meta.append(instr)
        else:
            body.append(instr)
    if current is None:
        raise df.error(None, "no FROM instruction: a Dockerfile must start a stage with FROM")
    stages.append(Stage(len(stages), current, tuple(body)))
    return Program(df, tuple(meta), tuple(stages))


def parse_instruction(df: Dockerfile, node: Node) -> Instruction:
    cmd = node.cmd
    parse = _PARSERS.get(cmd)
    if parse is None:
        raise df.error(node, f"unknown instruction: {cmd}")
    flags = _flags(df, node, cmd)
    return parse(df, node, flags)


def _need(df: Dockerfile, node: Node, at_least: int = 1) -> None:
    if len([v for v in node.value if v != ""]) < at_least:
        if at_least == 1:
            raise df.error(node, f"{node.cmd} requires at least one argument")
        raise df.error(node, f"{node.cmd} requires at least {at_least} arguments")


def _from(df: Dockerfile, node: Node, flags: _Flags) -> Instruction:
    words = node.value
    if len(words) not in (1, 3) or (len(words) == 3 and words[1].lower() != "as"):
        raise df.error(node, "FROM requires either one argument, or three: FROM <image> [AS <name>]")
    stage = None
    if len(words) == 3:
        stage = words[2].lower()
        if not STAGE_NAME.match(stage):
            raise df.error(node, f"invalid name for build stage: {words[2]!r}, name can't start with a number "
                                 "or contain symbols")
    return From(node.start_line, node.original, words[0], stage, flags.text("platform"))


def _arg(df: Dockerfile, node: Node, flags: _Flags) -> Instruction:
    _need(df, node)
    pairs: list[tuple[str, str | None]] = []
    for word in node.value:
        name, has, default = word.partition("=")
        if not name:
            raise df.error(node, f"ARG names can not be blank: {word!r}")
        pairs.append((name, default if has else None))
    return Arg(node.start_line, node.original, tuple(pairs))


def _pairs(df: Dockerfile, node: Node) -> tuple[tuple[str, str], ...]:
    _need(df, node)
    values = node.value
    if len(values) % 2:
        raise df.error(node, f"{node.cmd} must have two arguments")
    pairs = tuple(zip(values[0::2], values[1::2], strict=True))
    for key, _ in pairs:
        if not key:
            raise df.error(node, f"{node.cmd} names can not be blank")
    return pairs


def _env(df: Dockerfile, node: Node, flags: _Flags) -> Instruction:
    return Env(node.start_line, node.original, _pairs(df, node))


def _label(df: Dockerfile, node: Node, flags: _Flags) -> Instruction:
    return Label(node.start_line, node.original, _pairs(df, node))


def _single(df: Dockerfile, node: Node) -> str:
    _need(df, node)
    if len(node.value) != 1:
        raise df.error(node, f"{node.cmd} requires exactly one argument")
    return node.value[0]


def _workdir(df: Dockerfile, node: Node, flags: _Flags) -> Instruction:
    return Workdir(node.start_line, node.original, _single(df, node))


def _user(df: Dockerfile, node: Node, flags: _Flags) -> Instruction:
    return User(node.start_line, node.original, _single(df, node))


def _run(df: Dockerfile, node: Node, flags: _Flags) -> Instruction:
    _need(df, node)
    return Run(node.start_line, node.original, node.value, not node.json, node.heredocs, flags.many("mount"),
               flags.text("network"), flags.text("security"))


def _copy_words(df: Dockerfile, node: Node) -> tuple[tuple[str, ...], str, tuple[Heredoc, ...]]:
    words = node.value
    if len(words) < 2:
        raise df.error(node, f"{node.cmd} requires at least two arguments, but got {len(words)}: "
                             f"{node.cmd} <src>... <dest>")
    heredocs = {h.name: h for h in node.heredocs}
    sources: list[str] = []
    docs: list[Heredoc] = []
    for word in words[:-1]:
        m = re.match(r"^<<-?[\"']?([^\"']*)[\"']?$", word) if node.heredocs else None
        if m and m.group(1) in heredocs:
            docs.append(heredocs[m.group(1)])
        else:
            sources.append(word)
    return tuple(sources), words[-1], tuple(docs)


def _copy(df: Dockerfile, node: Node, flags: _Flags) -> Instruction:
    if flags.flag("parents"):
        raise df.error(node, "COPY --parents is not supported by berth build")
    sources, dest, docs = _copy_words(df, node)
    return Copy(node.start_line, node.original, sources, dest, flags.text("from"), flags.text("chown"),
                flags.text("chmod"), flags.flag("link"), flags.many("exclude"), docs)


def _add(df: Dockerfile, node: Node, flags: _Flags) -> Instruction:
    sources, dest, docs = _copy_words(df, node)
    return Add(node.start_line, node.original, sources, dest, flags.text("chown"), flags.text("chmod"),
               flags.flag("link"), flags.many("exclude"), flags.text("checksum"), flags.flag("keep-git-dir"), docs)


def _cmd(df: Dockerfile, node: Node, flags: _Flags) -> Instruction:
    return Cmd(node.start_line, node.original, node.value, not node.json)


def _entrypoint(df: Dockerfile, node: Node, flags: _Flags) -> Instruction:
    return Entrypoint(node.start_line, node.original, node.value, not node.json)


def _shell(df: Dockerfile, node: Node, flags: _Flags) -> Instruction:
    _need(df, node)
    if not node.json:
        raise df.error(node, "SHELL requires the arguments to be in JSON form")
    return Shell(node.start_line, node.original, node.value)


def _expose(df: Dockerfile, node: Node, flags: _Flags) -> Instruction:
    _need(df, node)
    return Expose(node.start_line, node.original, node.value)


def _volume(df: Dockerfile, node: Node, flags: _Flags) -> Instruction:
    _need(df, node)
    for path in node.value:
        if not path.strip():
            raise df.error(node, "VOLUME specified can not be an empty string")
    return Volume(node.start_line, node.original, node.value)


def _healthcheck(df: Dockerfile, node: Node, flags: _Flags) -> Instruction:
    _need(df, node)
    kind = node.value[0].upper()
    rest = node.value[1:]
    if kind == "NONE":
        if rest or node.flags:
            raise df.error(node, "HEALTHCHECK NONE takes no arguments or flags")
        return Healthcheck(node.start_line, node.original, ("NONE",))
    if kind != "CMD":
        raise df.error(node, f"unknown type {node.value[0]!r} in HEALTHCHECK (try CMD)")
    if not rest or not any(rest):
        raise df.error(node, "HEALTHCHECK CMD requires a command")
    test = ("CMD", *rest) if node.json else ("CMD-SHELL", rest[0])
    return Healthcheck(node.start_line, node.original, test, flags.text("interval"), flags.text("timeout"),
                       flags.text("start-period"), flags.text("start-interval"), flags.text("retries"))


def _stopsignal(df: Dockerfile, node: Node, flags: _Flags) -> Instruction:
    return Stopsignal(node.start_line, node.original, _single(df, node))


def _onbuild(df: Dockerfile, node: Node, flags: _Flags) -> Instruction:
    sub = node.sub_cmd or ""
    if not sub:
        raise df.error(node, "ONBUILD requires at least one argument")
    if sub in ("ONBUILD", "FROM", "MAINTAINER"):
        raise df.error(node, f"{sub} isn't allowed as an ONBUILD trigger")
    if sub not in _PARSERS:
        raise df.error(node, f"unknown instruction: {sub}")
    expression = re.sub(r"(?is)^\s*ONBUILD\s*", "", node.original)
    return Onbuild(node.start_line, node.original, expression)


def _maintainer(df: Dockerfile, node: Node, flags: _Flags) -> Instruction:
    _need(df, node)
    return Maintainer(node.start_line, node.original, " ".join(node.value))


_PARSERS = {
    "FROM": _from, "ARG": _arg, "ENV": _env, "LABEL": _label, "WORKDIR": _workdir, "USER": _user,
    "RUN": _run, "COPY": _copy, "ADD": _add, "CMD": _cmd, "ENTRYPOINT": _entrypoint, "SHELL": _shell,
    "EXPOSE": _expose, "VOLUME": _volume, "HEALTHCHECK": _healthcheck, "STOPSIGNAL": _stopsignal,
    "ONBUILD": _onbuild, "MAINTAINER": _maintainer,
}
