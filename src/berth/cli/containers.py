"""Container verbs: run, create, start, stop, kill, restart, rm, ps, inspect, logs, wait,
exec, attach, top, stats, pause, unpause, rename, diff, commit, prune, events."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import click

from berth.cli.settings import Settings
from berth.errors import ContainerNotRunning, InvalidArgument

CTX = {"help_option_names": ["-h", "--help"]}


def engine_of(ctx: click.Context) -> Any:
    from berth.engine.engine import Engine

    settings = ctx.find_object(Settings)
    assert settings is not None
    return Engine(settings.root, settings.run_root)


# ---- run / create -----------------------------------------------------------------------


def create_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--name", default="", help="Name the container (unique); default: a random adjective_name."),
        click.option("-e", "--env", multiple=True, help="Set an environment variable: KEY=VALUE, or KEY to pass ours."),
        click.option("--env-file", multiple=True, help="Read KEY=VALUE lines from a file."),
        click.option("-w", "--workdir", default="", help="Working directory inside the container."),
        click.option("-u", "--user", default="", help="user[:group], by name or number, as in the image's /etc/passwd."),
        click.option("--group-add", multiple=True, help="Additional groups to join."),
        click.option("--entrypoint", default=None, help="Override the image's ENTRYPOINT ('' clears it)."),
        click.option("-h", "--hostname", default="", help="Container host name (default: the short id)."),
        click.option("--domainname", default="", help="Container NIS domain name."),
        click.option("-i", "--interactive", is_flag=True, help="Keep stdin open, even if not attached."),
        click.option("-t", "--tty", is_flag=True, help="Allocate a pseudo-terminal."),
        click.option("-l", "--label", multiple=True, help="Set metadata: KEY=VALUE."),
        click.option("-v", "--volume", multiple=True,
                     help="Bind or volume: /host:/ctr[:ro], NAME:/ctr[:ro], or /ctr (anonymous volume)."),
        click.option("--mount", multiple=True,
                     help="type=bind|volume|tmpfs,source=…,target=…[,readonly][,tmpfs-size=…]."),
        click.option("--tmpfs", multiple=True, help="Mount a tmpfs: /path[:size=64m,mode=1777]."),
        click.option("-p", "--publish", multiple=True, help="Publish a port: [IP:][HOSTPORT:]CPORT[/tcp|udp]."),
        click.option("-P", "--publish-all", is_flag=True, help="Publish every EXPOSEd port to a free host port."),
        click.option("--expose", multiple=True, help="Expose a port without publishing it."),
        click.option("--network", "--net", "network", default="bridge",
                     help="none, host, bridge (default), container:NAME or a network name."),
        click.option("--network-alias", multiple=True, help="Another name for this container on its network."),
        click.option("--ip", default="", help="IPv4 address on the network."),
        click.option("--dns", multiple=True, help="DNS server for the container."),
        click.option("--dns-search", multiple=True, help="DNS search domain."),
        click.option("--dns-option", multiple=True, help="resolv.conf option."),
        click.option("--add-host", multiple=True, help="Extra /etc/hosts entry: host:ip."),
        click.option("--restart", default="no", help="no, always, on-failure[:N] or unless-stopped."),
        click.option("--rm", "auto_remove", is_flag=True, help="Remove the container when it exits."),
        click.option("--health-cmd", default=None, help="Command to check health (run with /bin/sh -c)."),
        click.option("--health-interval", default=None, help="Time between checks (e.g. 30s)."),
        click.option("--health-timeout", default=None, help="Time a check may take."),
        click.option("--health-retries", type=int, default=None, help="Failures in a row that make it unhealthy."),
        click.option("--health-start-period", default=None, help="Grace period before failures count."),
        click.option("--no-healthcheck", is_flag=True, help="Disable the image's HEALTHCHECK."),
        click.option("--init", "use_init", is_flag=True, help="Run berth's init as PID 1 (reaps zombies, forwards signals)."),
        click.option("--cap-add", multiple=True, help="Add a capability (e.g. NET_ADMIN, or ALL)."),
        click.option("--cap-drop", multiple=True, help="Drop a capability (e.g. CHOWN, or ALL)."),
        click.option("--privileged", is_flag=True, help="All capabilities, no seccomp, no masked paths, all devices."),
        click.option("--security-opt", multiple=True,
                     help="no-new-privileges, seccomp=unconfined or seccomp=PROFILE.json."),
        click.option("--stop-signal", default="", help="Signal that stops the container (default: the image's, or SIGTERM)."),
        click.option("--stop-timeout", type=int, default=None, help="Seconds to wait after the stop signal (default 10)."),
        click.option("--read-only", is_flag=True, help="Mount the root file system read-only."),
        click.option("-m", "--memory", default="", help="Memory limit (e.g. 64m)."),
        click.option("--memory-swap", default="", help="Memory plus swap limit; -1 for unlimited swap."),
        click.option("--memory-reservation", default="", help="Soft memory limit."),
        click.option("--cpus", default="", help="CPUs (e.g. 0.5)."),
        click.option("-c", "--cpu-shares", type=int, default=0, help="Relative CPU weight."),
        click.option("--cpuset-cpus", default="", help="CPUs the container may use (0-1, 0,2)."),
        click.option("--pids-limit", type=int, default=0, help="Maximum number of processes (-1 unlimited)."),
        click.option("--shm-size", default="", help="Size of /dev/shm (default 64m)."),
        click.option("--ulimit", multiple=True, help="name=soft[:hard], e.g. nofile=1024:2048."),
        click.option("--sysctl", multiple=True, help="Namespaced kernel parameter: key=value."),
        click.option("--oom-score-adj", type=int, default=None, help="OOM killer preference (-1000..1000)."),
        click.option("--log-driver", default="json-file", help="Only json-file."),
        click.option("--log-opt", multiple=True, help="max-size=10m, max-file=3 (rotation is on by default)."),
        click.option("--pull", default="missing", type=click.Choice(["missing", "never", "always"]),
                     help="Pull the image before creating (needs a registry)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _create(ctx: click.Context, image: str, command: tuple[str, ...], o: dict[str, Any]) -> Any:
    from berth.engine.request import CreateRequest
    from berth.errors import ImageNotFound

    cfg = CreateRequest.from_options(image, command, o).to_config()
    engine = engine_of(ctx)
    try:
        return engine, engine.create(cfg)
    except ImageNotFound:
        click.echo(f"Unable to find image '{image}' locally", err=True)
        raise


@click.command(context_settings={**CTX, "ignore_unknown_options": False, "allow_interspersed_args": False})
@create_options
@click.option("-d", "--detach", is_flag=True, help="Run in the background and print the container id.")
@click.option("-a", "--attach", "attach_streams", multiple=True, help="Attach to STDIN, STDOUT or STDERR.")
@click.option("--sig-proxy/--no-sig-proxy", default=True, help="Forward signals to the container (no tty).")
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def run(ctx: click.Context, /, image: str, command: tuple[str, ...], detach: bool, attach_streams: tuple[str, ...],
        sig_proxy: bool, **o: Any) -> None:
    """Create a container from IMAGE and start it; without -d, stream its output and
    exit with its status.

    \b
    Examples:
      berth run --rm busybox echo hello
      berth run -d --name web -p 8080:80 -v data:/var/www web:1.2
      berth run -it --rm busybox sh
      berth run -d --restart on-failure:3 --health-cmd 'wget -qO- localhost' app
    """
    from berth.engine import client
    from berth.engine.engine import ContainerStartError

    engine, view = _create(ctx, image, command, o)
    if detach:
        engine.start(view.id)
        click.echo(view.id)
        return
    paths = engine.paths(view.id)
    engine.start(view.id, wait_for_client=True)
    condition = "removed" if o["auto_remove"] else "next-exit"
    waiter = client.connect(paths.socket)
    waiter.sendall(json.dumps({"ctl": "wait", "condition": condition}).encode() + b"\n")
    want_stdin = o["interactive"]
    sock, is_tty = client.open_attach(paths.socket, stdin=want_stdin)
    try:
        engine.release(view.id)
    except ContainerStartError:
        sock.close()
        waiter.close()
        raise
    _relay(engine, view.id, sock, is_tty, want_stdin, sig_proxy)
    answer = _read_answer(waiter)
    sys.exit(int(answer.get("exit_code", 0)))


def _read_answer(sock: Any) -> dict[str, Any]:
    from berth.engine import client

    try:
        sock.settimeout(None)
        return client.read_line(sock)
    except (client.ShimUnavailable, OSError, ValueError):
        return {}
    finally:
        sock.close()


def _relay(engine: Any, container_id: str, sock: Any, is_tty: bool, stdin: bool, sig_proxy: bool) -> None:
    from berth.cli.attach import relay
    from berth.engine import client

    paths = engine.paths(container_id)

    def resize(rows: int, cols: int) -> None:
        try:
            client.request(paths.socket, {"ctl": "resize", "height": rows, "width": cols}, timeout=2)
        except (OSError, ContainerNotRunning):
            pass

    def forward(sig: int) -> None:
        try:
            client.request(paths.socket, {"ctl": "kill", "signal": sig}, timeout=2)
        except (OSError, ContainerNotRunning):
            pass

    try:
        relay(sock, is_tty=is_tty, stdin=stdin, on_resize=resize, on_signal=forward if sig_proxy else None)
    finally:
        sock.close()


@click.command(context_settings={**CTX, "allow_interspersed_args": False})
@create_options
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def create(ctx: click.Context, /, image: str, command: tuple[str, ...], **o: Any) -> None:
    """Create a container from IMAGE without starting it; print its id.

    Takes the same options as `berth run`. Example: berth create --name db -v data:/data busybox sleep 1d
    """
    _, view = _create(ctx, image, command, o)
    click.echo(view.id)


@click.command(context_settings=CTX)
@click.argument("containers", nargs=-1, required=True)
@click.option("-a", "--attach", is_flag=True, help="Attach to the container's output and wait for it.")
@click.option("-i", "--interactive", is_flag=True, help="Attach stdin too.")
@click.pass_context
def start(ctx: click.Context, containers: tuple[str, ...], attach: bool, interactive: bool) -> None:
    """Start one or more created or stopped containers.

    Example: berth start web; berth start -ai job
    """
    from berth.engine import client
    from berth.engine.engine import ContainerStartError

    engine = engine_of(ctx)
    failed = False
    for ref in containers:
        view = engine.get(ref)
        if view.running:
            if not attach:
                click.echo(ref)
            continue
        try:
            if attach or interactive:
                engine.start(view.id, wait_for_client=True)
                paths = engine.paths(view.id)
                waiter = client.connect(paths.socket)
                waiter.sendall(json.dumps({"ctl": "wait", "condition": "next-exit"}).encode() + b"\n")
                stdin = interactive and view.record.config.open_stdin
                sock, is_tty = client.open_attach(paths.socket, stdin=stdin)
                engine.release(view.id)
                _relay(engine, view.id, sock, is_tty, stdin, True)
                sys.exit(int(_read_answer(waiter).get("exit_code", 0)))
            engine.start(view.id)
            click.echo(ref)
        except ContainerStartError as err:
            click.echo(f"berth: {ref}: {err}", err=True)
            failed = True
    if failed:
        sys.exit(1)


def _each(containers: tuple[str, ...], action: Callable[[str], None]) -> None:
    from berth.errors import BerthError

    failed = False
    for ref in containers:
        try:
            action(ref)
            click.echo(ref)
        except BerthError as err:
            click.echo(f"berth: {err}", err=True)
            failed = True
    if failed:
        sys.exit(1)


@click.command(context_settings=CTX)
@click.argument("containers", nargs=-1, required=True)
@click.option("-t", "--time", "timeout", type=int, default=None, help="Seconds to wait before SIGKILL (default 10).")
@click.option("-s", "--signal", "sig", default="", help="Signal to send first (default: the stop signal).")
@click.pass_context
def stop(ctx: click.Context, containers: tuple[str, ...], timeout: int | None, sig: str) -> None:
    """Stop running containers: the stop signal, then SIGKILL after the timeout."""
    from berth.engine.specgen import parse_signal

    engine = engine_of(ctx)
    number = parse_signal(sig) if sig else None
    _each(containers, lambda ref: engine.stop(ref, timeout=timeout, sig=number))


@click.command(context_settings=CTX)
@click.argument("containers", nargs=-1, required=True)
@click.option("-s", "--signal", "sig", default="KILL", show_default=True, help="Signal name or number.")
@click.pass_context
def kill(ctx: click.Context, containers: tuple[str, ...], sig: str) -> None:
    """Send a signal (default SIGKILL) to running containers."""
    from berth.engine.specgen import parse_signal

    engine = engine_of(ctx)
    number = parse_signal(sig)
    _each(containers, lambda ref: engine.kill(ref, number))


@click.command(context_settings=CTX)
@click.argument("containers", nargs=-1, required=True)
@click.option("-t", "--time", "timeout", type=int, default=None, help="Seconds to wait before SIGKILL.")
@click.pass_context
def restart(ctx: click.Context, containers: tuple[str, ...], timeout: int | None) -> None:
    """Stop and start containers again."""
    engine = engine_of(ctx)
    _each(containers, lambda ref: engine.restart(ref, timeout=timeout))


@click.command(context_settings=CTX)
@click.argument("containers", nargs=-1, required=True)
@click.option("-f", "--force", is_flag=True, help="Kill a running container first.")
@click.option("-v", "--volumes", is_flag=True, help="Remove its anonymous volumes too.")
@click.pass_context
def rm(ctx: click.Context, containers: tuple[str, ...], force: bool, volumes: bool) -> None:
    """Remove containers (their snapshot, logs and state)."""
    engine = engine_of(ctx)
    _each(containers, lambda ref: engine.remove(ref, force=force, volumes=volumes))


def _filters(items: tuple[str, ...]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidArgument(f"bad filter {item!r}: expected key=value")
        if key not in ("name", "id", "label", "status", "ancestor", "exited"):
            raise InvalidArgument(f"invalid filter {key!r}")
        out.setdefault(key, []).append(value)
    return out


def matches(view: Any, filters: dict[str, list[str]]) -> bool:
    rec = view.record
    for key, values in filters.items():
        if key == "name" and not any(v.lstrip("/") in rec.name for v in values):
            return False
        if key == "id" and not any(rec.id.startswith(v) for v in values):
            return False
        if key == "status" and view.status not in values:
            return False
        if key == "ancestor" and not any(v in (rec.image, rec.image_id) or rec.image_id.endswith(v) for v in values):
            return False
        if key == "exited" and not (view.status == "exited" and str(view.live.exit_code) in values):
            return False
        if key == "label":
            labels = rec.config.labels
            for v in values:
                k, sep, val = v.partition("=")
                if k not in labels or (sep and labels[k] != val):
                    return False
    return True


def render(fmt: str, values: dict[str, Any]) -> str:
    """A small subset of Go templates: ``{{.Field}}`` and ``{{json .}}``."""
    import re

    if fmt.strip() == "{{json .}}" or fmt == "json":
        return json.dumps(values)

    def field(match: re.Match[str]) -> str:
        expr = match.group(1).strip()
        if expr.startswith("json "):
            return json.dumps(values.get(expr[5:].strip().lstrip("."), ""))
        return str(values.get(expr.lstrip("."), ""))

    return re.sub(r"\{\{\s*(.*?)\s*\}\}", field, fmt.replace("\\t", "\t").replace("\\n", "\n"))


@click.command(context_settings=CTX)
@click.option("-a", "--all", "all_", is_flag=True, help="Show all containers (default: running only).")
@click.option("-q", "--quiet", is_flag=True, help="Only ids.")
@click.option("-f", "--filter", "filters", multiple=True, help="name=, id=, label=k[=v], status=, ancestor=, exited=.")
@click.option("--format", "fmt", default="", help="'{{.ID}} {{.Names}}', 'json', or 'table {{.ID}}\\t…'.")
@click.option("--no-trunc", is_flag=True, help="Do not truncate ids and commands.")
@click.option("-n", "--last", type=int, default=-1, help="Show the n last created containers.")
@click.option("-l", "--latest", is_flag=True, help="Show the latest created container.")
@click.pass_context
def ps(ctx: click.Context, all_: bool, quiet: bool, filters: tuple[str, ...], fmt: str, no_trunc: bool, last: int,
       latest: bool) -> None:
    """List containers: CONTAINER ID, IMAGE, COMMAND, CREATED, STATUS, PORTS, NAMES."""
    from berth.engine.inspect import _ago, status_text, summary_json
    from berth.engine.logs import parse_timestamp

    engine = engine_of(ctx)
    wanted = _filters(filters)
    views = engine.containers(all_=all_ or bool(wanted) or last > 0 or latest)
    views = [v for v in views if matches(v, wanted)]
    if latest:
        last = 1
    if last > 0:
        views = views[:last]
    if quiet:
        for v in views:
            click.echo(v.id if no_trunc else v.id[:12])
        return
    rows = []
    for v in views:
        summary = summary_json(v, engine)
        ports = ", ".join(
            f"{p['IP']}:{p['PublicPort']}->{p['PrivatePort']}/{p['Type']}" if p["PublicPort"]
            else f"{p['PrivatePort']}/{p['Type']}" for p in summary["Ports"]
        )
        command = summary["Command"]
        if not no_trunc and len(command) > 20:
            command = command[:19] + "…"
        rows.append({
            "ID": v.id if no_trunc else v.id[:12],
            "Image": v.record.image,
            "Command": json.dumps(command, ensure_ascii=False),
            "CreatedAt": v.record.created,
            "RunningFor": _ago(time.time() - parse_timestamp(v.record.created)) + " ago",
            "Status": status_text(v),
            "State": v.status,
            "Ports": ports,
            "Names": v.name,
            "Labels": ",".join(f"{k}={val}" for k, val in v.record.config.labels.items()),
        })
    if fmt and not fmt.startswith("table"):
        for row in rows:
            click.echo(render(fmt, row))
        return
    headers = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    keys = ["ID", "Image", "Command", "RunningFor", "Status", "Ports", "Names"]
    widths = [max([len(h)] + [len(str(r[k])) for r in rows]) for h, k in zip(headers, keys, strict=True)]
    click.echo("   ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for r in rows:
        click.echo("   ".join(str(r[k]).ljust(w) for k, w in zip(keys, widths, strict=True)).rstrip())


@click.command(context_settings=CTX)
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--format", "fmt", default="", help="A template such as '{{.State.Status}}'.")
@click.option("--type", "kind", type=click.Choice(["container", "image", "volume", "network", ""]), default="",
              help="Only look for this kind of object.")
@click.option("-s", "--size", is_flag=True, help="Accepted for compatibility.")
@click.pass_context
def inspect(ctx: click.Context, names: tuple[str, ...], fmt: str, kind: str, size: bool) -> None:
    """Low-level information on containers (and images, volumes) as JSON, in Docker's shape."""
    from berth.engine.inspect import container_json
    from berth.errors import NotFound

    engine = engine_of(ctx)
    out = []
    failed = False
    for name in names:
        found: Any = None
        if kind in ("", "container"):
            try:
                found = container_json(engine.get(name), engine)
            except NotFound:
                found = None
        if found is None and kind in ("", "volume"):
            try:
                found = engine.volumes.get(name).to_docker()
            except NotFound:
                found = None
        if found is None and kind in ("", "image"):
            try:
                from berth.store.inspect import image_json

                found = image_json(engine.store, engine.store.images.get(name))
            except (NotFound, ImportError, AttributeError):
                found = None
        if found is None:
            click.echo(f"Error: No such object: {name}", err=True)
            failed = True
            continue
        out.append(found)
    if fmt:
        for item in out:
            click.echo(go_template(fmt, item))
    else:
        click.echo(json.dumps(out, indent=4))
    if failed:
        sys.exit(1)


