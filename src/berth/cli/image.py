"""``berth image``: the image management verbs under one group (Docker's `docker image`)."""

from __future__ import annotations

import click

from berth.cli.main import LazyGroup

# name → "module:attribute"; the build and registry layers add build, pull and push.
IMAGE_LAZY: dict[str, str] = {
    "build": "berth.cli.build:build",
    "history": "berth.cli.history:history",
    "import": "berth.cli.import_:import_",
    "inspect": "berth.cli.image_inspect:image_inspect",
    "load": "berth.cli.load:load",
    "ls": "berth.cli.images:images",
    "prune": "berth.cli.image_prune:image_prune",
    "pull": "berth.cli.pull:pull",
    "push": "berth.cli.push:push",
    "rm": "berth.cli.rmi:rmi",
    "save": "berth.cli.save:save",
    "tag": "berth.cli.tag:tag",
}


@click.group("image", cls=LazyGroup, lazy=IMAGE_LAZY, context_settings={"help_option_names": ["-h", "--help"]})
def image() -> None:
    """Manage images: list, inspect, tag, remove, prune, save, load, import, pull and push them.

    \b
    Examples:
      berth image ls
      berth image inspect busybox
      berth image rm busybox:old
    """
