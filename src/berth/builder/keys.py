"""Cache keys, and why a step missed the cache.

A step's key is a digest of:

- its parent: the previous step's key, or ``image:<id>`` of the stage's base;
- its definition: the op with every variable expanded, the image config after it and
  its history text (which, for RUN, carries the build args in scope);
- what it read at build time (``Inputs``): for COPY/ADD the type, mode and content
  digest of every file it copies (never mtimes or owners, which COPY does not keep),
  for ``--from`` and bind mounts the id of the image read, for ADD URLs the content.

So an unchanged step in an unchanged chain gets the same key, ignored files are never
read, and a build arg changes only the keys of steps that used it. Secrets contribute
their id, never their content.

When a step misses, ``explain`` compares it with the entries recorded on the same
parent to say which file, build arg or instruction changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from typing import Any

from berth.builder.cache import BuildCache
from berth.builder.context import BuildContext
from berth.builder.copy import Match, data_digest, describe_file, select, walk
from berth.builder.dockerignore import Matcher
from berth.builder.ops import CopyOp, FromOp, RunMount, RunOp
from berth.builder.plan import Plan, Step
from berth.builder.trees import resolve, split

KEY_VERSION = "berth.builder/1"


@dataclass
class Inputs:
    """What a step read besides its definition."""

    files: dict[str, str] = field(default_factory=dict)  # path → type/mode/content digest
    sources: dict[str, str] = field(default_factory=dict)  # "stage 1", "image x", "url …" → digest

    def digest(self) -> str:
        doc = json.dumps({"files": self.files, "sources": self.sources}, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(doc.encode()).hexdigest()


def short(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def step_key(parent: str, step: Step, inputs: Inputs | None) -> str:
    if isinstance(step.op, FromOp):
        raise ValueError("FROM has no cache key")
    doc: dict[str, Any] = {
        "v": KEY_VERSION,
        "parent": parent,
        "op": type(step.op).__name__,
        "def": step.op.definition(),
        "config": step.config.to_json(),
        "created_by": step.created_by,
        "author": step.author,
        "inputs": inputs.digest() if inputs is not None else "",
    }
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def hash_context_path(inputs: Inputs, context: BuildContext, rel: str, st: os.stat_result,
                      exclude: Matcher | None = None) -> None:
    """Add a context file, or everything under a context folder, to ``inputs``."""
    if not stat.S_ISDIR(st.st_mode):
        inputs.files[rel or "."] = describe_file(st, context.content_digest(rel, st))
        return
    for sub, child in walk(context.tree, rel, exclude):
        path = f"{rel}/{sub}" if rel else sub
        inputs.files[path] = describe_file(child, context.content_digest(path, child))


def copy_inputs(context: BuildContext, op: CopyOp) -> tuple[Inputs, list[Match]]:
    """What a COPY/ADD from the context reads (URLs aside): the matched files, hashed.
    Raises copy.CopyError for a missing source or one outside the context."""
    inputs = Inputs()
    matches = select(context.tree, op, in_context=True)
    exclude = Matcher(list(op.exclude)) if op.exclude else None
    for match in matches:
        hash_context_path(inputs, context, match.rel, match.st, exclude)
    for name, data in op.heredocs:
        inputs.sources[f"heredoc {name}"] = data_digest(data)
    return inputs, matches


def bind_inputs(context: BuildContext, mount: RunMount, inputs: Inputs) -> str | None:
    """Hash what a ``RUN --mount=type=bind`` shows from the context; its resolved path,
    or None when it does not exist."""
    rel = resolve(context.tree, "/".join(split(mount.source)))
    st = context.tree.lstat(rel)
    if st is None:
        return None
    hash_context_path(inputs, context, rel, st)
    return rel


def plan_keys(plan: Plan, context: BuildContext) -> dict[int, str]:
    """Step number → cache key for every step that reads only the context and its
    own stage (what ``--dry-run`` and the tests can know without building). Steps
    after a ``--from`` another stage or image are left out."""
    out: dict[int, str] = {}
    for stage in plan.stages:
        parent = ""
        for step in stage.steps:
            op = step.op
            if isinstance(op, FromOp):
                parent = f"image:{stage.base_image.id}" if stage.base_image else f"{op.base}"
                continue
            inputs: Inputs | None = None
            if isinstance(op, CopyOp):
                if op.source.kind != "context" or any(s.startswith(("http://", "https://")) for s in op.sources):
                    break
                inputs, _ = copy_inputs(context, op)
            elif isinstance(op, RunOp) and any(m.type == "bind" for m in op.mounts):
                if any(m.type == "bind" and m.from_.kind != "context" for m in op.mounts):
                    break
                inputs = Inputs()
                for mount in op.mounts:
                    if mount.type == "bind":
                        bind_inputs(context, mount, inputs)
            parent = step_key(parent, step, inputs)
            out[step.number] = parent
    return out


def record(step: Step, inputs: Inputs | None, slot: str = "") -> dict[str, Any]:
    """What the cache keeps beside a key to explain a later miss: where the step is
    (``slot``: which Dockerfile, stage and position), build args as hashes of their
    values, files as digests."""
    out: dict[str, Any] = {"args": {k: short(v) for k, v in sorted(step.used_args.items())},
                           "text": short(step.text)}
    if slot:
        out["at"] = short(slot)
    if inputs is not None:
        if inputs.files:
            out["files"] = inputs.files
        if inputs.sources:
            out["sources"] = inputs.sources
    return out


def explain(cache: BuildCache, parent: str, step: Step, now: dict[str, Any], *, parent_built: bool,
            stale: bool = False) -> str:
    """One short phrase: why ``step`` (on ``parent``) is not in the cache."""
    if stale:
        return "its cached image was removed"
    if parent_built:
        return "an earlier step was rebuilt"
    siblings = cache.children(parent)
    here = [e for e in siblings if now.get("at") and e.inputs.get("at") == now.get("at")]
    same = [e for e in siblings if e.created_by == step.created_by]
    for entry in (here[:1] or same[:1]):
        if entry.inputs.get("text") != now.get("text") and entry.created_by != step.created_by:
            return f"the instruction changed (was: {_clip(entry.created_by)})"
        return _diff(entry.inputs, now) or "its options changed"
    if parent.startswith("image:"):
        elsewhere = [e for e in cache.like(step.created_by) if e.parent.startswith("image:")]
        if elsewhere:
            return f"the base image changed (was {elsewhere[0].parent[6:][:19]})"
    return "not built before"


def _diff(old: dict[str, Any], new: dict[str, Any]) -> str:
    parts: list[str] = []
    old_args, new_args = old.get("args", {}), new.get("args", {})
    changed = sorted(k for k in set(old_args) | set(new_args) if old_args.get(k) != new_args.get(k))
    if changed:
        parts.append(_names("build arg", changed) + " changed")
    old_files, new_files = old.get("files", {}), new.get("files", {})
    edited = sorted(k for k in set(old_files) & set(new_files) if old_files[k] != new_files[k])
    added = sorted(set(new_files) - set(old_files))
    removed = sorted(set(old_files) - set(new_files))
    if edited:
        parts.append(_names("file", edited) + " changed")
    if added:
        parts.append(_names("file", added) + " added")
    if removed:
        parts.append(_names("file", removed) + " removed")
    old_src, new_src = old.get("sources", {}), new.get("sources", {})
    moved = sorted(k for k in set(old_src) | set(new_src) if old_src.get(k) != new_src.get(k))
    if moved:
        parts.append(", ".join(moved) + " changed")
    return "; ".join(parts)


def _names(what: str, names: list[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"{what}{'s' if len(names) > 1 else ''} {shown}{more}"


def _clip(text: str, width: int = 60) -> str:
    text = text.replace("\n", " ").removesuffix(" # buildkit")
    return text if len(text) <= width else text[: width - 1] + "…"
