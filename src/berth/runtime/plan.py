"""A runtime spec turned into checked, kernel-ready data.

Everything that can be wrong with a config.json is found here, before any fork,
namespace or mount: unknown capabilities, rlimits and mount options, a missing rootfs,
relative paths. Errors are :class:`InvalidSpec` naming the field. The result is plain
data (flags as ints, capabilities as numbers) that ``init.py`` carries out.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from berth.errors import InvalidSpec
from berth.oci.spec import CAP_SETS, Process, Spec, SpecMount
from berth.sys import mount as M  # the MS_* flags as plain ints (see sys/mount.py)
from berth.sys.caps import CAP_NUMBERS, last_cap
from berth.sys.cgroups import CgroupLimits, DeviceAccess
from berth.sys.ns import BITS, CLONE_NEWPID, CLONE_NEWUSER, CLONE_NEWUTS

if TYPE_CHECKING:
    from berth.oci.mount import Mount

# Mount options that set or clear a flag (mount(8)); the rest become fs-specific data.
_SET: dict[str, int] = {
    "ro": M.MS_RDONLY, "nosuid": M.MS_NOSUID, "nodev": M.MS_NODEV, "noexec": M.MS_NOEXEC,
    "sync": M.MS_SYNCHRONOUS, "remount": M.MS_REMOUNT, "mand": M.MS_MANDLOCK, "dirsync": M.MS_DIRSYNC,
    "noatime": M.MS_NOATIME, "nodiratime": M.MS_NODIRATIME, "bind": M.MS_BIND, "rbind": M.MS_BIND | M.MS_REC,
    "relatime": M.MS_RELATIME, "strictatime": M.MS_STRICTATIME, "lazytime": M.MS_LAZYTIME,
    "nosymfollow": M.MS_NOSYMFOLLOW, "silent": M.MS_SILENT,
}
_CLEAR: dict[str, int] = {
    "rw": M.MS_RDONLY, "suid": M.MS_NOSUID, "dev": M.MS_NODEV, "exec": M.MS_NOEXEC, "async": M.MS_SYNCHRONOUS,
    "nomand": M.MS_MANDLOCK, "atime": M.MS_NOATIME, "diratime": M.MS_NODIRATIME, "norelatime": M.MS_RELATIME,
    "nostrictatime": M.MS_STRICTATIME, "nolazytime": M.MS_LAZYTIME, "symfollow": M.MS_NOSYMFOLLOW,
    "loud": M.MS_SILENT,
}
_PROPAGATION: dict[str, int] = {
    "private": M.MS_PRIVATE, "rprivate": M.MS_PRIVATE | M.MS_REC,
    "shared": M.MS_SHARED, "rshared": M.MS_SHARED | M.MS_REC,
    "slave": M.MS_SLAVE, "rslave": M.MS_SLAVE | M.MS_REC,
    "unbindable": M.MS_UNBINDABLE, "runbindable": M.MS_UNBINDABLE | M.MS_REC,
}
_IGNORED = frozenset({"defaults", "auto", "noauto", "nofail", "_netdev", "private-mount"})
# berth's extension for volumes (after runc's tmpcopyup): an empty bind source is first
# filled with what the image has at the destination, as Docker fills a new volume.
COPYUP = "copyup"
_RLIMITS = {name: getattr(resource, name) for name in dir(resource) if name.startswith("RLIMIT_")}

# Flags a read-only or nosuid bind remount must keep, because a bind mount in a user
# namespace cannot drop what the source mount has locked.
REMOUNT_KEEP = M.MS_NOSUID | M.MS_NODEV | M.MS_NOEXEC | M.MS_NOATIME | M.MS_NODIRATIME | M.MS_RELATIME


@dataclass(frozen=True, slots=True)
class MountStep:
    """One mount to make under the rootfs, with flags and data already parsed."""

    destination: str  # absolute path inside the container
    fstype: str
    source: str
    flags: int
    data: str
    propagation: tuple[int, ...] = ()
    bind: bool = False
    copyup: bool = False

    @property
    def needs_remount(self) -> bool:
        """A bind mount ignores flags other than MS_REC; a second call applies them."""
        return self.bind and bool(self.flags & ~(M.MS_BIND | M.MS_REC | M.MS_REMOUNT))


@dataclass(frozen=True, slots=True)
class DeviceNode:
    """A device node to create in the container's /dev."""

    path: str
    kind: str  # c, b, u, p
    major: int
    minor: int
    mode: int
    uid: int
    gid: int


