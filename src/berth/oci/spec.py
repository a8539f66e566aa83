"""The OCI runtime spec (config.json), the parts Docker and Podman use.

``Spec.from_bytes`` validates as it parses and raises :class:`~berth.errors.InvalidSpec`
naming the JSON path of the first bad field (``process.capabilities.bounding[2]``).
Fields berth does not model are kept in ``extra`` so a spec round-trips unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from berth.errors import InvalidSpec
from berth.oci.jsonutil import FieldError, Fields, JSONObject

OCI_VERSION = "1.1.0"

NAMESPACE_TYPES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")


def _spec_error(err: FieldError) -> InvalidSpec:
    return InvalidSpec(err.field, err.reason)


@dataclass(frozen=True, slots=True)
class User:
    """process.user: numeric ids, umask and supplementary groups."""

    uid: int = 0
    gid: int = 0
    umask: int | None = None
    additional_gids: tuple[int, ...] = ()

    @classmethod
    def from_json(cls, f: Fields) -> User:
        gids = f.array("additionalGids")
        for i, g in enumerate(gids):
            if not isinstance(g, int) or isinstance(g, bool) or g < 0:
                raise FieldError(f.doc, f"{f.path('additionalGids')}[{i}]", "expected a non-negative integer")
        uid, gid = f.opt_int("uid", 0) or 0, f.opt_int("gid", 0) or 0
        if uid < 0:
            raise f.error("uid", "must not be negative")
        if gid < 0:
            raise f.error("gid", "must not be negative")
        return cls(uid, gid, f.opt_int("umask"), tuple(gids))

    def to_json(self) -> JSONObject:
        out: JSONObject = {"uid": self.uid, "gid": self.gid}
        if self.umask is not None:
            out["umask"] = self.umask
        if self.additional_gids:
            out["additionalGids"] = list(self.additional_gids)
        return out


CAP_SETS = ("bounding", "effective", "inheritable", "permitted", "ambient")


@dataclass(frozen=True, slots=True)
class Capabilities:
    """process.capabilities: the five sets, as capability names."""

    bounding: tuple[str, ...] = ()
    effective: tuple[str, ...] = ()
    inheritable: tuple[str, ...] = ()
    permitted: tuple[str, ...] = ()
    ambient: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, f: Fields) -> Capabilities:
        sets: dict[str, tuple[str, ...]] = {}
        for name in CAP_SETS:
            values = f.str_list(name) or []
            for i, cap in enumerate(values):
                if not cap.startswith("CAP_") or not cap[4:].replace("_", "").isalnum() or cap.upper() != cap:
                    raise FieldError(f.doc, f"{f.path(name)}[{i}]", f"{cap!r} is not a capability name")
            sets[name] = tuple(values)
        return cls(**sets)

    def to_json(self) -> JSONObject:
        return {name: list(getattr(self, name)) for name in CAP_SETS}

    def get(self, name: str) -> tuple[str, ...]:
        value: tuple[str, ...] = getattr(self, name)
        return value


@dataclass(frozen=True, slots=True)
class Rlimit:
    """One of process.rlimits: an RLIMIT_ name with its hard and soft values."""

    type: str
    hard: int
    soft: int

    @classmethod
    def from_json(cls, f: Fields) -> Rlimit:
        kind = f.req_str("type")
        if not kind.startswith("RLIMIT_"):
            raise f.error("type", f"{kind!r} is not an RLIMIT_ name")
        hard, soft = f.opt_int("hard", required=True), f.opt_int("soft", required=True)
        assert hard is not None and soft is not None
        if soft > hard:
            raise f.error("soft", "must not exceed hard")
        return cls(kind, hard, soft)

    def to_json(self) -> JSONObject:
        return {"type": self.type, "hard": self.hard, "soft": self.soft}


@dataclass(frozen=True, slots=True)
class Process:
    """process: what runs in the container, as whom, with which limits and privileges."""

    args: tuple[str, ...]
    cwd: str = "/"
    env: tuple[str, ...] = ()
    user: User = field(default_factory=User)
    terminal: bool = False
    console_size: tuple[int, int] | None = None  # (height, width)
    capabilities: Capabilities | None = None
    rlimits: tuple[Rlimit, ...] = ()
    no_new_privileges: bool = False
    oom_score_adj: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _KNOWN = frozenset(
        {"args", "cwd", "env", "user", "terminal", "consoleSize", "capabilities", "rlimits",
         "noNewPrivileges", "oomScoreAdj"}
    )

    @classmethod
    def from_json(cls, f: Fields) -> Process:
        args = f.str_list("args", required=True) or []
        if not args:
            raise f.error("args", "must name a program to run")
        cwd = f.opt_str("cwd", "/") or "/"
        if not cwd.startswith("/"):
            raise f.error("cwd", "must be an absolute path")
        env = f.str_list("env") or []
        for i, item in enumerate(env):
            if "=" not in item:
                raise FieldError(f.doc, f"{f.path('env')}[{i}]", f"{item!r} is not KEY=VALUE")
        user = f.obj_or_none("user")
        console = f.obj_or_none("consoleSize")
        caps = f.obj_or_none("capabilities")
        oom = f.opt_int("oomScoreAdj")
        if oom is not None and not -1000 <= oom <= 1000:
            raise f.error("oomScoreAdj", "must be between -1000 and 1000")
        size = None
        if console is not None:
            size = (console.opt_int("height", 0) or 0, console.opt_int("width", 0) or 0)
        return cls(
            args=tuple(args),
            cwd=cwd,
            env=tuple(env),
            user=User.from_json(user) if user else User(),
            terminal=f.flag("terminal"),
            console_size=size,
            capabilities=Capabilities.from_json(caps) if caps else None,
            rlimits=tuple(Rlimit.from_json(r) for r in f.objects("rlimits")),
            no_new_privileges=f.flag("noNewPrivileges"),
            oom_score_adj=oom,
            extra=f.extra(cls._KNOWN),
        )

    def to_json(self) -> JSONObject:
        out: JSONObject = dict(self.extra)
        out.update({"terminal": self.terminal, "user": self.user.to_json(), "args": list(self.args),
                    "env": list(self.env), "cwd": self.cwd})
        if self.console_size:
            out["consoleSize"] = {"height": self.console_size[0], "width": self.console_size[1]}
        if self.capabilities is not None:
            out["capabilities"] = self.capabilities.to_json()
        if self.rlimits:
            out["rlimits"] = [r.to_json() for r in self.rlimits]
        out["noNewPrivileges"] = self.no_new_privileges
        if self.oom_score_adj is not None:
            out["oomScoreAdj"] = self.oom_score_adj
        return out


@dataclass(frozen=True, slots=True)
class SpecMount:
    """One of mounts: a destination inside the container and how to mount it."""

    destination: str
    type: str = ""
    source: str = ""
    options: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, f: Fields) -> SpecMount:
        dest = f.req_str("destination")
        if not dest.startswith("/"):
            raise f.error("destination", f"{dest!r} must be an absolute path")
        return cls(dest, f.opt_str("type", "") or "", f.opt_str("source", "") or "", tuple(f.str_list("options") or ()))

    def to_json(self) -> JSONObject:
        out: JSONObject = {"destination": self.destination}
        if self.type:
            out["type"] = self.type
        if self.source:
            out["source"] = self.source
        if self.options:
            out["options"] = list(self.options)
        return out

    @property
    def is_bind(self) -> bool:
        return self.type == "bind" or "bind" in self.options or "rbind" in self.options


@dataclass(frozen=True, slots=True)
class Namespace:
    """One of linux.namespaces: a type, and a path when joining an existing one."""

    type: str
    path: str = ""

    @classmethod
    def from_json(cls, f: Fields) -> Namespace:
        kind = f.req_str("type")
        if kind not in NAMESPACE_TYPES:
            raise f.error("type", f"unknown namespace type {kind!r} (expected one of {', '.join(NAMESPACE_TYPES)})")
        path = f.opt_str("path", "") or ""
        if path and not path.startswith("/"):
            raise f.error("path", "must be an absolute path")
        return cls(kind, path)

    def to_json(self) -> JSONObject:
        return {"type": self.type, "path": self.path} if self.path else {"type": self.type}


@dataclass(frozen=True, slots=True)
class IDMapping:
    """One of linux.uidMappings/gidMappings: a range of container ids on host ids."""

    container_id: int
    host_id: int
    size: int

    @classmethod
    def from_json(cls, f: Fields) -> IDMapping:
        values = [f.opt_int(k, required=True) for k in ("containerID", "hostID", "size")]
        c, h, s = (v if v is not None else 0 for v in values)
        if s <= 0:
            raise f.error("size", "must be positive")
        return cls(c, h, s)

    def to_json(self) -> JSONObject:
        return {"containerID": self.container_id, "hostID": self.host_id, "size": self.size}


@dataclass(frozen=True, slots=True)
class Device:
    """One of linux.devices: a node to create in the container's /dev."""

    type: str
    path: str
    major: int = 0
    minor: int = 0
    file_mode: int | None = None
    uid: int | None = None
    gid: int | None = None

    @classmethod
    def from_json(cls, f: Fields) -> Device:
        kind = f.req_str("type")
        if kind not in ("c", "b", "u", "p"):
            raise f.error("type", f"{kind!r} is not a device type (c, b, u or p)")
        path = f.req_str("path")
        if not path.startswith("/dev/"):
            raise f.error("path", "must be under /dev")
        return cls(kind, path, f.opt_int("major", 0) or 0, f.opt_int("minor", 0) or 0, f.opt_int("fileMode"), f.opt_int("uid"),
                   f.opt_int("gid"))

    def to_json(self) -> JSONObject:
        out: JSONObject = {"type": self.type, "path": self.path, "major": self.major, "minor": self.minor}
        for key, value in (("fileMode", self.file_mode), ("uid", self.uid), ("gid", self.gid)):
            if value is not None:
                out[key] = value
        return out