def go_template(fmt: str, obj: Any) -> str:
    """``{{.State.Status}}``, ``{{json .Config}}``, ``{{.Id}}``: dotted paths into JSON."""
    import re

    def lookup(path: str) -> Any:
        value = obj
        for part in [p for p in path.strip().lstrip(".").split(".") if p]:
            if isinstance(value, dict):
                value = value.get(part)
            else:
                return None
        return value

    def field(match: re.Match[str]) -> str:
        expr = match.group(1).strip()
        if expr.startswith("json "):
            return json.dumps(lookup(expr[5:]))
        value = lookup(expr)
        if isinstance(value, bool):
            return "true" if value else "false"
        if value is None:
            return "<no value>"
        if isinstance(value, dict | list):
            return json.dumps(value)
        return str(value)

    return re.sub(r"\{\{\s*(.*?)\s*\}\}", field, fmt)


def parse_since(text: str) -> float:
    from berth.engine.logs import parse_timestamp
    from berth.engine.options import parse_duration

    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    if "T" in text:
        return parse_timestamp(text if text.endswith("Z") else text + "Z")
    return time.time() - parse_duration(text, "--since") / 1e9


@click.command(context_settings=CTX)
@click.argument("container")
@click.option("-f", "--follow", is_flag=True, help="Keep streaming new output until the container stops.")
@click.option("-n", "--tail", default="all", help="Number of lines from the end (default all).")
@click.option("--since", default="", help="Only since a time: 2026-11-27T10:00:00, 10m, or a unix time.")
@click.option("--until", default="", help="Only until a time (same forms).")
@click.option("-t", "--timestamps", is_flag=True, help="Prefix each line with its RFC 3339 time.")
@click.pass_context
def logs(ctx: click.Context, container: str, follow: bool, tail: str, since: str, until: str,
         timestamps: bool) -> None:
    """Show a container's output (stdout and stderr, from its json-file log)."""
    from berth.engine import logs as logmod

    engine = engine_of(ctx)
    view = engine.get(container)
    path = engine.paths(view.id).log
    if tail != "all" and not tail.lstrip("-").isdigit():
        raise InvalidArgument(f"invalid --tail {tail!r}: a number or 'all'")
    records, position = logmod.read(path, tail=None if tail == "all" else int(tail),
                                    since=parse_since(since) if since else None,
                                    until=parse_since(until) if until else None)

    def emit(rec: Any) -> None:
        line = (rec.time + " " if timestamps else "") + rec.line
        stream = sys.stderr if rec.stream == "stderr" else sys.stdout
        stream.write(line)
        stream.flush()

    for rec in records:
        emit(rec)
    if follow and not until:

        def done() -> bool:
            return not engine.get(view.id).running

        for rec in logmod.follow(path, done, position):
            emit(rec)


