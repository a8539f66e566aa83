"""``berth network``: create, ls, inspect, rm, connect, disconnect, prune, with Docker's
flags and output shapes."""

from __future__ import annotations

import json
import os
import re
from typing import TYPE_CHECKING, Any

import click

from berth.errors import InvalidArgument, NetworkNotFound, NotFound, Unsupported

if TYPE_CHECKING:
    from berth.network.manager import NetworkManager

LS_HEADERS = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv6": "IPV6",
              "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT"}


def manager(ctx: click.Context) -> NetworkManager:
    from berth.network import NetworkConfig, NetworkManager
    from berth.state import open_database

    settings = ctx.obj
    return NetworkManager(open_database(settings.root), settings.root, settings.run_root,
                          config=NetworkConfig.from_env(os.environ))


def resolve_container(ctx: click.Context, ref: str, netns: str | None) -> tuple[str, str]:
    """(container id, network namespace path) for CONTAINER: a container's name, id or
    id prefix (its sandbox, while it runs), else the id of a bare sandbox made by
    ``NetworkManager.create_sandbox``; ``--netns`` names any other namespace file."""
    from berth.cli.containers import engine_of
    from berth.errors import ContainerNotFound, ContainerNotRunning

    folder = os.path.join(ctx.obj.run_root, "netns")
    if netns:
        return ref, netns
    try:
        view = engine_of(ctx).get(ref)
    except ContainerNotFound:
        view = None
    if view is not None:
        path = os.path.join(folder, view.id)
        if not os.path.exists(path):
            raise ContainerNotRunning(f"container {view.name} is not running on a bridge network")
        return view.id, path
    found = [n for n in (os.listdir(folder) if os.path.isdir(folder) else []) if n.startswith(ref)]
    if len(found) != 1:
        raise NotFound(f"no such container: {ref}" if not found else f"container {ref}: ambiguous id prefix")
    return found[0], os.path.join(folder, found[0])


def _natural(name: str) -> list[tuple[int, int | str]]:
    """Sort key: digit runs compare as numbers (net2 before net10)."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name) if part]


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not key:
            raise InvalidArgument(f"invalid {what} {value!r}: use KEY=VALUE")
        out[key] = val if sep else ""
    return out


def _filters(values: tuple[str, ...]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep:
            raise InvalidArgument(f"invalid filter {value!r}: use KEY=VALUE")
        out.setdefault(key, []).append(val)
    return out


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def network() -> None:
    """Manage networks: bridges with a subnet, a gateway and name resolution.

    Every berth root has the predefined networks bridge (the default bridge, berth0,
    10.88.0.0/16), host and none. User-defined bridge networks add DNS: containers on
    them resolve each other by name, alias and short id.
    """


@network.command("create")
@click.argument("name")
@click.option("-d", "--driver", default="bridge", show_default=True, help="Network driver (only bridge).")
@click.option("--subnet", multiple=True, help="Subnet in CIDR form, e.g. 10.1.0.0/24 (default: a free /24 "
              "from 10.89.0.0/16).")
@click.option("--gateway", multiple=True, help="Gateway address of the subnet (default: its first address).")
@click.option("--ip-range", multiple=True, help="Lease container addresses from this part of the subnet.")
@click.option("--internal", is_flag=True, help="No outbound traffic and no published ports from outside.")
@click.option("--label", multiple=True, help="Label KEY=VALUE (repeatable).")
@click.option("-o", "--opt", multiple=True, help="Driver option KEY=VALUE: com.docker.network.bridge.name, "
              "com.docker.network.driver.mtu.")
@click.option("--ipv6", is_flag=True, help="Enable IPv6 (not supported yet: an error).")
@click.option("--attachable", is_flag=True, help="Accepted for compatibility; every network is attachable.")
@click.option("--ipam-driver", default="default", help="IP address management driver (only default).")
@click.pass_context
def create(ctx: click.Context, name: str, driver: str, subnet: tuple[str, ...], gateway: tuple[str, ...],
           ip_range: tuple[str, ...], internal: bool, label: tuple[str, ...], opt: tuple[str, ...], ipv6: bool,
           attachable: bool, ipam_driver: str) -> None:
    """Create a network; print its id."""
    if ipv6:
        raise Unsupported("--ipv6: IPv6 networks are not supported yet")
    if ipam_driver != "default":
        raise Unsupported(f"--ipam-driver {ipam_driver}: only the default driver exists")
    for flag, values in (("--subnet", subnet), ("--gateway", gateway), ("--ip-range", ip_range)):
        if len(values) > 1:
            raise Unsupported(f"{flag} given {len(values)} times: a network has one IPv4 subnet")
    net = manager(ctx).create(name, subnet=subnet[0] if subnet else None, gateway=gateway[0] if gateway else None,
                              internal=internal, labels=_pairs(label, "label"), driver=driver,
                              ip_range=ip_range[0] if ip_range else None, options=_pairs(opt, "option"))
    click.echo(net.id)


@network.command("ls")
@click.option("-f", "--filter", "filters", multiple=True,
              help="Filter KEY=VALUE: driver, id, label, name, scope, type (custom|builtin), dangling.")
@click.option("--format", "fmt", default="", help="'table', 'json', or a template such as '{{.Name}}'.")
@click.option("--no-trunc", is_flag=True, help="Show full network ids.")
@click.option("-q", "--quiet", is_flag=True, help="Only network ids.")
@click.pass_context
def ls(ctx: click.Context, filters: tuple[str, ...], fmt: str, no_trunc: bool, quiet: bool) -> None:
    """List networks: NETWORK ID, NAME, DRIVER, SCOPE."""
    from berth.cli import template
    from berth.network.inspect import ls_row

    nets = sorted(manager(ctx).list(_filters(filters)), key=lambda n: _natural(n.name))  # as docker's CLI
    rows = []
    for net in nets:
        row = ls_row(net)
        if not no_trunc:
            row["ID"] = net.short_id
        rows.append(row)
    if quiet:
        for row in rows:
            click.echo(row["ID"])
        return
    if fmt == "json":
        for row in rows:
            click.echo(json.dumps(row))
        return
    if fmt and not fmt.startswith("table"):
        for row in rows:
            click.echo(template.render(fmt, row))
        return
    fields = ["ID", "Name", "Driver", "Scope"]
    if fmt.startswith("table") and fmt[5:].strip():
        fields = [f.strip(" .{}") for f in fmt[5:].strip().replace("\\t", "\t").split("\t")]
    table = [[LS_HEADERS.get(f, f.upper()) for f in fields]]
    table += [[template.render("{{." + f + "}}", row) for f in fields] for row in rows]
    click.echo(template.table(table))


@network.command("inspect")
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--format", "fmt", default="", help="A template such as '{{.IPAM.Config}}' or '{{json .}}'.")
@click.option("-v", "--verbose", is_flag=True, help="Accepted for compatibility.")
@click.pass_context
def inspect(ctx: click.Context, names: tuple[str, ...], fmt: str, verbose: bool) -> None:
    """Show networks as Docker's JSON (a list, one object per network)."""
    from berth.cli import template
    from berth.network.inspect import docker_json

    nm = manager(ctx)
    found: list[dict[str, Any]] = []
    missing = []
    for name in names:
        try:
            net = nm.get(name)
        except NetworkNotFound:
            missing.append(name)
            continue
        found.append(docker_json(net, nm.attached(net.id)))
    if fmt:
        for item in found:
            click.echo(template.render(fmt, item))
    else:
        click.echo(json.dumps(found, indent=4))
    if missing:
        raise NetworkNotFound(f"no such network: {', '.join(missing)}")