@dataclass(frozen=True, slots=True)
class DeviceRule:
    """One of linux.resources.devices: an allow or deny rule of the device cgroup."""

    allow: bool
    type: str = "a"
    major: int | None = None
    minor: int | None = None
    access: str = "rwm"

    @classmethod
    def from_json(cls, f: Fields) -> DeviceRule:
        kind = f.opt_str("type", "a") or "a"
        if kind not in ("a", "c", "b"):
            raise f.error("type", f"{kind!r} is not a, c or b")
        access = f.opt_str("access", "rwm") or "rwm"
        if set(access) - set("rwm"):
            raise f.error("access", f"{access!r} must be made of r, w and m")
        allow = f.raw("allow")
        if not isinstance(allow, bool):
            raise f.error("allow", "required boolean")
        return cls(allow, kind, f.opt_int("major"), f.opt_int("minor"), access)

    def to_json(self) -> JSONObject:
        out: JSONObject = {"allow": self.allow, "type": self.type, "access": self.access}
        if self.major is not None:
            out["major"] = self.major
        if self.minor is not None:
            out["minor"] = self.minor
        return out


@dataclass(frozen=True, slots=True)
class DeviceWeight:
    """One of linux.resources.blockIO.weightDevice: a block device's weight."""

    major: int
    minor: int
    weight: int | None = None
    leaf_weight: int | None = None

    def to_json(self) -> JSONObject:
        out: JSONObject = {"major": self.major, "minor": self.minor}
        if self.weight is not None:
            out["weight"] = self.weight
        if self.leaf_weight is not None:
            out["leafWeight"] = self.leaf_weight
        return out


