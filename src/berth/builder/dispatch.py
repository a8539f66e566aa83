"""One instruction's meaning: how it changes the image config, what op it runs, the
history text Docker (BuildKit) records for it, and which build args it used.

The rules follow BuildKit's ``dockerfile2llb`` and Docker's documentation:

- ENV values always win over ARG values of the same name; both expand in later
  instructions. An ARG is visible only after its declaration, only in its stage; an
  ``ARG NAME`` without a default inside a stage takes the global (before-FROM) value.
- A RUN sees every ARG in scope as an environment variable, so a changed value misses
  the cache at the first RUN after the ARG — not at the ARG itself — and at any other
  instruction whose expansion reads it.
- ``HTTP_PROXY`` and friends may be passed without an ARG; they reach RUN steps but
  never the history or a cache key.
- CMD sets Cmd; ENTRYPOINT sets Entrypoint and clears an inherited Cmd (one set in this
  stage stays). Shell forms are prefixed with SHELL (``/bin/sh -c``).
"""

from __future__ import annotations

import csv
import json
import posixpath
import re
import signal as _signal
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from berth.builder import instructions as ins
from berth.builder.errors import DockerfileError
from berth.builder.ops import CONTEXT, ConfigOp, CopyOp, InlineFile, Op, RunMount, RunOp, SourceRef, WorkdirOp
from berth.builder.parser import Dockerfile
from berth.builder.substitution import Lexer, SubstitutionError
from berth.oci.descriptor import Platform
from berth.oci.image import ContainerConfig, HealthConfig

PROXY_ARGS = frozenset({"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
                        "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"})
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHELL = ("/bin/sh", "-c")
HISTORY_COMMENT = "buildkit.dockerfile.v0"


def platform_args(target: Platform, build: Platform | None = None) -> dict[str, str]:
    """BuildKit's automatic platform ARGs."""
    build = build or Platform.host()
    out: dict[str, str] = {}
    for prefix, p in (("TARGET", target), ("BUILD", build)):
        out[prefix + "PLATFORM"] = f"{p.os}/{p.architecture}" + (f"/{p.variant}" if p.variant else "")
        out[prefix + "OS"] = p.os
        out[prefix + "ARCH"] = p.architecture
        out[prefix + "VARIANT"] = p.variant or ""
    return out


@dataclass
class Scope:
    """What every stage of one build shares."""

    df: Dockerfile
    lexer: Lexer
    build_args: Mapping[str, str]
    meta: dict[str, str | None]  # global ARGs (before the first FROM) and their values
    auto: dict[str, str]  # platform ARGs
    stage_names: dict[str, int]  # lower-case name → index
    network: str = "host"
    consumed: set[str] = field(default_factory=set)

    def error(self, line: int, reason: str) -> DockerfileError:
        return DockerfileError(self.df.filename, line, reason)

    def source_ref(self, name: str, current: int, line: int) -> SourceRef:
        """``--from=NAME``: an earlier stage (by name or index) or an image."""
        if name.isdigit():
            index = int(name)
            if index >= current:
                raise self.error(line, f"invalid from flag value {name}: refers to current or later build stage")
            return SourceRef("stage", index)
        index_of = self.stage_names.get(name.lower())
        if index_of is not None and index_of < current:
            return SourceRef("stage", index_of)
        if index_of is not None:
            raise self.error(line, f"invalid from flag value {name}: refers to current or later build stage")
        return SourceRef("image", ref=name)


@dataclass
class StageState:
    index: int
    config: ContainerConfig
    args: dict[str, str | None] = field(default_factory=dict)  # declared in this stage, in order
    cmd_set: bool = False
    author: str = ""

    def env_map(self) -> dict[str, str]:
        return self.config.env_map()

    def expansion_env(self) -> dict[str, str]:
        return {**{k: v for k, v in self.args.items() if v is not None}, **self.env_map()}

    def args_used(self, names: set[str]) -> dict[str, str]:
        env = self.env_map()
        return {n: v for n, v in self.args.items() if n in names and v is not None and n not in env}


@dataclass(frozen=True, slots=True)
class Draft:
    """An instruction dispatched: the op, and what the step will record."""

    op: Op
    created_by: str
    used_args: dict[str, str]


