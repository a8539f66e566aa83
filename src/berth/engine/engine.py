"""The engine: what a Docker user does with containers, as library calls.

The CLI and the REST API both call :class:`Engine`. It keeps records in the database
(containers, volumes), asks the store for a snapshot, writes the bundle (config.json,
hosts, resolv.conf, hostname), and hands the container to a shim. Everything that
changes while a container lives (pid, exit code, health) comes from the shim's
``state.json``; ``status()`` reconciles when a shim vanished without recording an exit.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import select
import shutil
import signal
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, BinaryIO

from berth.engine import client, events, records, spawn, specgen, teardown
from berth.engine import state as st
from berth.engine.hostfiles import host_resolv_conf
from berth.engine.model import ContainerConfig, MountSpec
from berth.engine.paths import ContainerPaths, cgroup_parent, runtime_root
from berth.engine.records import ContainerRecord
from berth.engine.shimconfig import ShimConfig
from berth.engine.volumes import Volumes
from berth.errors import (
    BerthError,
    Conflict,
    ContainerNotRunning,
    ContainerRunning,
    InvalidArgument,
    NotFound,
)
from berth.runtime.linux import LinuxRuntime
from berth.state import Database, open_database

if TYPE_CHECKING:
    from berth.network import NetworkManager
    from berth.store import Store
    from berth.store.rooted import PathStat, Root
    from berth.store.rooted.tarout import Sink

DEFAULT_STOP_TIMEOUT = 10
LIVE = (st.RUNNING, st.RESTARTING, st.PAUSED)


@dataclass(frozen=True, slots=True)
class ContainerView:
    """A record joined with its live state: what ps and inspect show."""

    record: ContainerRecord
    status: str
    live: st.LiveState

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def running(self) -> bool:
        return self.status in LIVE


def _now() -> str:
    t = time.time_ns()
    secs, frac = divmod(t, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


class Engine:
    def __init__(self, root: str, run_root: str, *, db: Database | None = None,
                 network_env: Mapping[str, str] | None = None) -> None:
        self.root = root
        self.run_root = run_root
        self._db = db
        # BERTH_NET_* settings (bridge, nft table, …): the caller's environment unless
        # given; a shim passes those of the command that made its container.
        self.network_env = network_env
        self._store: Store | None = None
        self.runtime = LinuxRuntime(runtime_root(run_root))

    # ---- lazily opened parts -----------------------------------------------------------

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = open_database(self.root)
        return self._db

    @property
    def store(self) -> Store:
        if self._store is None:
            from berth.store import open_store

            self._store = open_store(self.root, self.db)
        return self._store

    @property
    def network(self) -> NetworkManager:
        from berth.network import NetworkConfig, NetworkManager

        env = os.environ if self.network_env is None else self.network_env
        return NetworkManager(self.db, self.root, self.run_root, config=NetworkConfig.from_env(env))

    @property
    def volumes(self) -> Volumes:
        return Volumes(self.db, self.root)

    def paths(self, container_id: str) -> ContainerPaths:
        return ContainerPaths(self.root, self.run_root, container_id)

    # ---- lookup and status ---------------------------------------------------------------

    def get(self, ref: str) -> ContainerView:
        return self.view(records.resolve(self.db, ref))

    def view(self, rec: ContainerRecord) -> ContainerView:
        paths = self.paths(rec.id)
        live = st.load(paths.state)
        if live is None:
            return ContainerView(rec, st.CREATED, st.LiveState())
        if live.status in (st.RUNNING, st.RESTARTING) and not live.shim_alive():
            live = self._reconcile(rec, live)
        status = live.status
        if status == st.RUNNING:
            with contextlib.suppress(BerthError):
                if self.runtime.state(rec.id).status.value == "paused":
                    from berth.engine.freeze import thaw_orphaned

                    status = st.RUNNING if thaw_orphaned(self, rec.id) else st.PAUSED
        return ContainerView(rec, status, live)

    def _reconcile(self, rec: ContainerRecord, live: st.LiveState) -> st.LiveState:
        """The shim is gone without recording an exit: a SIGKILL or a reboot. Its
        container died with it (parent-death signal); record that and clean up."""
        with contextlib.suppress(BerthError, OSError):
            self.runtime.delete(rec.id, force=True)
        if uses_sandbox(rec.config):
            self._release_network(rec.id)
        fixed = replace(live, status=st.EXITED, pid=0, exit_code=137 if live.exit_code == 0 else live.exit_code,
                        finished_at=_now(), error="the container's shim exited unexpectedly")
        st.save(self.paths(rec.id).state, fixed)
        self._event("die", rec, {"exitCode": str(fixed.exit_code)})
        return fixed

    def containers(self, *, all_: bool = False) -> list[ContainerView]:
        views = [self.view(r) for r in records.all_records(self.db)]
        return views if all_ else [v for v in views if v.running]

    # ---- create ------------------------------------------------------------------------

    def create(self, cfg: ContainerConfig) -> ContainerView:
        """Record a container, prepare its snapshot and bundle. Nothing runs yet.
        ``cfg`` is validated first (``ContainerConfig.validate``): bad input makes nothing."""
        cfg.validate()
        image = self.store.images.get(cfg.image)
        container_id = secrets.token_hex(32)
        name = records.check_name(cfg.name) if cfg.name else self._generate_name()
        cfg = replace(cfg, name=name)
        image_cfg = image.config.config
        specgen.stop_signal(cfg, image_cfg)  # a bad --stop-signal fails here, not at stop time
        paths = self.paths(container_id)
        rec = ContainerRecord(container_id, name, cfg.image, str(image.id), _now(), cfg)
        with contextlib.ExitStack() as undo:
            records.insert(self.db, rec)
            undo.callback(records.delete, self.db, container_id)
            os.makedirs(paths.rootfs, mode=0o711)
            undo.callback(shutil.rmtree, paths.dir, True)
            mounts = self.store.prepare_rootfs(container_id, image, {"container": container_id})
            undo.callback(self._remove_snapshot, container_id)
            volumes = self._volumes_for(cfg, image_cfg.volumes)
            self._write_bundle(rec, image_cfg, paths, volumes)
            self._write_shim_config(rec, image, paths, mounts)
            undo.pop_all()
        self._event("create", rec)
        return self.view(rec)

    def _generate_name(self) -> str:
        from berth.engine.names import random_name

        for _ in range(20):
            name = random_name()
            if not self.db.conn.execute("SELECT 1 FROM containers WHERE name = ?", (name,)).fetchone():
                return name
        return "berth_" + secrets.token_hex(4)

    def _volumes_for(self, cfg: ContainerConfig, image_volumes: tuple[str, ...]) -> dict[str, str]:
        out: dict[str, str] = {}
        targets = {m.target for m in cfg.mounts}
        mounts = list(cfg.mounts) + [MountSpec("volume", v) for v in image_volumes if v not in targets]
        for m in mounts:
            if m.type != "volume":
                continue
            vol = self.volumes.create(m.source, labels=None if m.source else {"berth.anonymous": "true"})
            out[m.target] = vol.mountpoint
        return out

    def _write_bundle(self, rec: ContainerRecord, image_cfg: Any, paths: ContainerPaths,
                      volumes: dict[str, str]) -> None:
        cfg = rec.config
        hostname = cfg.hostname or rec.id[:12]
        network = cfg.network
        host_network = network == "host"
        netns = None
        if network.startswith("container:"):
            other = self.get(network.split(":", 1)[1])
            if not other.running or not other.live.pid:
                raise ContainerNotRunning(f"cannot join network of a non running container: {other.id}")
            shared = self.network.sandbox_path(other.id)
            netns = shared if os.path.exists(shared) else f"/proc/{other.live.pid}/ns/net"
        elif uses_sandbox(cfg):
            self.network.get(network_name(cfg))  # NetworkNotFound now, not at start
            netns = self.network.sandbox_path(rec.id)
        hosts = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
                 "fe00::0\tip6-localnet", "ff00::0\tip6-mcastprefix", "ff02::1\tip6-allnodes",
                 "ff02::2\tip6-allrouters"]
        if host_network:
            hosts = open("/etc/hosts").read().splitlines()
        for entry in cfg.extra_hosts:
            host, _, ip = entry.partition(":")
            hosts.append(f"{ip}\t{host}")
        if not host_network:
            hosts.append(f"127.0.1.1\t{hostname}")
        resolv = host_resolv_conf()
        if cfg.dns or cfg.dns_search or cfg.dns_options:
            resolv = "".join(f"nameserver {d}\n" for d in cfg.dns) or resolv
            if cfg.dns_search:
                resolv += "search " + " ".join(cfg.dns_search) + "\n"
            if cfg.dns_options:
                resolv += "options " + " ".join(cfg.dns_options) + "\n"
        _write_text(paths.hosts, "\n".join(hosts) + "\n")
        _write_text(paths.resolv_conf, resolv)
        with open(paths.hostname, "w") as f:
            f.write(hostname + "\n")
        resolved = specgen.Resolved(rec.id, paths.rootfs, paths.hosts, paths.resolv_conf, paths.hostname, volumes,
                                    netns, host_network, cgroup_parent(self.root))
        spec = specgen.generate(cfg, image_cfg, resolved)
        with open(os.path.join(paths.bundle, "config.json"), "wb") as f:
            f.write(spec.to_bytes())

    def _write_shim_config(self, rec: ContainerRecord, image: Any, paths: ContainerPaths, mounts: list[Any]) -> None:
        cfg = rec.config
        image_cfg = image.config.config
        health: dict[str, Any] | None = None
        if not cfg.no_healthcheck:
            source = cfg.health
            if source is not None and source.test:
                health = {"test": list(source.test), "interval": source.interval, "timeout": source.timeout,
                          "start_period": source.start_period, "retries": source.retries}
            elif image_cfg.healthcheck is not None and image_cfg.healthcheck.test:
                h = image_cfg.healthcheck
                health = {"test": list(h.test), "interval": h.interval, "timeout": h.timeout,
                          "start_period": h.start_period, "retries": h.retries}
            if health and health["test"][0] == "NONE":
                health = None
        shim = ShimConfig(
            id=rec.id,
            name=rec.name,
            image=rec.image,
            root=self.root,
            run_root=self.run_root,
            tty=cfg.tty,
            open_stdin=cfg.open_stdin,
            stdin_once=cfg.stdin_once,
            restart=cfg.restart.name,
            max_retries=cfg.restart.max_retries,
            health=health,
            stop_signal=specgen.stop_signal(cfg, image_cfg),
            stop_timeout=cfg.stop_timeout if cfg.stop_timeout is not None else DEFAULT_STOP_TIMEOUT,
            auto_remove=cfg.auto_remove,
            user=cfg.user or image_cfg.user,
            log_max_size=cfg.log.max_size,
            log_max_file=cfg.log.max_file,
            rootfs_mounts=tuple((m.type, m.source, tuple(m.options)) for m in mounts),
            labels={**image_cfg.labels, **cfg.labels},
            network=uses_sandbox(cfg),
            # A shim forked by the fork server has the server's environment, not the
            # command's: carry the network settings along.
            network_env={k: v for k, v in os.environ.items() if k.startswith("BERTH_NET_")},
        )
        with open(paths.shim_config, "w") as f:
            f.write(shim.to_json())

    # ---- start / stop / kill -------------------------------------------------------------

    def start(self, ref: str, *, wait_for_client: bool = False) -> dict[str, Any]:
        """Hand the container to a new shim. With ``wait_for_client`` the shim creates
        the container and waits for a ``start`` request (so a client can attach first)."""
        view = self.get(ref)
        if view.running:
            raise ContainerRunning(f"container {view.id} is already running")
        if view.live.shim_alive():  # the last run's shim is still freeing what it held
            self._wait_shim_gone(view, DEFAULT_STOP_TIMEOUT)
        paths = self.paths(view.id)
        st.remove(paths.state)
        os.makedirs(paths.run_dir, exist_ok=True)
        with contextlib.ExitStack() as undo:
            if uses_sandbox(view.record.config):
                self.reconcile_once()
                undo.callback(self._release_network, view.id)
                self._attach_network(view.record)
            # SQLite must not cross a fork: a shim forked from here (and its children)
            # would inherit the connection's lock bookkeeping without its POSIX locks, and
            # a later connection there could write unlocked (a corrupt index was the
            # result). A fork server's shims are forked by the server, so only the
            # fallback fork closes it; the next use here reopens it.
            report = spawn.spawn(paths.shim_config, wait_for_start=wait_for_client, before_fork=self.db.close)
            if "error" in report:
                err = ContainerStartError(str(report["error"]))
                err.exit_code = int(report.get("exit_code", 125))
                raise err
            undo.pop_all()
        return report

    def _attach_network(self, rec: ContainerRecord) -> None:
        """The container's sandbox, its endpoint on the network, published ports, and
        the /etc/hosts and /etc/resolv.conf that go with the address it got."""
        from berth.network.types import PortBinding

        cfg = rec.config
        nm = self.network
        hostname = cfg.hostname or rec.id[:12]
        if os.path.lexists(nm.sandbox_path(rec.id)) or nm.endpoints(rec.id):
            nm.release(rec.id)  # left by a shim that died before it could free them
        netns = nm.create_sandbox(rec.id)
        ep = nm.connect(rec.id, network_name(cfg), netns, aliases=cfg.network_aliases, ip=cfg.ip or None,
                        hostname=hostname, name=rec.name)
        bindings = [PortBinding(p.host_ip, p.host_port, p.container_port, p.proto) for p in cfg.ports]
        if cfg.publish_all:
            exposed = set(cfg.exposed_ports) | set(self.store.images.get(rec.image_id).config.config.exposed_ports)
            published = {(b.container_port, b.proto) for b in bindings}
            for item in sorted(exposed):
                port, _, proto = item.partition("/")
                if (int(port), proto or "tcp") not in published:
                    bindings.append(PortBinding("", 0, int(port), proto or "tcp"))
        if bindings:
            try:
                nm.publish(rec.id, ep, bindings)
            except Conflict:
                # A holder of the port may be a container whose shim died unseen (killed,
                # or a reboot): once that is recorded its ports are free.
                if not self._free_dead_holders(nm):
                    raise
                nm.publish(rec.id, ep, bindings)
        paths = self.paths(rec.id)
        hosts = [str(e) for e in nm.hosts_entries(rec.id, hostname)]
        hosts += [f"{h.partition(':')[2]}\t{h.partition(':')[0]}" for h in cfg.extra_hosts]
        _write_text(paths.hosts, "\n".join(hosts) + "\n")
        _write_text(paths.resolv_conf, nm.resolv_conf(rec.id, servers=cfg.dns, search=cfg.dns_search,
                                                      options=cfg.dns_options))

    def _free_dead_holders(self, nm: NetworkManager) -> bool:
        """Release the network of every port holder whose shim is gone without having
        recorded the exit, or whose record is gone; whether there was any."""
        freed = False
        for container_id in nm.port_holders():
            try:
                rec = records.resolve(self.db, container_id)
            except NotFound:
                nm.release(container_id)
                freed = True
                continue
            live = st.load(self.paths(rec.id).state)
            if live is not None and live.status in (st.RUNNING, st.RESTARTING) and not live.shim_alive():
                self.view(rec)  # records the exit and frees the network
                freed = True
        return freed

    def reconcile_once(self) -> None:
        """Once per boot (``$BERTH_RUN`` is a tmpfs): record the exit of every container
        whose shim died with the host, free what they held, and have the network
        manager sweep what no container accounts for."""
        marker = os.path.join(self.run_root, "reconciled")
        if os.path.exists(marker):
            return
        for rec in records.all_records(self.db):
            self.view(rec)
        with contextlib.suppress(BerthError, OSError):
            self.network.reconcile()
        os.makedirs(self.run_root, exist_ok=True)
        with open(marker, "w"):
            pass

    def _release_network(self, container_id: str) -> None:
        with contextlib.suppress(BerthError, OSError):
            self.network.release(container_id)

    def release(self, ref: str) -> dict[str, Any]:
        """Start a container whose shim waits for a client (``start(wait_for_client=True)``)."""
        view = self.get(ref)
        answer = client.request(self.paths(view.id).socket, {"ctl": "start"})
        if "error" in answer:
            err = ContainerStartError(str(answer["error"]))
            err.exit_code = int(answer.get("exit_code", 125))
            raise err
        return answer

    def stop(self, ref: str, *, timeout: int | None = None, sig: int | None = None) -> ContainerView:
        view = self.get(ref)
        if not view.running:
            return view
        paths = self.paths(view.id)
        message: dict[str, Any] = {"ctl": "stop", "timeout": timeout}
        if sig:
            message["signal"] = sig
        wait = (timeout if timeout is not None else DEFAULT_STOP_TIMEOUT) + 30
        try:
            client.request(paths.socket, message, timeout=wait)
        except client.ShimUnavailable:
            pass
        self._wait_shim_gone(view, wait)
        return self.get(view.id)

    def _wait_shim_gone(self, view: ContainerView, timeout: float) -> None:
        """Until the container's shim has exited. It records the exit first and then frees
        the network (and removes a ``--rm`` container): a caller that went on at the exit
        record (a ``restart``) would meet the old sandbox still there."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            live = st.load(self.paths(view.id).state)
            if live is None or not live.shim_alive():
                return
            try:
                pidfd = os.pidfd_open(live.shim_pid)
            except ProcessLookupError:
                return
            try:
                if live.shim_alive():  # the pid is still that shim's, not a reused one
                    select.select([pidfd], [], [], min(remaining, 0.5))
            finally:
                os.close(pidfd)

    def kill(self, ref: str, sig: int = signal.SIGKILL) -> None:
        view = self.get(ref)
        if not view.running:
            raise ContainerNotRunning(f"Container {view.id} is not running")
        try:
            answer = client.request(self.paths(view.id).socket, {"ctl": "kill", "signal": sig})
        except client.ShimUnavailable:
            self.runtime.kill(view.id, sig)
            return
        if "error" in answer:
            raise ContainerNotRunning(f"Container {view.id} is not running: {answer['error']}")
        if sig == signal.SIGKILL:
            self._wait_shim_gone(view, 10)
        self._event("kill", view.record, {"signal": str(sig)})

    def restart(self, ref: str, *, timeout: int | None = None) -> None:
        view = self.stop(ref, timeout=timeout)
        self.start(view.id)

    def wait(self, ref: str, condition: str = "not-running") -> tuple[int, str]:
        """Block until the container exits (or is removed); its exit code and error."""
        view = self.get(ref)
        if condition == "not-running" and not view.running:
            return view.live.exit_code, view.live.error
        try:
            answer = client.request(self.paths(view.id).socket, {"ctl": "wait", "condition": condition},
                                    timeout=None)
            return int(answer.get("exit_code", 0)), str(answer.get("error", ""))
        except client.ShimUnavailable:
            view = self.get(view.id)
            return view.live.exit_code, view.live.error

    def pause(self, ref: str) -> None:
        view = self.get(ref)
        if view.status != st.RUNNING:
            raise ContainerNotRunning(f"Container {view.id} is not running")
        self.runtime.pause(view.id)
        self._event("pause", view.record)

    def unpause(self, ref: str) -> None:
        view = self.get(ref)
        if view.status != st.PAUSED:
            raise Conflict(f"Container {view.id} is not paused")
        self.runtime.resume(view.id)
        self._event("unpause", view.record)

    def rename(self, ref: str, name: str) -> None:
        view = self.get(ref)
        records.rename(self.db, view.id, records.check_name(name))
        self._event("rename", view.record, {"oldName": "/" + view.name})

    # ---- files -------------------------------------------------------------------------

    def rootfs(self, ref: str, *, writable: bool = False) -> contextlib.AbstractContextManager[Root]:
        """The container's files as a root descriptor (see berth.engine.archive): never a
        host path, never a mount on the host."""
        from berth.engine.archive import container_root

        return container_root(self, self.get(ref), writable=writable)

    def archive_stat(self, ref: str, path: str) -> PathStat:
        from berth.engine.archive import archive_stat

        return archive_stat(self, ref, path)

    def archive_get(self, ref: str, path: str, sink: Sink) -> PathStat:
        from berth.engine.archive import archive_get

        return archive_get(self, ref, path, sink)

    def archive_put(self, ref: str, path: str, stream: BinaryIO, *, copy_uid_gid: bool = False,
                    no_overwrite_dir_non_dir: bool = False, check_first: bool = True) -> int:
        from berth.engine.archive import archive_put

        return archive_put(self, ref, path, stream, copy_uid_gid=copy_uid_gid,
                           no_overwrite_dir_non_dir=no_overwrite_dir_non_dir, check_first=check_first)

    # ---- commit ------------------------------------------------------------------------

    def commit(self, ref: str, repository: str | None, *, message: str = "", author: str = "",
               changes: list[str] | None = None, pause: bool = True) -> Any:
        """``docker commit``: the container's changes as a new layer over its image,
        with the container's own config (Cmd, Env…) then ``changes`` applied."""
        from berth.oci.image import ContainerConfig as ImageRunConfig

        view = self.get(ref)
        base = self.store.images.get(view.record.image_id)
        cfg = view.record.config
        image_cfg = base.config.config
        run_cfg = replace(
            image_cfg,
            cmd=cfg.cmd if cfg.cmd is not None else image_cfg.cmd,
            entrypoint=(None if cfg.entrypoint == ("",) else cfg.entrypoint) if cfg.entrypoint is not None
            else image_cfg.entrypoint,
            env=tuple(_merge_env(image_cfg.env, cfg.env)),
            working_dir=cfg.working_dir or image_cfg.working_dir,
            user=cfg.user or image_cfg.user,
            labels={**image_cfg.labels, **cfg.labels},
            exposed_ports=tuple(sorted(set(image_cfg.exposed_ports) | set(cfg.exposed_ports))),
        )
        assert isinstance(run_cfg, ImageRunConfig)
        from berth.engine.freeze import paused_for_operation

        with paused_for_operation(self, view.id) if pause and view.status == st.RUNNING else contextlib.nullcontext():
            image = self.store.commit(view.id, base, run_cfg, comment=message, author=author,
                                      created_by="berth commit", changes=changes or [])
        if repository:
            self.store.images.tag(image, repository)
        self._event("commit", view.record)
        return image

    # ---- remove --------------------------------------------------------------------------

    def remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> str:
        view = self.get(ref)
        if view.running:
            if not force:
                raise ContainerRunning(
                    f"You cannot remove a running container {view.id}. "
                    "Stop the container before attempting removal or force remove"
                )
            self.stop(view.id, timeout=0)
        self._destroy(view.record, volumes=volumes)
        return view.id

    def _teardown(self) -> teardown.Teardown:
        return teardown.Teardown(self.root, self.run_root, self.db, self.runtime, lambda: self.store,
                                 self._release_network)

    def _destroy(self, rec: ContainerRecord, *, volumes: bool) -> None:
        self._teardown().destroy(rec, volumes=volumes)

    def _remove_snapshot(self, container_id: str) -> None:
        self._teardown().remove_snapshot(container_id)

    def prune(self) -> list[str]:
        removed = []
        for view in self.containers(all_=True):
            if view.status in (st.EXITED, st.CREATED, st.DEAD):
                self._destroy(view.record, volumes=False)
                removed.append(view.id)
        return removed

    def volume_users(self, name: str) -> list[str]:
        return teardown.volume_users(self.db, self.root, self.run_root, name)

    # ---- exec, top, stats ----------------------------------------------------------------

    def exec(self, ref: str, args: list[str], *, tty: bool = False, interactive: bool = False,
             env: list[str] | None = None, user: str = "", workdir: str = "", detach: bool = False,
             privileged: bool = False) -> int:
        """Run a command in a running container from this process; its exit status."""
        from berth.oci.spec import Capabilities
        from berth.runtime.api import ProcessIO
        from berth.runtime.linux import _wait_foreground, become_subreaper, load_spec

        view = self.get(ref)
        if view.status != st.RUNNING:
            if view.status == st.PAUSED:
                raise Conflict(f"Container {view.id} is paused, unpause the container before exec")
            raise ContainerNotRunning(f"Container {view.id} is not running")
        base = load_spec(self.paths(view.id).bundle).process
        assert base is not None
        merged = dict(e.split("=", 1) for e in base.env)
        for item in env or []:
            key, _, value = item.partition("=")
            merged[key] = value
        proc = replace(base, args=tuple(args), terminal=tty, env=tuple(f"{k}={v}" for k, v in merged.items()),
                       cwd=workdir or base.cwd)
        if privileged:
            caps = specgen.ALL_CAPS
            proc = replace(proc, capabilities=Capabilities(caps, caps, (), caps, ()))
        shim_cfg = ShimConfig.load(self.paths(view.id).shim_config)
        io = ProcessIO() if interactive or tty else ProcessIO(stdin=os.open(os.devnull, os.O_RDONLY))
        become_subreaper()
        created = self.runtime.exec(view.id, proc, io, user_name=(user or shim_cfg.user) or None)
        self._event("exec_start", view.record, {"execID": str(created.pid)})
        if detach:
            return 0
        return _wait_foreground(created.pid, created.master)

    def top(self, ref: str) -> list[dict[str, str]]:
        view = self.get(ref)
        if not view.running:
            raise ContainerNotRunning(f"Container {view.id} is not running")
        rows = []
        for pid in sorted(self.runtime.processes(view.id)):
            with contextlib.suppress(OSError):
                status = dict(line.split(":\t", 1) for line in open(f"/proc/{pid}/status").read().splitlines()
                              if ":\t" in line)
                cmdline = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode().strip()
                stat_fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
                rows.append({"UID": status.get("Uid", "0").split()[0], "PID": str(pid),
                             "PPID": stat_fields[1], "CMD": cmdline or f"[{status.get('Name', '')}]"})
        return rows

    def stats(self, ref: str) -> dict[str, Any]:
        view = self.get(ref)
        if not view.running:
            return {"id": view.id, "name": view.name, "memory_usage": 0, "memory_limit": 0, "cpu_usage_ns": 0,
                    "pids_current": 0}
        data = self.runtime.stats(view.id)
        return {"id": view.id, "name": view.name, **data}

    # ---- events --------------------------------------------------------------------------

    def _event(self, action: str, rec: ContainerRecord, extra: dict[str, str] | None = None) -> None:
        with contextlib.suppress(OSError):
            events.container_event(self.root, action, rec.id, rec.name, rec.image, rec.config.labels, extra)

    def events(self, *, since: float | None = None, until: float | None = None, follow: bool = True,
               filters: events.EventFilters | None = None,
               stopped: Callable[[], bool] | None = None) -> Iterator[events.Event]:
        """Events between ``since`` and ``until`` (unix seconds), then (``follow``) the
        new ones until ``until`` passes or ``stopped()`` says so."""
        return events.read(self.root, since=since, until=until, follow=follow, filters=filters, stopped=stopped)


def uses_sandbox(cfg: ContainerConfig) -> bool:
    """Bridge and user networks get a network namespace of berth's (a sandbox)."""
    return teardown.uses_sandbox(cfg.network)


def network_name(cfg: ContainerConfig) -> str:
    return "bridge" if cfg.network in ("", "default", "bridge") else cfg.network


def _write_text(path: str, text: str) -> None:
    # Replaced in place, not renamed: a running container has the file bind-mounted.
    with open(path, "w") as f:
        f.write(text)


def _merge_env(base: tuple[str, ...], extra: tuple[str, ...]) -> list[str]:
    merged: dict[str, str] = {}
    for item in (*base, *extra):
        key, _, value = item.partition("=")
        merged[key] = value
    return [f"{k}={v}" for k, v in merged.items()]


class ContainerStartError(BerthError):
    """The container could not start; ``exit_code`` is 125, 126 (cannot invoke) or 127
    (not found), as Docker's CLI exits."""

    exit_code: int = 125


__all__ = ["Engine", "ContainerView", "ContainerStartError", "InvalidArgument"]
