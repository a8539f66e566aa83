"""``berth push`` (also ``berth image push``): upload an image to a registry."""

from __future__ import annotations

import click

from berth.cli._registry import insecure_option, open_session, progress_for, registry_errors
from berth.cli._store import store_of


@click.command("push", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("name", metavar="NAME[:TAG]")
@click.option("-a", "--all-tags", is_flag=True, help="Push every local tag of the repository.")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors.")
@click.option("--max-concurrent-uploads", type=click.IntRange(1, 32), default=5, show_default=True,
              help="Blobs uploaded at the same time.")
@insecure_option
@click.pass_context
def push(ctx: click.Context, name: str, all_tags: bool, quiet: bool, max_concurrent_uploads: int,
         insecure: tuple[str, ...]) -> None:
    """Upload a local image (pulled, loaded, imported, built or committed) to a
    registry under NAME[:TAG]; tag it first with `berth tag` to choose where.

    Blobs the registry already has are skipped (HEAD), blobs that another repository of
    the same registry holds are mounted from it instead of uploaded, the rest upload in
    parallel, and the manifest goes last. Credentials and insecure registries work as
    for `berth pull`.

    \b
    Examples:
      berth tag busybox 127.0.0.1:5000/tools/busybox:1
      berth push 127.0.0.1:5000/tools/busybox:1
      berth push --all-tags 127.0.0.1:5000/tools/busybox
    """
    from berth.errors import InvalidArgument
    from berth.oci.reference import Reference
    from berth.registry.client.push import PushOptions
    from berth.registry.client.push import push as push_image

    with registry_errors():
        ref = Reference.parse(name, default_tag=False)
        if ref.digest is not None:
            raise InvalidArgument(f"push {name}: a digest can't be pushed, only a tag")
        if all_tags and ref.tag:
            raise InvalidArgument("tag can't be used with --all-tags/-a")
        store = store_of(ctx)
        progress = progress_for(quiet)
        options = PushOptions(max_concurrent_uploads)
        if all_tags:
            prefix = ref.repository + ":"
            tags = sorted({n[len(prefix):] for image in store.images.list() for n in image.names
                           if n.startswith(prefix)})
            if not tags:
                raise InvalidArgument(f"An image does not exist locally with the tag: {ref.familiar_repository}")
            targets = [ref.with_tag(t) for t in tags]
        else:
            if ref.tag is None:
                progress.message("Using default tag: latest")
                ref = ref.with_tag("latest")
            targets = [ref]
        try:
            with open_session(insecure) as session:
                for target in targets:
                    push_image(store, session, target, options, progress)
        finally:
            progress.close()
