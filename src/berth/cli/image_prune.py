"""``berth image prune``: remove unused images."""

from __future__ import annotations

import click

from berth.cli._format import human_size
from berth.cli._store import confirm, store_of
from berth.errors import InvalidArgument


def parse_prune_filters(values: tuple[str, ...]) -> tuple[float | None, dict[str, str | None]]:
    """``until=DURATION|TIMESTAMP`` and ``label=KEY[=VALUE]`` filters."""
    import time

    until = None
    labels: dict[str, str | None] = {}
    for value in values:
        key, sep, arg = value.partition("=")
        if key == "until" and sep:
            until = time.time() - _duration(arg) if arg[-1:] in "smhd" and arg[:-1].isdigit() else _timestamp(arg)
        elif key == "label" and sep:
            name, has, want = arg.partition("=")
            labels[name] = want if has else None
        else:
            raise InvalidArgument(f"filter {value!r}: expected until=DURATION or label=KEY[=VALUE]")
    return until, labels


def _duration(text: str) -> float:
    return int(text[:-1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[text[-1]]


def _timestamp(text: str) -> float:
    from berth.store.inspect import parse_time

    if text.replace(".", "", 1).isdigit():
        return float(text)
    parsed = parse_time(text)
    if parsed is None:
        raise InvalidArgument(f"filter until={text}: expected a duration (24h) or a time")
    return parsed


@click.command("prune", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-a", "--all", "all_unused", is_flag=True, help="Remove all images no container uses, not just "
              "untagged ones.")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation.")
@click.option("--filter", "filters", multiple=True, metavar="FILTER",
              help="until=DURATION|TIME (added before), label=KEY[=VALUE]. Repeatable.")
@click.pass_context
def image_prune(ctx: click.Context, all_unused: bool, force: bool, filters: tuple[str, ...]) -> None:
    """Remove unused images: untagged ones, or with -a every image no container uses;
    then the layers and blobs nothing needs any more.

    \b
    Examples:
      berth image prune -f
      berth image prune -a --filter until=24h
    """
    from berth.store.gc import prune_images

    until, labels = parse_prune_filters(filters)
    what = "all images without at least one container associated to them" if all_unused else "all dangling images"
    if not confirm(f"WARNING! This will remove {what}.\nAre you sure you want to continue?", force):
        return
    actions, reclaimed = prune_images(store_of(ctx), all_unused=all_unused, until=until, labels=labels)
    if actions:
        click.echo("Deleted Images:")
        for action, subject in actions:
            click.echo(f"{action.lower()}: {subject}")
        click.echo()
    click.echo(f"Total reclaimed space: {human_size(reclaimed)}")
