"""cgroup v2: one unified hierarchy; controllers are enabled down the tree."""

from __future__ import annotations

import os
import signal
import time

from berth.errors import InvalidArgument, Unsupported
from berth.sys.cgroups import _files as f
from berth.sys.cgroups.api import CgroupLimits, CgroupStats

WANTED = ("cpuset", "cpu", "io", "memory", "pids")


def shares_to_weight(shares: int) -> int:
    """cgroup v1 cpu.shares [2, 262144] → v2 cpu.weight [1, 10000], as runc converts."""
    return 1 + ((max(2, min(shares, 262144)) - 2) * 9999) // 262142


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
        d = self.dir
        if limits.memory is not None:
            f.write(f"{d}/memory.max", "max" if limits.memory < 0 else str(limits.memory))
        if limits.memory_swap is not None:
            if limits.memory_swap < 0:
                f.write(f"{d}/memory.swap.max", "max")
            elif limits.memory is not None and limits.memory > 0:
                # v1 counts memory+swap; v2's swap.max is swap alone.
                f.write(f"{d}/memory.swap.max", str(max(0, limits.memory_swap - limits.memory)))
        if limits.memory_reservation is not None:
            f.write(f"{d}/memory.low", str(limits.memory_reservation))
        if limits.cpu_quota is not None or limits.cpu_period:
            quota = "max" if limits.cpu_quota is None or limits.cpu_quota <= 0 else str(limits.cpu_quota)
            f.write(f"{d}/cpu.max", f"{quota} {limits.cpu_period or 100000}")
        if limits.cpu_shares:
            f.write(f"{d}/cpu.weight", str(shares_to_weight(limits.cpu_shares)))
        if limits.cpuset_cpus:
            f.write(f"{d}/cpuset.cpus", limits.cpuset_cpus)
        if limits.cpuset_mems:
            f.write(f"{d}/cpuset.mems", limits.cpuset_mems)
        if limits.pids is not None:
            f.write(f"{d}/pids.max", str(limits.pids) if limits.pids > 0 else "max")
        for name, value in sorted(limits.unified.items()):
            if "/" in name or name.startswith("."):
                raise InvalidArgument(f"cgroup v2 file {name!r}: not a plain file name")
            f.write(f"{d}/{name}", value)
        if any(not rule.allow or rule.type != "a" for rule in limits.devices):
            # v2 device control is an eBPF program; berth does not attach one yet, so it
            # relies on the mount namespace's minimal /dev instead.
            pass

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
