"""cgroup v2: one unified hierarchy; controllers are enabled down the tree."""

from __future__ import annotations

import os
import signal
import time

from berth.errors import InvalidArgument, Unsupported
from berth.sys.cgroups import _files as f
from berth.sys.cgroups.api import CgroupLimits, CgroupStats, refuse

WANTED = ("cpuset", "cpu", "io", "memory", "pids", "hugetlb", "rdma")


def shares_to_weight(shares: int) -> int:
    """cgroup v1 cpu.shares [2, 262144] → v2 cpu.weight [1, 10000], as runc converts."""
    return 1 + ((max(2, min(shares, 262144)) - 2) * 9999) // 262142


def blkio_to_io_weight(weight: int) -> int:
    """cgroup v1 blkio.weight [10, 1000] → v2 io.weight [1, 10000], as runc converts."""
    return 1 + (max(10, min(weight, 1000)) - 10) * 9999 // 990


class CgroupV2Manager:
    def __init__(self, path: str, root: str = "/sys/fs/cgroup") -> None:
        if not path.startswith("/") or ".." in path.split("/"):
            raise InvalidArgument(f"cgroup path {path!r}: must be absolute, without '..'")
        self.path = path
        self.root = root
        self.dir = root + path

    def exists(self) -> bool:
        return os.path.isdir(self.dir)

    def create(self) -> None:
        # Every ancestor must delegate the controllers to its children via
        # cgroup.subtree_control before the leaf can use them.
        available = set(f.read(os.path.join(self.root, "cgroup.controllers")).split())
        enable = " ".join(f"+{c}" for c in WANTED if c in available)
        level = self.root
        for part in [p for p in self.path.split("/") if p]:
            if enable:
                current = set(f.read(os.path.join(level, "cgroup.subtree_control")).split())
                if not {c.lstrip("+") for c in enable.split()} <= current:
                    f.write(os.path.join(level, "cgroup.subtree_control"), enable)
            level = os.path.join(level, part)
            os.makedirs(level, exist_ok=True)

    def apply(self, limits: CgroupLimits) -> None:
        """Write every limit in v2 terms; refuse (naming the spec field) what v2 has no
        file for."""
        d = self.dir
        for setting, given, why in (
            ("memory.kernel", limits.memory_kernel is not None, "cgroup v2 has no kernel memory limit"),
            ("memory.kernelTCP", limits.memory_kernel_tcp is not None, "cgroup v2 has no kernel TCP memory limit"),
            ("memory.disableOOMKiller", limits.disable_oom_killer,
             "cgroup v2 cannot turn the OOM killer off for a group"),
            ("memory.swappiness", limits.memory_swappiness is not None, "cgroup v2 has no per-group swappiness"),
            ("cpu.realtimeRuntime", limits.cpu_realtime_runtime is not None,
             "cgroup v2 has no real-time CPU budget"),
            ("cpu.realtimePeriod", limits.cpu_realtime_period is not None, "cgroup v2 has no real-time CPU budget"),
            ("blockIO.leafWeight", bool(limits.blkio_leaf_weight), "cgroup v2 has no leaf weights"),
            ("network.classID", limits.net_class_id is not None, "cgroup v2 has no net_cls controller"),
            ("network.priorities", bool(limits.net_priorities), "cgroup v2 has no net_prio controller"),
        ):
            if given:
                raise refuse(setting, why)
        if limits.memory is not None:
            self._write("memory.max", "max" if limits.memory < 0 else str(limits.memory), "memory.limit")
        if limits.memory_swap is not None:
            if limits.memory_swap < 0:
                self._write("memory.swap.max", "max", "memory.swap")
            elif limits.memory is not None and limits.memory > 0:
                # v1 counts memory+swap; v2's swap.max is swap alone.
                self._write("memory.swap.max", str(max(0, limits.memory_swap - limits.memory)), "memory.swap")
        if limits.memory_reservation is not None:
            self._write("memory.low", str(limits.memory_reservation), "memory.reservation")
        if limits.cpu_quota is not None or limits.cpu_period:
            quota = "max" if limits.cpu_quota is None or limits.cpu_quota <= 0 else str(limits.cpu_quota)
            self._write("cpu.max", f"{quota} {limits.cpu_period or 100000}", "cpu.quota")
        if limits.cpu_burst is not None:
            self._write("cpu.max.burst", str(limits.cpu_burst), "cpu.burst")
        if limits.cpu_idle is not None:
            self._write("cpu.idle", str(limits.cpu_idle), "cpu.idle")
        if limits.cpu_shares:
            self._write("cpu.weight", str(shares_to_weight(limits.cpu_shares)), "cpu.shares")
        if limits.cpuset_cpus:
            self._write("cpuset.cpus", limits.cpuset_cpus, "cpu.cpus")
        if limits.cpuset_mems:
            self._write("cpuset.mems", limits.cpuset_mems, "cpu.mems")
        if limits.pids is not None:
            self._write("pids.max", str(limits.pids) if limits.pids > 0 else "max", "pids.limit")
        if limits.blkio_weight:
            self._write("io.weight", f"default {blkio_to_io_weight(limits.blkio_weight)}", "blockIO.weight")
        for i, (major, minor, weight, _) in enumerate(limits.blkio_weight_devices):
            if weight:
                self._write("io.weight", f"{major}:{minor} {blkio_to_io_weight(weight)}",
                            f"blockIO.weightDevice[{i}].weight")
        keys = {"throttleReadBpsDevice": "rbps", "throttleWriteBpsDevice": "wbps",
                "throttleReadIOPSDevice": "riops", "throttleWriteIOPSDevice": "wiops"}
        for key, major, minor, rate in limits.blkio_throttles:
            self._write("io.max", f"{major}:{minor} {keys[key]}={rate}", f"blockIO.{key}")
        for i, (size, limit) in enumerate(limits.hugepages):
            if not os.path.exists(f"{d}/hugetlb.{size}.max"):
                raise refuse(f"hugepageLimits[{i}]", f"no hugetlb.{size}.max: the hugetlb controller is not "
                             "enabled here, or this host has no such page size")
            f.write(f"{d}/hugetlb.{size}.max", str(limit))
        for device, values in sorted(limits.rdma.items()):
            parts = [f"{k}={values[k]}" for k in ("hca_handle", "hca_object") if k in values]
            self._write("rdma.max", f"{device} {' '.join(parts)}", "rdma")
        for name, value in sorted(limits.unified.items()):
            if "/" in name or name.startswith("."):
                raise InvalidArgument(f"cgroup v2 file {name!r}: not a plain file name")
            f.write(f"{d}/{name}", value)
        if any(not rule.allow or rule.type != "a" for rule in limits.devices):
            # v2 device control is an eBPF program; berth does not attach one yet, so it
            # relies on the mount namespace's minimal /dev instead.
            pass

    def _write(self, name: str, value: str, setting: str) -> None:
        path = f"{self.dir}/{name}"
        if not os.path.exists(path):
            controller = name.split(".", 1)[0]
            raise refuse(setting, f"no {name}: the {controller} controller is not enabled for this group")
        f.write(path, value)

    def add_process(self, pid: int) -> None:
        f.write(f"{self.dir}/cgroup.procs", str(pid))

    def procs(self) -> list[int]:
        return f.procs(self.dir)

    def freeze(self, frozen: bool) -> None:
        if not os.path.exists(f"{self.dir}/cgroup.freeze"):
            raise Unsupported(f"cgroup {self.path}: this kernel has no cgroup.freeze")
        f.write(f"{self.dir}/cgroup.freeze", "1" if frozen else "0")
        for _ in range(1000):
            if f.read_keyed(f"{self.dir}/cgroup.events").get("frozen", int(frozen)) == int(frozen):
                return
            time.sleep(0.001)

    def oom_kills(self) -> int:
        return f.read_keyed(f"{self.dir}/memory.events").get("oom_kill", 0)

    def stats(self) -> CgroupStats:
        d = self.dir
        cpu = f.read_keyed(f"{d}/cpu.stat")
        return CgroupStats(
            memory_usage=f.read_int(f"{d}/memory.current"),
            memory_limit=f.read_int(f"{d}/memory.max"),
            memory_max_usage=f.read_int(f"{d}/memory.peak"),
            cpu_usage_ns=cpu.get("usage_usec", 0) * 1000,
            pids_current=f.read_int(f"{d}/pids.current"),
            pids_limit=f.read_int(f"{d}/pids.max"),
            oom_kills=self.oom_kills(),
            hugetlb={size: (f.read_int(f"{d}/hugetlb.{size}.current"), f.read_int(f"{d}/hugetlb.{size}.max"),
                            f.read_keyed(f"{d}/hugetlb.{size}.events").get("max", 0))
                     for size in _hugepage_sizes(d)},
        )

    def kill_all(self, sig: int = signal.SIGKILL) -> None:
        if sig == signal.SIGKILL and os.path.exists(f"{self.dir}/cgroup.kill"):
            f.write(f"{self.dir}/cgroup.kill", "1")
            return
        for pid in self.procs():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def destroy(self) -> None:
        f.rmdir(self.dir)

    def prune_parent(self) -> None:
        parent = os.path.dirname(self.path)
        if parent != "/":
            try:
                os.rmdir(self.root + parent)
            except OSError:
                pass  # busy (another container's group is in it) or gone


def _hugepage_sizes(folder: str) -> list[str]:
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return sorted({n.split(".")[1] for n in names if n.startswith("hugetlb.") and n.endswith(".max")
                   and ".rsvd." not in n})
