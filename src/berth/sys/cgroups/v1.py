"""cgroup v1: one folder per controller hierarchy, each mounted on its own."""

from __future__ import annotations

import functools
import os
import signal
import time

from berth.errors import InvalidArgument
from berth.sys.cgroups import _files as f
from berth.sys.cgroups.api import CgroupLimits, CgroupStats, refuse

# Controllers a container joins. cpuset and blkio are joined too, so `update` can set
# them later; each costs one mkdir and one write. The last four are joined where they
# are mounted (often they are not: then a limit for one of them is refused).
CONTROLLERS = ("memory", "cpu", "cpuacct", "pids", "freezer", "devices", "cpuset", "blkio",
               "hugetlb", "net_cls", "net_prio", "rdma")


@functools.cache
def hierarchies() -> dict[str, str]:
    """Controller name → mount point of its v1 hierarchy, read from mountinfo."""
    found: dict[str, str] = {}
    with open("/proc/self/mountinfo") as mi:
        for line in mi:
            left, _, right = line.partition(" - ")
            parts = right.split()
            if len(parts) < 3 or parts[0] != "cgroup":
                continue
            point = left.split()[4]
            for option in parts[2].split(","):
                if option in CONTROLLERS and option not in found:
                    found[option] = point
    return found


class CgroupV1Manager:
    def __init__(self, path: str, mounts: dict[str, str] | None = None) -> None:
        if not path.startswith("/") or ".." in path.split("/"):
            raise InvalidArgument(f"cgroup path {path!r}: must be absolute, without '..'")
        self.path = path
        self.mounts = dict(mounts) if mounts is not None else hierarchies()

    def dir(self, controller: str) -> str | None:
        point = self.mounts.get(controller)
        return None if point is None else point + self.path

    def _dirs(self) -> list[tuple[str, str]]:
        seen: set[str] = set()
        out = []
        for controller in CONTROLLERS:
            d = self.dir(controller)
            if d is not None and d not in seen:  # co-mounted controllers share one folder
                seen.add(d)
                out.append((controller, d))
        return out

    def _create(self) -> None:
        for controller, d in self._dirs():
            if controller == "cpuset":
                self._make_cpuset(d)
                continue
            try:
                os.mkdir(d)  # (the parent usually exists: one call, not makedirs' two)
            except FileExistsError:
                pass
            except FileNotFoundError:
                os.makedirs(d, exist_ok=True)

    def _make_cpuset(self, d: str) -> None:
        # A new cpuset group starts with empty cpus/mems and refuses tasks until they
        # are filled, so each new level copies its parent's.
        root = self.mounts["cpuset"]
        level = root
        for part in [p for p in self.path.split("/") if p]:
            parent, level = level, os.path.join(level, part)
            try:
                os.mkdir(level)
            except FileExistsError:
                continue
            for name in ("cpuset.cpus", "cpuset.mems"):
                if not f.read(os.path.join(level, name)):
                    f.write(os.path.join(level, name), f.read(os.path.join(parent, name)))

    def exists(self) -> bool:
        d = self.dir("memory") or self.dir("pids")
        return d is not None and os.path.isdir(d)

    def apply(self, limits: CgroupLimits) -> None:
        """Write every limit; refuse (naming the spec field) any the host cannot apply."""
        if limits.unified:
            raise refuse("unified", "this host has cgroup v1 hierarchies, and unified keys are cgroup v2 files")
        self._apply_memory(limits)
        self._apply_cpu(limits)
        cpuset = self.dir("cpuset")
        if limits.cpuset_cpus or limits.cpuset_mems:
            if not cpuset:
                raise refuse("cpu.cpus", "no cpuset controller is mounted")
            if limits.cpuset_cpus:
                f.write(f"{cpuset}/cpuset.cpus", limits.cpuset_cpus)
            if limits.cpuset_mems:
                f.write(f"{cpuset}/cpuset.mems", limits.cpuset_mems)
        pids = self.dir("pids")
        if limits.pids is not None:
            if not pids:
                raise refuse("pids.limit", "no pids controller is mounted")
            f.write(f"{pids}/pids.max", str(limits.pids) if limits.pids > 0 else "max")
        devices = self.dir("devices")
        if devices and limits.devices:
            for rule in limits.devices:
                f.write(f"{devices}/devices.{'allow' if rule.allow else 'deny'}", rule.rule())
        self._apply_blkio(limits)
        self._apply_hugetlb(limits)
        self._apply_network(limits)
        if limits.rdma:
            rdma = self._need("rdma", "rdma")
            for device, values in sorted(limits.rdma.items()):
                parts = [f"{k}={values[k]}" for k in ("hca_handle", "hca_object") if k in values]
                f.write(f"{rdma}/rdma.max", f"{device} {' '.join(parts)}")

    def _need(self, controller: str, setting: str) -> str:
        d = self.dir(controller)
        if d is None:
            raise refuse(setting, f"no {controller} controller is mounted (cgroup v1)")
        return d

    def _apply_memory(self, limits: CgroupLimits) -> None:
        wanted = (limits.memory, limits.memory_swap, limits.memory_reservation, limits.memory_swappiness,
                  limits.memory_kernel, limits.memory_kernel_tcp)
        if all(v is None for v in wanted) and not limits.disable_oom_killer:
            return
        mem = self._need("memory", "memory")
        if limits.memory is not None:
            f.write(f"{mem}/memory.limit_in_bytes", str(limits.memory))
        if limits.memory_swap is not None:
            if not os.path.exists(f"{mem}/memory.memsw.limit_in_bytes"):
                raise refuse("memory.swap", "the kernel does not account swap (no memory.memsw.limit_in_bytes; "
                             "boot with swapaccount=1)")
            f.write(f"{mem}/memory.memsw.limit_in_bytes", str(limits.memory_swap))
        if limits.memory_reservation is not None:
            f.write(f"{mem}/memory.soft_limit_in_bytes", str(limits.memory_reservation))
        if limits.memory_swappiness is not None:
            if not 0 <= limits.memory_swappiness <= 100:
                raise refuse("memory.swappiness", f"{limits.memory_swappiness} is not between 0 and 100")
            f.write(f"{mem}/memory.swappiness", str(limits.memory_swappiness))
        if limits.memory_kernel is not None:
            self._write_checked(f"{mem}/memory.kmem.limit_in_bytes", limits.memory_kernel, "memory.kernel",
                                "this kernel no longer enforces kernel memory limits (memory.kmem.limit_in_bytes)")
        if limits.memory_kernel_tcp is not None:
            self._write_checked(f"{mem}/memory.kmem.tcp.limit_in_bytes", limits.memory_kernel_tcp,
                                "memory.kernelTCP", "the kernel has no memory.kmem.tcp.limit_in_bytes")
        if limits.disable_oom_killer:
            if not os.path.exists(f"{mem}/memory.oom_control"):
                raise refuse("memory.disableOOMKiller", "the kernel has no memory.oom_control")
            f.write(f"{mem}/memory.oom_control", "1")

    @staticmethod
    def _write_checked(path: str, value: int, setting: str, reason: str) -> None:
        """Write a byte limit and read it back: some kernels accept a write they ignore."""
        if not os.path.exists(path):
            raise refuse(setting, reason)
        f.write(path, str(value))
        if value >= 0 and f.read_int(path, -1) != _page_aligned(value):
            raise refuse(setting, reason)

    def _apply_cpu(self, limits: CgroupLimits) -> None:
        settings = (("shares", limits.cpu_shares, "cpu.shares"), ("period", limits.cpu_period, "cpu.cfs_period_us"),
                    ("quota", limits.cpu_quota, "cpu.cfs_quota_us"), ("burst", limits.cpu_burst, "cpu.cfs_burst_us"),
                    ("realtimePeriod", limits.cpu_realtime_period, "cpu.rt_period_us"),
                    ("realtimeRuntime", limits.cpu_realtime_runtime, "cpu.rt_runtime_us"),
                    ("idle", limits.cpu_idle, "cpu.idle"))
        for key, value, name in settings:
            if value is None or (key in ("shares", "period") and not value):
                continue
            cpu = self._need("cpu", f"cpu.{key}")
            if not os.path.exists(f"{cpu}/{name}"):
                raise refuse(f"cpu.{key}", f"the kernel has no {name}")
            if key == "quota" and value <= 0:
                value = -1
            f.write(f"{cpu}/{name}", str(value))

    def _apply_blkio(self, limits: CgroupLimits) -> None:
        if not (limits.blkio_weight or limits.blkio_leaf_weight or limits.blkio_weight_devices
                or limits.blkio_throttles):
            return
        blkio = self._need("blkio", "blockIO")
        # CFQ's files, or BFQ's where the kernel has BFQ instead (as runc picks them). A
        # BFQ weight only weighs I/O to devices that BFQ schedules, so it is used only
        # when some device (or, per device, that device) has BFQ as its scheduler.
        cfq = os.path.exists(f"{blkio}/blkio.weight")
        weight = "blkio.weight" if cfq else "blkio.bfq.weight"
        weight_device = "blkio.weight_device" if cfq else "blkio.bfq.weight_device"
        if limits.blkio_weight:
            if not os.path.exists(f"{blkio}/{weight}"):
                raise refuse("blockIO.weight", "the kernel's blkio controller has no blkio.weight (nor BFQ's)")
            if not cfq and not _bfq_schedules():
                raise refuse("blockIO.weight", "the kernel has no blkio.weight, and no block device uses the BFQ "
                             "scheduler that blkio.bfq.weight applies to")
            f.write(f"{blkio}/{weight}", str(limits.blkio_weight))
        if limits.blkio_leaf_weight:
            if not os.path.exists(f"{blkio}/blkio.leaf_weight"):
                raise refuse("blockIO.leafWeight", "the kernel's blkio controller has no blkio.leaf_weight")
            f.write(f"{blkio}/blkio.leaf_weight", str(limits.blkio_leaf_weight))
        for i, (major, minor, dev_weight, leaf) in enumerate(limits.blkio_weight_devices):
            if dev_weight:
                if not os.path.exists(f"{blkio}/{weight_device}"):
                    raise refuse(f"blockIO.weightDevice[{i}].weight", "the kernel's blkio controller has no "
                                 "blkio.weight_device (nor BFQ's)")
                if not cfq and not _bfq_schedules(f"/sys/dev/block/{major}:{minor}"):
                    raise refuse(f"blockIO.weightDevice[{i}].weight", f"device {major}:{minor} is not scheduled "
                                 "by BFQ, the only I/O weighting this kernel has")
                self._write_device(f"{blkio}/{weight_device}", f"{major}:{minor} {dev_weight}",
                                   f"blockIO.weightDevice[{i}].weight")
            if leaf:
                if not os.path.exists(f"{blkio}/blkio.leaf_weight_device"):
                    raise refuse(f"blockIO.weightDevice[{i}].leafWeight",
                                 "the kernel's blkio controller has no blkio.leaf_weight_device")
                self._write_device(f"{blkio}/blkio.leaf_weight_device", f"{major}:{minor} {leaf}",
                                   f"blockIO.weightDevice[{i}].leafWeight")
        names = {"throttleReadBpsDevice": "read_bps_device", "throttleWriteBpsDevice": "write_bps_device",
                 "throttleReadIOPSDevice": "read_iops_device", "throttleWriteIOPSDevice": "write_iops_device"}
        for i, (key, major, minor, rate) in enumerate(limits.blkio_throttles):
            path = f"{blkio}/blkio.throttle.{names[key]}"
            if not os.path.exists(path):
                raise refuse(f"blockIO.{key}", f"the kernel has no blkio.throttle.{names[key]}")
            self._write_device(path, f"{major}:{minor} {rate}", f"blockIO.{key}[{i}]")

    @staticmethod
    def _write_device(path: str, value: str, setting: str) -> None:
        try:
            f.write(path, value)
        except OSError as err:
            raise refuse(setting, f"{os.path.basename(path)} refused {value!r} ({os.strerror(err.errno or 0)}: "
                         "no such block device, or its I/O scheduler does not support it)") from err

    def _apply_hugetlb(self, limits: CgroupLimits) -> None:
        if not limits.hugepages:
            return
        hugetlb = self._need("hugetlb", "hugepageLimits")
        for i, (size, limit) in enumerate(limits.hugepages):
            path = f"{hugetlb}/hugetlb.{size}.limit_in_bytes"
            if not os.path.exists(path):
                raise refuse(f"hugepageLimits[{i}].pageSize", f"{size} is not a huge page size of this host "
                             f"({', '.join(hugepage_sizes(hugetlb)) or 'none'})")
            f.write(path, str(limit))

    def _apply_network(self, limits: CgroupLimits) -> None:
        if limits.net_class_id is not None:
            net_cls = self._need("net_cls", "network.classID")
            f.write(f"{net_cls}/net_cls.classid", str(limits.net_class_id))
        if limits.net_priorities:
            net_prio = self._need("net_prio", "network.priorities")
            for name, priority in limits.net_priorities:
                f.write(f"{net_prio}/net_prio.ifpriomap", f"{name} {priority}")

    def add_process(self, pid: int) -> None:
        for _, d in self._dirs():
            f.write(f"{d}/cgroup.procs", str(pid))

    def procs(self) -> list[int]:
        d = self.dir("pids") or self.dir("memory") or self.dir("freezer")
        return f.procs(d) if d else []

    def freeze(self, frozen: bool) -> None:
        d = self.dir("freezer")
        if d is None:
            from berth.errors import Unsupported

            raise Unsupported("cgroup v1: no freezer hierarchy is mounted")
        want = "FROZEN" if frozen else "THAWED"
        for _ in range(1000):
            f.write(f"{d}/freezer.state", want)
            if f.read(f"{d}/freezer.state") == want:
                return
            time.sleep(0.001)

    def oom_kills(self) -> int:
        mem = self.dir("memory")
        return f.read_keyed(f"{mem}/memory.oom_control").get("oom_kill", 0) if mem else 0

    def stats(self) -> CgroupStats:
        mem = self.dir("memory") or ""
        cpuacct = self.dir("cpuacct") or ""
        pids = self.dir("pids") or ""
        hugetlb = self.dir("hugetlb")
        limit = f.read_int(f"{mem}/memory.limit_in_bytes")
        pages = {}
        if hugetlb:
            for size in hugepage_sizes(hugetlb):
                pages[size] = (f.read_int(f"{hugetlb}/hugetlb.{size}.usage_in_bytes"),
                               f.read_int(f"{hugetlb}/hugetlb.{size}.max_usage_in_bytes"),
                               f.read_int(f"{hugetlb}/hugetlb.{size}.failcnt"))
        return CgroupStats(
            memory_usage=f.read_int(f"{mem}/memory.usage_in_bytes"),
            memory_limit=limit,
            memory_max_usage=f.read_int(f"{mem}/memory.max_usage_in_bytes"),
            cpu_usage_ns=f.read_int(f"{cpuacct}/cpuacct.usage"),
            pids_current=f.read_int(f"{pids}/pids.current"),
            pids_limit=f.read_int(f"{pids}/pids.max"),
            oom_kills=self.oom_kills(),
            hugetlb=pages,
        )

    def kill_all(self, sig: int = signal.SIGKILL) -> None:
        frozen = False
        if sig == signal.SIGKILL and self.dir("freezer"):
            # Freeze first so a forking process cannot escape between listing and killing.
            self.freeze(True)
            frozen = True
        try:
            for pid in self.procs():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        finally:
            if frozen:
                self.freeze(False)

    def destroy(self) -> None:
        for _, d in reversed(self._dirs()):
            f.rmdir(d)

    def prune_parent(self) -> None:
        parent = os.path.dirname(self.path)
        if parent == "/":
            return
        for point in sorted(set(self.mounts.values())):
            try:
                os.rmdir(point + parent)
            except OSError:
                continue  # busy (another container's group is in it) or gone

    def create(self) -> None:
        # A parent pruned by another container's removal in the meantime is made again.
        for attempt in range(3):
            try:
                self._create()
                return
            except FileNotFoundError:
                if attempt == 2:
                    raise


def hugepage_sizes(folder: str) -> list[str]:
    """The huge page sizes a hugetlb cgroup folder has files for (``2MB``, ``1GB``)."""
    out = set()
    for name in os.listdir(folder):
        if name.startswith("hugetlb.") and name.endswith(".limit_in_bytes") and ".rsvd." not in name:
            out.add(name.split(".")[1])
    return sorted(out, key=_size_bytes)


def _size_bytes(size: str) -> int:
    units = {"KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}
    return int(size[:-2]) * units.get(size[-2:], 1) if size[:-2].isdigit() else 0


def _page_aligned(value: int) -> int:
    """What the kernel reads back for a byte limit: rounded down to whole pages."""
    page = os.sysconf("SC_PAGE_SIZE")
    return value // page * page


def _bfq_schedules(device: str | None = None) -> bool:
    """Whether BFQ is the I/O scheduler of ``device`` (a /sys/dev/block/M:m folder; a
    partition's is its disk's) or, without one, of any block device."""
    import glob

    if device is None:
        paths = glob.glob("/sys/block/*/queue/scheduler")
    else:
        paths = [f"{device}/queue/scheduler", f"{device}/../queue/scheduler"]
    for path in paths:
        if "[bfq]" in f.read(path):
            return True
    return False
