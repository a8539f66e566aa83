"""Containers in Docker's JSON shapes: ``inspect`` and the ``ps`` summary.

Scripts written for ``docker inspect`` and the Docker API's clients read these, so
field names and JSON types follow Docker's (Created is RFC 3339 in inspect and a unix
time in the summary; absent values are null where Docker writes null).
"""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

from berth.engine import state as st
from berth.engine.engine import ContainerView, Engine, network_name, uses_sandbox
from berth.engine.logs import parse_timestamp
from berth.engine.model import ContainerConfig


def _command(view: ContainerView, engine: Engine) -> tuple[str, list[str]]:
    try:
        with open(os.path.join(engine.paths(view.id).bundle, "config.json")) as f:
            args = json.load(f)["process"]["args"]
    except (OSError, KeyError, ValueError):
        args = list(view.record.config.cmd or ())
    return (args[0], args[1:]) if args else ("", [])


def _endpoints(view: ContainerView, engine: Engine) -> list[Any]:
    if not view.running or not uses_sandbox(view.record.config):
        return []
    return list(engine.network.endpoints(view.id))


def _published(view: ContainerView, engine: Engine) -> list[Any] | None:
    """The ports as published (free host ports filled in), while the container runs."""
    if not view.running or not uses_sandbox(view.record.config):
        return None
    return list(engine.network.ports(view.id))


