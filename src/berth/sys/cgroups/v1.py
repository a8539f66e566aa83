"""cgroup v1: one folder per controller hierarchy, each mounted on its own."""

from __future__ import annotations

import functools
import os
import signal
import time

from berth.errors import InvalidArgument
from berth.sys.cgroups import _files as f
from berth.sys.cgroups.api import CgroupLimits, CgroupStats

# Controllers a container joins. cpuset and blkio are joined too, so `update` can set
# them later; each costs one mkdir and one write.
CONTROLLERS = ("memory", "cpu", "cpuacct", "pids", "freezer", "devices", "cpuset", "blkio")


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

    def create(self) -> None:
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
        mem = self.dir("memory")
        if mem:
            if limits.memory is not None:
                f.write(f"{mem}/memory.limit_in_bytes", str(limits.memory))
            if limits.memory_swap is not None and os.path.exists(f"{mem}/memory.memsw.limit_in_bytes"):
                f.write(f"{mem}/memory.memsw.limit_in_bytes", str(limits.memory_swap))
            if limits.memory_reservation is not None:
                f.write(f"{mem}/memory.soft_limit_in_bytes", str(limits.memory_reservation))
            if limits.memory_swappiness is not None and 0 <= limits.memory_swappiness <= 100:
                f.write(f"{mem}/memory.swappiness", str(limits.memory_swappiness))
        cpu = self.dir("cpu")
        if cpu:
            if limits.cpu_shares:
                f.write(f"{cpu}/cpu.shares", str(limits.cpu_shares))
            if limits.cpu_period:
                f.write(f"{cpu}/cpu.cfs_period_us", str(limits.cpu_period))
            if limits.cpu_quota is not None:
                f.write(f"{cpu}/cpu.cfs_quota_us", str(limits.cpu_quota if limits.cpu_quota > 0 else -1))
        cpuset = self.dir("cpuset")
        if cpuset:
            if limits.cpuset_cpus:
                f.write(f"{cpuset}/cpuset.cpus", limits.cpuset_cpus)
            if limits.cpuset_mems:
                f.write(f"{cpuset}/cpuset.mems", limits.cpuset_mems)
        pids = self.dir("pids")
        if pids and limits.pids is not None:
            f.write(f"{pids}/pids.max", str(limits.pids) if limits.pids > 0 else "max")
        devices = self.dir("devices")
        if devices and limits.devices:
            for rule in limits.devices:
                f.write(f"{devices}/devices.{'allow' if rule.allow else 'deny'}", rule.rule())

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
        limit = f.read_int(f"{mem}/memory.limit_in_bytes")
        return CgroupStats(
            memory_usage=f.read_int(f"{mem}/memory.usage_in_bytes"),
            memory_limit=limit,
            memory_max_usage=f.read_int(f"{mem}/memory.max_usage_in_bytes"),
            cpu_usage_ns=f.read_int(f"{cpuacct}/cpuacct.usage"),
            pids_current=f.read_int(f"{pids}/pids.current"),
            pids_limit=f.read_int(f"{pids}/pids.max"),
            oom_kills=self.oom_kills(),
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
