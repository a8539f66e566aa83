"""What a build step does, as data (the plan's vocabulary; steps.py carries it out).

Every op is fully expanded — no variables left — and says everything its result
depends on except the inputs that only exist at build time (the files a COPY reads,
the result of another stage), which the solver hashes into the cache key beside
``definition()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

SourceKind = Literal["context", "stage", "image", "scratch"]


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where files or a base come from: the build context, an earlier stage (by
    index), an image in the store (by reference as written), or nothing."""

    kind: SourceKind
    stage: int = -1
    ref: str = ""

    def to_json(self) -> dict[str, Any]:
        if self.kind == "stage":
            return {"stage": self.stage}
        if self.kind == "image":
            return {"image": self.ref}
        return {"kind": self.kind}

    def __str__(self) -> str:
        return {"stage": f"stage {self.stage}", "image": f"image {self.ref}"}.get(self.kind, self.kind)


CONTEXT = SourceRef("context")
SCRATCH = SourceRef("scratch")


@dataclass(frozen=True, slots=True)
class FromOp:
    base: SourceRef


@dataclass(frozen=True, slots=True)
class ConfigOp:
    """Only the image config changes: a history entry without a layer."""

    def definition(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True, slots=True)
class RunMount:
    """One ``RUN --mount``. Secrets contribute their id and target to the cache key,
    never their content."""

    type: Literal["bind", "cache", "tmpfs", "secret"]
    target: str
    source: str = ""
    from_: SourceRef = CONTEXT
    readonly: bool = False
    id: str = ""
    sharing: str = "shared"
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    required: bool = False
    env: str = ""
    size: int = 0

    def definition(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "target": self.target}
        for name, value in (("source", self.source), ("id", self.id), ("env", self.env)):
            if value:
                out[name] = value
        if self.type in ("bind", "cache") and self.from_.kind != "context":
            out["from"] = self.from_.to_json()
        if self.readonly:
            out["readonly"] = True
        if self.type == "cache":
            out["sharing"] = self.sharing
        for name, num in (("mode", self.mode), ("uid", self.uid), ("gid", self.gid)):
            if num is not None:
                out[name] = num
        if self.required:
            out["required"] = True
        if self.size:
            out["size"] = self.size
        return out


@dataclass(frozen=True, slots=True)
class InlineFile:
    """A file a step needs at ``target`` for its run only (a heredoc script)."""

    target: str
    data: str
    mode: int = 0o755


@dataclass(frozen=True, slots=True)
class RunOp:
    args: tuple[str, ...]
    env: tuple[str, ...]  # image Env + build args in scope (not persisted)
    cwd: str
    user: str
    network: str  # none | host
    mounts: tuple[RunMount, ...] = ()
    files: tuple[InlineFile, ...] = ()
    proxy_env: tuple[str, ...] = field(default=(), compare=False)  # --build-arg HTTP_PROXY…: not in the key

    def definition(self) -> dict[str, Any]:
        return {
            "args": list(self.args),
            "env": list(self.env),
            "cwd": self.cwd,
            "user": self.user,
            "network": self.network,
            "mounts": [m.definition() for m in self.mounts],
            "files": [[f.target, f.data, f.mode] for f in self.files],
        }


@dataclass(frozen=True, slots=True)
class CopyOp:
    """COPY or ADD: ``sources`` are context paths, paths in ``source``'s file system,
    or (ADD) URLs; ``heredocs`` are (name, content) files made from the Dockerfile."""

    sources: tuple[str, ...]
    dest: str  # absolute; a trailing "/" means "into this folder"
    source: SourceRef = CONTEXT
    chown: str = ""
    chmod: int | None = None
    add: bool = False
    heredocs: tuple[tuple[str, str], ...] = ()
    exclude: tuple[str, ...] = ()
    checksum: str = ""
    multiple: bool = False  # more than one source was written: dest must be a folder

    def definition(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "sources": list(self.sources),
            "dest": self.dest,
            "from": self.source.to_json(),
            "add": self.add,
        }
        if self.chown:
            out["chown"] = self.chown
        if self.chmod is not None:
            out["chmod"] = self.chmod
        if self.heredocs:
            out["heredocs"] = [list(h) for h in self.heredocs]
        if self.exclude:
            out["exclude"] = list(self.exclude)
        if self.checksum:
            out["checksum"] = self.checksum
        return out


@dataclass(frozen=True, slots=True)
class WorkdirOp:
    """Make sure the folder exists (a layer only when it had to be made)."""

    path: str
    user: str = ""

    def definition(self) -> dict[str, Any]:
        return {"path": self.path, "user": self.user}


Op = FromOp | ConfigOp | RunOp | CopyOp | WorkdirOp
