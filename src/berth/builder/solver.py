"""The build, start to end: read and plan the Dockerfile, then walk the plan's steps,
computing each one's cache key, reusing the cached image or running the step
(steps.py), and finally tag the target stage's image.

    solver = Solver(store, root, run_root, TextProgress())
    result = solver.build(BuildRequest(context_dir=".", tags=("app:1",)))

Runs in one single-threaded process (it forks step containers). A failure anywhere
raises; nothing is tagged, each step's snapshot is already gone (steps.SnapshotStep),
and the images of steps that did succeed stay as cache.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import os
import secrets
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from berth.builder import steps as run_steps
from berth.builder.cache import BuildCache
from berth.builder.context import BuildContext
from berth.builder.copy import CopyError, Fetched, Selection, select
from berth.builder.errors import DockerfileError, StepFailed
from berth.builder.instructions import parse_program
from berth.builder.keys import Inputs, bind_inputs, copy_inputs, explain, record, step_key
from berth.builder.ops import ConfigOp, CopyOp, FromOp, RunOp, SourceRef, WorkdirOp
from berth.builder.output import Progress
from berth.builder.parser import parse
from berth.builder.plan import BaseImage, BuildOptions, Plan, StagePlan, Step, make_plan
from berth.builder.steps import Secret, Workspace, image_tree
from berth.builder.trees import LayerTree, SourceTree, resolve, split
from berth.errors import BerthError, InvalidArgument
from berth.oci.descriptor import Platform
from berth.oci.digest import Digest
from berth.store import Image, Store


@dataclass(frozen=True, slots=True)
class BuildRequest:
    context_dir: str
    dockerfile: str | None = None  # a path; default <context>/Dockerfile
    dockerfile_text: str | None = None  # the Dockerfile itself (read from stdin)
    dockerfile_name: str | None = None  # how errors name it
    options: BuildOptions = field(default_factory=BuildOptions)
    tags: tuple[str, ...] = ()
    no_cache: bool = False
    secrets: Mapping[str, Secret] = field(default_factory=dict)
    index_context: bool = True  # keep a digest index for this context folder (not for temp folders)


@dataclass(frozen=True, slots=True)
class BuildResult:
    image_id: str
    tags: tuple[str, ...]
    plan: Plan
    cached: int
    built: int


class StoreImages:
    """Base images for the planner, from the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def base(self, ref: str) -> BaseImage:
        image = self.store.images.get(ref)
        cfg = image.config
        return BaseImage(ref, str(image.id), cfg.config, Platform(cfg.os or "linux", cfg.architecture or "amd64",
                                                                  cfg.variant))


@dataclass
class _StageResult:
    image_id: str | None
    key: str


