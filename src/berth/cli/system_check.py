"""``berth system check``: verify the store; with --repair, remove what is broken."""

from __future__ import annotations

import sys

import click

from berth.cli._store import store_of


@click.command("check", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--repair", is_flag=True,
              help="Remove what is corrupt or orphaned: blobs that do not match their digest, snapshot folders "
                   "without records (and records without folders), layer folders changed since they were "
                   "unpacked (unpacked again when their blob is here), images whose blobs are gone.")
@click.option("-q", "--quiet", is_flag=True, help="Print only problems.")
@click.pass_context
def check(ctx: click.Context, repair: bool, quiet: bool) -> None:
    """Verify every blob against its digest, every snapshot against its folder and its
    layer record, and every image against its blobs and layers. Leftovers of
    interrupted commands (ingests, temp folders, unfinished unpacking) are always
    cleaned up. Exits 1 when problems remain.

    \b
    Examples:
      berth system check
      berth system check --repair
    """
    report = store_of(ctx).check(repair=repair)
    for finding in report.findings:
        if quiet and finding.kind != "problem":
            continue
        status = {"problem": "repaired" if finding.repaired else "PROBLEM", "cleaned": "cleaned",
                  "note": "note"}[finding.kind]
        click.echo(f"{status}: {finding.subject}: {finding.message}")
    problems = report.problems
    if not quiet:
        click.echo(f"checked {report.blobs} blobs, {report.snapshots} snapshots, {report.images} images: "
                   + (f"{len(problems)} problem(s)" if problems else "no problems"))
    if problems:
        sys.exit(1)
