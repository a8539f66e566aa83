"""The v2 driver's file writes, against a folder laid out like a cgroup2 mount."""

from __future__ import annotations

from pathlib import Path

from berth.sys.cgroups import CgroupLimits, CgroupV2Manager, unified
from berth.sys.cgroups.v2 import shares_to_weight


def _fake_root(tmp_path: Path) -> Path:
    root = tmp_path / "cgroup"
    root.mkdir()
    (root / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids rdma misc\n")
    (root / "cgroup.subtree_control").write_text("")
    return root


def test_create_delegates_controllers_down_the_tree(tmp_path: Path) -> None:
    root = _fake_root(tmp_path)
    assert unified(str(root))
    cg = CgroupV2Manager("/berth/c1", str(root))
    cg.create()
    assert (root / "berth" / "c1").is_dir()
    assert (root / "cgroup.subtree_control").read_text() == "+cpuset +cpu +io +memory +pids"
    assert (root / "berth" / "cgroup.subtree_control").read_text() == "+cpuset +cpu +io +memory +pids"


def test_limits_are_written_in_v2_terms(tmp_path: Path) -> None:
    root = _fake_root(tmp_path)
    cg = CgroupV2Manager("/berth/c1", str(root))
    cg.create()
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
    cg = CgroupV2Manager("/berth/c1", str(root))
    cg.create()
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