class Dispatcher:
    def __init__(self, scope: Scope, state: StageState) -> None:
        self.scope = scope
        self.state = state

    # ------------------------------------------------------------ expansion

    def _expand(self, word: str, line: int, used: set[str], *, raw: bool = False) -> str:
        try:
            result = self.scope.lexer.expand(word, self.state.expansion_env(), raw=raw)
        except SubstitutionError as err:
            raise self.scope.error(line, f"{err}: {word!r}") from err
        used |= result.used
        return result.value

    def _current_shell(self) -> tuple[str, ...]:
        return self.state.config.shell or DEFAULT_SHELL

    def _set(self, **changes: Any) -> None:
        self.state.config = replace(self.state.config, **changes)

    # ------------------------------------------------------------ dispatch

    def dispatch(self, instr: ins.Instruction) -> Draft:
        handler = getattr(self, "_" + instr.kind.lower())
        draft: Draft = handler(instr)
        return draft

    def _arg(self, instr: ins.Arg) -> Draft:
        used: set[str] = set()
        for name, default in instr.pairs:
            value: str | None
            if name in self.scope.build_args:
                value = self.scope.build_args[name]
                self.scope.consumed.add(name)
            elif default is not None:
                value = self._expand(default, instr.line, used)
            elif name in self.scope.meta:
                value = self.scope.meta[name]
            elif name in self.scope.auto:
                value = self.scope.auto[name]
            else:
                value = None
            self.state.args.pop(name, None)
            self.state.args[name] = value
        # The history names the ARG as written: the value a build passes shows up where
        # it is used (RUN's "|1 NAME=value"), so changing it misses the cache there.
        words = [f"{n}={d}" if d is not None else n for n, d in instr.pairs]
        return Draft(ConfigOp(), "ARG " + " ".join(words), self.state.args_used(used))

    def _env(self, instr: ins.Env) -> Draft:
        used: set[str] = set()
        pairs = [(self._expand(k, instr.line, used), self._expand(v, instr.line, used)) for k, v in instr.pairs]
        env = list(self.state.config.env)
        for key, value in pairs:
            item = f"{key}={value}"
            for i, existing in enumerate(env):
                if existing.partition("=")[0] == key:
                    env[i] = item
                    break
            else:
                env.append(item)
        self._set(env=tuple(env))
        return Draft(ConfigOp(), "ENV " + " ".join(f"{k}={v}" for k, v in pairs), self.state.args_used(used))

    def _label(self, instr: ins.Label) -> Draft:
        used: set[str] = set()
        pairs = [(self._expand(k, instr.line, used), self._expand(v, instr.line, used)) for k, v in instr.pairs]
        labels = dict(self.state.config.labels)
        labels.update(pairs)
        self._set(labels=labels)
        return Draft(ConfigOp(), "LABEL " + " ".join(f"{k}={v}" for k, v in pairs), self.state.args_used(used))

    def _workdir(self, instr: ins.Workdir) -> Draft:
        used: set[str] = set()
        path = self._expand(instr.path, instr.line, used)
        if not path:
            raise self.scope.error(instr.line, "WORKDIR requires a path")
        wd = posixpath.normpath(posixpath.join("/", self.state.config.working_dir or "/", path))
        self._set(working_dir=wd)
        op: Op = WorkdirOp(wd, self.state.config.user) if wd != "/" else ConfigOp()
        return Draft(op, "WORKDIR " + wd, self.state.args_used(used))

    def _user(self, instr: ins.User) -> Draft:
        used: set[str] = set()
        user = self._expand(instr.user, instr.line, used)
        self._set(user=user)
        return Draft(ConfigOp(), "USER " + user, self.state.args_used(used))

    def _maintainer(self, instr: ins.Maintainer) -> Draft:
        self.state.author = instr.name
        return Draft(ConfigOp(), "MAINTAINER " + instr.name, {})

    def _cmd(self, instr: ins.Cmd) -> Draft:
        args = self._current_shell() + instr.command if instr.shell_form else instr.command
        self._set(cmd=tuple(args))
        self.state.cmd_set = True
        return Draft(ConfigOp(), "CMD " + go_quote_list(args), {})

    def _entrypoint(self, instr: ins.Entrypoint) -> Draft:
        args = self._current_shell() + instr.command if instr.shell_form else instr.command
        changes: dict[str, Any] = {"entrypoint": tuple(args)}
        if not self.state.cmd_set:
            changes["cmd"] = None
        self._set(**changes)
        return Draft(ConfigOp(), "ENTRYPOINT " + go_quote_list(args), {})

    def _shell(self, instr: ins.Shell) -> Draft:
        self._set(shell=tuple(instr.shell))
        return Draft(ConfigOp(), "SHELL [" + " ".join(instr.shell) + "]", {})

    def _expose(self, instr: ins.Expose) -> Draft:
        used: set[str] = set()
        ports: set[str] = set()
        for word in instr.ports:
            for spec in self._expand(word, instr.line, used).split():
                ports.update(parse_port_spec(spec, lambda reason: self.scope.error(instr.line, reason)))
        self._set(exposed_ports=tuple(sorted(set(self.state.config.exposed_ports) | ports)))
        shown = " ".join(f"{p}:{{}}" for p in sorted(ports))
        return Draft(ConfigOp(), f"EXPOSE map[{shown}]", self.state.args_used(used))

    def _volume(self, instr: ins.Volume) -> Draft:
        used: set[str] = set()
        paths = [self._expand(p, instr.line, used) for p in instr.paths]
        if any(not p.strip() for p in paths):
            raise self.scope.error(instr.line, "VOLUME specified can not be an empty string")
        self._set(volumes=tuple(sorted(set(self.state.config.volumes) | set(paths))))
        return Draft(ConfigOp(), "VOLUME [" + " ".join(paths) + "]", self.state.args_used(used))

    def _stopsignal(self, instr: ins.Stopsignal) -> Draft:
        used: set[str] = set()
        sig = self._expand(instr.signal, instr.line, used)
        if not valid_signal(sig):
            raise self.scope.error(instr.line, f"invalid signal: {sig}")
        self._set(stop_signal=sig)
        return Draft(ConfigOp(), "STOPSIGNAL " + sig, self.state.args_used(used))

    def _healthcheck(self, instr: ins.Healthcheck) -> Draft:
        def duration(flag: str, text: str | None) -> int:
            if text is None:
                return 0
            try:
                value = parse_go_duration(text)
            except ValueError:
                raise self.scope.error(instr.line, f"invalid --{flag} value {text!r}: not a duration") from None
            if value < 0:
                raise self.scope.error(instr.line, f"--{flag} cannot be negative")
            if 0 < value < 1_000_000:
                raise self.scope.error(instr.line, f"--{flag} cannot be less than 1ms")
            return value

        retries = 0
        if instr.retries is not None:
            if not re.fullmatch(r"-?\d+", instr.retries):
                raise self.scope.error(instr.line, f"invalid --retries value {instr.retries!r}")
            retries = int(instr.retries)
            if retries < 0:
                raise self.scope.error(instr.line, "--retries cannot be negative")
        health = HealthConfig(instr.test, duration("interval", instr.interval), duration("timeout", instr.timeout),
                              duration("start-period", instr.start_period),
                              duration("start-interval", instr.start_interval), retries)
        self._set(healthcheck=health)
        shown = (f"&{{{go_quote_list(health.test)} {go_quote(go_duration(health.interval))} "
                 f"{go_quote(go_duration(health.timeout))} {go_quote(go_duration(health.start_period))} "
                 f"{go_quote(go_duration(health.start_interval))} {go_quote_rune(health.retries)}}}")
        return Draft(ConfigOp(), "HEALTHCHECK " + shown, {})

    def _onbuild(self, instr: ins.Onbuild) -> Draft:
        self._set(on_build=(*self.state.config.on_build, instr.expression))
        return Draft(ConfigOp(), "ONBUILD " + instr.expression, {})

    # ------------------------------------------------------------ RUN

    def _run(self, instr: ins.Run) -> Draft:
        used: set[str] = set()
        mounts = tuple(self._mount(text, instr.line, used) for text in instr.mounts)
        network = self.scope.network
        if instr.network is not None:
            wanted = self._expand(instr.network, instr.line, used)
            if wanted not in ("none", "host", "default"):
                raise self.scope.error(instr.line, f"RUN --network={wanted}: expected none, host or default")
            network = self.scope.network if wanted == "default" else wanted
        if instr.security not in (None, "sandbox"):
            raise self.scope.error(instr.line, f"RUN --security={instr.security}: only sandbox is supported")
        files: tuple[InlineFile, ...] = ()
        if instr.shell_form and instr.heredocs:
            command = instr.command[0]
            first = instr.heredocs[0]
            if re.fullmatch(r"\s*<<-?\s*[\"']?" + re.escape(first.name) + r"[\"']?\s*", command):
                if first.data.startswith("#!"):
                    target = f"/dev/pipes/{first.name}"
                    files = (InlineFile(target, first.data),)
                    args: tuple[str, ...] = (target,)
                else:
                    args = (first.data,)
            else:
                full = command
                for doc in instr.heredocs:
                    full += "\n" + doc.content + doc.name
                args = (full,)
        else:
            args = instr.command
        if instr.shell_form:
            args = self._current_shell() + args
        env_map = self.state.env_map()
        build_env = [f"{k}={v}" for k, v in self.state.args.items() if v is not None and k not in env_map]
        proxies = tuple(f"{k}={v}" for k, v in self.scope.build_args.items()
                        if k in PROXY_ARGS and k not in self.state.args)
        for k in self.scope.build_args:
            if k in PROXY_ARGS:
                self.scope.consumed.add(k)
        op = RunOp(args, (*self.state.config.env, *build_env), self.state.config.working_dir or "/",
                   self.state.config.user, network, mounts, files, proxies)
        shown_args = [f"{k}={env_map.get(k, v or '')}" for k, v in self.state.args.items() if k not in PROXY_ARGS]
        prefix = f"|{len(shown_args)} " + " ".join(shown_args) + " " if shown_args else ""
        every = {n for n, v in self.state.args.items() if v is not None}
        return Draft(op, "RUN " + prefix + " ".join(args) + " # buildkit", self.state.args_used(every | used))

    def _mount(self, text: str, line: int, used: set[str]) -> RunMount:
        try:
            fields = next(csv.reader([text]))
        except (csv.Error, StopIteration):
            raise self.scope.error(line, f"--mount={text}: malformed") from None
        opts: dict[str, str] = {}
        for item in fields:
            key, has, value = item.strip().partition("=")
            key = key.lower()
            opts[key] = self._expand(value, line, used) if has else "true"
        kind = opts.pop("type", "bind")
        target = opts.pop("target", opts.pop("dst", opts.pop("destination", "")))
        source = opts.pop("source", opts.pop("src", ""))
        readonly = None
        for key in ("ro", "readonly"):
            if key in opts:
                readonly = opts.pop(key).lower() in ("true", "1", "")
        for key in ("rw", "readwrite"):
            if key in opts:
                readonly = opts.pop(key).lower() not in ("true", "1", "")
        from_text = opts.pop("from", "")
        if kind not in ("bind", "cache", "tmpfs", "secret"):
            raise self.scope.error(line, f"--mount type={kind}: not supported (bind, cache, tmpfs, secret)")
        mount_id = opts.pop("id", "")
        if kind == "secret":
            if not mount_id and target:
                mount_id = posixpath.basename(target)
            if not mount_id:
                raise self.scope.error(line, "--mount type=secret needs an id or a target")
            target = target or f"/run/secrets/{mount_id}"
        if not target:
            raise self.scope.error(line, f"--mount type={kind} needs a target")
        if not target.startswith("/"):
            target = posixpath.join(self.state.config.working_dir or "/", target)
        target = posixpath.normpath(target)

        def number(key: str, base: int = 10) -> int | None:
            if key not in opts:
                return None
            try:
                return int(opts.pop(key), base)
            except ValueError:
                raise self.scope.error(line, f"--mount {key}: not a number") from None

        mount = RunMount(
            type=kind,  # type: ignore[arg-type]
            target=target,
            source=source,
            from_=self.scope.source_ref(from_text, self.state.index, line) if from_text else CONTEXT,
            readonly=bool(readonly) if readonly is not None else kind in ("bind", "secret"),
            id=mount_id or (target if kind == "cache" else ""),
            sharing=opts.pop("sharing", "shared"),
            mode=number("mode", 8),
            uid=number("uid"),
            gid=number("gid"),
            required=opts.pop("required", "false").lower() in ("true", "1", ""),
            env=opts.pop("env", ""),
            size=number("size") or 0,
        )
        if mount.sharing not in ("shared", "private", "locked"):
            raise self.scope.error(line, f"--mount sharing={mount.sharing}: expected shared, private or locked")
        if opts:
            raise self.scope.error(line, f"--mount: unknown option {sorted(opts)[0]!r}")
        return mount

    # ------------------------------------------------------------ COPY / ADD

    def _copy(self, instr: ins.Copy | ins.Add) -> Draft:
        used: set[str] = set()
        add = isinstance(instr, ins.Add)
        sources = tuple(self._expand(s, instr.line, used) for s in instr.sources)
        dest_word = self._expand(instr.dest, instr.line, used)
        heredocs = tuple((h.name, self._expand(h.data, instr.line, used, raw=True) if h.expand else h.data)
                         for h in instr.heredocs)
        if len(sources) + len(heredocs) > 1 and not dest_word.endswith("/"):
            raise self.scope.error(instr.line, f"When using {instr.kind} with more than one source file, the "
                                               "destination must be a directory and end with a /")
        dest = posixpath.join(self.state.config.working_dir or "/", dest_word)
        is_dir = dest_word.endswith(("/", "/.", "/..")) or dest_word in ("", ".")
        dest = posixpath.normpath(dest)
        if is_dir and dest != "/":
            dest += "/"
        source = CONTEXT
        if isinstance(instr, ins.Copy) and instr.from_ is not None:
            source = self.scope.source_ref(self._expand(instr.from_, instr.line, used), self.state.index, instr.line)
        chmod = None
        if instr.chmod is not None:
            text = self._expand(instr.chmod, instr.line, used)
            if not re.fullmatch(r"[0-7]{1,4}", text):
                raise self.scope.error(instr.line, f"invalid chmod parameter {text!r}: expected an octal mode")
            chmod = int(text, 8)
        chown = self._expand(instr.chown, instr.line, used) if instr.chown else ""
        checksum = ""
        if isinstance(instr, ins.Add):
            for src in sources:
                if src.startswith("git@") or src.endswith(".git") and "://" in src:
                    raise self.scope.error(instr.line, f"ADD {src}: git sources are not supported by berth build")
            if instr.checksum:
                checksum = self._expand(instr.checksum, instr.line, used)
                if not re.fullmatch(r"sha256:[0-9a-f]{64}", checksum):
                    raise self.scope.error(instr.line, f"ADD --checksum={checksum}: expected sha256:<64 hex>")
                if not all(_is_url(s) for s in sources):
                    raise self.scope.error(instr.line, "ADD --checksum is only for URL sources")
        op = CopyOp(sources, dest, source, chown, chmod, add, heredocs,
                    tuple(self._expand(e, instr.line, used) for e in instr.exclude), checksum,
                    multiple=len(sources) + len(heredocs) > 1)
        words = [*sources, *(f"<<{name}" for name, _ in heredocs), dest_word]
        return Draft(op, f"{instr.kind} {' '.join(words)} # buildkit", self.state.args_used(used))

    _add = _copy


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


