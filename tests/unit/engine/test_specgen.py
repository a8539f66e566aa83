from __future__ import annotations

import pytest

from berth.engine import specgen
from berth.engine.model import ContainerConfig, MountSpec
from berth.errors import InvalidArgument
from berth.oci.image import ContainerConfig as ImageCfg

RES = specgen.Resolved("c" * 64, "/rootfs", "/h", "/r", "/n", {"/data": "/vols/v/_data"}, None)


def _cfg(**kw: object) -> ContainerConfig:
    return ContainerConfig(image="img", **kw)  # type: ignore[arg-type]


def test_entrypoint_and_cmd_combine_like_docker() -> None:
    image = ImageCfg(entrypoint=("/entry",), cmd=("default",))
    assert specgen.command(_cfg(), image) == ("/entry", "default")
    assert specgen.command(_cfg(cmd=("x", "y")), image) == ("/entry", "x", "y")
    assert specgen.command(_cfg(entrypoint=("/other",)), image) == ("/other",)
    assert specgen.command(_cfg(entrypoint=("",), cmd=("sh",)), image) == ("sh",)
    with pytest.raises(InvalidArgument, match="no command"):
        specgen.command(_cfg(), ImageCfg())


def test_environment_merges_over_the_image() -> None:
    image = ImageCfg(env=("PATH=/img/bin", "A=1", "B=2"))
    env = dict(e.split("=", 1) for e in specgen.environment(_cfg(env=("B=3", "C=4"), tty=True), image, "h"))
    assert env["PATH"] == "/img/bin" and env["A"] == "1" and env["B"] == "3" and env["C"] == "4"
    assert env["HOSTNAME"] == "h" and env["TERM"] == "xterm"


def test_capabilities_add_drop_privileged() -> None:
    caps = specgen.capabilities(_cfg(cap_add=("net_admin",), cap_drop=("CHOWN",)))
    assert "CAP_NET_ADMIN" in caps and "CAP_CHOWN" not in caps
    assert specgen.capabilities(_cfg(cap_drop=("ALL",), cap_add=("KILL",))) == ("CAP_KILL",)
    assert len(specgen.capabilities(_cfg(privileged=True))) == len(specgen.ALL_CAPS)
    with pytest.raises(InvalidArgument):
        specgen.capabilities(_cfg(cap_add=("FLY",)))


def test_resources_follow_docker_defaults() -> None:
    spec = specgen.generate(_cfg(cmd=("true",), memory=64 << 20, nano_cpus=500_000_000, pids_limit=50), ImageCfg(), RES)
    res = spec.linux.resources
    assert res is not None
    assert res.memory_limit == 64 << 20 and res.memory_swap == 128 << 20
    assert (res.cpu_quota, res.cpu_period) == (50_000, 100_000)
    assert res.pids_limit == 50
    with pytest.raises(InvalidArgument):
        specgen.generate(_cfg(cmd=("true",), memory=64 << 20, memory_swap=1 << 20), ImageCfg(), RES)


def test_mounts_volumes_and_read_only() -> None:
    cfg = _cfg(cmd=("true",), read_only=True, mounts=(MountSpec("volume", "/data", "v"),
                                                        MountSpec("tmpfs", "/t", tmpfs_size=1 << 20)))
    spec = specgen.generate(cfg, ImageCfg(), RES)
    by_dest = {m.destination: m for m in spec.mounts}
    assert spec.root_readonly
    assert by_dest["/data"].source == "/vols/v/_data" and "copyup" in by_dest["/data"].options
    assert by_dest["/t"].type == "tmpfs" and "size=1048576" in by_dest["/t"].options
    assert by_dest["/etc/hosts"].source == "/h"
    assert spec.hostname == "c" * 12


def test_privileged_lifts_seccomp_and_masks() -> None:
    spec = specgen.generate(_cfg(cmd=("true",), privileged=True), ImageCfg(), RES)
    assert spec.linux.seccomp is None and not spec.linux.masked_paths
    normal = specgen.generate(_cfg(cmd=("true",)), ImageCfg(), RES)
    assert normal.linux.seccomp is not None and normal.linux.masked_paths


def test_signals() -> None:
    assert specgen.parse_signal("SIGUSR1") == 10
    assert specgen.parse_signal("kill") == 9
    assert specgen.parse_signal("15") == 15
    with pytest.raises(InvalidArgument):
        specgen.parse_signal("SIGWOBBLE")


def test_ulimits_keep_soft_and_hard_apart() -> None:
    spec = specgen.generate(_cfg(cmd=("true",), ulimits=(("nofile", 1024, 2048), ("core", -1, -1))), ImageCfg(), RES)
    assert spec.process is not None
    by_type = {r.type: r for r in spec.process.rlimits}
    assert (by_type["RLIMIT_NOFILE"].soft, by_type["RLIMIT_NOFILE"].hard) == (1024, 2048)
    assert by_type["RLIMIT_CORE"].soft == by_type["RLIMIT_CORE"].hard == 2**64 - 1


def test_the_cgroup_parent_follows_the_root() -> None:
    from berth.engine.paths import cgroup_parent

    assert cgroup_parent("/var/lib/berth") == "/berth"
    one, two = cgroup_parent("/srv/a"), cgroup_parent("/srv/b")
    assert one.startswith("/berth-") and two.startswith("/berth-") and one != two
    res = specgen.Resolved("c" * 64, "/rootfs", "/h", "/r", "/n", {}, None, cgroup_parent=one)
    assert specgen.generate(_cfg(cmd=("true",)), ImageCfg(), res).linux.cgroups_path == f"{one}/{'c' * 64}"
