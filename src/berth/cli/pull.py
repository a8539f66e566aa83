"""``berth pull`` (also ``berth image pull``): download an image from a registry."""

from __future__ import annotations

import click

from berth.cli._registry import insecure_option, open_session, progress_for, registry_errors
from berth.cli._store import store_of


@click.command("pull", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("name", metavar="NAME[:TAG|@DIGEST]")
@click.option("-a", "--all-tags", is_flag=True, help="Download every tagged image of the repository.")
@click.option("--platform", metavar="OS/ARCH[/VARIANT]",
              help="Pick this platform's image from a multi-platform image (default: this host's, "
                   "e.g. linux/amd64).")
@click.option("-q", "--quiet", is_flag=True, help="Print only the image's full name at the end.")
@click.option("--max-concurrent-downloads", type=click.IntRange(1, 32), default=3, show_default=True,
              help="Layers downloaded at the same time.")
@insecure_option
@click.pass_context
def pull(ctx: click.Context, name: str, all_tags: bool, platform: str | None, quiet: bool,
         max_concurrent_downloads: int, insecure: tuple[str, ...]) -> None:
    """Download an image from a registry, by tag or by digest, and unpack its layers.

    Layers download in parallel and each one is verified, decompressed and unpacked
    while it downloads. An interrupted pull keeps what it downloaded: pulling again
    resumes. A multi-platform image yields this host's image unless --platform picks
    another. Credentials come from `berth login` (Docker's ~/.docker/config.json, or
    $DOCKER_CONFIG/config.json). Registries are reached over HTTPS; loopback ones and
    those given with --insecure-registry also over plain HTTP. On a terminal each layer
    gets a progress bar; otherwise the output is Docker's plain lines.

    \b
    Examples:
      berth pull busybox
      berth pull 127.0.0.1:5000/team/app:1.2
      berth pull 127.0.0.1:5000/team/app@sha256:4b1f…
      berth pull --platform linux/arm64 127.0.0.1:5000/team/app:1.2
      berth pull --all-tags 127.0.0.1:5000/team/app
      berth pull --insecure-registry registry.lan:5000 registry.lan:5000/app
    """
    from berth.errors import InvalidArgument
    from berth.oci.descriptor import Platform
    from berth.oci.reference import Reference
    from berth.registry.client.pull import PullOptions
    from berth.registry.client.pull import pull as pull_image

    with registry_errors():
        ref = Reference.parse(name, default_tag=False)
        if all_tags and (ref.tag or ref.digest):
            raise InvalidArgument("tag can't be used with --all-tags/-a")
        options = PullOptions(Platform.parse(platform) if platform else None, max_concurrent_downloads)
        store = store_of(ctx)
        progress = progress_for(quiet)
        try:
            with open_session(insecure) as session:
                if all_tags:
                    from berth.registry.client.resolver import RegistryResolver

                    tags = RegistryResolver(session).tags(ref)
                    if not tags:
                        raise InvalidArgument(f"{ref.familiar_repository}: the repository has no tags")
                    for tag in tags:
                        pull_image(store, session, ref.with_tag(tag), options, progress)
                    final = ref.familiar_repository
                else:
                    if ref.tag is None and ref.digest is None:
                        progress.message("Using default tag: latest")
                        ref = ref.with_tag("latest")
                    result = pull_image(store, session, ref, options, progress)
                    final = str(result.reference)
        finally:
            progress.close()
        click.echo(final)
