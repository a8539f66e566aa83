"""The v2 driver's file writes, against a folder laid out like a cgroup2 mount."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth.errors import InvalidSpec
from berth.sys.cgroups import CgroupLimits, CgroupV2Manager, unified
from berth.sys.cgroups.v2 import shares_to_weight


def _fake_root(tmp_path: Path) -> Path:
    root = tmp_path / "cgroup"
    root.mkdir()
    (root / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids rdma misc\n")
    (root / "cgroup.subtree_control").write_text("")
    return root


# The interface files a group has once its controllers are enabled (a real cgroupfs
# makes them; the driver refuses a limit whose file is missing).
FILES = ("memory.max", "memory.swap.max", "memory.low", "cpu.max", "cpu.weight", "cpu.idle", "cpu.max.burst",
         "cpuset.cpus", "cpuset.mems", "pids.max", "io.weight", "io.max", "hugetlb.2MB.max", "hugetlb.1GB.max")


def _created(root: Path, path: str = "/berth/c1", files: tuple[str, ...] = FILES) -> CgroupV2Manager:
    cg = CgroupV2Manager(path, str(root))
    cg.create()
    for name in files:
        (root / path.lstrip("/") / name).write_text("")
    return cg


def test_create_delegates_controllers_down_the_tree(tmp_path: Path) -> None:
    root = _fake_root(tmp_path)
    assert unified(str(root))
    cg = CgroupV2Manager("/berth/c1", str(root))
    cg.create()
    assert (root / "berth" / "c1").is_dir()
    wanted = "+cpuset +cpu +io +memory +pids +hugetlb +rdma"
    assert (root / "cgroup.subtree_control").read_text() == wanted
    assert (root / "berth" / "cgroup.subtree_control").read_text() == wanted


def test_limits_are_written_in_v2_terms(tmp_path: Path) -> None:
    root = _fake_root(tmp_path)
    cg = _created(root)
    cg.apply(CgroupLimits(memory=64 << 20, memory_swap=96 << 20, cpu_quota=50000, cpu_period=100000,
                          cpu_shares=1024, pids=100, unified={"memory.high": "50000000"}))
    d = root / "berth" / "c1"
    assert (d / "memory.max").read_text() == str(64 << 20)
    assert (d / "memory.swap.max").read_text() == str(32 << 20)  # v2 counts swap alone
    assert (d / "cpu.max").read_text() == "50000 100000"
    assert (d / "cpu.weight").read_text() == str(shares_to_weight(1024))
    assert (d / "pids.max").read_text() == "100"
    assert (d / "memory.high").read_text() == "50000000"


def test_unlimited_values(tmp_path: Path) -> None:
    root = _fake_root(tmp_path)
    cg = _created(root)
    cg.apply(CgroupLimits(memory=-1, memory_swap=-1, cpu_quota=-1, pids=0))
    d = root / "berth" / "c1"
    assert (d / "memory.max").read_text() == "max"
    assert (d / "memory.swap.max").read_text() == "max"
    assert (d / "cpu.max").read_text() == "max 100000"
    assert (d / "pids.max").read_text() == "max"


def test_shares_to_weight_matches_the_documented_range() -> None:
    assert shares_to_weight(2) == 1
    assert shares_to_weight(262144) == 10000
    assert shares_to_weight(1024) == 39


def test_stats_and_destroy(tmp_path: Path) -> None:
    root = _fake_root(tmp_path)
    cg = CgroupV2Manager("/berth/c1", str(root))
    cg.create()
    d = root / "berth" / "c1"
    (d / "memory.current").write_text("4096\n")
    (d / "memory.events").write_text("low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n")
    (d / "cpu.stat").write_text("usage_usec 1500\nuser_usec 1000\n")
    (d / "pids.current").write_text("3\n")
    stats = cg.stats()
    assert (stats.memory_usage, stats.oom_kills, stats.cpu_usage_ns, stats.pids_current) == (4096, 1, 1_500_000, 3)
    for f in d.iterdir():
        f.unlink()
    cg.destroy()
    assert not d.exists()


def test_huge_pages_and_block_io_in_v2_terms(tmp_path: Path) -> None:
    root = _fake_root(tmp_path)
    cg = _created(root)
    cg.apply(CgroupLimits(hugepages=(("2MB", 4 << 20),), blkio_weight=500,
                          blkio_throttles=(("throttleReadBpsDevice", 8, 0, 1000),)))
    d = root / "berth" / "c1"
    assert (d / "hugetlb.2MB.max").read_text() == str(4 << 20)
    assert (d / "io.weight").read_text() == "default 4950"  # runc: 1 + (w - 10) * 9999 // 990
    assert (d / "io.max").read_text() == "8:0 rbps=1000"


@pytest.mark.parametrize(("limits", "field"), [
    (CgroupLimits(disable_oom_killer=True), "linux.resources.memory.disableOOMKiller"),
    (CgroupLimits(memory_kernel_tcp=1 << 20), "linux.resources.memory.kernelTCP"),
    (CgroupLimits(memory_kernel=1 << 20), "linux.resources.memory.kernel"),
    (CgroupLimits(memory_swappiness=10), "linux.resources.memory.swappiness"),
    (CgroupLimits(net_class_id=7), "linux.resources.network.classID"),
    (CgroupLimits(hugepages=(("3MB", 1 << 20),)), "linux.resources.hugepageLimits[0]"),
    (CgroupLimits(memory=1 << 20), "linux.resources.memory.limit"),
])
def test_what_v2_cannot_apply_is_refused_naming_the_field(tmp_path: Path, limits: CgroupLimits, field: str) -> None:
    root = _fake_root(tmp_path)
    cg = _created(root, files=() if limits.memory else FILES)  # no memory.max: memory not enabled
    with pytest.raises(InvalidSpec) as caught:
        cg.apply(limits)
    assert caught.value.field == field
    assert "this host cannot apply it" in str(caught.value)