@dataclass(frozen=True, slots=True)
class DeviceRate:
    """One of linux.resources.blockIO.throttle*Device: a block device's rate limit."""

    major: int
    minor: int
    rate: int

    def to_json(self) -> JSONObject:
        return {"major": self.major, "minor": self.minor, "rate": self.rate}


THROTTLES = ("throttleReadBpsDevice", "throttleWriteBpsDevice", "throttleReadIOPSDevice", "throttleWriteIOPSDevice")


@dataclass(frozen=True, slots=True)
class BlockIO:
    """linux.resources.blockIO: weights and throttles of the blkio (v1) / io (v2) controller."""

    weight: int | None = None
    leaf_weight: int | None = None
    weight_devices: tuple[DeviceWeight, ...] = ()
    throttles: dict[str, tuple[DeviceRate, ...]] = field(default_factory=dict)  # THROTTLES key → rates

    @classmethod
    def from_json(cls, f: Fields) -> BlockIO:
        weight, leaf = f.opt_int("weight"), f.opt_int("leafWeight")
        for key, value in (("weight", weight), ("leafWeight", leaf)):
            if value is not None and not 0 <= value <= 1000:
                raise f.error(key, "must be between 10 and 1000 (0: not set)")
        devices = []
        for d in f.objects("weightDevice"):
            devices.append(DeviceWeight(_device_number(d, "major"), _device_number(d, "minor"), d.opt_int("weight"),
                                        d.opt_int("leafWeight")))
        throttles = {}
        for key in THROTTLES:
            rates = tuple(DeviceRate(_device_number(d, "major"), _device_number(d, "minor"), _device_number(d, "rate"))
                          for d in f.objects(key))
            if rates:
                throttles[key] = rates
        return cls(weight or None, leaf or None, tuple(devices), throttles)

    def to_json(self) -> JSONObject:
        out: JSONObject = {}
        if self.weight is not None:
            out["weight"] = self.weight
        if self.leaf_weight is not None:
            out["leafWeight"] = self.leaf_weight
        if self.weight_devices:
            out["weightDevice"] = [d.to_json() for d in self.weight_devices]
        for key, rates in self.throttles.items():
            out[key] = [r.to_json() for r in rates]
        return out

    def __bool__(self) -> bool:
        return bool(self.weight or self.leaf_weight or self.weight_devices or self.throttles)


