"""``berth system``: disk usage, pruning and consistency checks of a berth root."""

from __future__ import annotations

import click

from berth.cli.main import LazyGroup

# name → "module:attribute"; the engine adds info and events.
SYSTEM_LAZY: dict[str, str] = {
    "check": "berth.cli.system_check:check",
    "df": "berth.cli.system_df:df",
    "prune": "berth.cli.system_prune:prune",
}


@click.group("system", cls=LazyGroup, lazy=SYSTEM_LAZY, context_settings={"help_option_names": ["-h", "--help"]})
def system() -> None:
    """Manage berth's storage: disk usage (df), reclaiming space (prune), verifying it (check).

    \b
    Examples:
      berth system df
      berth system prune -f
      berth system check --repair
    """
