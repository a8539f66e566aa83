"""``docker run``/``create`` options as a user types them → a validated ``ContainerConfig``.

Every front end that takes Docker's option syntax (the CLI's ``run`` and ``create``,
compose's ``run``) fills a :class:`CreateRequest` and calls :meth:`CreateRequest.to_config`;
one that takes structured values (the REST API's ``POST /containers/create`` body)
builds a ``ContainerConfig`` directly. Either way ``Engine.create`` validates the
config (validate.py) before anything is made, so the same bad input gets the same
error from every front end.

Field names are the CLI's option names (``--env-file`` → ``env_file``, ``--rm`` →
``auto_remove``); repeatable options are tuples, unset optional ones are None.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from berth.engine import options as opt
from berth.engine.model import ContainerConfig, Health, LogConfig, RestartPolicy
from berth.errors import InvalidArgument


@dataclass(frozen=True, slots=True)
class CreateRequest:
    image: str
    command: tuple[str, ...] = ()
    name: str = ""
    env: tuple[str, ...] = ()
    env_file: tuple[str, ...] = ()
    workdir: str = ""
    user: str = ""
    group_add: tuple[str, ...] = ()
    entrypoint: str | None = None
    hostname: str = ""
    domainname: str = ""
    interactive: bool = False
    tty: bool = False
    label: tuple[str, ...] = ()
    volume: tuple[str, ...] = ()
    mount: tuple[str, ...] = ()
    tmpfs: tuple[str, ...] = ()
    publish: tuple[str, ...] = ()
    publish_all: bool = False
    expose: tuple[str, ...] = ()
    network: str = "bridge"
    network_alias: tuple[str, ...] = ()
    ip: str = ""
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_option: tuple[str, ...] = ()
    add_host: tuple[str, ...] = ()
    restart: str = "no"
    auto_remove: bool = False
    health_cmd: str | None = None
    health_interval: str | None = None
    health_timeout: str | None = None
    health_retries: int | None = None
    health_start_period: str | None = None
    no_healthcheck: bool = False
    use_init: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    privileged: bool = False
    security_opt: tuple[str, ...] = ()
    stop_signal: str = ""
    stop_timeout: int | None = None
    read_only: bool = False
    memory: str = ""
    memory_swap: str = ""
    memory_reservation: str = ""
    cpus: str = ""
    cpu_shares: int = 0
    cpuset_cpus: str = ""
    pids_limit: int = 0
    shm_size: str = ""
    ulimit: tuple[str, ...] = ()
    sysctl: tuple[str, ...] = ()
    oom_score_adj: int | None = None
    log_driver: str = "json-file"
    log_opt: tuple[str, ...] = ()
    pull: str = "missing"

    @classmethod
    def from_options(cls, image: str, command: tuple[str, ...], options: Mapping[str, Any]) -> CreateRequest:
        """From a front end's parsed options keyed by field name (click's keyword
        arguments); keys that are not fields (``detach``, ``sig_proxy``…) are ignored."""
        known = {f.name for f in fields(cls)} - {"image", "command"}
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()
                                  if k in known}
        return cls(image=image, command=tuple(command), **values)

    def to_config(self) -> ContainerConfig:
        """The container config these options ask for, validated; InvalidArgument names
        the option and the value at fault."""
        env: list[str] = []
        for path in self.env_file:
            env.extend(opt.read_env_file(path))
        env.extend(opt.expand_env(list(self.env)))
        mounts = [opt.parse_volume(v) for v in self.volume]
        mounts += [opt.parse_mount(m) for m in self.mount]
        mounts += [opt.parse_tmpfs(t) for t in self.tmpfs]
        labels = {}
        for item in self.label:
            key, _, value = item.partition("=")
            labels[key] = value
        no_new_privileges, seccomp = self._security()
        entrypoint = None
        if self.entrypoint is not None:
            entrypoint = tuple(shlex.split(self.entrypoint)) if self.entrypoint else ("",)
        sysctls = {}
        for item in self.sysctl:
            key, sep, value = item.partition("=")
            if not sep:
                raise InvalidArgument(f"invalid --sysctl {item!r}: expected key=value")
            sysctls[key] = value
        cfg = ContainerConfig(
            image=self.image,
            name=self.name,
            cmd=tuple(self.command) if self.command else None,
            entrypoint=entrypoint,
            env=tuple(env),
            working_dir=self.workdir,
            user=self.user,
            group_add=tuple(self.group_add),
            hostname=self.hostname,
            domainname=self.domainname,
            tty=self.tty,
            open_stdin=self.interactive,
            stdin_once=self.interactive,
            labels=labels,
            exposed_ports=tuple(self.expose),
            mounts=tuple(mounts),
            ports=tuple(p for spec in self.publish for p in opt.parse_port(spec)),
            publish_all=self.publish_all,
            network=self.network,
            network_aliases=tuple(self.network_alias),
            ip=self.ip,
            dns=tuple(self.dns),
            dns_search=tuple(self.dns_search),
            dns_options=tuple(self.dns_option),
            extra_hosts=tuple(self.add_host),
            restart=RestartPolicy.parse(self.restart),
            health=self._health(),
            no_healthcheck=self.no_healthcheck,
            init=self.use_init,
            cap_add=tuple(self.cap_add),
            cap_drop=tuple(self.cap_drop),
            privileged=self.privileged,
            no_new_privileges=no_new_privileges,
            seccomp_profile=seccomp,
            stop_signal=self.stop_signal,
            stop_timeout=self.stop_timeout,
            read_only=self.read_only,
            memory=opt.parse_size(self.memory, "--memory") if self.memory else 0,
            memory_swap=(-1 if self.memory_swap == "-1" else opt.parse_size(self.memory_swap, "--memory-swap"))
            if self.memory_swap else 0,
            memory_reservation=opt.parse_size(self.memory_reservation, "--memory-reservation")
            if self.memory_reservation else 0,
            nano_cpus=opt.parse_cpus(self.cpus) if self.cpus else 0,
            cpu_shares=self.cpu_shares,
            cpuset_cpus=self.cpuset_cpus,
            pids_limit=self.pids_limit,
            shm_size=opt.parse_size(self.shm_size, "--shm-size") if self.shm_size else 0,
            ulimits=tuple(opt.parse_ulimit(u) for u in self.ulimit),
            sysctls=sysctls,
            log=self._log(),
            auto_remove=self.auto_remove,
            oom_score_adj=self.oom_score_adj,
        )
        cfg.validate()
        return cfg

    def _health(self) -> Health | None:
        if self.health_cmd is None:
            return None
        return Health(
            ("CMD-SHELL", self.health_cmd),
            opt.parse_duration(self.health_interval or "30s", "--health-interval"),
            opt.parse_duration(self.health_timeout or "30s", "--health-timeout"),
            opt.parse_duration(self.health_start_period or "0s", "--health-start-period"),
            self.health_retries if self.health_retries is not None else 3,
        )

    def _security(self) -> tuple[bool, str]:
        """``--security-opt``: (no_new_privileges, seccomp profile: "", "unconfined" or JSON)."""
        no_new_privileges, seccomp = False, ""
        for item in self.security_opt:
            key, _, value = item.partition("=")
            key = key.replace(":", "=") if "=" not in item else key
            if item in ("no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"):
                no_new_privileges = True
            elif key == "seccomp" and value == "unconfined":
                seccomp = "unconfined"
            elif key == "seccomp":
                try:
                    with open(value) as f:
                        seccomp = f.read()
                    json.loads(seccomp)
                except (OSError, ValueError) as err:
                    raise InvalidArgument(f"--security-opt {item}: cannot read the profile: {err}") from err
            elif key in ("apparmor", "label"):
                continue
            else:
                raise InvalidArgument(f"invalid --security-opt {item!r}")
        return no_new_privileges, seccomp

    def _log(self) -> LogConfig:
        if self.log_driver not in ("json-file", "local"):
            raise InvalidArgument(f"log driver {self.log_driver!r}: only json-file is available")
        log = LogConfig()  # berth writes json-file logs whichever of the two was asked for
        for item in self.log_opt:
            key, _, value = item.partition("=")
            if key == "max-size":
                log = LogConfig(log.type, opt.parse_size(value, "max-size"), log.max_file)
            elif key == "max-file":
                if not value.isdigit() or int(value) < 1:
                    raise InvalidArgument(f"invalid max-file {value!r}: a positive number")
                log = LogConfig(log.type, log.max_size, int(value))
            else:
                raise InvalidArgument(f"unknown log opt {key!r}: max-size and max-file are supported")
        return log