def _device_number(f: Fields, key: str) -> int:
    value = f.opt_int(key, required=True)
    assert value is not None
    if value < 0:
        raise f.error(key, "must not be negative")
    return value


@dataclass(frozen=True, slots=True)
class Resources:
    """linux.resources: the cgroup limits (memory, cpu, pids, devices, block I/O, huge
    pages, network classes, rdma, v2 files). Keys berth does not know stay in ``extra``
    (and the runtime refuses a spec that sets one: it cannot apply what it ignores)."""

    memory_limit: int | None = None
    memory_reservation: int | None = None
    memory_swap: int | None = None  # memory + swap, as the spec and cgroup v1 count it
    memory_swappiness: int | None = None
    memory_kernel: int | None = None
    memory_kernel_tcp: int | None = None
    disable_oom_killer: bool = False
    cpu_shares: int | None = None
    cpu_quota: int | None = None
    cpu_period: int | None = None
    cpu_burst: int | None = None
    cpu_realtime_runtime: int | None = None
    cpu_realtime_period: int | None = None
    cpu_idle: int | None = None
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    pids_limit: int | None = None
    devices: tuple[DeviceRule, ...] = ()
    block_io: BlockIO = field(default_factory=BlockIO)
    hugepage_limits: tuple[tuple[str, int], ...] = ()  # (pageSize such as "2MB", limit in bytes)
    network_class_id: int | None = None
    network_priorities: tuple[tuple[str, int], ...] = ()  # (interface, priority)
    rdma: dict[str, Any] = field(default_factory=dict)
    unified: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    memory_extra: dict[str, Any] = field(default_factory=dict)  # useHierarchy, checkBeforeUpdate: kept, not applied
    cpu_extra: dict[str, Any] = field(default_factory=dict)

    _MEMORY = (("limit", "memory_limit"), ("reservation", "memory_reservation"), ("swap", "memory_swap"),
               ("swappiness", "memory_swappiness"), ("kernel", "memory_kernel"), ("kernelTCP", "memory_kernel_tcp"))
    _CPU = (("shares", "cpu_shares"), ("quota", "cpu_quota"), ("period", "cpu_period"), ("burst", "cpu_burst"),
            ("realtimeRuntime", "cpu_realtime_runtime"), ("realtimePeriod", "cpu_realtime_period"),
            ("idle", "cpu_idle"))

    @classmethod
    def from_json(cls, f: Fields) -> Resources:
        mem = f.obj_or_none("memory")
        cpu = f.obj_or_none("cpu")
        pids = f.obj_or_none("pids")
        kwargs: dict[str, Any] = {}
        if mem:
            for key, name in cls._MEMORY:
                value = mem.opt_int(key)
                if value is not None and value < -1:
                    raise mem.error(key, "must be -1 (unlimited) or a positive number")
                kwargs[name] = value
            if kwargs["memory_swappiness"] is not None and not 0 <= kwargs["memory_swappiness"] <= 100:
                raise mem.error("swappiness", "must be between 0 and 100")
            kwargs["disable_oom_killer"] = mem.flag("disableOOMKiller")
            limit, swap = kwargs.get("memory_limit"), kwargs.get("memory_swap")
            if limit and swap and limit > 0 and 0 < swap < limit:
                raise mem.error("swap", "must not be less than memory.limit (it counts memory plus swap)")
            kwargs["memory_extra"] = mem.extra({k for k, _ in cls._MEMORY} | {"disableOOMKiller"})
        if cpu:
            for key, name in cls._CPU:
                kwargs[name] = cpu.opt_int(key)
            kwargs["cpuset_cpus"] = cpu.opt_str("cpus", "") or ""
            kwargs["cpuset_mems"] = cpu.opt_str("mems", "") or ""
            if kwargs["cpu_period"] is not None and kwargs["cpu_period"] <= 0:
                raise cpu.error("period", "must be positive")
            kwargs["cpu_extra"] = cpu.extra({k for k, _ in cls._CPU} | {"cpus", "mems"})
        if pids:
            kwargs["pids_limit"] = pids.opt_int("limit", required=True)
        kwargs["devices"] = tuple(DeviceRule.from_json(d) for d in f.objects("devices"))
        block_io = f.obj_or_none("blockIO")
        if block_io:
            kwargs["block_io"] = BlockIO.from_json(block_io)
        pages = []
        for i, h in enumerate(f.objects("hugepageLimits")):
            size = h.req_str("pageSize")
            limit = h.opt_int("limit", required=True)
            assert limit is not None
            if not size or not size[:-2].isdigit() or size[-2:] not in ("KB", "MB", "GB"):
                raise FieldError(f.doc, f"{f.path('hugepageLimits')}[{i}].pageSize",
                                 f"{size!r} is not a page size such as 2MB or 1GB")
            pages.append((size, limit))
        kwargs["hugepage_limits"] = tuple(pages)
        network = f.obj_or_none("network")
        if network:
            kwargs["network_class_id"] = network.opt_int("classID")
            kwargs["network_priorities"] = tuple((p.req_str("name"), p.opt_int("priority", 0) or 0)
                                                 for p in network.objects("priorities"))
        rdma = f.raw("rdma")
        if rdma is not None:
            if not isinstance(rdma, dict):
                raise f.error("rdma", "expected an object")
            kwargs["rdma"] = dict(rdma)
        kwargs["unified"] = f.str_map("unified")
        kwargs["extra"] = f.extra({"memory", "cpu", "pids", "devices", "unified", "blockIO", "hugepageLimits",
                                   "network", "rdma"})
        return cls(**kwargs)

    def to_json(self) -> JSONObject:
        out: JSONObject = dict(self.extra)
        mem: JSONObject = dict(self.memory_extra)
        for key, name in self._MEMORY:
            value = getattr(self, name)
            if value is not None:
                mem[key] = value
        if self.disable_oom_killer:
            mem["disableOOMKiller"] = True
        if mem:
            out["memory"] = mem
        cpu: JSONObject = dict(self.cpu_extra)
        for key, name in self._CPU:
            value = getattr(self, name)
            if value is not None:
                cpu[key] = value
        if self.cpuset_cpus:
            cpu["cpus"] = self.cpuset_cpus
        if self.cpuset_mems:
            cpu["mems"] = self.cpuset_mems
        if cpu:
            out["cpu"] = cpu
        if self.pids_limit is not None:
            out["pids"] = {"limit": self.pids_limit}
        if self.devices:
            out["devices"] = [d.to_json() for d in self.devices]
        if self.block_io:
            out["blockIO"] = self.block_io.to_json()
        if self.hugepage_limits:
            out["hugepageLimits"] = [{"pageSize": size, "limit": limit} for size, limit in self.hugepage_limits]
        if self.network_class_id is not None or self.network_priorities:
            net: JSONObject = {}
            if self.network_class_id is not None:
                net["classID"] = self.network_class_id
            if self.network_priorities:
                net["priorities"] = [{"name": n, "priority": p} for n, p in self.network_priorities]
            out["network"] = net
        if self.rdma:
            out["rdma"] = dict(self.rdma)
        if self.unified:
            out["unified"] = dict(self.unified)
        return out


