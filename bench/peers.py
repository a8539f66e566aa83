"""Setting up the peers (Docker, Podman) on this machine, as ../shared/PEERS.md says.

Used by the bench/ scripts; each function returns None when the peer is ready, or a
sentence saying why it was skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
import time

from berth.testing.rootfs import make_busybox_rootfs

CONTAINERS_CONF = """[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
"""


def busybox_tar(folder: str) -> str:
    """The same busybox bytes for every engine."""
    rootfs = make_busybox_rootfs(os.path.join(folder, "rootfs"))
    path = os.path.join(folder, "busybox.tar")
    with tarfile.open(path, "w") as tar:
        tar.add(rootfs, arcname=".")
    return path


def docker_client() -> str | None:
    # Debian's 20.10 client matches the 20.10 daemon; a newer client on PATH works too.
    for candidate in ("/usr/bin/docker", shutil.which("docker")):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def ensure_docker(log: str = "/tmp/berth-bench-dockerd.log") -> str | None:
    client = docker_client()
    if client is None or shutil.which("dockerd") is None:
        return "docker.io is not installed (apt-get install docker.io)"
    if subprocess.run([client, "info"], capture_output=True).returncode == 0:
        return None
    with open(log, "ab") as out:
        subprocess.Popen(["dockerd"], stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True)
    for _ in range(300):
        if subprocess.run([client, "info"], capture_output=True).returncode == 0:
            return None
        time.sleep(0.2)
    return f"dockerd did not start (see {log})"


def ensure_podman() -> str | None:
    if shutil.which("podman") is None:
        return "podman is not installed (apt-get install podman)"
    conf = "/etc/containers/containers.conf"
    if not os.path.exists(conf):
        os.makedirs(os.path.dirname(conf), exist_ok=True)
        with open(conf, "w") as f:
            f.write(CONTAINERS_CONF)
    if subprocess.run(["podman", "info"], capture_output=True).returncode != 0:
        return "podman info fails here"
    return None


def import_image(engine: list[str], tar: str, name: str = "busybox:bench", env: dict[str, str] | None = None) -> None:
    subprocess.run([*engine, "import", tar, name], check=True, capture_output=True, env=env)


def scratch() -> str:
    return tempfile.mkdtemp(prefix="berth-bench-")
