"""Integration tests run as root on real namespaces, mounts and cgroups.

``no_leaks`` runs around every test here: whatever mounts, cgroups, network links and
processes a test made must be gone when it ends.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

CGROUP_ROOT = "/sys/fs/cgroup"


def _mounts() -> set[str]:
    with open("/proc/self/mountinfo") as f:
        return {line.split()[4] for line in f}


def _cgroups() -> set[str]:
    """berth's cgroup folders: each root's parent (``berth`` for the default root,
    ``berth-<hash>`` for another, ``berth-test`` for the runtime's tests) and the
    groups in it, in every hierarchy. A parent a test made must be gone after it too."""
    found = set()
    if not os.path.isdir(CGROUP_ROOT):
        return found
    for hierarchy in os.listdir(CGROUP_ROOT):
        base = os.path.join(CGROUP_ROOT, hierarchy)
        try:
            tops = [t for t in os.listdir(base) if t.startswith("berth")]
        except OSError:
            continue
        for top in tops:
            top_dir = os.path.join(base, top)
            if os.path.isdir(top_dir):
                found.add(top_dir)
                for name in os.listdir(top_dir):
                    if os.path.isdir(os.path.join(top_dir, name)):
                        found.add(os.path.join(top_dir, name))
    return found


def _links() -> set[str]:
    return set(os.listdir("/sys/class/net"))


def _processes_mentioning(marker: str) -> list[str]:
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{pid}/environ", "rb") as f:
                environ = f.read()
            with open(f"/proc/{pid}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if state == b"Z":
            continue
        if marker.encode() in cmdline or marker.encode() in environ:
            text = cmdline.replace(b"\0", b" ").decode(errors="replace")
            out.append(f"{pid}: {text}")
    return out


@pytest.fixture(autouse=True)
def no_leaks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    mounts, cgroups, links = _mounts(), _cgroups(), _links()
    marker = str(tmp_path_factory.getbasetemp())
    yield
    deadline = time.monotonic() + 5
    while True:
        leaked = {
            "mounts": sorted(_mounts() - mounts),
            "cgroups": sorted(_cgroups() - cgroups),
            "links": sorted(_links() - links),
            "processes": _processes_mentioning(marker),
        }
        if not any(leaked.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not any(leaked.values()), f"test left things behind: {leaked}"