is_url = _is_url


# --------------------------------------------------------------------------- Go formats

def go_quote(text: str) -> str:
    """Go's ``%q`` of a string (close enough for history text)."""
    return json.dumps(text, ensure_ascii=False)


def go_quote_list(items: tuple[str, ...] | list[str]) -> str:
    """Go's ``%q`` of a []string: ``["/bin/sh" "-c" "make"]``."""
    return "[" + " ".join(go_quote(i) for i in items) + "]"


_RUNE_ESCAPES = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r", 39: "\\'", 92: "\\\\"}


def go_quote_rune(value: int) -> str:
    if value in _RUNE_ESCAPES:
        return f"'{_RUNE_ESCAPES[value]}'"
    if 32 <= value < 127:
        return f"'{chr(value)}'"
    return f"'\\x{value:02x}'" if value < 256 else f"'\\u{value:04x}'"


_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
          "m": 60_000_000_000, "h": 3_600_000_000_000}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> int:
    """``1m30s`` → nanoseconds (Go's time.ParseDuration)."""
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    if body == "0":
        return 0
    pos = 0
    total = 0.0
    while pos < len(body):
        m = _DURATION_PART.match(body, pos)
        if not m:
            raise ValueError(text)
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not body:
        raise ValueError(text)
    return sign * round(total)


