"""``berth load`` (also ``berth image load``): images from a tar archive."""

from __future__ import annotations

import sys
from typing import BinaryIO

import click

from berth.cli._store import store_of
from berth.errors import InvalidArgument


@click.command("load", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-i", "--input", "input_path", metavar="FILE", help="Read from FILE instead of standard input.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.pass_context
def load(ctx: click.Context, input_path: str | None, quiet: bool) -> None:
    """Load images from a tar archive: what `docker save` writes (Docker 1.10 to 24 and
    25+), OCI image layouts (`skopeo copy … oci-archive:`, `podman save --format
    oci-archive`), plain or compressed with gzip, zstd, bzip2 or xz. Tags in the archive
    are applied, moving existing tags.

    \b
    Examples:
      berth load -i busybox.tar
      docker save alpine | berth load
      skopeo copy docker://… oci-archive:app.tar:app:1.0 && berth load -i app.tar
    """
    from berth.oci.digest import Digest

    store = store_of(ctx)

    def report(name: str, image_id: Digest, previous: Digest | None) -> None:
        if quiet:
            return
        from berth.store.images import familiar

        if previous is not None:
            click.echo(f"The image {familiar(name)} already exists, renaming the old one with ID {previous} "
                       f"to empty string")
        click.echo(f"Loaded image: {familiar(name)}" if name else f"Loaded image ID: {image_id}")

    stream: BinaryIO
    if input_path is None:
        if sys.stdin.isatty():
            raise InvalidArgument("requested load from stdin, but stdin is a terminal; use -i or a pipe")
        stream = sys.stdin.buffer
        store.load(stream, on_tag=report)
    else:
        with open(input_path, "rb") as stream:
            store.load(stream, on_tag=report)
