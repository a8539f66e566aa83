"""``berth registry``: run the OCI registry, and manage its tags, users and storage."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from berth.cli.settings import Settings
from berth.errors import InvalidArgument, NotFound

STORAGE_HELP = "Registry storage folder [default: $BERTH_ROOT/registry] (env BERTH_REGISTRY_STORAGE)."


def _storage(ctx: click.Context) -> str:
    storage: str = ctx.obj
    return storage


def split_repo_tag(text: str) -> tuple[str, str]:
    """``team/app:prod`` → (``team/app``, ``prod``); a clear error for anything else."""
    from berth.oci.reference import valid_repository_path, valid_tag

    name, sep, tag = text.rpartition(":")
    if not sep or "/" in tag:
        raise InvalidArgument(f"{text!r}: expected REPOSITORY:TAG, for example team/app:prod")
    if not valid_repository_path(name):
        raise InvalidArgument(f"{text!r}: {name!r} is not a valid repository name")
    if not valid_tag(tag):
        raise InvalidArgument(f"{text!r}: {tag!r} is not a valid tag")
    return name, tag


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--storage", metavar="DIR", envvar="BERTH_REGISTRY_STORAGE", default=None, help=STORAGE_HELP)
@click.pass_context
def registry(ctx: click.Context, storage: str | None) -> None:
    """An OCI Distribution registry (a private Docker hub) with tag history.

    `serve` runs it; docker, podman and skopeo push to it and pull from it.
    Every tag move is recorded: `history` shows it and `rollback` moves a
    tag back, on the storage folder directly or on a running server (--url).
    `gc` frees blobs nothing refers to; `htpasswd` manages users.

    \b
    Example:
      berth registry htpasswd users.htpasswd alice
      berth registry serve --auth htpasswd:users.htpasswd --listen 127.0.0.1:5000
      skopeo copy --dest-tls-verify=false --dest-creds alice:secret \\
          oci:./image docker://127.0.0.1:5000/team/app:prod
      berth registry history team/app:prod
      berth registry rollback team/app:prod --steps 1
    """
    settings = ctx.obj
    if storage is None:
        root = settings.root if isinstance(settings, Settings) else os.getcwd()
        storage = os.path.join(root, "registry")
    ctx.obj = os.path.abspath(storage)


@registry.command()
@click.option("--listen", default="127.0.0.1:5000", show_default=True, metavar="HOST:PORT",
              help="Address to listen on; port 0 picks a free one (the URL is printed).")
@click.option("--auth", "auth", default="none", show_default=True, metavar="none|htpasswd:FILE",
              help="Who may log in: nobody needs to (none), or the users of a bcrypt htpasswd file.")
@click.option("--policy", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Per-repository pull/push/delete permissions (needs --auth htpasswd:FILE). "
                   "Lines of REPOSITORY-GLOB WHO ACTIONS; see docs/registry.md. "
                   "Without it every user may do everything and anonymous clients nothing.")
@click.option("--challenge", type=click.Choice(["bearer", "basic"]), default="bearer", show_default=True,
              help="How to ask clients to log in: Docker's token flow (bearer) or plain Basic auth. "
                   "Basic credentials are accepted either way.")
@click.option("--service", default="berth-registry", show_default=True, metavar="NAME",
              help="Service name in token challenges and the tokens' audience.")
@click.option("--token-realm", default=None, metavar="URL",
              help="Token endpoint URL to announce [default: /berth/v1/token on the address the client used].")
@click.option("--token-ttl", type=click.IntRange(10, 86400), default=300, show_default=True, metavar="SECONDS",
              help="How long an issued token is valid.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), default=None,
              help="PEM certificate (chain) to serve HTTPS with; needs --tls-key.")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), default=None,
              help="PEM private key of --tls-cert.")
@click.option("--max-connections", type=click.IntRange(1), default=None, metavar="N",
              help="Connections open at once; at the cap the longest-idle one is closed, and when all are "
                   "busy new clients wait to be accepted [default: what the open-file limit allows].")
@click.option("--header-timeout", type=click.FloatRange(0.1, 3600), default=10.0, show_default=True,
              metavar="SECONDS", help="Time a client has to send a request's headers (counted from its first "
                                      "byte, or from connecting for the first request).")
@click.option("--idle-timeout", type=click.FloatRange(0.1, 86400), default=60.0, show_default=True,
              metavar="SECONDS", help="How long a connection may stay open between requests.")
@click.option("-q", "--quiet", is_flag=True, help="No access log, only the listening line and errors.")
@click.pass_context
def serve(ctx: click.Context, listen: str, auth: str, policy: str | None, challenge: str, service: str,
          token_realm: str | None, token_ttl: int, tls_cert: str | None, tls_key: str | None,
          max_connections: int | None, header_timeout: float, idle_timeout: float, quiet: bool) -> None:
    """Run the registry until interrupted (SIGINT or SIGTERM).

    It speaks the OCI Distribution API v1.1 under /v2/, issues tokens at
    /berth/v1/token, and serves tag history and rollback under /berth/v1/.
    It prints one line, "berth registry: listening on URL", once it accepts
    connections.

    \b
    Examples:
      berth registry --storage /srv/registry serve --listen 0.0.0.0:5000
      berth registry serve --auth htpasswd:users.htpasswd --policy policy.txt \\
          --tls-cert cert.pem --tls-key key.pem --listen 0.0.0.0:443
    """
    import asyncio
    import logging

    from berth.registry.server.serve import ServerSettings, parse_auth, parse_listen
    from berth.registry.server.serve import serve as run_server

    host, port = parse_listen(listen)
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(asctime)s %(message)s")
    settings = ServerSettings(
        storage=_storage(ctx),
        host=host,
        port=port,
        htpasswd=parse_auth(auth),
        policy=policy,
        challenge="basic" if challenge == "basic" else "bearer",
        service=service,
        token_realm=token_realm,
        token_ttl=token_ttl,
        tls_cert=tls_cert,
        tls_key=tls_key,
        access_log=not quiet,
        max_connections=max_connections,
        header_timeout=header_timeout,
        idle_timeout=idle_timeout,
    )

    def ready(urls: list[str]) -> None:
        click.echo(f"berth registry: listening on {' '.join(urls)} (storage {settings.storage})")
        sys.stdout.flush()

    asyncio.run(run_server(settings, ready))


def _remote_options(func: Any) -> Any:
    for option in reversed([
        click.option("--url", default=None, metavar="URL",
                     help="Talk to a running registry (http://HOST:PORT) instead of the storage folder."),
        click.option("-u", "--user", default=None, envvar="BERTH_REGISTRY_USER", metavar="NAME",
                     help="User name for --url (env BERTH_REGISTRY_USER)."),
        click.option("--password-stdin", is_flag=True,
                     help="Read the password for --url from standard input "
                          "(otherwise env BERTH_REGISTRY_PASSWORD)."),
        click.option("--ca-cert", type=click.Path(exists=True, dir_okay=False), default=None,
                     help="CA certificate to verify an https --url with."),
        click.option("--tls-verify/--no-tls-verify", default=True, show_default=True,
                     help="Verify the certificate of an https --url."),
    ]):
        func = option(func)
    return func


def _remote(url: str, user: str | None, password_stdin: bool, ca_cert: str | None, tls_verify: bool) -> Any:
    from berth.registry.server.remote import RemoteRegistry

    password = os.environ.get("BERTH_REGISTRY_PASSWORD")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    if password is not None and user is None:
        raise InvalidArgument("a password needs a user name: --user")
    verify: bool | str = ca_cert if ca_cert else tls_verify
    return RemoteRegistry(url, user, password, verify)


def _offline_registry(storage: str) -> Any:
    from berth.registry.server.registry import Registry
    from berth.registry.server.storage.filesystem import FilesystemDriver

    if not os.path.isdir(storage):
        raise NotFound(f"registry storage {storage}: no such folder (use --storage or --url)")
    return Registry(FilesystemDriver(storage))


def _local_user() -> str:
    import getpass

    try:
        return f"local:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"local:uid{os.getuid()}"


def _short(digest: str | None, full: bool) -> str:
    if digest is None:
        return "-"
    return digest if full else digest.split(":", 1)[-1][:12]


@registry.command()
@click.argument("reference", metavar="REPOSITORY:TAG")
@_remote_options
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="A table (newest move first) or the JSON document of the HTTP extension.")
@click.option("--no-trunc", is_flag=True, help="Print whole digests.")
@click.pass_context
def history(ctx: click.Context, reference: str, url: str | None, user: str | None, password_stdin: bool,
            ca_cert: str | None, tls_verify: bool, fmt: str, no_trunc: bool) -> None:
    """Show every move of a tag: when, by whom, from which digest to which.

    The table lists the newest move first; its STEP column is what
    `rollback --steps` takes to return to that row's TO digest (0 is now).
    Without --url it reads the storage folder (`berth registry --storage DIR`),
    whether or not a server is running on it.

    \b
    Examples:
      berth registry history team/app:prod
      berth registry history team/app:prod --url http://127.0.0.1:5000 -u alice --password-stdin
      berth registry history team/app:prod -f json
    """
    name, tag = split_repo_tag(reference)
    if url is not None:
        with _remote(url, user, password_stdin, ca_cert, tls_verify) as remote:
            doc = remote.history(name, tag)
    else:
        from berth.registry.server.errors import ManifestUnknown, NameUnknown

        reg = _offline_registry(_storage(ctx))
        repo = reg.repository(name)
        if not repo.exists():
            raise NameUnknown(f"repository {name}: not found in {_storage(ctx)}")
        moves = repo.tags.history(tag)
        current = repo.tags.find(tag)
        if not moves and current is None:
            raise ManifestUnknown(f"{name}:{tag}: no such tag")
        doc = {"name": name, "tag": tag, "current": str(current) if current else None,
               "history": [m.to_json() for m in moves]}
    if fmt == "json":
        click.echo(json.dumps(doc, indent=2))
        return
    entries = doc.get("history") or []
    width = 71 if no_trunc else 12
    click.echo(f"{'STEP':<5} {'TIME (UTC)':<20} {'USER':<16} {'ACTION':<9} {'FROM':<{width}} TO")
    for step, entry in enumerate(reversed(entries)):
        when = str(entry.get("time", ""))[:19]
        click.echo(
            f"{step:<5} {when:<20} {str(entry.get('user', ''))[:16]:<16} "
            f"{str(entry.get('action', '')):<9} {_short(entry.get('from'), no_trunc):<{width}} "
            f"{_short(entry.get('to'), no_trunc)}"
        )


@registry.command()
@click.argument("reference", metavar="REPOSITORY:TAG")
@click.option("--to", "to", default=None, metavar="DIGEST", help="Move the tag to this digest it once held.")
@click.option("--steps", type=click.IntRange(min=1), default=None, metavar="N",
              help="Move the tag to the digest it held N moves ago [default: 1, undo the last move].")
@_remote_options
@click.pass_context
def rollback(ctx: click.Context, reference: str, to: str | None, steps: int | None, url: str | None,
             user: str | None, password_stdin: bool, ca_cert: str | None, tls_verify: bool) -> None:
    """Move a tag back to an earlier digest; the rollback is itself recorded.

    --steps counts moves like git's reflog, so `rollback --steps 1` twice
    returns to where you started. --to takes any digest the tag ever held
    (see `history`). The manifest is restored if it was deleted since: the
    registry keeps every image a history names. Without --url it works on the
    storage folder (`berth registry --storage DIR`); a running server's tag
    moves and this one wait for each other.

    \b
    Examples:
      berth registry rollback team/app:prod
      berth registry rollback team/app:prod --steps 3
      berth registry rollback team/app:prod --to sha256:4f2a…
      berth registry rollback team/app:prod --url https://hub:5000 -u alice --password-stdin
    """
    from berth.oci.digest import Digest

    name, tag = split_repo_tag(reference)
    if to is not None and steps is not None:
        raise InvalidArgument("give either --to or --steps, not both")
    target = Digest.parse(to) if to is not None else None
    if url is not None:
        with _remote(url, user, password_stdin, ca_cert, tls_verify) as remote:
            result = remote.rollback(name, tag, to=target, steps=steps)
        current = result.get("current")
    else:
        from berth.registry.server.errors import NameUnknown
        from berth.registry.server.tags import Actor

        reg = _offline_registry(_storage(ctx))
        if not reg.repository(name).exists():
            raise NameUnknown(f"repository {name}: not found in {_storage(ctx)}")
        move = reg.rollback(name, tag, Actor(_local_user()), to=target, steps=steps)
        current = str(move.current) if move.current else None
    click.echo(f"{name}:{tag} -> {current}")


@registry.command()
@click.option("-n", "--dry-run", is_flag=True, help="Only print what would be removed.")
@click.option("--uploads-older-than", type=click.FloatRange(min=0), default=24.0, show_default=True,
              metavar="HOURS", help="Also remove unfinished uploads started longer ago than this.")
@click.pass_context
def gc(ctx: click.Context, dry_run: bool, uploads_older_than: float) -> None:
    """Remove blobs that no manifest, tag or tag history refers to.

    Marks, in every repository, each manifest revision, tag and digest named
    in a tag's history, and everything those manifests reference; then
    deletes every other blob, links to deleted blobs, and stale uploads.
    Run it while the registry is idle: a layer uploaded for a manifest not
    yet pushed is not referenced, and would be removed. It works on the
    storage folder (`berth registry --storage DIR`).

    \b
    Examples:
      berth registry gc --dry-run
      berth registry --storage /srv/registry gc
    """
    from berth.registry.server.gc import collect

    reg = _offline_registry(_storage(ctx))
    report = collect(reg, dry_run=dry_run, upload_max_age=uploads_older_than * 3600)
    verb = "would remove" if dry_run else "removed"
    for blob in report.removed_blobs:
        click.echo(f"{verb} blob {blob.digest} ({blob.size} bytes)")
    for name, digest in report.removed_links:
        click.echo(f"{verb} link {name}@{digest}")
    for name, upload_id in report.removed_uploads:
        click.echo(f"{verb} upload {name}/{upload_id}")
    click.echo(
        f"{len(report.marked)} blobs in use; {verb} {len(report.removed_blobs)} blobs "
        f"({report.freed_bytes} bytes), {len(report.removed_links)} links, {len(report.removed_uploads)} uploads"
    )


@registry.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("user")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of a prompt.")
@click.option("-D", "--delete", is_flag=True, help="Remove USER from FILE.")
@click.option("--rounds", type=click.IntRange(4, 16), default=12, show_default=True, metavar="N",
              help="bcrypt cost: 2^N rounds.")
def htpasswd(file: str, user: str, password_stdin: bool, delete: bool, rounds: int) -> None:
    """Add, change (or with -D remove) a user in a bcrypt htpasswd file.

    The file is the one `serve --auth htpasswd:FILE` reads (Apache's format,
    so `htpasswd -B` writes compatible entries). A running server notices
    the change. The file is replaced atomically and made readable by its
    owner only.

    \b
    Examples:
      berth registry htpasswd users.htpasswd alice
      echo "$PASSWORD" | berth registry htpasswd users.htpasswd ci --password-stdin
      berth registry htpasswd users.htpasswd alice -D
    """
    from berth.registry.server.auth import Htpasswd

    lines: list[str] = []
    if os.path.exists(file):
        with open(file, encoding="utf-8") as f:
            lines = f.read().splitlines()
        Htpasswd.parse("\n".join(lines), file)
    kept = [line for line in lines if line.partition(":")[0] != user]
    if delete:
        if len(kept) == len(lines):
            raise NotFound(f"{file}: no user {user!r}")
    else:
        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = click.prompt(f"Password for {user}", hide_input=True, confirmation_prompt=True)
        if not password:
            raise InvalidArgument("the password must not be empty")
        kept.append(Htpasswd.make_entry(user, password, rounds))
    tmp = f"{file}.tmp-{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in kept))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, file)
    click.echo(f"{file}: {'removed' if delete else 'set password for'} {user}")