SECCOMP_ACTIONS = (
    "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY",
)
SECCOMP_OPS = ("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
               "SCMP_CMP_MASKED_EQ")


@dataclass(frozen=True, slots=True)
class SeccompArg:
    """A syscall argument comparison in a seccomp rule."""

    index: int
    value: int
    op: str
    value_two: int = 0

    @classmethod
    def from_json(cls, f: Fields) -> SeccompArg:
        index = f.opt_int("index", required=True)
        assert index is not None
        if not 0 <= index <= 5:
            raise f.error("index", "must be between 0 and 5")
        op = f.req_str("op")
        if op not in SECCOMP_OPS:
            raise f.error("op", f"unknown comparison {op!r}")
        return cls(index, f.opt_int("value", required=True) or 0, op, f.opt_int("valueTwo", 0) or 0)

    def to_json(self) -> JSONObject:
        out: JSONObject = {"index": self.index, "value": self.value, "op": self.op}
        if self.value_two:
            out["valueTwo"] = self.value_two
        return out


@dataclass(frozen=True, slots=True)
class SeccompRule:
    """One of linux.seccomp.syscalls: an action for some syscalls (and arguments)."""

    names: tuple[str, ...]
    action: str
    errno_ret: int | None = None
    args: tuple[SeccompArg, ...] = ()

    @classmethod
    def from_json(cls, f: Fields) -> SeccompRule:
        names = f.str_list("names", required=True) or []
        action = f.req_str("action")
        if action not in SECCOMP_ACTIONS:
            raise f.error("action", f"unknown seccomp action {action!r}")
        return cls(tuple(names), action, f.opt_int("errnoRet"), tuple(SeccompArg.from_json(a) for a in f.objects("args")))

    def to_json(self) -> JSONObject:
        out: JSONObject = {"names": list(self.names), "action": self.action}
        if self.errno_ret is not None:
            out["errnoRet"] = self.errno_ret
        if self.args:
            out["args"] = [a.to_json() for a in self.args]
        return out


