"""``berth build``: a Dockerfile and a context folder → an image (Docker's ``docker build``)."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

import click

# Loaded with the command (not on first use) so that the fork server has it warm.
from berth.builder.output import TextProgress
from berth.builder.plan import BuildOptions
from berth.builder.solver import BuildRequest, Solver, load_plan
from berth.builder.steps import Secret
from berth.cli._store import store_of
from berth.errors import InvalidArgument

CTX = {"help_option_names": ["-h", "--help"]}


def _pairs(values: tuple[str, ...], what: str, from_env: bool) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        key, has, val = value.partition("=")
        if not key:
            raise InvalidArgument(f"{what} {value!r}: expected KEY=VALUE")
        if not has:
            if from_env:
                if key not in os.environ:
                    continue  # Docker drops --build-arg NAME when NAME is not in the environment
                val = os.environ[key]
        out[key] = val
    return out


def _secrets(values: tuple[str, ...]) -> dict[str, Secret]:
    """``id=ID,src=FILE`` or ``id=ID,env=VAR`` (``type=file|env``, ``source=`` too)."""
    out: dict[str, Secret] = {}
    for value in values:
        fields = dict(item.partition("=")[::2] for item in value.split(","))
        secret_id = fields.get("id", "")
        src = fields.get("src") or fields.get("source") or ""
        env = fields.get("env", "")
        if fields.get("type") == "env" and src and not env:
            env, src = src, ""
        if not secret_id:
            raise InvalidArgument(f"--secret {value!r}: an id is required (id=ID,src=FILE)")
        if env:
            if env not in os.environ:
                raise InvalidArgument(f"--secret {value!r}: environment variable {env} is not set")
            data = os.environ[env].encode()
        else:
            path = os.path.expanduser(src or secret_id)
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError as err:
                raise InvalidArgument(f"--secret {value!r}: {err.strerror}: {path}") from err
        out[secret_id] = Secret(secret_id, data)
    return out


def _stdin_context(run_root: str, keep: list[str]) -> tuple[str, str | None]:
    """``berth build -``: stdin holds a context tar (any compression) or a Dockerfile.
    Returns (context folder, Dockerfile text or None)."""
    from berth.store import layers

    os.makedirs(os.path.join(run_root, "build"), mode=0o700, exist_ok=True)
    folder = tempfile.mkdtemp(prefix="context-", dir=os.path.join(run_root, "build"))
    keep.append(folder)
    stream = sys.stdin.buffer
    head = stream.peek(512)[:512] if hasattr(stream, "peek") else b""
    compressed = head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00" \
        or head[:4] == b"\x28\xb5\x2f\xfd"
    if compressed or head[257:262] == b"ustar":
        layers.apply(stream, folder, "auto", mode="delete", hash=False)
        return folder, None
    return folder, stream.read().decode("utf-8", errors="replace")


@click.command("build", context_settings=CTX)
@click.argument("context", metavar="CONTEXT")
@click.option("-t", "--tag", "tags", multiple=True, metavar="NAME[:TAG]", help="Name the image. Repeatable.")
@click.option("-f", "--file", "dockerfile", metavar="PATH",
              help="The Dockerfile (default CONTEXT/Dockerfile; '-' reads it from stdin).")
@click.option("--build-arg", "build_args", multiple=True, metavar="KEY[=VALUE]",
              help="Set a build-time variable (an ARG); KEY alone takes it from the environment. Repeatable.")
@click.option("--target", metavar="STAGE", help="Build this stage (and the stages it needs) and stop.")
@click.option("--no-cache", is_flag=True, help="Do not use the build cache: run every step again.")
@click.option("--label", "labels", multiple=True, metavar="KEY=VALUE", help="Add a label to the image. Repeatable.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the image ID (step output is shown only on failure).")
@click.option("--network", default="default", show_default=True, metavar="MODE",
              help="Network for RUN steps: host (or default), or none.")
@click.option("--secret", "secrets", multiple=True, metavar="id=ID,src=FILE|env=VAR",
              help="A secret for RUN --mount=type=secret,id=ID. It never enters a layer, the history or a cache "
                   "key. Repeatable.")
@click.option("--iidfile", metavar="FILE", help="Write the image ID (sha256:…) to FILE.")
@click.option("--platform", metavar="OS/ARCH", help="Accepted for compatibility: only the host's platform is built.")
@click.option("--pull", is_flag=True, hidden=True, help="Accepted for compatibility; berth build uses local images.")
@click.option("--rm/--no-rm", default=True, hidden=True, help="Accepted: step containers are always removed.")
@click.option("--force-rm", is_flag=True, hidden=True, help="Accepted: step containers are always removed.")
@click.option("--dry-run", is_flag=True, help="Print the plan (stages, steps, history text) and build nothing.")
@click.pass_context
def build(ctx: click.Context, context: str, tags: tuple[str, ...], dockerfile: str | None,
          build_args: tuple[str, ...], target: str | None, no_cache: bool, labels: tuple[str, ...], quiet: bool,
          network: str, secrets: tuple[str, ...], iidfile: str | None, platform: str | None, pull: bool, rm: bool,
          force_rm: bool, dry_run: bool) -> None:
    """Build an image from a Dockerfile and a context folder (CONTEXT; '-' reads a
    context tar, or just a Dockerfile, from stdin).

    Steps whose parent, instruction, build args in use and copied files are unchanged
    come from the build cache; for each other step the output says why it missed.
    RUN steps run in isolated containers; RUN --mount=type=cache keeps folders between
    builds (under $BERTH_ROOT/build/cache), type=secret passes --secret files, type=bind
    shows context or stage files. .dockerignore (or NAME.dockerignore beside a
    Dockerfile named NAME) keeps files out of the context.

    \b
    Examples:
      berth build -t app:1.0 .
      berth build -f docker/Dockerfile --build-arg VERSION=2 --target runtime -t app .
      berth build --secret id=token,src=$HOME/.token -t app .
      tar -C src -c . | berth build -t app -
      berth build -q --iidfile id.txt .
    """
    from berth.oci.descriptor import Platform

    settings = ctx.find_root().obj
    if network not in ("default", "host", "none"):
        raise InvalidArgument(f"--network {network}: berth build supports none and host (default)")
    if platform is not None and Platform.parse(platform).architecture != Platform.host().architecture:
        raise InvalidArgument(f"--platform {platform}: berth build only builds for {Platform.host()}")
    temp_dirs: list[str] = []
    try:
        text = None
        if context == "-":
            context_dir, text = _stdin_context(settings.run_root, temp_dirs)
        else:
            context_dir = os.path.abspath(context)
            if not os.path.isdir(context_dir):
                raise InvalidArgument(f"unable to prepare context: path {context!r} not found")
        path = None
        if dockerfile == "-":
            if context == "-":
                raise InvalidArgument("the Dockerfile and the context cannot both come from stdin")
            text = sys.stdin.read()
        elif dockerfile:
            path = dockerfile if os.path.isabs(dockerfile) or os.path.exists(dockerfile) \
                else os.path.join(context_dir, dockerfile)
        request = BuildRequest(
            context_dir=context_dir,
            dockerfile=path,
            dockerfile_text=text,
            dockerfile_name=dockerfile if dockerfile not in (None, "-") else None,
            options=BuildOptions(build_args=_pairs(build_args, "--build-arg", True), target=target,
                                 labels=_pairs(labels, "--label", False),
                                 network="host" if network == "default" else network),
            tags=tags,
            no_cache=no_cache,
            secrets=_secrets(secrets),
            index_context=context != "-",
        )
        store = store_of(ctx)
        if dry_run:
            plan, _ = load_plan(store, settings.root, request)
            click.echo(plan.describe())
            return
        progress = TextProgress(quiet=quiet)
        try:
            result = Solver(store, settings.root, settings.run_root, progress).build(request)
        finally:
            progress.close()
        if iidfile:
            with open(iidfile, "w") as f:
                f.write(result.image_id)
    finally:
        for folder in temp_dirs:
            shutil.rmtree(folder, ignore_errors=True)
