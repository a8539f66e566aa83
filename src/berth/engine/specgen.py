"""Image config + create request → the OCI runtime spec a container runs with.

Pure: every input is data (the image's ContainerConfig, the request, resolved paths of
volumes and the network namespace), and the output is a ``Spec``. The rules are
Docker's: Entrypoint and Cmd combine, an Entrypoint from the request resets the image
Cmd, env merges over the image env, ``--memory`` without ``--memory-swap`` allows as
much swap again, ``--privileged`` lifts capabilities, masks and seccomp.
"""

from __future__ import annotations

import json
import signal as _signal
from dataclasses import dataclass, replace

from berth.engine.model import ContainerConfig
from berth.errors import InvalidArgument
from berth.oci.image import ContainerConfig as ImageRunConfig
from berth.oci.spec import (
    Capabilities,
    DeviceRule,
    Linux,
    Namespace,
    Process,
    Resources,
    Rlimit,
    Seccomp,
    Spec,
    SpecMount,
    User,
)
from berth.runtime.defaults import (
    DEFAULT_CAPS,
    DEFAULT_PATH,
    MASKED_PATHS,
    READONLY_PATHS,
    default_mounts,
    default_seccomp,
)

ALL_CAPS = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)
INIT_ANNOTATION = "run.berth.init"


@dataclass(frozen=True, slots=True)
class Resolved:
    """Paths and namespaces the engine resolved before the spec is written."""

    container_id: str
    rootfs: str  # the mount point the snapshot's overlay goes on
    hosts: str
    resolv_conf: str
    hostname_file: str
    volumes: dict[str, str]  # target → host folder, for volume mounts
    netns_path: str | None  # join this network namespace; None: a new one (unless host)
    host_network: bool = False
    cgroup_parent: str = "/berth"  # engine.paths.cgroup_parent of the root


def command(req: ContainerConfig, image: ImageRunConfig) -> tuple[str, ...]:
    """Docker's rule: Entrypoint + Cmd; a request Entrypoint drops the image's Cmd."""
    if req.entrypoint is not None:
        entrypoint = tuple(e for e in req.entrypoint if e) if req.entrypoint != ("",) else ()
        cmd = req.cmd if req.cmd is not None else ()
    else:
        entrypoint = image.entrypoint or ()
        cmd = req.cmd if req.cmd is not None else (image.cmd or ())
    args = tuple(entrypoint) + tuple(cmd)
    if not args:
        raise InvalidArgument("no command specified: the image has no Cmd or Entrypoint and none was given")
    return args


def environment(req: ContainerConfig, image: ImageRunConfig, hostname: str) -> tuple[str, ...]:
    merged: dict[str, str] = {}
    merged["PATH"] = DEFAULT_PATH.split("=", 1)[1]
    merged["HOSTNAME"] = hostname
    for item in (*image.env, *req.env):
        key, _, value = item.partition("=")
        merged[key] = value
    if req.tty and "TERM" not in merged:
        merged["TERM"] = "xterm"
    return tuple(f"{k}={v}" for k, v in merged.items())


def capabilities(req: ContainerConfig) -> tuple[str, ...]:
    if req.privileged:
        return ALL_CAPS
    drops = {_cap_name(n) for n in req.cap_drop}
    adds = [_cap_name(n) for n in req.cap_add]
    # Docker: dropping ALL starts from nothing and then adds; otherwise add, then drop.
    caps = [] if "CAP_ALL" in drops else list(DEFAULT_CAPS)
    for full in adds:
        if full == "CAP_ALL":
            caps = list(ALL_CAPS)
        elif full not in caps:
            caps.append(full)
    if "CAP_ALL" not in drops:
        caps = [c for c in caps if c not in drops]
    return tuple(caps)


def _cap_name(name: str) -> str:
    full = name.upper()
    full = full if full.startswith("CAP_") else "CAP_" + full
    if full != "CAP_ALL" and full not in ALL_CAPS:
        raise InvalidArgument(f"unknown capability {name!r}")
    return full


def stop_signal(req: ContainerConfig, image: ImageRunConfig) -> int:
    return parse_signal(req.stop_signal or image.stop_signal or "SIGTERM")


def parse_signal(text: str) -> int:
    name = text.strip().upper()
    if name.isdigit():
        number = int(name)
        if 0 < number < 65:
            return number
        raise InvalidArgument(f"invalid signal {text!r}")
    name = name if name.startswith("SIG") else "SIG" + name
    try:
        return int(_signal.Signals[name])
    except KeyError:
        if name.startswith("SIGRTMIN+") and name[9:].isdigit():
            return int(_signal.SIGRTMIN) + int(name[9:])
        raise InvalidArgument(f"invalid signal {text!r}") from None


