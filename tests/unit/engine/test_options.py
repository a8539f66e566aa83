from __future__ import annotations

import pytest

from berth.engine import options as opt
from berth.engine.model import ContainerConfig, MountSpec, PortSpec, RestartPolicy
from berth.errors import InvalidArgument


def test_sizes_and_durations() -> None:
    assert opt.parse_size("64m") == 64 << 20
    assert opt.parse_size("1g") == 1 << 30
    assert opt.parse_size("512") == 512
    assert opt.parse_size("1.5k") == 1536
    assert opt.parse_duration("30s") == 30_000_000_000
    assert opt.parse_duration("1m30s") == 90_000_000_000
    assert opt.parse_duration("500ms") == 500_000_000
    assert opt.parse_cpus("0.5") == 500_000_000
    for bad in ("64q", "", "m"):
        with pytest.raises(InvalidArgument):
            opt.parse_size(bad)
    for bad in ("30", "1x", "s"):
        with pytest.raises(InvalidArgument):
            opt.parse_duration(bad)


def test_volume_specs() -> None:
    assert opt.parse_volume("/host:/ctr:ro") == MountSpec("bind", "/ctr", "/host", True)
    assert opt.parse_volume("data:/var/lib/db") == MountSpec("volume", "/var/lib/db", "data")
    assert opt.parse_volume("/anon") == MountSpec("volume", "/anon", "")
    assert opt.parse_volume("data:/d:nocopy").no_copy
    for bad in ("a:b:c:d", "data:relative", "/h:/c:bogus", "bad name!:/x", "/h:/"):
        with pytest.raises(InvalidArgument):
            opt.parse_volume(bad)


def test_mount_and_tmpfs_specs() -> None:
    assert opt.parse_mount("type=bind,source=/a,target=/b,readonly") == MountSpec("bind", "/b", "/a", True)
    t = opt.parse_mount("type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770")
    assert (t.type, t.tmpfs_size, t.tmpfs_mode) == ("tmpfs", 1 << 20, 0o1770)
    assert opt.parse_tmpfs("/run:size=2m").tmpfs_size == 2 << 20
    with pytest.raises(InvalidArgument):
        opt.parse_mount("type=nfs,target=/x")
    with pytest.raises(InvalidArgument):
        opt.parse_mount("type=volume,target=/x,colour=red")


def test_port_specs() -> None:
    assert opt.parse_port("8080:80") == [PortSpec(80, "tcp", "", 8080)]
    assert opt.parse_port("127.0.0.1:53:53/udp") == [PortSpec(53, "udp", "127.0.0.1", 53)]
    assert opt.parse_port("80") == [PortSpec(80, "tcp", "", 0)]
    assert opt.parse_port("8000-8001:80-81") == [PortSpec(80, "tcp", "", 8000), PortSpec(81, "tcp", "", 8001)]
    for bad in ("http", "1:2:3:4", "70000", "80/icmp", "1-3:1-2"):
        with pytest.raises(InvalidArgument):
            opt.parse_port(bad)


def test_restart_policies() -> None:
    assert RestartPolicy.parse("on-failure:3") == RestartPolicy("on-failure", 3)
    assert RestartPolicy.parse("always") == RestartPolicy("always", 0)
    for bad in ("sometimes", "always:3", "on-failure:x"):
        with pytest.raises(InvalidArgument):
            RestartPolicy.parse(bad)


def test_config_round_trips_through_json() -> None:
    cfg = ContainerConfig(image="busybox", name="x", cmd=("sh", "-c", "true"), mounts=(MountSpec("volume", "/d", "v"),),
                          ports=(PortSpec(80, "tcp", "", 8080),), restart=RestartPolicy("on-failure", 2),
                          ulimits=(("nofile", 10, 20),), labels={"a": "b"})
    assert ContainerConfig.from_json(cfg.to_json()) == cfg