@dataclass(frozen=True, slots=True)
class Seccomp:
    """linux.seccomp: the default action, architectures, flags and rules."""

    default_action: str
    default_errno_ret: int | None = None
    architectures: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    syscalls: tuple[SeccompRule, ...] = ()

    @classmethod
    def from_json(cls, f: Fields) -> Seccomp:
        default = f.req_str("defaultAction")
        if default not in SECCOMP_ACTIONS:
            raise f.error("defaultAction", f"unknown seccomp action {default!r}")
        return cls(default, f.opt_int("defaultErrnoRet"), tuple(f.str_list("architectures") or ()),
                   tuple(f.str_list("flags") or ()), tuple(SeccompRule.from_json(r) for r in f.objects("syscalls")))

    def to_json(self) -> JSONObject:
        out: JSONObject = {"defaultAction": self.default_action}
        if self.default_errno_ret is not None:
            out["defaultErrnoRet"] = self.default_errno_ret
        if self.architectures:
            out["architectures"] = list(self.architectures)
        if self.flags:
            out["flags"] = list(self.flags)
        out["syscalls"] = [r.to_json() for r in self.syscalls]
        return out

    def canonical_bytes(self) -> bytes:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Linux:
    """linux: namespaces, id mappings, devices, cgroup, masked paths, seccomp, sysctl."""

    namespaces: tuple[Namespace, ...] = ()
    uid_mappings: tuple[IDMapping, ...] = ()
    gid_mappings: tuple[IDMapping, ...] = ()
    devices: tuple[Device, ...] = ()
    cgroups_path: str = ""
    resources: Resources | None = None
    rootfs_propagation: str = ""
    masked_paths: tuple[str, ...] = ()
    readonly_paths: tuple[str, ...] = ()
    seccomp: Seccomp | None = None
    sysctl: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    _KNOWN = frozenset({"namespaces", "uidMappings", "gidMappings", "devices", "cgroupsPath", "resources",
                        "rootfsPropagation", "maskedPaths", "readonlyPaths", "seccomp", "sysctl"})

    @classmethod
    def from_json(cls, f: Fields) -> Linux:
        namespaces = tuple(Namespace.from_json(n) for n in f.objects("namespaces"))
        seen: set[str] = set()
        for i, ns in enumerate(namespaces):
            if ns.type in seen:
                raise FieldError(f.doc, f"{f.path('namespaces')}[{i}].type", f"namespace {ns.type!r} listed twice")
            seen.add(ns.type)
        propagation = f.opt_str("rootfsPropagation", "") or ""
        if propagation not in ("", "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable",
                               "runbindable"):
            raise f.error("rootfsPropagation", f"unknown propagation {propagation!r}")
        resources = f.obj_or_none("resources")
        seccomp = f.obj_or_none("seccomp")
        return cls(
            namespaces=namespaces,
            uid_mappings=tuple(IDMapping.from_json(m) for m in f.objects("uidMappings")),
            gid_mappings=tuple(IDMapping.from_json(m) for m in f.objects("gidMappings")),
            devices=tuple(Device.from_json(d) for d in f.objects("devices")),
            cgroups_path=f.opt_str("cgroupsPath", "") or "",
            resources=Resources.from_json(resources) if resources else None,
            rootfs_propagation=propagation,
            masked_paths=tuple(f.str_list("maskedPaths") or ()),
            readonly_paths=tuple(f.str_list("readonlyPaths") or ()),
            seccomp=Seccomp.from_json(seccomp) if seccomp else None,
            sysctl=f.str_map("sysctl"),
            extra=f.extra(cls._KNOWN),
        )

    def to_json(self) -> JSONObject:
        out: JSONObject = dict(self.extra)
        out["namespaces"] = [n.to_json() for n in self.namespaces]
        if self.uid_mappings:
            out["uidMappings"] = [m.to_json() for m in self.uid_mappings]
        if self.gid_mappings:
            out["gidMappings"] = [m.to_json() for m in self.gid_mappings]
        if self.devices:
            out["devices"] = [d.to_json() for d in self.devices]
        if self.cgroups_path:
            out["cgroupsPath"] = self.cgroups_path
        if self.resources is not None:
            out["resources"] = self.resources.to_json()
        if self.rootfs_propagation:
            out["rootfsPropagation"] = self.rootfs_propagation
        if self.masked_paths:
            out["maskedPaths"] = list(self.masked_paths)
        if self.readonly_paths:
            out["readonlyPaths"] = list(self.readonly_paths)
        if self.seccomp is not None:
            out["seccomp"] = self.seccomp.to_json()
        if self.sysctl:
            out["sysctl"] = dict(self.sysctl)
        return out

    def namespace(self, kind: str) -> Namespace | None:
        for ns in self.namespaces:
            if ns.type == kind:
                return ns
        return None


