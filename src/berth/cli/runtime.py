"""``berth runtime``: a runc-compatible command over OCI runtime bundles."""

from __future__ import annotations

import json
import os
import signal
import sys

import click

from berth.cli.settings import Settings
from berth.errors import InvalidArgument


def _runtime(ctx: click.Context) -> object:
    from berth.runtime.linux import LinuxRuntime

    root: str = ctx.obj
    return LinuxRuntime(root)


def parse_signal(text: str) -> int:
    """``9``, ``KILL`` or ``SIGKILL`` → 9; anything else is a clear error."""
    name = text.strip().upper()
    if name.isdigit():
        number = int(name)
        if number in {s.value for s in signal.Signals} or signal.SIGRTMIN <= number <= signal.SIGRTMAX:
            return number
        raise InvalidArgument(f"signal {text!r}: no such signal")
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise InvalidArgument(f"signal {text!r}: no such signal") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", "runtime_root", metavar="DIR", default=None,
              help="Folder for container state [default: $BERTH_RUN/runtime].")
@click.pass_context
def runtime(ctx: click.Context, runtime_root: str | None) -> None:
    """Run OCI bundles directly, like runc: create, start, kill, delete.

    A bundle is a folder with config.json (the OCI runtime spec) and a root file
    system. `berth runtime spec` writes a default config.json to start from.

    \b
    Example:
      mkdir -p b/rootfs && tar -C b/rootfs -xf rootfs.tar
      berth runtime spec -b b --args 'echo hi' --no-terminal
      berth runtime run -b b demo
    """
    settings = ctx.obj
    assert isinstance(settings, Settings)
    ctx.obj = runtime_root or os.path.join(settings.run_root, "runtime")


@runtime.command()
@click.option("-b", "--bundle", default=".", show_default=True, help="Bundle folder to write config.json into.")
@click.option("--args", "args", default="sh", show_default=True, help="Command line of the process (split on spaces).")
@click.option("--terminal/--no-terminal", default=True, show_default=True, help="Give the process a pty.")
@click.option("--rootfs", default="rootfs", show_default=True, help="Root file system path, relative to the bundle.")
def spec(bundle: str, args: str, terminal: bool, rootfs: str) -> None:
    """Write a default config.json: berth's default capabilities, mounts, masked
    paths and seccomp profile, a read-only root, and new namespaces."""
    from berth.runtime.defaults import default_spec

    path = os.path.join(bundle, "config.json")
    if os.path.exists(path):
        raise InvalidArgument(f"{path}: already exists")
    data = default_spec(tuple(args.split()), terminal=terminal, rootfs=rootfs).to_bytes()
    with open(path, "xb") as f:
        f.write(data)


def _io(console_socket: str | None, preserve_fds: int) -> object:
    from berth.runtime.api import ProcessIO

    return ProcessIO(console_socket=os.path.abspath(console_socket) if console_socket else None,
                     preserve_fds=preserve_fds)


@runtime.command()
@click.argument("container_id")
@click.option("-b", "--bundle", default=".", show_default=True, help="Bundle folder (holds config.json).")
@click.option("--console-socket", metavar="PATH", help="Unix socket that receives the pty master (terminal: true).")
@click.option("--pid-file", metavar="PATH", help="Write the container's init pid here.")
@click.option("--preserve-fds", type=int, default=0, help="Pass this many fds after stdio into the container.")
@click.pass_context
def create(ctx: click.Context, container_id: str, bundle: str, console_socket: str | None, pid_file: str | None,
           preserve_fds: int) -> None:
    """Create a container; its process waits until `start`."""
    rt = _runtime(ctx)
    rt.create(container_id, bundle, _io(console_socket, preserve_fds), pid_file=pid_file)  # type: ignore[attr-defined]


@runtime.command()
@click.argument("container_id")
@click.pass_context
def start(ctx: click.Context, container_id: str) -> None:
    """Start a created container's process."""
    _runtime(ctx).start(container_id)  # type: ignore[attr-defined]


@runtime.command()
@click.argument("container_id")
@click.option("-b", "--bundle", default=".", show_default=True, help="Bundle folder (holds config.json).")
@click.option("-d", "--detach", is_flag=True, help="Do not wait for the process; leave the container running.")
@click.option("--keep", is_flag=True, help="Keep the container's state after it exits.")
@click.option("--console-socket", metavar="PATH", help="Unix socket that receives the pty master.")
@click.option("--pid-file", metavar="PATH", help="Write the container's init pid here.")
@click.option("--preserve-fds", type=int, default=0, help="Pass this many fds after stdio into the container.")
@click.pass_context
def run(ctx: click.Context, container_id: str, bundle: str, detach: bool, keep: bool, console_socket: str | None,
        pid_file: str | None, preserve_fds: int) -> None:
    """Create and start a container; wait for it and exit with its status
    (128+N when signal N killed it)."""
    rt = _runtime(ctx)
    status = rt.run(container_id, bundle, _io(console_socket, preserve_fds), detach=detach,  # type: ignore[attr-defined]
                    keep=keep, pid_file=pid_file)
    sys.exit(status)


