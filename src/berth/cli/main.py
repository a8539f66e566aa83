"""Entry point: the top-level group, global options, and the one error → exit mapping.

Verbs load lazily (``LAZY``), so ``berth run`` never imports the HTTP server, the
build system or netlink.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from berth import __version__
from berth.cli.settings import Settings, default_root, default_run_root, exit_code_for
from berth.errors import BerthError, InvalidArgument, NotFound

# verb → "module:attribute"
LAZY: dict[str, str] = {
    "registry": "berth.cli.registry:registry",
    "network": "berth.cli.network:network",
    "runtime": "berth.cli.runtime:runtime",
    # containers
    "run": "berth.cli.containers:run",
    "create": "berth.cli.containers:create",
    "start": "berth.cli.containers:start",
    "stop": "berth.cli.containers:stop",
    "kill": "berth.cli.containers:kill",
    "restart": "berth.cli.containers:restart",
    "rm": "berth.cli.containers:rm",
    "ps": "berth.cli.containers:ps",
    "inspect": "berth.cli.containers:inspect",
    "logs": "berth.cli.containers:logs",
    "wait": "berth.cli.containers:wait",
    "exec": "berth.cli.containers:exec_",
    "attach": "berth.cli.containers:attach",
    "top": "berth.cli.containers:top",
    "stats": "berth.cli.containers:stats",
    "pause": "berth.cli.containers:pause",
    "unpause": "berth.cli.containers:unpause",
    "rename": "berth.cli.containers:rename",
    "port": "berth.cli.containers:port",
    "events": "berth.cli.containers:events",
    "cp": "berth.cli.files:cp",
    "diff": "berth.cli.files:diff",
    "commit": "berth.cli.files:commit",
    "container": "berth.cli.groups:container",
    "volume": "berth.cli.volumes:volume",
    # images
    "bootstrap": "berth.cli.bootstrap:bootstrap",
    "build": "berth.cli.build:build",
    "builder": "berth.cli.builder:builder",
    "history": "berth.cli.history:history",
    "image": "berth.cli.image:image",
    "images": "berth.cli.images:images",
    "import": "berth.cli.import_:import_",
    "load": "berth.cli.load:load",
    "login": "berth.cli.login:login",
    "logout": "berth.cli.login:logout",
    "pull": "berth.cli.pull:pull",
    "push": "berth.cli.push:push",
    "rmi": "berth.cli.rmi:rmi",
    "save": "berth.cli.save:save",
    "system": "berth.cli.system:system",
    "tag": "berth.cli.tag:tag",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when run; ``lazy`` maps name →
    "module:attribute" (the top-level LAZY by default; ``image`` and ``system`` have
    their own)."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = LAZY if lazy is None else lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module, _, attr = self.lazy[cmd_name].partition(":")
            command: click.Command = getattr(importlib.import_module(module), attr)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-v", "--version", prog_name="berth")
@click.option("--root", envvar="BERTH_ROOT", default=default_root, show_default="/var/lib/berth",
              help="Where images, containers and volumes are stored (env BERTH_ROOT).")
@click.option("--run-root", envvar="BERTH_RUN", default=default_run_root, show_default="/run/berth",
              help="Where runtime state lives: shims, sockets, exit codes (env BERTH_RUN).")
@click.option("--debug", is_flag=True, envvar="BERTH_DEBUG", help="Log every step to stderr.")
@click.pass_context
def cli(ctx: click.Context, root: str, run_root: str, debug: bool) -> None:
    """berth: containers, images, builds and a registry, compatible with Docker."""
    if debug:
        import logging

        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = Settings(os.path.abspath(root), os.path.abspath(run_root), debug)


def main(argv: list[str] | None = None) -> Any:
    try:
        return cli.main(args=argv, prog_name="berth", standalone_mode=False)
    except click.exceptions.Exit as err:
        sys.exit(err.exit_code)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except click.exceptions.Abort:
        sys.exit(130)
    except BerthError as err:
        click.echo(f"berth: {err}", err=True)
        sys.exit(exit_code_for(err))
    except OSError as err:
        click.echo(f"berth: {err}", err=True)
        sys.exit(125)
    except KeyboardInterrupt:
        sys.exit(130)


__all__ = ["main", "cli", "Settings", "InvalidArgument", "NotFound", "default_run_root", "exit_code_for"]