def go_duration(ns: int) -> str:
    """Go's Duration.String(): ``1m30s``, ``500ms``, ``0s``."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    u = abs(ns)
    if u < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if u >= size:
                return sign + _frac(u, size) + unit
    hours, rest = divmod(u, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds = _frac(rest, 1_000_000_000) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{sign}{minutes}m{seconds}"
    return sign + seconds


def _frac(value: int, unit: int) -> str:
    whole, rest = divmod(value, unit)
    if not rest:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}." + f"{rest:0{digits}d}".rstrip("0")


def parse_port_spec(spec: str, error: Any) -> list[str]:
    """``80``, ``80/udp``, ``8000-8002/tcp`` → ["80/tcp"], …"""
    port, _, proto = spec.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in ("tcp", "udp", "sctp"):
        raise error(f"invalid proto: {proto}")
    start_text, dash, end_text = port.partition("-")
    try:
        start = int(start_text)
        end = int(end_text) if dash else start
    except ValueError:
        raise error(f"invalid containerPort: {port}") from None
    if not (0 <= start <= 65535 and 0 <= end <= 65535) or end < start:
        raise error(f"invalid range specified for container port: {port}")
    return [f"{p}/{proto}" for p in range(start, end + 1)]


def valid_signal(text: str) -> bool:
    name = text.strip().upper()
    if name.isdigit():
        return 0 < int(name) < 65
    name = name if name.startswith("SIG") else "SIG" + name
    if name in _signal.Signals.__members__:
        return True
    return bool(re.fullmatch(r"SIGRTM(IN\+\d+|AX-\d+|IN|AX)", name))
