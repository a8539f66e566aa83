"""``berth tag`` (also ``berth image tag``): give an image another name."""

from __future__ import annotations

import click

from berth.cli._store import store_of


@click.command("tag", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("source", metavar="SOURCE_IMAGE[:TAG]")
@click.argument("target", metavar="TARGET_IMAGE[:TAG]")
@click.pass_context
def tag(ctx: click.Context, source: str, target: str) -> None:
    """Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE (a name, ID or ID prefix).
    An existing TARGET_IMAGE tag moves to the new image.

    \b
    Examples:
      berth tag busybox:latest registry.local:5000/tools/busybox:1.36
      berth tag 3f2a9c myapp:v2
    """
    store = store_of(ctx)
    store.images.tag(store.images.get(source), target)