@click.command(context_settings=CTX)
@click.argument("containers", nargs=-1, required=True)
@click.option("--condition", default="not-running", type=click.Choice(["not-running", "next-exit", "removed"]))
@click.pass_context
def wait(ctx: click.Context, containers: tuple[str, ...], condition: str) -> None:
    """Block until containers stop, then print their exit codes."""
    engine = engine_of(ctx)
    for ref in containers:
        code, _ = engine.wait(ref, condition)
        click.echo(code)


@click.command(name="exec", context_settings={**CTX, "allow_interspersed_args": False})
@click.argument("container")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("-i", "--interactive", is_flag=True, help="Keep stdin open.")
@click.option("-t", "--tty", is_flag=True, help="Allocate a pseudo-terminal.")
@click.option("-d", "--detach", is_flag=True, help="Run in the background.")
@click.option("-e", "--env", multiple=True, help="KEY=VALUE for the process.")
@click.option("-u", "--user", default="", help="user[:group] to run as.")
@click.option("-w", "--workdir", default="", help="Working directory.")
@click.option("--privileged", is_flag=True, help="Give the process every capability.")
@click.pass_context
def exec_(ctx: click.Context, container: str, command: tuple[str, ...], interactive: bool, tty: bool,
          detach: bool, env: tuple[str, ...], user: str, workdir: str, privileged: bool) -> None:
    """Run a command in a running container; exit with its status.

    Example: berth exec -it web sh; berth exec db pg_dump app > dump.sql
    """
    from berth.engine.options import expand_env

    engine = engine_of(ctx)
    code = engine.exec(container, list(command), tty=tty, interactive=interactive, env=expand_env(list(env)),
                       user=user, workdir=workdir, detach=detach, privileged=privileged)
    sys.exit(code)


