"""``berth login`` and ``berth logout``: registry credentials in Docker's config.json."""

from __future__ import annotations

import sys

import click

from berth.cli._registry import insecure_option, open_session, registry_errors


def _registry(server: str | None) -> str:
    """The reference domain a server argument names (docker.io by default)."""
    from berth.registry.client.credentials import hostname_of

    return hostname_of(server) if server else "docker.io"


def _shown(registry: str) -> str:
    from berth.registry.client.credentials import config_key

    return config_key(registry)


@click.command("login", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("server", required=False, metavar="[SERVER]")
@click.option("-u", "--username", help="Username (asked for when not given).")
@click.option("-p", "--password", help="Password (insecure: it shows in the process list; prefer "
              "--password-stdin).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@insecure_option
def login(server: str | None, username: str | None, password: str | None, password_stdin: bool,
          insecure: tuple[str, ...]) -> None:
    """Log in to a registry (Docker Hub when SERVER is omitted).

    The credentials are checked against the registry first — with its token service
    when it uses Docker's token authentication, with Basic authentication otherwise —
    then stored where Docker keeps them: "auths" in ~/.docker/config.json (or
    $DOCKER_CONFIG/config.json), or the credential helper that file names. A login made
    with berth works for docker, podman and skopeo, and theirs for berth.

    \b
    Examples:
      berth login 127.0.0.1:5000
      berth login -u alice registry.example.com
      echo "$TOKEN" | berth login -u alice --password-stdin registry.example.com
    """
    from berth.errors import InvalidArgument
    from berth.registry.client.account import login as do_login
    from berth.registry.client.credentials import Credentials

    with registry_errors():
        registry = _registry(server)
        if password is not None and password_stdin:
            raise InvalidArgument("--password and --password-stdin are mutually exclusive")
        if password is not None:
            click.echo("WARNING! Using --password via the CLI is insecure. Use --password-stdin.", err=True)
        if password_stdin:
            if not username:
                raise InvalidArgument("Must provide --username with --password-stdin")
            password = sys.stdin.read().rstrip("\r\n")
        if not username:
            username = click.prompt("Username", err=False).strip()
        if password is None:
            import getpass

            password = getpass.getpass("Password: ")
        if not username or not password:
            raise InvalidArgument("Error: Non-null Username and Password Required")
        with open_session(insecure) as session:
            where = do_login(session, registry, Credentials(username, password))
        if where.endswith("config.json"):
            click.echo(f"WARNING! Your password will be stored unencrypted in {where}.", err=True)
            click.echo("Configure a credential helper to remove this warning.", err=True)
            click.echo("", err=True)
        click.echo("Login Succeeded")


@click.command("logout", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("server", required=False, metavar="[SERVER]")
def logout(server: str | None) -> None:
    """Log out from a registry (Docker Hub when SERVER is omitted): remove its
    credentials from ~/.docker/config.json (or $DOCKER_CONFIG/config.json, or the
    credential helper that file names).

    \b
    Examples:
      berth logout 127.0.0.1:5000
      berth logout
    """
    from berth.registry.client.account import logout as do_logout
    from berth.registry.client.credentials import CredentialStore

    with registry_errors():
        registry = _registry(server)
        if do_logout(CredentialStore(), registry):
            click.echo(f"Removing login credentials for {_shown(registry)}")
        else:
            click.echo(f"Not logged in to {_shown(registry)}")
