"""``berth import`` (also ``berth image import``): a root file system tarball as an image."""

from __future__ import annotations

import sys

import click

from berth.cli._store import store_of
from berth.errors import InvalidArgument


@click.command("import", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("source", metavar="file|URL|-")
@click.argument("repository", required=False, metavar="[REPOSITORY[:TAG]]")
@click.option("-c", "--change", "changes", multiple=True, metavar="INSTRUCTION",
              help="A Dockerfile instruction for the config: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, "
                   "SHELL, STOPSIGNAL, USER, VOLUME, WORKDIR. Repeatable.")
@click.option("-m", "--message", default="", help="Commit message for the image's history.")
@click.option("--platform", metavar="OS/ARCH[/VARIANT]", help="Platform the image is for (default: this host's).")
@click.pass_context
def import_(ctx: click.Context, source: str, repository: str | None, changes: tuple[str, ...], message: str,
            platform: str | None) -> None:
    """Create a one-layer image from a tarball of a root file system (plain, gzip, zstd,
    bzip2 or xz) read from a file, a URL or standard input ("-"). Prints the image ID.

    \b
    Examples:
      berth import rootfs.tar busybox:local
      tar -C rootfs -c . | berth import -c 'CMD ["sh"]' -c 'ENV LANG=C.UTF-8' - mybase:1
      berth import --change 'ENTRYPOINT ["/app"]' -m 'release build' app.tar.gz app:1.0
    """
    store = store_of(ctx)
    if source == "-":
        if sys.stdin.isatty():
            raise InvalidArgument("import: refusing to read an image from a terminal; pipe a tarball or name a file")
        image = store.import_tar(sys.stdin.buffer, repository, changes, message=message, source="-",
                                 platform=platform)
    elif source.startswith(("http://", "https://")):
        import urllib.request

        with urllib.request.urlopen(source) as response:  # noqa: S310 - the user named this URL
            image = store.import_tar(response, repository, changes, message=message, source=source,
                                     platform=platform)
    else:
        with open(source, "rb") as f:
            image = store.import_tar(f, repository, changes, message=message, source=source, platform=platform)
    click.echo(str(image.id))