@click.command(context_settings=CTX)
@click.argument("container")
@click.option("--no-stdin", is_flag=True, help="Do not attach stdin.")
@click.option("--sig-proxy/--no-sig-proxy", default=True, help="Forward signals to the container.")
@click.pass_context
def attach(ctx: click.Context, container: str, no_stdin: bool, sig_proxy: bool) -> None:
    """Attach this terminal to a running container's stdio."""
    from berth.engine import client

    engine = engine_of(ctx)
    view = engine.get(container)
    if not view.running:
        raise ContainerNotRunning("You cannot attach to a stopped container, start it first")
    stdin = not no_stdin and view.record.config.open_stdin
    paths = engine.paths(view.id)
    waiter = client.connect(paths.socket)
    waiter.sendall(json.dumps({"ctl": "wait", "condition": "next-exit"}).encode() + b"\n")
    sock, is_tty = client.open_attach(paths.socket, stdin=stdin)
    _relay(engine, view.id, sock, is_tty, stdin, sig_proxy)
    sys.exit(int(_read_answer(waiter).get("exit_code", 0)))


@click.command(context_settings=CTX)
@click.argument("container")
@click.pass_context
def top(ctx: click.Context, container: str) -> None:
    """The processes running in a container."""
    rows = engine_of(ctx).top(container)
    click.echo(f"{'UID':<8} {'PID':<8} {'PPID':<8} CMD")
    for r in rows:
        click.echo(f"{r['UID']:<8} {r['PID']:<8} {r['PPID']:<8} {r['CMD']}")


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.4g}{unit}" if unit != "B" else f"{int(n)}B"
        n /= 1024
    return str(n)


