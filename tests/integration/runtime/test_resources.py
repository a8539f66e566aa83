"""Resource settings on the real kernel: applied where the host can, refused with one
clear error naming the field where it cannot (issue 16). This host has cgroup v1."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from berth.sys.cgroups import unified

from .conftest import Bundle

HUGETLB = "/sys/fs/cgroup/hugetlb"
pytestmark = pytest.mark.skipif(unified(), reason="these tests read cgroup v1 files")


def _mounted(point: str) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == point for line in f)


@pytest.fixture
def hugetlb_v1() -> Iterator[str]:
    """The hugetlb controller on a v1 hierarchy of its own (PEERS.md's set-up), unmounted
    again after the test when the test mounted it."""
    if _mounted(HUGETLB):
        yield HUGETLB
        return
    made = not os.path.exists(HUGETLB)
    os.makedirs(HUGETLB, exist_ok=True)
    result = subprocess.run(["mount", "-t", "cgroup", "-o", "hugetlb", "cgroup", HUGETLB], capture_output=True,
                            text=True)
    if result.returncode != 0:
        if made:
            os.rmdir(HUGETLB)
        pytest.skip(f"cannot mount the hugetlb controller on cgroup v1: {result.stderr.strip()}")
    try:
        yield HUGETLB
    finally:
        subprocess.run(["umount", HUGETLB], check=True)
        if made:
            os.rmdir(HUGETLB)


def _resources(bundle: Bundle) -> dict[str, Any]:
    res: dict[str, Any] = bundle.spec["linux"].setdefault("resources", {})
    return res


def _group(bundle: Bundle, controller: str) -> str:
    return f"/sys/fs/cgroup/{controller}/berth-test/{bundle.id}"


def _read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def _refused(bundle: Bundle, field: str, *fragments: str) -> str:
    bundle.write()
    result = bundle.berth("run", "-b", str(bundle.path), bundle.id)
    message = result.stderr.strip()
    assert result.returncode != 0, result
    assert len(message.splitlines()) == 1, message
    assert f"linux.resources.{field}: this host cannot apply it" in message, message
    for fragment in fragments:
        assert fragment in message, message
    assert bundle.cgroup_dirs() == []
    assert not (bundle.state / bundle.id).exists()
    return message


def test_hugetlb_limits_are_applied_and_reported(bundle: Bundle, hugetlb_v1: str) -> None:
    _resources(bundle)["hugepageLimits"] = [{"pageSize": "2MB", "limit": 4 << 20}, {"pageSize": "1GB", "limit": 0}]
    bundle.detach("sleep", "60")
    group = _group(bundle, "hugetlb")
    assert _read(f"{group}/hugetlb.2MB.limit_in_bytes") == str(4 << 20)
    assert _read(f"{group}/hugetlb.1GB.limit_in_bytes") == "0"
    from berth.runtime.linux import LinuxRuntime

    stats = LinuxRuntime(str(bundle.state)).stats(bundle.id)
    assert stats["hugetlb"]["2MB"] == {"usage": 0, "max_usage": 0, "failcnt": 0}
    assert set(stats["hugetlb"]) == {"2MB", "1GB"}
    bundle.berth("delete", "--force", bundle.id, check=True)


def test_a_page_size_the_host_lacks_is_refused(bundle: Bundle, hugetlb_v1: str) -> None:
    _resources(bundle)["hugepageLimits"] = [{"pageSize": "64KB", "limit": 1 << 20}]
    _refused(bundle, "hugepageLimits[0].pageSize", "64KB is not a huge page size of this host (2MB, 1GB)")


def test_hugetlb_without_its_controller_is_refused(bundle: Bundle) -> None:
    if _mounted(HUGETLB):
        pytest.skip("the hugetlb controller is mounted here")
    _resources(bundle)["hugepageLimits"] = [{"pageSize": "2MB", "limit": 4 << 20}]
    _refused(bundle, "hugepageLimits", "no hugetlb controller is mounted")


def test_oom_killer_off_and_kernel_tcp_limit(bundle: Bundle) -> None:
    _resources(bundle)["memory"] = {"limit": 64 << 20, "kernelTCP": 16 << 20, "disableOOMKiller": True}
    bundle.detach("sleep", "60")
    group = _group(bundle, "memory")
    control = dict(line.split() for line in _read(f"{group}/memory.oom_control").splitlines())
    assert control["oom_kill_disable"] == "1"
    assert _read(f"{group}/memory.kmem.tcp.limit_in_bytes") == str(16 << 20)
    bundle.berth("delete", "--force", bundle.id, check=True)


def test_oom_killer_stays_on_by_default(bundle: Bundle) -> None:
    _resources(bundle)["memory"] = {"limit": 64 << 20}
    bundle.detach("sleep", "60")
    control = dict(line.split() for line in _read(f"{_group(bundle, 'memory')}/memory.oom_control").splitlines())
    assert control["oom_kill_disable"] == "0"
    bundle.berth("delete", "--force", bundle.id, check=True)


def test_a_kernel_memory_limit_the_kernel_ignores_is_refused(bundle: Bundle) -> None:
    _resources(bundle)["memory"] = {"kernel": 64 << 20}
    _refused(bundle, "memory.kernel", "no longer enforces kernel memory limits")


@pytest.mark.parametrize(("setting", "field", "fragment"), [
    ({"network": {"classID": 1048577}}, "network.classID", "no net_cls controller is mounted"),
    ({"network": {"priorities": [{"name": "lo", "priority": 1}]}}, "network.priorities",
     "no net_prio controller is mounted"),
    ({"blockIO": {"leafWeight": 300}}, "blockIO.leafWeight", "no blkio.leaf_weight"),
    ({"unified": {"memory.high": "1000000"}}, "unified", "cgroup v2 files"),
    ({"rdma": {"mlx5_1": {"hcaHandles": 3}}}, "rdma", "no rdma controller is mounted"),
    ({"memory": {"swappiness": 10, "limit": 1 << 26, "swap": 1 << 27}, "blockIO": {
        "throttleReadBpsDevice": [{"major": 250, "minor": 250, "rate": 1000}]}},
     "blockIO.throttleReadBpsDevice[0]", "no such block device"),
])
def test_what_this_host_cannot_apply_is_refused(bundle: Bundle, setting: dict[str, Any], field: str,
                                               fragment: str) -> None:
    for controller in ("net_cls", "net_prio", "rdma"):
        if field.startswith(("network", "rdma")) and _mounted(f"/sys/fs/cgroup/{controller}"):
            pytest.skip(f"{controller} is mounted here")
    _resources(bundle).update(setting)
    _refused(bundle, field, fragment)


def test_block_io_weight_is_refused_unless_a_device_is_weighted(bundle: Bundle) -> None:
    blkio = "/sys/fs/cgroup/blkio"
    with contextlib.suppress(OSError):
        schedulers = [_read(f"/sys/block/{d}/queue/scheduler") for d in os.listdir("/sys/block")]
        if any("[bfq]" in s for s in schedulers) or os.path.exists(f"{blkio}/blkio.weight"):
            pytest.skip("this host can weigh block I/O")
    _resources(bundle)["blockIO"] = {"weight": 300}
    _refused(bundle, "blockIO.weight", "no block device uses the BFQ scheduler")