def _ports(cfg: ContainerConfig, published: list[Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for exposed in cfg.exposed_ports:
        out.setdefault(exposed if "/" in exposed else f"{exposed}/tcp", None)
    if published is not None:
        for b in published:
            key = f"{b.container_port}/{b.proto}"
            bindings = out.get(key) or []
            bindings.append({"HostIp": b.host_ip or "0.0.0.0", "HostPort": str(b.host_port)})
            out[key] = bindings
        return out
    for p in cfg.ports:
        key = f"{p.container_port}/{p.proto}"
        out.setdefault(key, None)
        bindings = out[key] or []
        bindings.append({"HostIp": p.host_ip or "0.0.0.0", "HostPort": str(p.host_port) if p.host_port else ""})
        out[key] = bindings
    return out


def _mounts(view: ContainerView, engine: Engine) -> list[dict[str, Any]]:
    out = []
    volumes = {v.mountpoint: v for v in engine.volumes.all()}
    try:
        with open(os.path.join(engine.paths(view.id).bundle, "config.json")) as f:
            spec_mounts = json.load(f)["mounts"]
    except (OSError, KeyError, ValueError):
        spec_mounts = []
    by_target = {m["destination"]: m for m in spec_mounts}
    for m in view.record.config.mounts:
        spec = by_target.get(m.target, {})
        vol = volumes.get(spec.get("source", ""))
        entry: dict[str, Any] = {
            "Type": m.type,
            "Source": spec.get("source", m.source) if m.type != "tmpfs" else "",
            "Destination": m.target,
            "Mode": "ro" if m.read_only else "",
            "RW": not m.read_only,
            "Propagation": m.propagation or ("rprivate" if m.type == "bind" else ""),
        }
        if vol is not None:
            entry.update(Name=vol.name, Driver=vol.driver)
        out.append(entry)
    listed = {m.target for m in view.record.config.mounts}
    for target, spec in by_target.items():
        vol = volumes.get(spec.get("source", ""))
        if vol is not None and target not in listed:
            out.append({"Type": "volume", "Name": vol.name, "Source": vol.mountpoint, "Destination": target,
                        "Driver": "local", "Mode": "", "RW": True, "Propagation": ""})
    return out


def _health(live: st.LiveState) -> dict[str, Any] | None:
    if live.health is None:
        return None
    return {
        "Status": live.health.status,
        "FailingStreak": live.health.failing_streak,
        "Log": [{"Start": r.start, "End": r.end, "ExitCode": r.exit_code, "Output": r.output} for r in live.health.log],
    }


def container_json(view: ContainerView, engine: Engine) -> dict[str, Any]:
    cfg = view.record.config
    live = view.live
    path, args = _command(view, engine)
    paths = engine.paths(view.id)
    running = view.status in (st.RUNNING, st.PAUSED, st.RESTARTING)
    memory_swap = cfg.memory_swap if cfg.memory_swap else (cfg.memory * 2 if cfg.memory else 0)
    state: dict[str, Any] = {
        "Status": view.status,
        "Running": running,
        "Paused": view.status == st.PAUSED,
        "Restarting": view.status == st.RESTARTING,
        "OOMKilled": live.oom_killed,
        "Dead": view.status == st.DEAD,
        "Pid": live.pid if running else 0,
        "ExitCode": live.exit_code,
        "Error": live.error,
        "StartedAt": live.started_at,
        "FinishedAt": live.finished_at,
    }
    health = _health(live)
    if health is not None:
        state["Health"] = health
    networks: dict[str, Any] = {}
    endpoints = _endpoints(view, engine)
    if uses_sandbox(cfg):
        networks[network_name(cfg)] = {
            "IPAMConfig": {"IPv4Address": cfg.ip} if cfg.ip else None, "Links": None,
            "Aliases": list(cfg.network_aliases) or None, "NetworkID": "", "EndpointID": "", "Gateway": "",
            "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "MacAddress": "",
        }
        for ep in endpoints:
            networks[ep.network] = {
                "IPAMConfig": {"IPv4Address": cfg.ip} if cfg.ip and ep.network == network_name(cfg) else None,
                "Links": None, "Aliases": [*ep.aliases, view.id[:12]] or None, "NetworkID": ep.network_id,
                "EndpointID": ep.id, "Gateway": str(ep.gateway or ""), "IPAddress": str(ep.ip),
                "IPPrefixLen": ep.prefixlen, "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                "MacAddress": ep.mac,
            }
    elif cfg.network in ("host", "none"):
        networks[cfg.network] = {"IPAMConfig": None, "Links": None, "Aliases": None, "NetworkID": "",
                                 "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
                                 "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                                 "MacAddress": ""}
    env = list(cfg.env)
    image_env: list[str] = []
    try:
        with open(os.path.join(paths.bundle, "config.json")) as f:
            image_env = json.load(f)["process"]["env"]
    except (OSError, KeyError, ValueError):
        pass
    health_cfg = None
    if cfg.health is not None:
        health_cfg = {"Test": list(cfg.health.test), "Interval": cfg.health.interval, "Timeout": cfg.health.timeout,
                      "StartPeriod": cfg.health.start_period, "Retries": cfg.health.retries}
    return {
        "Id": view.id,
        "Created": view.record.created,
        "Path": path,
        "Args": args,
        "State": state,
        "Image": view.record.image_id,
        "ResolvConfPath": paths.resolv_conf,
        "HostnamePath": paths.hostname,
        "HostsPath": paths.hosts,
        "LogPath": paths.log,
        "Name": "/" + view.name,
        "RestartCount": live.restart_count,
        "Driver": "overlay",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": {
            "Binds": [f"{m.source}:{m.target}{':ro' if m.read_only else ''}" for m in cfg.mounts
                      if m.type in ("bind", "volume") and m.source] or None,
            "ContainerIDFile": "",
            "LogConfig": {"Type": cfg.log.type, "Config": {"max-size": str(cfg.log.max_size),
                                                            "max-file": str(cfg.log.max_file)}},
            "NetworkMode": cfg.network if cfg.network not in ("", "default") else "bridge",
            "PortBindings": {k: v for k, v in _ports(cfg).items() if v} or {},
            "RestartPolicy": {"Name": cfg.restart.name, "MaximumRetryCount": cfg.restart.max_retries},
            "AutoRemove": cfg.auto_remove,
            "VolumeDriver": "",
            "VolumesFrom": None,
            "CapAdd": list(cfg.cap_add) or None,
            "CapDrop": list(cfg.cap_drop) or None,
            "Dns": list(cfg.dns),
            "DnsOptions": list(cfg.dns_options),
            "DnsSearch": list(cfg.dns_search),
            "ExtraHosts": list(cfg.extra_hosts) or None,
            "GroupAdd": list(cfg.group_add) or None,
            "IpcMode": "private",
            "OomScoreAdj": cfg.oom_score_adj or 0,
            "PidMode": "",
            "Privileged": cfg.privileged,
            "PublishAllPorts": cfg.publish_all,
            "ReadonlyRootfs": cfg.read_only,
            "SecurityOpt": (["no-new-privileges"] if cfg.no_new_privileges else [])
            + (["seccomp=unconfined"] if cfg.seccomp_profile == "unconfined" else []) or None,
            "Tmpfs": {m.target: "" for m in cfg.mounts if m.type == "tmpfs"} or None,
            "UTSMode": "",
            "ShmSize": cfg.shm_size or 64 * 1024 * 1024,
            "Runtime": "berth",
            "Memory": cfg.memory,
            "MemoryReservation": cfg.memory_reservation,
            "MemorySwap": memory_swap,
            "NanoCpus": cfg.nano_cpus,
            "CpuShares": cfg.cpu_shares,
            "CpusetCpus": cfg.cpuset_cpus,
            "PidsLimit": cfg.pids_limit or None,
            "Ulimits": [{"Name": n, "Soft": s, "Hard": h} for n, s, h in cfg.ulimits] or None,
            "Init": cfg.init,
            "Sysctls": dict(cfg.sysctls) or None,
            "Mounts": None,
            "MaskedPaths": None,
            "ReadonlyPaths": None,
        },
        "GraphDriver": {"Name": "overlay", "Data": None},
        "Mounts": _mounts(view, engine),
        "Config": {
            "Hostname": cfg.hostname or view.id[:12],
            "Domainname": cfg.domainname,
            "User": cfg.user,
            "AttachStdin": False,
            "AttachStdout": False,
            "AttachStderr": False,
            "ExposedPorts": {k: {} for k in _ports(cfg)} or None,
            "Tty": cfg.tty,
            "OpenStdin": cfg.open_stdin,
            "StdinOnce": cfg.stdin_once,
            "Env": image_env or env,
            "Cmd": list(cfg.cmd) if cfg.cmd is not None else None,
            "Healthcheck": health_cfg,
            "Image": cfg.image,
            "Volumes": {m.target: {} for m in cfg.mounts if m.type == "volume"} or None,
            "WorkingDir": cfg.working_dir,
            "Entrypoint": list(cfg.entrypoint) if cfg.entrypoint is not None else None,
            "OnBuild": None,
            "Labels": dict(cfg.labels),
            "StopSignal": cfg.stop_signal or None,
            "StopTimeout": cfg.stop_timeout,
        },
        "NetworkSettings": {
            "Bridge": "",
            "SandboxID": view.id if endpoints else "",
            "HairpinMode": False,
            "Ports": _ports(cfg, _published(view, engine)),
            "SandboxKey": endpoints[0].netns if endpoints else "",
            "Gateway": str(endpoints[0].gateway or "") if endpoints else "",
            "IPAddress": str(endpoints[0].ip) if endpoints else "",
            "IPPrefixLen": endpoints[0].prefixlen if endpoints else 0,
            "MacAddress": endpoints[0].mac if endpoints else "",
            "Networks": networks,
        },
    }


def _ago(seconds: float) -> str:
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s < 60:
        return f"{s} second{'s' if s != 1 else ''}"
    m = s // 60
    if m < 60:
        return "About a minute" if m == 1 else f"{m} minutes"
    h = m // 60
    if h < 48:
        return "About an hour" if h == 1 else f"{h} hours"
    d = h // 24
    if d < 14:
        return f"{d} days"
    if d < 60:
        return f"{d // 7} weeks"
    return f"{d // 30} months"


def status_text(view: ContainerView) -> str:
    """Docker's STATUS column: ``Up 5 seconds (healthy)``, ``Exited (0) 3 minutes ago``…"""
    live = view.live
    now = time.time()
    if view.status in (st.RUNNING, st.PAUSED):
        text = "Up " + _ago(now - parse_timestamp(live.started_at))
        if view.status == st.PAUSED:
            text += " (Paused)"
        elif live.health is not None:
            text += " (health: starting)" if live.health.status == "starting" else f" ({live.health.status})"
        return text
    if view.status == st.RESTARTING:
        return f"Restarting ({live.exit_code}) {_ago(now - parse_timestamp(live.finished_at))} ago"
    if view.status == st.EXITED:
        return f"Exited ({live.exit_code}) {_ago(now - parse_timestamp(live.finished_at))} ago"
    if view.status == st.DEAD:
        return "Dead"
    return "Created"


def summary_json(view: ContainerView, engine: Engine) -> dict[str, Any]:
    """One entry of ``GET /containers/json`` (and ``ps --format json``)."""
    cfg = view.record.config
    path, args = _command(view, engine)
    ports = []
    published = _published(view, engine)
    if published is not None:
        for b in published:
            ports.append({"IP": b.host_ip or "0.0.0.0", "PrivatePort": b.container_port, "PublicPort": b.host_port,
                          "Type": b.proto})
    else:
        for p in cfg.ports:
            ports.append({"IP": p.host_ip or "0.0.0.0", "PrivatePort": p.container_port, "PublicPort": 0,
                          "Type": p.proto})
    return {
        "Id": view.id,
        "Names": ["/" + view.name],
        "Image": view.record.image,
        "ImageID": view.record.image_id,
        "Command": " ".join([path, *args]).strip(),
        "Created": int(parse_timestamp(view.record.created)),
        "Ports": ports,
        "Labels": dict(cfg.labels),
        "State": view.status,
        "Status": status_text(view),
        "HostConfig": {"NetworkMode": cfg.network if cfg.network not in ("", "default") else "bridge"},
        "NetworkSettings": {"Networks": {}},
        "Mounts": [],
    }


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