def _stats_lines(engine: Any, refs: list[str], before: dict[str, tuple[float, int]]) -> list[str]:
    """One row per container; CPU % from the cgroup's usage since ``before``."""
    lines = [f"{'CONTAINER ID':<14} {'NAME':<24} {'CPU %':>7} {'MEM USAGE / LIMIT':>24} {'MEM %':>7} {'PIDS':>5}"]
    physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    for ref in refs:
        s = engine.stats(ref)
        now = time.monotonic()
        last = before.get(s["id"])
        cpu = 0.0
        if last is not None and now > last[0]:
            cpu = (s["cpu_usage_ns"] - last[1]) / ((now - last[0]) * 1e9) * 100
        before[s["id"]] = (now, s["cpu_usage_ns"])
        limit = s["memory_limit"] if 0 < s["memory_limit"] < physical else physical
        mem = f"{_human(s['memory_usage'])} / {_human(limit)}"
        pct = s["memory_usage"] / limit * 100 if limit else 0.0
        lines.append(f"{s['id'][:12]:<14} {s['name']:<24} {cpu:>6.2f}% {mem:>24} {pct:>6.2f}% {s['pids_current']:>5}")
    return lines


@click.command(context_settings=CTX)
@click.argument("containers", nargs=-1)
@click.option("--no-stream", is_flag=True, help="Print one sample and exit.")
@click.option("-a", "--all", "all_", is_flag=True, help="All containers, not only running ones.")
@click.pass_context
def stats(ctx: click.Context, containers: tuple[str, ...], no_stream: bool, all_: bool) -> None:
    """Live CPU, memory and pids usage of containers (cgroup figures), refreshed every second."""
    engine = engine_of(ctx)
    refs = list(containers) or [v.id for v in engine.containers(all_=all_)]
    before: dict[str, tuple[float, int]] = {}
    _stats_lines(engine, refs, before)  # the first sample only sets the CPU baseline
    while True:
        time.sleep(0.5 if no_stream else 1.0)
        lines = _stats_lines(engine, refs, before)
        if no_stream:
            click.echo("\n".join(lines))
            return
        click.echo("\033[2J\033[H" + "\n".join(lines))


