"""Where one container's files live.

::

    $BERTH_ROOT/containers/<id>/
        config.json        the OCI runtime spec (the bundle)
        rootfs/            mount point of the snapshot (mounted in the container only)
        hosts  resolv.conf  hostname
        shim.json          what the shim needs to run and restart the container
        state.json         written by the shim: status, pid, exit code, health
        <id>-json.log      the log (.1, .2 … after rotation)
    $BERTH_RUN/containers/<id>/
        shim.sock          the shim's control and attach socket
    $BERTH_RUN/runtime/<id>/  the runtime's own state (runc-style)
    /sys/fs/cgroup/*/<cgroup parent>/<id>/   the container's cgroup (see cgroup_parent)
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ContainerPaths:
    root: str
    run_root: str
    id: str

    @property
    def dir(self) -> str:
        return os.path.join(self.root, "containers", self.id)

    @property
    def run_dir(self) -> str:
        return os.path.join(self.run_root, "containers", self.id)

    @property
    def bundle(self) -> str:
        return self.dir

    @property
    def rootfs(self) -> str:
        return os.path.join(self.dir, "rootfs")

    @property
    def hosts(self) -> str:
        return os.path.join(self.dir, "hosts")

    @property
    def resolv_conf(self) -> str:
        return os.path.join(self.dir, "resolv.conf")

    @property
    def hostname(self) -> str:
        return os.path.join(self.dir, "hostname")

    @property
    def shim_config(self) -> str:
        return os.path.join(self.dir, "shim.json")

    @property
    def state(self) -> str:
        return os.path.join(self.dir, "state.json")

    @property
    def log(self) -> str:
        return os.path.join(self.dir, f"{self.id}-json.log")

    @property
    def socket(self) -> str:
        return os.path.join(self.run_dir, "shim.sock")


def runtime_root(run_root: str) -> str:
    return os.path.join(run_root, "runtime")


DEFAULT_ROOT = "/var/lib/berth"


def cgroup_parent(root: str) -> str:
    """The cgroup folder a root's containers (and build steps) go under: ``/berth`` for
    the default root, ``/berth-<12 hex digits of the root's path>`` for any other, so
    two roots on one host never share one (as their network names do not)."""
    real = os.path.realpath(root)
    if real == DEFAULT_ROOT:
        return "/berth"
    return "/berth-" + hashlib.sha256(real.encode()).hexdigest()[:12]
