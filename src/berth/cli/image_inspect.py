"""``berth image inspect``: images as JSON in the shape of Docker's Engine API."""

from __future__ import annotations

import json

import click

from berth.cli._format import render
from berth.cli._store import store_of
from berth.errors import BerthError, ImageNotFound


@click.command("inspect", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("images", nargs=-1, required=True, metavar="IMAGE...")
@click.option("-f", "--format", "fmt", metavar="TEMPLATE",
              help="Print a Go-style template per image instead of JSON, e.g. '{{.Id}}' or '{{json .Config}}'.")
@click.pass_context
def image_inspect(ctx: click.Context, images: tuple[str, ...], fmt: str | None) -> None:
    """Show details of one or more images (name[:tag], name@digest, ID or ID prefix).

    \b
    Examples:
      berth image inspect busybox
      berth image inspect -f '{{.Id}} {{.Size}}' busybox
      berth image inspect -f '{{json .Config.Cmd}}' busybox
    """
    from berth.store.inspect import image_json

    store = store_of(ctx)
    out = []
    missing: list[str] = []
    for ref in images:
        try:
            out.append(image_json(store, store.images.get(ref)))
        except ImageNotFound:
            missing.append(ref)
    if fmt:
        for item in out:
            click.echo(render(fmt, item))
    else:
        click.echo(json.dumps(out, indent=4))
    if missing:
        raise ImageNotFound("No such image: " + ", ".join(missing))


__all__ = ["image_inspect", "BerthError"]