@network.command("rm")
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--force", is_flag=True, help="Do not fail when a network does not exist.")
@click.pass_context
def rm(ctx: click.Context, names: tuple[str, ...], force: bool) -> None:
    """Remove networks (none may have containers); print each name."""
    nm = manager(ctx)
    failure: Exception | None = None
    for name in names:
        try:
            nm.remove(name)
        except NetworkNotFound as err:
            if not force:
                failure = failure or err
            continue
        except Exception as err:  # go on with the others, report the first failure
            failure = failure or err
            continue
        click.echo(name)
    if failure is not None:
        raise failure


@network.command("connect")
@click.argument("network_name", metavar="NETWORK")
@click.argument("container")
@click.option("--alias", multiple=True, help="DNS name of the container on this network (repeatable).")
@click.option("--ip", default=None, help="IPv4 address to use, inside the network's subnet.")
@click.option("--mac-address", default=None, help="MAC address of the container's interface.")
@click.option("--name", "dns_name", default=None, help="Container name the network's DNS answers.")
@click.option("--netns", default=None, help="Network namespace file of the container "
              "(default: its berth sandbox, $BERTH_RUN/netns/<id>).")
@click.pass_context
def connect(ctx: click.Context, network_name: str, container: str, alias: tuple[str, ...], ip: str | None,
            mac_address: str | None, dns_name: str | None, netns: str | None) -> None:
    """Connect a container to a network: an interface, an address, its names."""
    container_id, path = resolve_container(ctx, container, netns)
    manager(ctx).connect(container_id, network_name, path, aliases=alias, ip=ip, mac=mac_address, name=dns_name)


@network.command("disconnect")
@click.argument("network_name", metavar="NETWORK")
@click.argument("container")
@click.option("-f", "--force", is_flag=True, help="Do not fail when the container is not connected.")
@click.pass_context
def disconnect(ctx: click.Context, network_name: str, container: str, force: bool) -> None:
    """Disconnect a container from a network."""
    try:
        try:
            container_id = resolve_container(ctx, container, None)[0]
        except NotFound:
            container_id = container  # connected with --netns: the id as given
        manager(ctx).disconnect(container_id, network_name)
    except NotFound:
        if not force:
            raise


@network.command("prune")
@click.option("-f", "--force", is_flag=True, help="Do not ask for confirmation.")
@click.option("--filter", "filters", multiple=True, help="Filter KEY=VALUE: label, label!, until.")
@click.pass_context
def prune(ctx: click.Context, force: bool, filters: tuple[str, ...]) -> None:
    """Remove every user-defined network no container uses."""
    from berth.network.filters import check_prune

    parsed = _filters(filters)
    check_prune(parsed)  # bad input is refused before the question, and before anything is removed
    if not force:
        click.echo("WARNING! This will remove all custom networks not used by at least one container.")
        if not click.confirm("Are you sure you want to continue?", default=False):
            return
    removed = manager(ctx).prune(parsed)
    if removed:
        click.echo("Deleted Networks:")
        for name in removed:
            click.echo(name)


network.add_command(ls, "list")
network.add_command(rm, "remove")
