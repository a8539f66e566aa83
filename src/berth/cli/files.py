"""A container's files: cp (both ways), diff, commit."""

from __future__ import annotations

import os
import shutil
import sys
import tarfile

import click

from berth.cli.containers import engine_of
from berth.errors import InvalidArgument, NotFound

CTX = {"help_option_names": ["-h", "--help"]}


def _split(arg: str) -> tuple[str | None, str]:
    """``CONTAINER:PATH`` or a local path (``-`` is a tar on stdin/stdout)."""
    if ":" in arg and not arg.startswith(("/", ".")):
        name, _, path = arg.partition(":")
        return name, path
    return None, arg


def _inside(root: str, path: str) -> str:
    """``path`` in the container, symlinks resolved inside it (never onto the host)."""
    from berth.runtime.rootfs import secure_join

    return secure_join(root, path if path.startswith("/") else "/" + path)


@click.command(context_settings=CTX)
@click.argument("src")
@click.argument("dest")
@click.option("-a", "--archive", is_flag=True, help="Keep uid/gid of the source.")
@click.option("-L", "--follow-link", is_flag=True, help="Follow a symlink given as SRC.")
@click.pass_context
def cp(ctx: click.Context, src: str, dest: str, archive: bool, follow_link: bool) -> None:
    """Copy files between a container and the host.

    \b
    berth cp web:/etc/nginx/nginx.conf ./nginx.conf
    berth cp ./site web:/usr/share/nginx/html
    berth cp web:/var/log - > logs.tar
    """
    engine = engine_of(ctx)
    src_ctr, src_path = _split(src)
    dst_ctr, dst_path = _split(dest)
    if (src_ctr is None) == (dst_ctr is None):
        raise InvalidArgument("copying between containers (or between host paths) is not supported: "
                              "one of SRC and DEST must be CONTAINER:PATH")
    if src_ctr is not None:
        with engine.rootfs(src_ctr) as root:
            _copy_out(root, src_ctr, src_path, dst_path, follow_link)
        return
    assert dst_ctr is not None
    with engine.rootfs(dst_ctr) as root:
        _copy_in(root, src_path, dst_path, archive)


def _copy_out(root: str, container: str, src_path: str, dst_path: str, follow_link: bool) -> None:
    source = _inside(root, src_path)
    if follow_link and os.path.islink(source):
        target = os.readlink(source)
        source = _inside(root, target if target.startswith("/") else os.path.join(os.path.dirname(src_path), target))
    if not os.path.lexists(source):
        raise NotFound(f"Could not find the file {src_path} in container {container}")
    if dst_path == "-":
        with tarfile.open(fileobj=sys.stdout.buffer, mode="w|") as tar:
            tar.add(source, arcname=os.path.basename(source.rstrip("/")) or ".")
        return
    _copy(source, dst_path, keep_owner=True)


def _copy_in(root: str, src_path: str, dst_path: str, archive: bool) -> None:
    target = _inside(root, dst_path)
    if src_path == "-":
        with tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as tar:
            tar.extractall(target if os.path.isdir(target) else os.path.dirname(target), filter="tar")
        return
    if not os.path.lexists(src_path):
        raise NotFound(f"{src_path}: no such file or directory")
    _copy(src_path, target, keep_owner=archive)


def _copy(source: str, dest: str, *, keep_owner: bool) -> None:
    if os.path.isdir(dest) and not os.path.islink(dest):
        dest = os.path.join(dest, os.path.basename(source.rstrip("/")))
    elif not os.path.isdir(os.path.dirname(dest) or "."):
        raise NotFound(f"{os.path.dirname(dest)}: no such directory")
    if os.path.isdir(source) and not os.path.islink(source):
        shutil.copytree(source, dest, symlinks=True, dirs_exist_ok=True)
    elif os.path.islink(source):
        if os.path.lexists(dest):
            os.unlink(dest)
        os.symlink(os.readlink(source), dest)
    else:
        shutil.copy2(source, dest)
    if not keep_owner:
        return
    st = os.lstat(source)
    os.lchown(dest, st.st_uid, st.st_gid)


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