@click.command(context_settings=CTX)
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def pause(ctx: click.Context, containers: tuple[str, ...]) -> None:
    """Freeze every process in containers (cgroup freezer)."""
    engine = engine_of(ctx)
    _each(containers, engine.pause)


@click.command(context_settings=CTX)
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def unpause(ctx: click.Context, containers: tuple[str, ...]) -> None:
    """Thaw paused containers."""
    engine = engine_of(ctx)
    _each(containers, engine.unpause)


@click.command(context_settings=CTX)
@click.argument("container")
@click.argument("new_name")
@click.pass_context
def rename(ctx: click.Context, container: str, new_name: str) -> None:
    """Give a container a new name."""
    engine_of(ctx).rename(container, new_name)


@click.command(context_settings=CTX)
@click.option("-f", "--force", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def prune(ctx: click.Context, force: bool) -> None:
    """Remove every stopped container."""
    if not force and sys.stdin.isatty():
        click.confirm("This will remove all stopped containers. Are you sure?", abort=True)
    removed = engine_of(ctx).prune()
    if removed:
        click.echo("Deleted Containers:")
        for cid in removed:
            click.echo(cid)
    click.echo(f"\nTotal reclaimed space: {len(removed)} containers")


@click.command(context_settings=CTX)
@click.option("--since", default="", help="Show events since a time (RFC 3339, 10m, unix time).")
@click.option("--until", default="", help="Stop at this time (the stream ends there).")
@click.option("-f", "--filter", "filters", multiple=True, help="container=, event=, label=k[=v], type=.")
@click.option("--format", "fmt", default="", help="'json' or a template such as '{{.Action}}'.")
@click.pass_context
def events(ctx: click.Context, since: str, until: str, filters: tuple[str, ...], fmt: str) -> None:
    """Stream container events (create, start, die, stop, kill, destroy, health_status…)."""
    from berth.engine.events import EventFilters

    engine = engine_of(ctx)
    wanted: dict[str, list[str]] = {}
    for item in filters:
        key, _, value = item.partition("=")
        wanted.setdefault(key, []).append(value)
    parsed = EventFilters.parse(wanted)
    start = parse_since(since) if since else (None if until else time.time())
    end = parse_since(until) if until else None
    for ev in engine.events(since=start, until=end, follow=True, filters=parsed):
        if fmt:
            raw = ev.to_json()
            click.echo(json.dumps(raw) if fmt == "json" else render(fmt, {**raw, "ID": ev.actor_id}))
        else:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ev.time_nano // 10**9)) + f".{ev.time_nano % 10**9:09d}Z"
            detail = ", ".join(f"{k}={v}" for k, v in sorted(ev.attributes.items()))
            click.echo(f"{stamp} {ev.type} {ev.action} {ev.actor_id} ({detail})")
        sys.stdout.flush()


@click.command(context_settings=CTX)
@click.argument("container")
@click.pass_context
def port(ctx: click.Context, container: str) -> None:
    """The container's published ports: CPORT/PROTO -> HOSTIP:HOSTPORT."""
    from berth.engine.engine import uses_sandbox

    engine = engine_of(ctx)
    view = engine.get(container)
    if not view.running or not uses_sandbox(view.record.config):
        return
    for binding in engine.network.ports(view.id):
        click.echo(str(binding))