def read_dockerfile(req: BuildRequest) -> tuple[str, str, str | None]:
    """(text, name for errors, path for NAME.dockerignore)."""
    if req.dockerfile_text is not None:
        return req.dockerfile_text, req.dockerfile_name or "Dockerfile", None
    path = req.dockerfile
    if path is None:
        path = os.path.join(req.context_dir, "Dockerfile")
        if not os.path.exists(path) and os.path.exists(os.path.join(req.context_dir, "dockerfile")):
            path = os.path.join(req.context_dir, "dockerfile")
    name = req.dockerfile_name or (os.path.relpath(path, req.context_dir)
                                   if os.path.abspath(path).startswith(os.path.abspath(req.context_dir) + os.sep)
                                   else path)
    try:
        with open(path, encoding="utf-8") as f:
            return f.read(), name, os.path.abspath(path)
    except FileNotFoundError:
        raise InvalidArgument(f"cannot locate specified Dockerfile: {name}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidArgument(f"cannot read Dockerfile {name}: {err}") from err


def load_plan(store: Store, root: str, req: BuildRequest) -> tuple[Plan, str | None]:
    text, name, path = read_dockerfile(req)
    df = parse(text, name, cache_dir=os.path.join(root, "build", "parsed"))
    program = parse_program(df)
    plan = make_plan(program, req.options, StoreImages(store),
                     lambda expr: parse(expr, name, cache_dir=os.path.join(root, "build", "parsed")))
    return plan, path


class Solver:
    def __init__(self, store: Store, root: str, run_root: str, progress: Progress) -> None:
        self.store = store
        self.root = root
        self.run_root = run_root
        self.progress = progress
        self.cache = BuildCache(store.db)
        self._images: dict[str, Image] = {}

    def build(self, req: BuildRequest) -> BuildResult:
        from berth.store.images import tag_name

        for tag in req.tags:
            tag_name(tag)  # a bad name fails now, not after the build
        plan, dockerfile_path = load_plan(self.store, self.root, req)
        if plan.unused_args:
            self.progress.warn(f"One or more build-args [{' '.join(plan.unused_args)}] were not consumed")
        self.plan = plan
        self.req = req
        self.context = BuildContext(req.context_dir, dockerfile_path,
                                    os.path.join(self.root, "build", "contexts") if req.index_context else None)
        build_id = secrets.token_hex(8)
        out, err = self.progress.output_fds()
        self.ws = Workspace(self.store, self.root, self.run_root, os.path.join(self.run_root, "build", build_id),
                            build_id, req.secrets, out, err)
        self.used: list[str] = []
        self.counts = [0, 0]
        try:
            with self.store.writing():
                run_steps.sweep_stale(self.store)
            self.progress.begin(plan)
            results: dict[int, _StageResult] = {}
            for stage in plan.stages:
                results[stage.index] = self._solve_stage(stage, results)
            final = results[plan.target]
            if final.image_id is None:
                raise DockerfileError(plan.filename, 0, "no image was generated: the target stage is an empty "
                                                        "FROM scratch")
            self.cache.touch(self.used, final=final.key if final.key.startswith("sha256:") else None)
            self.progress.built(final.image_id)
            tagged = []
            for tag in req.tags:
                name, _ = self.store.images.tag(Digest.parse(final.image_id), tag)
                tagged.append(tag)
                self.progress.tagged(_familiar(name))
            return BuildResult(final.image_id, tuple(tagged), plan, self.counts[0], self.counts[1])
        finally:
            self.context.close()
            shutil.rmtree(self.ws.work_dir, ignore_errors=True)

    # ------------------------------------------------------------ stages

    def _solve_stage(self, stage: StagePlan, results: Mapping[int, _StageResult]) -> _StageResult:
        current: str | None = None
        parent = ""
        parent_built = False
        for step in stage.steps:
            self.progress.step(step, self.plan.total)
            if isinstance(step.op, FromOp):
                current = self._base_id(stage, step.op.base, results)
                parent = f"image:{current}" if current else "scratch"
                self.progress.base(step, current or "scratch")
                continue
            inputs, selection, binds = self._inputs(step, results)
            key = step_key(parent, step, inputs)
            rec = record(step, inputs, f"{self.context.root}|{self.plan.filename}|{stage.index}|"
                                       f"{step.number - stage.steps[0].number}")
            entry = None if self.req.no_cache else self.cache.get(key)
            stale = False
            if entry is not None and not self.store.images.exists(Digest.parse(entry.image_id)):
                self.cache.forget(key)
                entry, stale = None, True
            if entry is not None:
                self.progress.cached(step, entry.image_id)
                self.used.append(key)
                self.counts[0] += 1
                current, parent, parent_built = entry.image_id, key, False
                continue
            reason = "--no-cache" if self.req.no_cache else explain(self.cache, parent, step, rec,
                                                                    parent_built=parent_built, stale=stale)
            self.progress.running(step, reason)
            started = time.monotonic()
            image = self._execute(step, self._image(current), selection, binds)
            self.cache.put(key, parent, str(image.id), step.created_by, rec)
            self.progress.done(step, str(image.id), time.monotonic() - started)
            self.counts[1] += 1
            current, parent, parent_built = str(image.id), key, True
        return _StageResult(current, parent)

    def _base_id(self, stage: StagePlan, base: SourceRef, results: Mapping[int, _StageResult]) -> str | None:
        if base.kind == "scratch":
            return None
        if base.kind == "stage":
            return results[base.stage].image_id
        assert stage.base_image is not None
        return stage.base_image.id

    def _image(self, image_id: str | None) -> Image | None:
        if image_id is None:
            return None
        image = self._images.get(image_id)
        if image is None:
            image = self.store.images.get(image_id)
            self._images[image_id] = image
        return image

    def _source_image(self, ref: SourceRef, results: Mapping[int, _StageResult], step: Step) -> Image | None:
        if ref.kind == "stage":
            return self._image(results[ref.stage].image_id)
        try:
            return self.store.images.get(ref.ref)
        except BerthError as err:
            raise self._error(step, f"{ref.ref}: {err} (berth build uses images in the store)") from err

    def _error(self, step: Step, reason: str) -> DockerfileError:
        return DockerfileError(self.plan.filename, step.line, reason)

    # ------------------------------------------------------------ inputs

    def _inputs(self, step: Step, results: Mapping[int, _StageResult]
                ) -> tuple[Inputs | None, Selection | None, dict[str, tuple[SourceTree | None, str]]]:
        op = step.op
        binds: dict[str, tuple[SourceTree | None, str]] = {}
        if isinstance(op, CopyOp):
            try:
                if op.source.kind == "context":
                    inputs, matches = copy_inputs(self.context, op)
                    selection = Selection(self.context.tree, matches)
                else:
                    image = self._source_image(op.source, results, step)
                    tree = image_tree(self.store, image)
                    inputs = Inputs(sources={str(op.source): str(image.id) if image else "scratch"})
                    selection = Selection(tree, select(tree, op, in_context=False))
            except CopyError as err:
                raise self._error(step, str(err)) from err
            for url in (s for s in op.sources if op.add and s.startswith(("http://", "https://"))):
                fetched = self._fetch(step, url, op.checksum)
                selection.fetched.append(fetched)
                inputs.sources[url] = fetched.digest
            return inputs, selection, binds
        if isinstance(op, RunOp):
            inputs = Inputs()
            for mount in op.mounts:
                if mount.type == "cache" and mount.from_.kind != "context":
                    raise self._error(step, "RUN --mount=type=cache,from=… is not supported by berth build")
                if mount.type != "bind":
                    continue
                if mount.from_.kind == "context":
                    rel = bind_inputs(self.context, mount, inputs)
                    if rel is None:
                        raise self._error(step, f"--mount source {mount.source or '.'}: not found in the build "
                                                "context (or excluded by .dockerignore)")
                    plain = not self.context.matcher and mount.readonly
                    binds[mount.target] = (None, self.context.tree.host_path(rel)) if plain \
                        else (self.context.tree, rel)
                else:
                    image = self._source_image(mount.from_, results, step)
                    layers = image_tree(self.store, image)
                    rel = resolve(layers, "/".join(split(mount.source)))
                    if layers.lstat(rel) is None:
                        raise self._error(step, f"--mount source {mount.source}: not found in {mount.from_}")
                    inputs.sources[f"mount {mount.target}"] = str(image.id) if image else "scratch"
                    binds[mount.target] = (layers, rel)
            return (inputs if inputs.files or inputs.sources else None), None, binds
        return None, None, binds

    def _fetch(self, step: Step, url: str, checksum: str) -> Fetched:
        import urllib.parse
        import urllib.request

        name = os.path.basename(urllib.parse.urlparse(url).path.rstrip("/")) or "index.html"
        path = self.ws.temp_path("download")
        digest = hashlib.sha256()
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(path, "wb") as f:  # noqa: S310
                while chunk := response.read(1 << 20):
                    digest.update(chunk)
                    f.write(chunk)
                modified = response.headers.get("Last-Modified")
        except OSError as err:
            raise self._error(step, f"ADD {url}: download failed: {err}") from err
        mtime_ns = time.time_ns()
        if modified:
            with contextlib.suppress(TypeError, ValueError):
                mtime_ns = int(email.utils.parsedate_to_datetime(modified).timestamp()) * 1_000_000_000
        if checksum and checksum != f"sha256:{digest.hexdigest()}":
            raise self._error(step, f"ADD {url}: digest mismatch: expected {checksum}, got sha256:"
                                    f"{digest.hexdigest()}")
        return Fetched(url, path, name, digest.hexdigest(), mtime_ns)

    # ------------------------------------------------------------ execution

    def _execute(self, step: Step, base: Image | None, selection: Selection | None,
                 binds: dict[str, tuple[SourceTree | None, str]]) -> Image:
        op = step.op
        try:
            if isinstance(op, ConfigOp):
                return run_steps.commit_config(self.ws, step, base)
            if isinstance(op, WorkdirOp):
                return run_steps.workdir(self.ws, step, op, base)
            if isinstance(op, CopyOp):
                assert selection is not None
                return run_steps.copy(self.ws, step, op, base, selection, keep_owner=op.source.kind != "context")
            if isinstance(op, RunOp):
                return run_steps.run(self.ws, step, op, base, binds)
        except StepFailed as err:
            self.progress.failed(step)
            raise StepFailed(self.plan.filename, step.line, " ".join(op.args) if isinstance(op, RunOp) else "",
                             err.exit_code) from None
        except CopyError as err:
            raise self._error(step, str(err)) from err
        except DockerfileError:
            raise
        except BerthError as err:  # from the store or the runtime: say which step
            raise self._error(step, str(err)) from err
        raise AssertionError(f"unknown op {op!r}")


def _familiar(name: str) -> str:
    from berth.store.images import familiar

    return familiar(name)


__all__ = ["BuildRequest", "BuildResult", "LayerTree", "Solver", "load_plan"]