DEFAULT_DEVICES = (
    DeviceNode("/dev/null", "c", 1, 3, 0o666, 0, 0),
    DeviceNode("/dev/zero", "c", 1, 5, 0o666, 0, 0),
    DeviceNode("/dev/full", "c", 1, 7, 0o666, 0, 0),
    DeviceNode("/dev/random", "c", 1, 8, 0o666, 0, 0),
    DeviceNode("/dev/urandom", "c", 1, 9, 0o666, 0, 0),
    DeviceNode("/dev/tty", "c", 5, 0, 0o666, 0, 0),
)


@dataclass(frozen=True, slots=True)
class CapPlan:
    """Capability sets as numbers, ready for capset and prctl."""

    bounding: frozenset[int]
    effective: frozenset[int]
    permitted: frozenset[int]
    inheritable: frozenset[int]
    ambient: frozenset[int]


@dataclass(frozen=True, slots=True)
class ProcessPlan:
    """The container's process, ready for the last steps before execve."""

    args: tuple[str, ...]
    env: tuple[str, ...]
    cwd: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    umask: int | None
    terminal: bool
    console_size: tuple[int, int] | None
    caps: CapPlan | None
    rlimits: tuple[tuple[int, int, int], ...]  # (resource, soft, hard)
    no_new_privileges: bool
    oom_score_adj: int | None

    def env_map(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for item in self.env:
            key, _, value = item.partition("=")
            out[key] = value
        return out


@dataclass(frozen=True, slots=True)
class InitPlan:
    """Everything the container's init carries out, checked and kernel-ready."""

    rootfs: str
    readonly: bool
    root_propagation: int
    set_root_propagation: int  # applied to / after pivot when the spec asks for it
    mounts: tuple[MountStep, ...]
    devices: tuple[DeviceNode, ...]
    masked_paths: tuple[str, ...]
    readonly_paths: tuple[str, ...]
    hostname: str
    domainname: str
    sysctl: tuple[tuple[str, str], ...]
    new_namespaces: int  # CloneFlag bits to unshare
    join_namespaces: tuple[tuple[str, str], ...]  # (type, path), user first
    uid_map: str
    gid_map: str
    cgroup_path: str
    limits: CgroupLimits
    process: ProcessPlan
    has_mount_ns: bool
    new_pid_ns: bool
    hooks: dict[str, tuple[tuple[str, tuple[str, ...], tuple[str, ...], int | None], ...]] = field(
        default_factory=dict
    )
    rootfs_mounts: tuple[Mount, ...] = ()  # mounted onto ``rootfs`` first (a snapshot's overlay)
    bundle: str = ""  # the bundle folder, as hooks are told it
    annotations: dict[str, str] = field(default_factory=dict)


def parse_mount_options(options: tuple[str, ...], where: str) -> tuple[int, str, tuple[int, ...]]:
    """mount(8)-style options → (flags, data, propagation changes)."""
    flags = 0
    data: list[str] = []
    propagation: list[int] = []
    for i, opt in enumerate(options):
        if opt in _SET:
            flags |= _SET[opt]
        elif opt in _CLEAR:
            flags &= ~_CLEAR[opt]
        elif opt in _PROPAGATION:
            propagation.append(int(_PROPAGATION[opt]))
        elif opt in _IGNORED or opt in (COPYUP, "tmpcopyup"):
            continue
        elif opt in ("idmap", "ridmap"):
            raise InvalidSpec(f"{where}.options[{i}]", f"{opt!r}: idmapped mounts are not supported")
        elif opt and "," not in opt:
            data.append(opt)
        else:
            raise InvalidSpec(f"{where}.options[{i}]", f"{opt!r} is not a mount option")
    return flags, ",".join(data), tuple(propagation)


def _mount_step(m: SpecMount, index: int, bundle: str) -> MountStep:
    where = f"mounts[{index}]"
    flags, data, propagation = parse_mount_options(m.options, where)
    fstype = m.type
    bind = m.is_bind
    source = m.source
    if bind:
        flags |= M.MS_BIND
        fstype = "bind"
        if not source:
            raise InvalidSpec(f"{where}.source", "a bind mount needs a source")
        if not os.path.isabs(source):
            source = os.path.join(bundle, source)
        if not os.path.lexists(source):
            raise InvalidSpec(f"{where}.source", f"{m.source}: no such file or directory")
    elif not fstype:
        raise InvalidSpec(f"{where}.type", "required for a mount that is not a bind mount")
    if os.path.normpath(m.destination) == "/":
        raise InvalidSpec(f"{where}.destination", "cannot mount over the container's root")
    copyup = COPYUP in m.options or "tmpcopyup" in m.options
    return MountStep(os.path.normpath(m.destination), fstype, source, flags, data, propagation, bind, copyup)


def _cap_plan(proc: Process) -> CapPlan | None:
    if proc.capabilities is None:
        return None
    top = last_cap()
    sets: dict[str, frozenset[int]] = {}
    for name in CAP_SETS:
        numbers = set()
        for i, cap in enumerate(proc.capabilities.get(name)):
            number = CAP_NUMBERS.get(cap)
            if number is None:
                raise InvalidSpec(f"process.capabilities.{name}[{i}]", f"unknown capability {cap!r}")
            if number <= top:  # a capability this kernel predates is dropped, as runc warns and does
                numbers.add(number)
        sets[name] = frozenset(numbers)
    return CapPlan(**sets)


def _process_plan(proc: Process) -> ProcessPlan:
    rlimits = []
    for i, r in enumerate(proc.rlimits):
        number = _RLIMITS.get(r.type)
        if number is None:
            raise InvalidSpec(f"process.rlimits[{i}].type", f"unknown rlimit {r.type!r}")
        rlimits.append((number, r.soft, r.hard))
    return ProcessPlan(
        args=proc.args,
        env=proc.env,
        cwd=proc.cwd,
        uid=proc.user.uid,
        gid=proc.user.gid,
        groups=proc.user.additional_gids,
        umask=proc.user.umask,
        terminal=proc.terminal,
        console_size=proc.console_size,
        caps=_cap_plan(proc),
        rlimits=tuple(rlimits),
        no_new_privileges=proc.no_new_privileges,
        oom_score_adj=proc.oom_score_adj,
    )


# Devices every container may use, allowed after the spec's own rules (which usually
# start by denying everything): the standard nodes, ptys, and mknod of anything (the
# mount namespace decides what exists).
ALWAYS_ALLOWED_DEVICES = (
    DeviceAccess(True, "c", None, None, "m"),
    DeviceAccess(True, "b", None, None, "m"),
    *(DeviceAccess(True, "c", 1, minor, "rwm") for minor in (3, 5, 7, 8, 9)),
    *(DeviceAccess(True, "c", 5, minor, "rwm") for minor in (0, 1, 2)),
    DeviceAccess(True, "c", 136, None, "rwm"),
    DeviceAccess(True, "c", 10, 200, "rwm"),
)


def _limits(spec: Spec, devices: list[DeviceNode]) -> CgroupLimits:
    res = spec.linux.resources
    if res is None:
        return CgroupLimits()
    rules = tuple(DeviceAccess(d.allow, d.type, d.major, d.minor, d.access) for d in res.devices)
    if rules:
        rules += ALWAYS_ALLOWED_DEVICES + tuple(
            DeviceAccess(True, d.kind if d.kind != "u" else "c", d.major, d.minor, "rwm")
            for d in devices if d.kind in ("c", "b", "u")
        )
    return CgroupLimits(
        memory=res.memory_limit,
        memory_swap=res.memory_swap,
        memory_reservation=res.memory_reservation,
        memory_swappiness=res.memory_swappiness,
        cpu_shares=res.cpu_shares,
        cpu_quota=res.cpu_quota,
        cpu_period=res.cpu_period,
        cpuset_cpus=res.cpuset_cpus,
        cpuset_mems=res.cpuset_mems,
        pids=res.pids_limit,
        devices=rules,
        unified=dict(res.unified),
        memory_kernel=res.memory_kernel,
        memory_kernel_tcp=res.memory_kernel_tcp,
        disable_oom_killer=res.disable_oom_killer,
        cpu_burst=res.cpu_burst,
        cpu_realtime_runtime=res.cpu_realtime_runtime,
        cpu_realtime_period=res.cpu_realtime_period,
        cpu_idle=res.cpu_idle,
        blkio_weight=res.block_io.weight,
        blkio_leaf_weight=res.block_io.leaf_weight,
        blkio_weight_devices=tuple((d.major, d.minor, d.weight, d.leaf_weight) for d in res.block_io.weight_devices),
        blkio_throttles=tuple((key, r.major, r.minor, r.rate) for key, rates in res.block_io.throttles.items()
                              for r in rates),
        hugepages=res.hugepage_limits,
        net_class_id=res.network_class_id,
        net_priorities=res.network_priorities,
        rdma=_rdma(res.rdma),
    )


def _rdma(rdma: dict[str, object]) -> dict[str, dict[str, int]]:
    out = {}
    for device, value in rdma.items():
        if not isinstance(value, dict):
            raise InvalidSpec(f"linux.resources.rdma.{device}", "expected an object")
        limits = {}
        for key, name in (("hcaHandles", "hca_handle"), ("hcaObjects", "hca_object")):
            number = value.get(key)
            if number is not None:
                if not isinstance(number, int) or isinstance(number, bool) or number < 0:
                    raise InvalidSpec(f"linux.resources.rdma.{device}.{key}", "expected a non-negative integer")
                limits[name] = number
        out[device] = limits
    return out


def _id_map(mappings: tuple[object, ...]) -> str:
    return "".join(f"{m.container_id} {m.host_id} {m.size}\n" for m in mappings)  # type: ignore[attr-defined]


def build(spec: Spec, bundle: str, container_id: str) -> InitPlan:
    """Check ``spec`` against this host and turn it into an :class:`InitPlan`."""
    if spec.process is None:
        raise InvalidSpec("process", "required to create a container")
    rootfs = spec.root_path if os.path.isabs(spec.root_path) else os.path.join(bundle, spec.root_path)
    if not os.path.isdir(rootfs):
        raise InvalidSpec("root.path", f"{spec.root_path}: rootfs is not a directory")
    rootfs = os.path.realpath(rootfs)

    new_ns = 0
    joins: list[tuple[str, str]] = []
    for i, ns in enumerate(spec.linux.namespaces):
        if ns.path:
            if not os.path.exists(ns.path):
                raise InvalidSpec(f"linux.namespaces[{i}].path", f"{ns.path}: no such namespace file")
            joins.append((ns.type, ns.path))
        else:
            new_ns |= BITS[ns.type]
    joins.sort(key=lambda j: j[0] != "user")  # joining the user namespace first grants the rights for the rest
    has_mount_ns = spec.linux.namespace("mount") is not None
    if not has_mount_ns:
        raise InvalidSpec("linux.namespaces", "a mount namespace is required (berth never mounts on the host)")
    user_ns = bool(new_ns & CLONE_NEWUSER)
    if user_ns and not spec.linux.uid_mappings:
        raise InvalidSpec("linux.uidMappings", "required with a new user namespace")
    if spec.linux.uid_mappings and not user_ns:
        raise InvalidSpec("linux.uidMappings", "given without a new user namespace")
    if spec.hostname and not (new_ns & CLONE_NEWUTS or spec.linux.namespace("uts")):
        raise InvalidSpec("hostname", "setting a hostname needs a uts namespace")

    mounts = tuple(_mount_step(m, i, bundle) for i, m in enumerate(spec.mounts))
    devices = []
    for i, d in enumerate(spec.linux.devices):
        if d.type in ("c", "b", "u") and d.major < 0:
            raise InvalidSpec(f"linux.devices[{i}].major", "must not be negative")
        devices.append(DeviceNode(d.path, d.type, d.major, d.minor, 0o666 if d.file_mode is None else d.file_mode,
                                  d.uid or 0, d.gid or 0))
    for key in spec.linux.sysctl:
        if "/" in key or ".." in key:
            raise InvalidSpec(f"linux.sysctl.{key}", "not a sysctl name")

    propagation = M.MS_SLAVE | M.MS_REC
    set_root = 0
    if spec.linux.rootfs_propagation:
        set_root = int(_PROPAGATION[spec.linux.rootfs_propagation])
        if spec.linux.rootfs_propagation in ("private", "rprivate"):
            propagation = M.MS_PRIVATE | M.MS_REC

    hooks = {
        kind: tuple((h.path, h.args, h.env, h.timeout) for h in entries) for kind, entries in spec.hooks.items()
    }
    cgroup_path = spec.linux.cgroups_path or f"/berth/{container_id}"
    if ":" in cgroup_path:
        # systemd's slice:prefix:name form; berth drives cgroupfs directly.
        slice_, _, name = cgroup_path.partition(":")
        prefix, _, name = name.partition(":")
        cgroup_path = f"/{slice_}/{prefix}-{name}" if prefix else f"/{slice_}/{name}"
    if not cgroup_path.startswith("/"):
        cgroup_path = "/" + cgroup_path
    if ".." in cgroup_path.split("/"):
        raise InvalidSpec("linux.cgroupsPath", "must not contain '..'")

    return InitPlan(
        rootfs=rootfs,
        readonly=spec.root_readonly,
        root_propagation=int(propagation),
        set_root_propagation=set_root,
        mounts=mounts,
        devices=DEFAULT_DEVICES + tuple(devices),
        masked_paths=spec.linux.masked_paths,
        readonly_paths=spec.linux.readonly_paths,
        hostname=spec.hostname,
        domainname=spec.domainname,
        sysctl=tuple(spec.linux.sysctl.items()),
        new_namespaces=new_ns,
        join_namespaces=tuple(joins),
        uid_map=_id_map(spec.linux.uid_mappings),
        gid_map=_id_map(spec.linux.gid_mappings),
        cgroup_path=cgroup_path,
        limits=_limits(spec, devices),
        process=_process_plan(spec.process),
        has_mount_ns=has_mount_ns,
        new_pid_ns=bool(new_ns & CLONE_NEWPID),
        hooks=hooks,
        bundle=bundle,
        annotations=dict(spec.annotations),
    )


def process_plan(proc: Process) -> ProcessPlan:
    """The plan for an extra process (``exec``) in an existing container."""
    return _process_plan(proc)