@dataclass(frozen=True, slots=True)
class Hook:
    """One of hooks.<kind>: a program the runtime runs at that point of the lifecycle."""

    path: str
    args: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    timeout: int | None = None

    @classmethod
    def from_json(cls, f: Fields) -> Hook:
        path = f.req_str("path")
        if not path.startswith("/"):
            raise f.error("path", "must be an absolute path")
        return cls(path, tuple(f.str_list("args") or ()), tuple(f.str_list("env") or ()), f.opt_int("timeout"))

    def to_json(self) -> JSONObject:
        out: JSONObject = {"path": self.path}
        if self.args:
            out["args"] = list(self.args)
        if self.env:
            out["env"] = list(self.env)
        if self.timeout is not None:
            out["timeout"] = self.timeout
        return out


HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


@dataclass(frozen=True, slots=True)
class Spec:
    """A whole config.json."""

    process: Process | None
    root_path: str
    root_readonly: bool = False
    hostname: str = ""
    domainname: str = ""
    mounts: tuple[SpecMount, ...] = ()
    linux: Linux = field(default_factory=Linux)
    hooks: dict[str, tuple[Hook, ...]] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    oci_version: str = OCI_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    _KNOWN = frozenset({"ociVersion", "process", "root", "hostname", "domainname", "mounts", "linux", "hooks",
                        "annotations"})

    @classmethod
    def from_bytes(cls, data: bytes | str) -> Spec:
        try:
            value = json.loads(data)
        except (ValueError, UnicodeDecodeError) as err:
            raise InvalidSpec("", f"invalid JSON: {err}") from err
        try:
            return cls.from_json(value)
        except FieldError as err:
            raise _spec_error(err) from err

    @classmethod
    def from_json(cls, value: Any) -> Spec:
        f = Fields(value, "config.json")
        version = f.opt_str("ociVersion")
        if not version:
            raise f.error("ociVersion", "required")
        root = f.obj_or_none("root")
        if root is None:
            raise f.error("root", "required")
        root_path = root.req_str("path")
        process = f.obj_or_none("process")
        linux = f.obj_or_none("linux")
        hooks_obj = f.obj_or_none("hooks")
        hooks: dict[str, tuple[Hook, ...]] = {}
        if hooks_obj:
            for kind in HOOK_KINDS:
                entries = tuple(Hook.from_json(h) for h in hooks_obj.objects(kind))
                if entries:
                    hooks[kind] = entries
        return cls(
            process=Process.from_json(process) if process else None,
            root_path=root_path,
            root_readonly=root.flag("readonly"),
            hostname=f.opt_str("hostname", "") or "",
            domainname=f.opt_str("domainname", "") or "",
            mounts=tuple(SpecMount.from_json(m) for m in f.objects("mounts")),
            linux=Linux.from_json(linux) if linux else Linux(),
            hooks=hooks,
            annotations=f.str_map("annotations"),
            oci_version=version,
            extra=f.extra(cls._KNOWN),
        )

    def to_json(self) -> JSONObject:
        out: JSONObject = {"ociVersion": self.oci_version}
        if self.process is not None:
            out["process"] = self.process.to_json()
        out["root"] = {"path": self.root_path, "readonly": self.root_readonly}
        if self.hostname:
            out["hostname"] = self.hostname
        if self.domainname:
            out["domainname"] = self.domainname
        out["mounts"] = [m.to_json() for m in self.mounts]
        if self.hooks:
            out["hooks"] = {k: [h.to_json() for h in v] for k, v in self.hooks.items()}
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        out["linux"] = self.linux.to_json()
        out.update(self.extra)
        return out

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json(), indent="\t").encode() + b"\n"

    def with_process(self, process: Process) -> Spec:
        return replace(self, process=process)