@runtime.command()
@click.argument("container_id")
@click.pass_context
def state(ctx: click.Context, container_id: str) -> None:
    """Print the container's OCI state as JSON."""
    st = _runtime(ctx).state(container_id)  # type: ignore[attr-defined]
    click.echo(json.dumps(st.to_json(), indent=2))


@runtime.command(name="list")
@click.option("-q", "--quiet", is_flag=True, help="Print only ids.")
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
def list_(ctx: click.Context, quiet: bool, fmt: str) -> None:
    """List containers under the state root."""
    states = _runtime(ctx).containers()  # type: ignore[attr-defined]
    if quiet:
        for st in states:
            click.echo(st.id)
    elif fmt == "json":
        click.echo(json.dumps([st.to_json() for st in states], indent=2))
    else:
        click.echo(f"{'ID':<24} {'PID':<8} {'STATUS':<10} {'BUNDLE':<40} CREATED")
        for st in states:
            pid = st.pid if st.status.value != "stopped" else 0
            click.echo(f"{st.id:<24} {pid:<8} {st.status.value:<10} {st.bundle:<40} {st.created}")


@runtime.command()
@click.argument("container_id")
@click.argument("sig", default="SIGTERM", metavar="[SIGNAL]")
@click.option("-a", "--all", "all_processes", is_flag=True, help="Signal every process in the container's cgroup.")
@click.pass_context
def kill(ctx: click.Context, container_id: str, sig: str, all_processes: bool) -> None:
    """Send SIGNAL (default SIGTERM; a name or a number) to the container."""
    _runtime(ctx).kill(container_id, parse_signal(sig), all_processes=all_processes)  # type: ignore[attr-defined]


@runtime.command()
@click.argument("container_id")
@click.option("-f", "--force", is_flag=True, help="Kill a running container first.")
@click.pass_context
def delete(ctx: click.Context, container_id: str, force: bool) -> None:
    """Delete a stopped (or, with --force, running) container and its cgroup."""
    _runtime(ctx).delete(container_id, force=force)  # type: ignore[attr-defined]


@runtime.command()
@click.argument("container_id")
@click.pass_context
def pause(ctx: click.Context, container_id: str) -> None:
    """Freeze every process of the container (cgroup freezer)."""
    _runtime(ctx).pause(container_id)  # type: ignore[attr-defined]


@runtime.command()
@click.argument("container_id")
@click.pass_context
def resume(ctx: click.Context, container_id: str) -> None:
    """Thaw a paused container."""
    _runtime(ctx).resume(container_id)  # type: ignore[attr-defined]


@runtime.command(name="exec", context_settings={"ignore_unknown_options": True})
@click.argument("container_id")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.option("-t", "--tty", is_flag=True, help="Give the process a pty.")
@click.option("-d", "--detach", is_flag=True, help="Do not wait for the process.")
@click.option("-e", "--env", multiple=True, help="KEY=VALUE added to the environment.")
@click.option("-u", "--user", default=None, help="uid[:gid] to run as.")
@click.option("--cwd", default=None, help="Working directory inside the container.")
@click.option("-p", "--process", "process_file", default=None, help="A process.json (the spec's process object).")
@click.pass_context
def exec_(ctx: click.Context, container_id: str, command: tuple[str, ...], tty: bool, detach: bool,
          env: tuple[str, ...], user: str | None, cwd: str | None, process_file: str | None) -> None:
    """Run another process inside a running container; exit with its status."""
    from dataclasses import replace

    from berth.oci.jsonutil import Fields
    from berth.oci.spec import Process, User
    from berth.runtime.linux import _wait_foreground, load_spec
    from berth.sys import prctl

    rt = _runtime(ctx)
    st = rt.state(container_id)  # type: ignore[attr-defined]
    base = load_spec(st.bundle).process
    if process_file:
        with open(process_file, "rb") as f:
            proc = Process.from_json(Fields(json.load(f), "process.json"))
    else:
        if not command:
            raise InvalidArgument("exec: a command is required")
        if base is None:
            raise InvalidArgument("exec: the container's config.json has no process to start from")
        proc = replace(base, args=command, terminal=tty, env=base.env + env, cwd=cwd or base.cwd)
        if user:
            uid, _, gid = user.partition(":")
            proc = replace(proc, user=User(int(uid), int(gid or 0)))
    prctl.set_child_subreaper(True)
    created = rt.exec(container_id, proc)  # type: ignore[attr-defined]
    if detach:
        return
    sys.exit(_wait_foreground(created.pid, created.master))
