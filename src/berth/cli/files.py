"""A container's files: cp (both ways), diff, commit."""

from __future__ import annotations

import sys

import click

from berth.cli.containers import engine_of
from berth.errors import InvalidArgument

CTX = {"help_option_names": ["-h", "--help"]}


def _split(arg: str) -> tuple[str | None, str]:
    """``CONTAINER:PATH`` or a local path (``-`` is a tar on stdin/stdout)."""
    if ":" in arg and not arg.startswith(("/", ".")):
        name, _, path = arg.partition(":")
        return name, path
    return None, arg


@click.command(context_settings=CTX)
@click.argument("src")
@click.argument("dest")
@click.option("-a", "--archive", is_flag=True, help="Keep uid/gid (and setuid/setgid bits) of the source.")
@click.option("-L", "--follow-link", is_flag=True, help="Follow a symlink given as SRC.")
@click.pass_context
def cp(ctx: click.Context, src: str, dest: str, archive: bool, follow_link: bool) -> None:
    """Copy files between a container and the host.

    \b
    berth cp web:/etc/nginx/nginx.conf ./nginx.conf
    berth cp ./site web:/usr/share/nginx/html
    berth cp web:/var/log - > logs.tar
    """
    from berth.engine.cp import copy_in, copy_out

    engine = engine_of(ctx)
    src_ctr, src_path = _split(src)
    dst_ctr, dst_path = _split(dest)
    if (src_ctr is None) == (dst_ctr is None):
        raise InvalidArgument("copying between containers (or between host paths) is not supported: "
                              "one of SRC and DEST must be CONTAINER:PATH")
    if src_ctr is not None:
        copy_out(engine, src_ctr, src_path, dst_path, follow_link=follow_link, archive=archive,
                 stdout=sys.stdout.buffer)
        sys.stdout.flush()
        return
    assert dst_ctr is not None
    copy_in(engine, src_path, dst_ctr, dst_path, archive=archive, follow_link=follow_link, stdin=sys.stdin.buffer)


@click.command(context_settings=CTX)
@click.argument("container")
@click.pass_context
def diff(ctx: click.Context, container: str) -> None:
    """Files changed in a container's file system: A added, C changed, D deleted."""
    engine = engine_of(ctx)
    view = engine.get(container)
    for kind, path in engine.store.diff(view.id):
        click.echo(f"{kind} {path}")


@click.command(context_settings=CTX)
@click.argument("container")
@click.argument("repository", required=False, default="")
@click.option("-m", "--message", default="", help="Commit message.")
@click.option("-a", "--author", default="", help='Author, e.g. "Jane <jane@example.com>".')
@click.option("-c", "--change", multiple=True, help="Dockerfile instruction for the config: CMD, ENV, LABEL…")
@click.option("-p", "--pause/--no-pause", default=True, help="Pause the container while committing.")
@click.pass_context
def commit(ctx: click.Context, container: str, repository: str, message: str, author: str,
           change: tuple[str, ...], pause: bool) -> None:
    """Create an image from a container's changes (a new layer over its image).

    Example: berth commit -c 'CMD ["app"]' -m 'add app' web web:2
    """
    engine = engine_of(ctx)
    image = engine.commit(container, repository or None, message=message, author=author, changes=list(change),
                          pause=pause)
    click.echo(str(image.id))
