"""cgroup drivers: one :class:`CgroupManager` protocol, a v1 and a v2 implementation.

``open_cgroup(path)`` picks the driver for this host: v2 when /sys/fs/cgroup is the
unified hierarchy, v1 (with each controller's own mount) otherwise.
"""

from __future__ import annotations

import os

from berth.sys.cgroups.api import CgroupLimits, CgroupManager, CgroupStats, DeviceAccess
from berth.sys.cgroups.v1 import CgroupV1Manager
from berth.sys.cgroups.v2 import CgroupV2Manager

__all__ = ["CgroupLimits", "CgroupManager", "CgroupStats", "DeviceAccess", "CgroupV1Manager", "CgroupV2Manager",
           "open_cgroup", "unified", "start_move_grace_period"]

ROOT = "/sys/fs/cgroup"


def unified(root: str = ROOT) -> bool:
    """True when ``root`` is a pure cgroup v2 mount."""
    return os.path.exists(os.path.join(root, "cgroup.controllers"))


def open_cgroup(path: str, root: str = ROOT) -> CgroupManager:
    if unified(root):
        return CgroupV2Manager(path, root)
    return CgroupV1Manager(path)


def start_move_grace_period(root: str = ROOT) -> None:
    """Move this process into the cgroup it is already in, so that a move made in the
    next ~10 ms finds its wait already (partly) done; blocks for that wait.

    Every move between cgroups takes the kernel's cgroup_threadgroup_rwsem for writing,
    which first waits for an RCU grace period (~10 ms measured here) unless the
    semaphore was taken in the last grace period or so. A container's first process
    is moved into its group moments after the command that creates it arrives; the fork
    server (idle then) starts that wait early. Failures are ignored: nothing depends on
    this but speed."""
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
        if unified(root):
            own = next(line.split(":", 2)[2] for line in lines if line.startswith("0::"))
            procs = f"{root}{own.rstrip('/')}/cgroup.procs"
        else:
            from berth.sys.cgroups.v1 import hierarchies

            # Any hierarchy will do: the semaphore is global.
            controller, point = next(iter(hierarchies().items()))
            own = next(line.split(":", 2)[2] for line in lines if controller in line.split(":", 2)[1].split(","))
            procs = f"{point}{own.rstrip('/')}/cgroup.procs"
        fd = os.open(procs, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, b"0")  # 0: the writing process
        finally:
            os.close(fd)
    except (OSError, StopIteration, IndexError):
        pass
