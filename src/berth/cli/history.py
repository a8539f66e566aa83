"""``berth image history``: the layers and steps an image was made of."""

from __future__ import annotations

import click

from berth.cli._format import ago, echo_formatted, echo_table, human_size
from berth.cli._store import store_of

HEADERS = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedBy": "CREATED BY", "Size": "SIZE",
           "Comment": "COMMENT"}


@click.command("history", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("image")
@click.option("--format", "fmt", metavar="FORMAT", help="'json' or a Go-style template, e.g. '{{.CreatedBy}}'.")
@click.option("-H", "--human/--no-human", default=True, show_default=True,
              help="Print sizes and dates in human-readable form.")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output.")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs.")
@click.pass_context
def history(ctx: click.Context, image: str, fmt: str | None, human: bool, no_trunc: bool, quiet: bool) -> None:
    """Show the history of an image, newest step first.

    \b
    Examples:
      berth image history busybox
      berth history --no-trunc debian:bookworm
    """
    from berth.store.inspect import format_time
    from berth.store.inspect import history as rows_of

    store = store_of(ctx)
    img = store.images.get(image)
    items = []
    for row in rows_of(store, img):
        image_id = row.id if no_trunc or row.id == "<missing>" else row.id.split(":")[-1][:12]
        created_by = row.created_by.replace("\n", " ").replace("\t", " ")
        if not no_trunc and len(created_by) > 45:
            created_by = created_by[:44] + "…"
        items.append({
            "ID": image_id,
            "CreatedSince": ago(row.created) if human else format_time(row.created),
            "CreatedAt": format_time(row.created),
            "CreatedBy": created_by,
            "Size": human_size(row.size) if human else str(row.size),
            "Comment": row.comment,
        })
    if quiet:
        for item in items:
            click.echo(item["ID"])
        return
    if fmt:
        echo_formatted(fmt, items, HEADERS)
        return
    columns = list(HEADERS)
    echo_table([HEADERS[c] for c in columns], [[i[c] for c in columns] for i in items])
