"""``berth save`` (also ``berth image save``): images to a tar archive."""

from __future__ import annotations

import os
import sys

import click

from berth.cli._store import store_of
from berth.errors import InvalidArgument


@click.command("save", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("images", nargs=-1, required=True, metavar="IMAGE...")
@click.option("-o", "--output", metavar="FILE", help="Write to FILE (atomically) instead of standard output.")
@click.pass_context
def save(ctx: click.Context, images: tuple[str, ...], output: str | None) -> None:
    """Save images to a tar archive in the format `docker save` writes: manifest.json and
    repositories for `docker load`, plus an OCI image layout (index.json, oci-layout,
    blobs/sha256/) for skopeo and containerd. Every digest survives `berth load`.

    IMAGE is a name:tag (saved with that tag), a repository (all its tags) or an ID
    (saved without names).

    \b
    Examples:
      berth save -o busybox.tar busybox
      berth save busybox:latest debian:bookworm | gzip > images.tar.gz
      skopeo copy docker-archive:busybox.tar oci:busybox-layout
    """
    store = store_of(ctx)
    if output is None:
        if sys.stdout.isatty():
            raise InvalidArgument("cowardly refusing to save to a terminal; use -o or redirect standard output")
        store.save(list(images), sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    from berth.sys.fs import temp_name

    target = os.path.abspath(output)
    tmp = temp_name(os.path.dirname(target))
    try:
        with open(tmp, "wb") as f:
            store.save(list(images), f)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
