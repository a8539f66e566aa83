"""``berth container VERB``: Docker's management-command spelling of the container verbs."""

from __future__ import annotations

import importlib

import click

from berth.cli.main import LazyGroup

# verb → "module:attribute"; `ls`/`list` are `ps`.
CONTAINER_VERBS = {
    "run": "berth.cli.containers:run", "create": "berth.cli.containers:create",
    "start": "berth.cli.containers:start", "stop": "berth.cli.containers:stop",
    "kill": "berth.cli.containers:kill", "restart": "berth.cli.containers:restart",
    "rm": "berth.cli.containers:rm", "ls": "berth.cli.containers:ps", "list": "berth.cli.containers:ps",
    "ps": "berth.cli.containers:ps", "inspect": "berth.cli.containers:inspect",
    "logs": "berth.cli.containers:logs", "wait": "berth.cli.containers:wait",
    "exec": "berth.cli.containers:exec_", "attach": "berth.cli.containers:attach",
    "top": "berth.cli.containers:top", "stats": "berth.cli.containers:stats",
    "pause": "berth.cli.containers:pause", "unpause": "berth.cli.containers:unpause",
    "rename": "berth.cli.containers:rename", "port": "berth.cli.containers:port",
    "prune": "berth.cli.containers:prune", "cp": "berth.cli.files:cp", "diff": "berth.cli.files:diff",
    "commit": "berth.cli.files:commit",
}


class _VerbGroup(LazyGroup):
    verbs: dict[str, str] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.verbs)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.verbs.get(cmd_name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command


class _ContainerGroup(_VerbGroup):
    verbs = CONTAINER_VERBS


@click.group(cls=_ContainerGroup, context_settings={"help_option_names": ["-h", "--help"]})
def container() -> None:
    """Manage containers: the same verbs as the top level (run, ps/ls, rm, prune…)."""
