"""``berth bootstrap``: base images without any registry."""

from __future__ import annotations

import click

from berth.cli._store import store_of
from berth.errors import InvalidArgument


@click.command("bootstrap", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("image", metavar="busybox|debian:SUITE")
@click.option("--binary", default="/bin/busybox", show_default=True, metavar="PATH",
              help="busybox: the static busybox binary to build from.")
@click.option("--mirror", metavar="URL", help="debian: the package mirror (default: the one apt is configured with).")
@click.option("--variant", default="minbase", show_default=True, help="debian: debootstrap's --variant.")
@click.option("--tarball", metavar="FILE",
              help="debian: reuse this rootfs tarball if it exists, else keep debootstrap's result in it.")
@click.option("-t", "--tag", "tags", multiple=True, metavar="NAME[:TAG]",
              help="Tag the image with these names instead of Docker Hub's (busybox:latest; debian:SUITE and "
                   "debian:SUITE-slim).")
@click.pass_context
def bootstrap(ctx: click.Context, image: str, binary: str, mirror: str | None, variant: str, tarball: str | None,
              tags: tuple[str, ...]) -> None:
    """Build a base image locally and tag it the way Docker Hub names it, so `FROM busybox`
    and `FROM debian:bookworm-slim` work without a registry.

    busybox: from Debian's busybox-static binary, reproducibly (same binary, same image
    ID). debian:SUITE: `debootstrap --variant=minbase SUITE` from the Debian mirror,
    slimmed like the official images (no apt lists, caches or logs).

    \b
    Examples:
      berth bootstrap busybox
      berth bootstrap debian:bookworm
      berth bootstrap debian:bookworm --tarball /var/cache/berth/bookworm.tar.gz
    """
    from berth.store import bootstrap as boot

    store = store_of(ctx)
    if image in ("busybox", "busybox:latest"):
        result = boot.busybox(store, binary, tags or ("busybox:latest",))
    elif image.startswith("debian:"):
        result = boot.debian(store, image.partition(":")[2], mirror=mirror, variant=variant, tarball=tarball,
                             tags=tags or None)
    else:
        raise InvalidArgument(f"bootstrap {image!r}: one of busybox, debian:SUITE (debian:bookworm)")
    for name in result.repo_tags:
        click.echo(f"Tagged {name}")
    click.echo(str(result.id))