def _mounts(req: ContainerConfig, res: Resolved) -> list[SpecMount]:
    mounts = list(default_mounts())
    if req.shm_size:
        mounts = [
            replace(m, options=tuple(o for o in m.options if not o.startswith("size=")) + (f"size={req.shm_size}",))
            if m.destination == "/dev/shm" else m
            for m in mounts
        ]
    if res.host_network:
        # A container on the host's network may not mount a fresh sysfs (it is tied
        # to the network namespace); bind the host's, read-only.
        mounts = [SpecMount("/sys", "bind", "/sys", ("rbind", "nosuid", "noexec", "nodev", "ro"))
                  if m.destination == "/sys" else m for m in mounts]
    for target, source in (("/etc/hosts", res.hosts), ("/etc/resolv.conf", res.resolv_conf),
                           ("/etc/hostname", res.hostname_file)):
        if not any(m.target == target for m in req.mounts):
            mounts.append(SpecMount(target, "bind", source, ("rbind", "rprivate")))
    for m in req.mounts:
        options: tuple[str, ...]
        if m.type == "tmpfs":
            options = ("nosuid", "nodev", "noexec")
            if m.tmpfs_size:
                options += (f"size={m.tmpfs_size}",)
            options += (f"mode={m.tmpfs_mode:o}",) if m.tmpfs_mode else ("mode=1777",)
            if m.read_only:
                options += ("ro",)
            mounts.append(SpecMount(m.target, "tmpfs", "tmpfs", options))
            continue
        source = m.source if m.type == "bind" else res.volumes[m.target]
        options = ("rbind", m.propagation or "rprivate") + (("ro",) if m.read_only else ())
        if m.type == "volume" and not m.no_copy:
            options += ("copyup",)  # fill an empty volume from the image (runtime extension)
        mounts.append(SpecMount(m.target, "bind", source, options))
    return mounts


def _resources(req: ContainerConfig) -> Resources:
    memory = req.memory or None
    swap: int | None = None
    if memory:
        if req.memory_swap == -1:
            swap = -1
        elif req.memory_swap:
            if req.memory_swap < memory:
                raise InvalidArgument("--memory-swap must be larger than --memory (it counts memory plus swap)")
            swap = req.memory_swap
        else:
            swap = memory * 2
    quota = period = None
    if req.nano_cpus:
        period = 100_000
        quota = max(1000, req.nano_cpus * period // 1_000_000_000)
    return Resources(
        memory_limit=memory,
        memory_swap=swap,
        memory_reservation=req.memory_reservation or None,
        cpu_shares=req.cpu_shares or None,
        cpu_quota=quota,
        cpu_period=period,
        cpuset_cpus=req.cpuset_cpus,
        pids_limit=req.pids_limit if req.pids_limit else None,
        devices=() if req.privileged else (DeviceRule(False, "a", None, None, "rwm"),),
    )


def _seccomp(req: ContainerConfig, caps: tuple[str, ...]) -> Seccomp | None:
    if req.privileged or req.seccomp_profile == "unconfined":
        return None
    if req.seccomp_profile:
        from berth.oci.jsonutil import Fields

        try:
            return Seccomp.from_json(Fields(json.loads(req.seccomp_profile), "seccomp profile"))
        except ValueError as err:
            raise InvalidArgument(f"seccomp profile: {err}") from err
    return default_seccomp(set(caps))


def _rlimit_value(value: int) -> int:
    return value if value >= 0 else 2**64 - 1  # -1: unlimited (RLIM_INFINITY)


def generate(req: ContainerConfig, image: ImageRunConfig, res: Resolved) -> Spec:
    hostname = req.hostname or res.container_id[:12]
    caps = capabilities(req)
    cap_set = Capabilities(caps, caps, (), caps, ())
    user = User(0, 0)
    process = Process(
        args=command(req, image),
        cwd=req.working_dir or image.working_dir or "/",
        env=environment(req, image, hostname),
        user=user,
        terminal=req.tty,
        capabilities=cap_set,
        rlimits=tuple(Rlimit(f"RLIMIT_{n.upper()}", soft=_rlimit_value(s), hard=_rlimit_value(h))
                      for n, s, h in req.ulimits),
        no_new_privileges=req.no_new_privileges,
        oom_score_adj=req.oom_score_adj,
    )
    namespaces = [Namespace(k) for k in ("pid", "ipc", "uts", "mount", "cgroup")]
    if res.netns_path:
        namespaces.append(Namespace("network", res.netns_path))
    elif not res.host_network:
        namespaces.append(Namespace("network"))
    linux = Linux(
        namespaces=tuple(namespaces),
        cgroups_path=f"{res.cgroup_parent}/{res.container_id}",
        resources=_resources(req),
        masked_paths=() if req.privileged else MASKED_PATHS,
        readonly_paths=() if req.privileged else READONLY_PATHS,
        seccomp=_seccomp(req, caps),
        sysctl=dict(req.sysctls),
    )
    annotations = {INIT_ANNOTATION: "true"} if req.init else {}
    return Spec(
        process=process,
        root_path=res.rootfs,
        root_readonly=req.read_only,
        hostname=hostname,
        domainname=req.domainname,
        mounts=tuple(_mounts(req, res)),
        linux=linux,
        annotations=annotations,
    )
