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
           "open_cgroup", "unified"]

ROOT = "/sys/fs/cgroup"


def unified(root: str = ROOT) -> bool:
    """True when ``root`` is a pure cgroup v2 mount."""
    return os.path.exists(os.path.join(root, "cgroup.controllers"))


def open_cgroup(path: str, root: str = ROOT) -> CgroupManager:
    if unified(root):
        return CgroupV2Manager(path, root)
    return CgroupV1Manager(path)
