from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from berth.errors import InvalidSpec
from berth.oci.spec import SpecMount
from berth.runtime import plan
from berth.runtime.defaults import default_spec
from berth.sys.mount import MountFlag as F


def test_mount_options_become_flags_data_and_propagation() -> None:
    flags, data, prop = plan.parse_mount_options(
        ("nosuid", "nodev", "ro", "rw", "noexec", "mode=755", "size=1m", "rslave", "defaults"), "mounts[0]"
    )
    assert flags == F.MS_NOSUID | F.MS_NODEV | F.MS_NOEXEC
    assert data == "mode=755,size=1m"
    assert prop == (F.MS_SLAVE | F.MS_REC,)


def test_idmapped_mounts_are_refused_by_name() -> None:
    with pytest.raises(InvalidSpec) as info:
        plan.parse_mount_options(("idmap",), "mounts[3]")
    assert info.value.field == "mounts[3].options[0]"


def test_build_checks_rootfs_and_capabilities(tmp_path: Path) -> None:
    (tmp_path / "rootfs").mkdir()
    spec = default_spec(("true",))
    built = plan.build(spec, str(tmp_path), "c1")
    assert built.rootfs == os.path.realpath(tmp_path / "rootfs")
    assert built.cgroup_path == "/berth/c1"
    assert built.process.caps is not None and 5 in built.process.caps.bounding  # CAP_KILL
    assert built.readonly and built.new_pid_ns
    missing = replace(spec, root_path="nope")
    with pytest.raises(InvalidSpec, match="root.path"):
        plan.build(missing, str(tmp_path), "c1")


def test_bind_mounts_are_resolved_against_the_bundle(tmp_path: Path) -> None:
    (tmp_path / "rootfs").mkdir()
    (tmp_path / "data").mkdir()
    spec = default_spec(("true",))
    spec = replace(spec, mounts=spec.mounts + (SpecMount("/data", "bind", "data", ("rbind", "ro")),))
    step = plan.build(spec, str(tmp_path), "c1").mounts[-1]
    assert step.bind and step.source == str(tmp_path / "data")
    assert step.flags & F.MS_REC and step.needs_remount


def test_device_rules_keep_the_standard_devices_usable(tmp_path: Path) -> None:
    (tmp_path / "rootfs").mkdir()
    rules = [r.rule() for r in plan.build(default_spec(), str(tmp_path), "c").limits.devices]
    assert rules[0] == "a"  # the spec's deny-all comes first
    assert "c 1:3 rwm" in rules and "c 136:* rwm" in rules


def test_systemd_style_cgroup_path_is_mapped(tmp_path: Path) -> None:
    (tmp_path / "rootfs").mkdir()
    spec = default_spec()
    spec = replace(spec, linux=replace(spec.linux, cgroups_path="system.slice:berth:abc"))
    assert plan.build(spec, str(tmp_path), "c").cgroup_path == "/system.slice/berth-abc"
