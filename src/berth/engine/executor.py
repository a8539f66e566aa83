"""Running one process to completion on a prepared snapshot: the build system's RUN.

Unlike a container, a step has no shim, no name and no record: the caller (a single
threaded ``berth build``) prepares an active snapshot, asks for a process on it, and
commits or removes the snapshot after. The process gets the same isolation as a
container (namespaces, capabilities, seccomp, cgroup), berth's ``/etc/hosts`` and
``/etc/resolv.conf``, and optional extra mounts (cache, secret and bind mounts of
``RUN --mount``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field

from berth.engine import specgen
from berth.engine.hostfiles import host_resolv_conf
from berth.engine.model import ContainerConfig
from berth.oci.image import ContainerConfig as ImageRunConfig
from berth.oci.mount import Mount
from berth.oci.spec import SpecMount
from berth.runtime.api import ProcessIO
from berth.runtime.linux import LinuxRuntime, become_subreaper


@dataclass(frozen=True, slots=True)
class StepProcess:
    """One process to run: args as given (no image Entrypoint applies)."""

    args: tuple[str, ...]
    env: tuple[str, ...] = ()
    cwd: str = "/"
    user: str = ""  # name[:group] or uid[:gid], resolved in the snapshot's /etc/passwd
    network: str = "none"  # none | host
    mounts: tuple[SpecMount, ...] = field(default=())  # extra: cache, secret, bind
    hostname: str = "buildkitsandbox"


def run_step(runtime_root: str, work_dir: str, rootfs_mounts: Sequence[Mount], proc: StepProcess, *,
             stdout: int | None = None, stderr: int | None = None, stdin: int | None = None,
             cgroup_parent: str = "/berth") -> int:
    """Run ``proc`` on ``rootfs_mounts`` (a snapshot's mounts); its exit status
    (128+N for signal N). ``work_dir`` holds the throwaway bundle and is removed."""
    step_id = "step-" + secrets.token_hex(8)
    bundle = os.path.join(work_dir, step_id)
    os.makedirs(os.path.join(bundle, "rootfs"), mode=0o711)
    try:
        hosts = os.path.join(bundle, "hosts")
        resolv = os.path.join(bundle, "resolv.conf")
        hostname = os.path.join(bundle, "hostname")
        with open(hosts, "w") as f:
            f.write(f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{proc.hostname}\n")
        with open(resolv, "w") as f:
            f.write(host_resolv_conf())
        with open(hostname, "w") as f:
            f.write(proc.hostname + "\n")
        cfg = ContainerConfig(image="", cmd=proc.args, entrypoint=("",), env=proc.env, working_dir=proc.cwd,
                              hostname=proc.hostname, network=proc.network)
        resolved = specgen.Resolved(step_id, os.path.join(bundle, "rootfs"), hosts, resolv, hostname, {}, None,
                                    host_network=proc.network == "host", cgroup_parent=cgroup_parent)
        spec = specgen.generate(cfg, ImageRunConfig(), resolved)
        if proc.mounts:
            from dataclasses import replace

            spec = replace(spec, mounts=spec.mounts + tuple(proc.mounts))
        with open(os.path.join(bundle, "config.json"), "wb") as f:
            f.write(spec.to_bytes())
        runtime = LinuxRuntime(runtime_root)
        become_subreaper()
        io = ProcessIO(stdin=stdin if stdin is not None else os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC),
                       stdout=stdout, stderr=stderr)
        created = runtime.create(step_id, bundle, io, run_mode=True, rootfs_mounts=rootfs_mounts,
                                 user_name=proc.user or None)
        try:
            runtime.start_created(created)
            _, status = os.waitpid(created.pid, 0)
            code = os.waitstatus_to_exitcode(status)
            return code if code >= 0 else 128 - code
        finally:
            with contextlib.suppress(Exception):
                runtime.delete(step_id, force=True)
    finally:
        shutil.rmtree(bundle, ignore_errors=True)
