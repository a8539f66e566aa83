"""``berth volume``: named volumes that outlive containers."""

from __future__ import annotations

import json
import sys

import click

from berth.cli.containers import engine_of, go_template

CTX = {"help_option_names": ["-h", "--help"]}


@click.group(context_settings=CTX)
def volume() -> None:
    """Manage volumes: create, ls, inspect, rm, prune.

    \b
    Example:
      berth volume create data
      berth run -v data:/var/lib/app app
      berth volume rm data
    """


@volume.command(context_settings=CTX)
@click.argument("name", required=False, default="")
@click.option("-d", "--driver", default="local", show_default=True, help="Only 'local'.")
@click.option("-l", "--label", multiple=True, help="KEY=VALUE metadata.")
@click.option("-o", "--opt", multiple=True, help="Driver options (kept as metadata).")
@click.pass_context
def create(ctx: click.Context, name: str, driver: str, label: tuple[str, ...], opt: tuple[str, ...]) -> None:
    """Create a volume (a random name when none is given); print its name."""
    labels = dict(item.partition("=")[::2] for item in label)
    options = dict(item.partition("=")[::2] for item in opt)
    vol = engine_of(ctx).volumes.create(name, labels=labels, driver=driver, options=options)
    click.echo(vol.name)


@volume.command(name="ls", context_settings=CTX)
@click.option("-q", "--quiet", is_flag=True, help="Only names.")
@click.option("-f", "--filter", "filters", multiple=True, help="name=, label=k[=v], dangling=true|false.")
@click.option("--format", "fmt", default="", help="A template such as '{{.Name}}'.")
@click.pass_context
def ls(ctx: click.Context, quiet: bool, filters: tuple[str, ...], fmt: str) -> None:
    """List volumes: DRIVER, VOLUME NAME."""
    engine = engine_of(ctx)
    vols = engine.volumes.all()
    for item in filters:
        key, _, value = item.partition("=")
        if key == "name":
            vols = [v for v in vols if value in v.name]
        elif key == "label":
            k, sep, val = value.partition("=")
            vols = [v for v in vols if k in v.labels and (not sep or v.labels[k] == val)]
        elif key == "dangling":
            dangling = value in ("true", "1")
            vols = [v for v in vols if (not engine.volume_users(v.name)) == dangling]
    for v in vols:
        if quiet:
            click.echo(v.name)
        elif fmt:
            click.echo(go_template(fmt, v.to_docker()))
    if not quiet and not fmt:
        click.echo(f"{'DRIVER':<10}VOLUME NAME")
        for v in vols:
            click.echo(f"{v.driver:<10}{v.name}")


@volume.command(context_settings=CTX)
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--format", "fmt", default="", help="A template such as '{{.Mountpoint}}'.")
@click.pass_context
def inspect(ctx: click.Context, names: tuple[str, ...], fmt: str) -> None:
    """Details of volumes as JSON (Name, Driver, Mountpoint, CreatedAt, Labels…)."""
    engine = engine_of(ctx)
    out = [engine.volumes.get(n).to_docker() for n in names]
    if fmt:
        for item in out:
            click.echo(go_template(fmt, item))
    else:
        click.echo(json.dumps(out, indent=4))


@volume.command(context_settings=CTX)
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--force", is_flag=True, help="Remove even if a container uses it.")
@click.pass_context
def rm(ctx: click.Context, names: tuple[str, ...], force: bool) -> None:
    """Remove volumes (refused while a container uses one, unless --force)."""
    from berth.errors import BerthError

    engine = engine_of(ctx)
    failed = False
    for name in names:
        try:
            engine.volumes.remove(name, engine.volume_users(name), force=force)
            click.echo(name)
        except BerthError as err:
            click.echo(f"berth: {err}", err=True)
            failed = True
    if failed:
        sys.exit(1)


@volume.command(context_settings=CTX)
@click.option("-f", "--force", is_flag=True, help="Do not ask for confirmation.")
@click.option("-a", "--all", "all_", is_flag=True, help="Named volumes too, not only anonymous ones.")
@click.pass_context
def prune(ctx: click.Context, force: bool, all_: bool) -> None:
    """Remove volumes no container uses (anonymous ones; with --all, named ones too)."""
    if not force and sys.stdin.isatty():
        click.confirm("This will remove unused volumes. Are you sure?", abort=True)
    engine = engine_of(ctx)
    removed = []
    for v in engine.volumes.all():
        if (v.anonymous or all_) and not engine.volume_users(v.name):
            engine.volumes.remove(v.name, [])
            removed.append(v.name)
    if removed:
        click.echo("Deleted Volumes:")
        for name in removed:
            click.echo(name)
