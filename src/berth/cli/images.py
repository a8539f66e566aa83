"""``berth images`` (also ``berth image ls``): list images."""

from __future__ import annotations

import fnmatch
from typing import Any

import click

from berth.cli._format import ago, echo_formatted, echo_table, human_size
from berth.cli._store import store_of
from berth.errors import InvalidArgument
from berth.oci.reference import Reference

HEADERS = {"Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST", "ID": "IMAGE ID",
           "CreatedSince": "CREATED", "Size": "SIZE"}


def _filters(values: tuple[str, ...]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for value in values:
        key, sep, arg = value.partition("=")
        if not sep or key not in ("dangling", "reference", "label", "before", "since"):
            raise InvalidArgument(f"filter {value!r}: expected dangling=, reference=, label=, before= or since=")
        out.setdefault(key, []).append(arg)
    return out


@click.command("images", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("repository", required=False, metavar="[REPOSITORY[:TAG]]")
@click.option("-a", "--all", "show_all", is_flag=True, help="Show all images, including the untagged intermediate "
              "images of build steps (kept as build cache).")
@click.option("--digests", is_flag=True, help="Show digests.")
@click.option("-f", "--filter", "filters", multiple=True, metavar="FILTER",
              help="Filter: dangling=true|false, reference=PATTERN, label=KEY[=VALUE], before=IMAGE, "
                   "since=IMAGE. Repeatable.")
@click.option("--format", "fmt", metavar="FORMAT",
              help="'table', 'table TEMPLATE', 'json', or a Go-style template such as '{{.Repository}}:{{.Tag}}'.")
@click.option("--no-trunc", is_flag=True, help="Don't truncate image IDs.")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs.")
@click.pass_context
def images(ctx: click.Context, repository: str | None, show_all: bool, digests: bool, filters: tuple[str, ...],
           fmt: str | None, no_trunc: bool, quiet: bool) -> None:
    """List images: one row per tag, untagged images as <none>.

    \b
    Examples:
      berth images
      berth images busybox
      berth images -f dangling=true -q
      berth images --format '{{.Repository}}:{{.Tag}} {{.Size}}'
    """
    store = store_of(ctx)
    wanted = _filters(filters)
    if repository:
        wanted.setdefault("reference", []).append(repository)
    rows = []
    all_images = store.images.list()
    before = _time_of(store, wanted.get("before"))
    since = _time_of(store, wanted.get("since"), latest=True)
    hidden: set[str] = set()
    if not show_all:
        from berth.builder.cache import intermediate_ids

        hidden = intermediate_ids(store.db)
    for image in all_images:
        if str(image.id) in hidden and not image.repo_tags and not image.repo_digests:
            continue
        if not _keep(image, wanted, before, since):
            continue
        names = [n for n in image.repo_tags if _ref_match(n, wanted.get("reference"))] if "reference" in wanted \
            else list(image.repo_tags)
        if "reference" in wanted and not names:
            continue
        digest_of = {d.partition("@")[0]: d.partition("@")[2] for d in image.repo_digests}
        entries = [tuple(n.rsplit(":", 1)) for n in names] or \
            [(d.partition("@")[0], "<none>") for d in image.repo_digests] or [("<none>", "<none>")]
        for repo, tag in entries:
            image_id = str(image.id) if no_trunc else image.id.short
            rows.append({
                "Repository": repo, "Tag": tag, "Digest": digest_of.get(repo, "<none>"),
                "ID": image_id, "CreatedSince": ago(_created(image)), "CreatedAt": image.created or "",
                "Size": human_size(image.size), "Containers": "N/A",
            })
    if quiet:
        seen = []
        for row in rows:
            if row["ID"] not in seen:
                seen.append(row["ID"])
        for image_id in seen:
            click.echo(image_id)
        return
    if fmt and fmt != "table":
        echo_formatted(fmt, rows, HEADERS)
        return
    columns = ["Repository", "Tag", *(["Digest"] if digests else []), "ID", "CreatedSince", "Size"]
    echo_table([HEADERS[c] for c in columns], [[r[c] for c in columns] for r in rows])


def _created(image: Any) -> float | None:
    from berth.store.inspect import parse_time

    return parse_time(image.created)


def _keep(image: Any, wanted: dict[str, list[str]], before: float | None, since: float | None) -> bool:
    for value in wanted.get("dangling", []):
        dangling = not image.repo_tags
        if value.lower() in ("true", "1") and not dangling:
            return False
        if value.lower() in ("false", "0") and dangling:
            return False
    for value in wanted.get("label", []):
        key, sep, want = value.partition("=")
        labels = image.config.config.labels
        if key not in labels or (sep and labels[key] != want):
            return False
    created = _created(image) or 0.0
    if before is not None and created >= before:
        return False
    if since is not None and created <= since:
        return False
    return True


def _ref_match(name: str, patterns: list[str] | None) -> bool:
    if not patterns:
        return True
    repo, _, tag = name.rpartition(":")
    for pattern in patterns:
        if not any(c in pattern for c in "*?["):
            # a plain name: compare normalised, so docker.io/library/busybox matches busybox
            pattern = Reference.parse(pattern, default_tag=False).familiar()
        if ":" in pattern.rsplit("/", 1)[-1]:
            if fnmatch.fnmatchcase(name, pattern):
                return True
        elif fnmatch.fnmatchcase(repo, pattern):
            return True
    return False


def _time_of(store: Any, refs: list[str] | None, latest: bool = False) -> float | None:
    if not refs:
        return None
    times = [_created(store.images.get(r)) or 0.0 for r in refs]
    return max(times) if latest else min(times)
