"""Docker's run options → a validated ContainerConfig, and the checks every front end
gets from ``ContainerConfig.validate`` whether it parsed options or built the config."""

from __future__ import annotations

from dataclasses import replace

import pytest

from berth.engine.model import ContainerConfig, MountSpec, PortSpec, RestartPolicy
from berth.engine.request import CreateRequest
from berth.errors import InvalidArgument


def test_options_become_a_config() -> None:
    req = CreateRequest.from_options("busybox", ("sh", "-c", "true"), {
        "name": "web", "env": ("A=1",), "volume": ("/h:/c:ro", "data:/d"), "publish": ("8080:80",),
        "restart": "on-failure:3", "memory": "64m", "cpus": "0.5", "label": ("k=v",), "interactive": True,
        "health_cmd": "true", "log_opt": ("max-size=1m",), "detach": True, "sig_proxy": False,
    })
    cfg = req.to_config()
    assert cfg.name == "web" and cfg.cmd == ("sh", "-c", "true") and cfg.env == ("A=1",)
    assert cfg.mounts == (MountSpec("bind", "/c", "/h", True), MountSpec("volume", "/d", "data"))
    assert cfg.ports == (PortSpec(80, "tcp", "", 8080),)
    assert cfg.restart == RestartPolicy("on-failure", 3)
    assert cfg.memory == 64 << 20 and cfg.nano_cpus == 500_000_000 and cfg.labels == {"k": "v"}
    assert cfg.open_stdin and cfg.stdin_once and cfg.health is not None and cfg.health.retries == 3
    assert cfg.log.max_size == 1 << 20
    assert CreateRequest("busybox", entrypoint="").to_config().entrypoint == ("",)
    assert CreateRequest("busybox").to_config().cmd is None


@pytest.mark.parametrize(("options", "fragment"), [
    ({"volume": ("/a:/x", "/b:/x")}, "duplicate mount point: /x"),
    ({"restart": "sometimes"}, "invalid restart policy"),
    ({"add_host": ("nocolon",)}, "invalid --add-host"),
    ({"log_driver": "syslog"}, "only json-file"),
    ({"log_opt": ("max-file=0",)}, "invalid max-file"),
    ({"log_opt": ("colour=red",)}, "unknown log opt"),
    ({"sysctl": ("net.ipv4.ip_forward",)}, "invalid --sysctl"),
    ({"security_opt": ("bogus",)}, "invalid --security-opt"),
    ({"memory": "lots"}, "invalid --memory"),
])
def test_bad_options_are_refused(options: dict[str, object], fragment: str) -> None:
    with pytest.raises(InvalidArgument, match=fragment):
        CreateRequest.from_options("busybox", (), options).to_config()


GOOD = ContainerConfig(image="busybox")


@pytest.mark.parametrize(("cfg", "fragment"), [
    (replace(GOOD, image=""), "no image"),
    (replace(GOOD, restart=RestartPolicy("sometimes")), "invalid restart policy"),
    (replace(GOOD, restart=RestartPolicy("always", 3)), "only on-failure takes a retry count"),
    (replace(GOOD, mounts=(MountSpec("bind", "/x", "/a"), MountSpec("tmpfs", "/x"))), "duplicate mount point"),
    (replace(GOOD, mounts=(MountSpec("bind", "relative", "/a"),)), "must be absolute"),
    (replace(GOOD, mounts=(MountSpec("bind", "/x", "rel"),)), "absolute path"),
    (replace(GOOD, mounts=(MountSpec("nfs", "/x"),)), "invalid mount type"),
    (replace(GOOD, ports=(PortSpec(0),)), "ports are 1-65535"),
    (replace(GOOD, ports=(PortSpec(80, "icmp"),)), "protocol must be"),
    (replace(GOOD, extra_hosts=("x",)), "invalid --add-host"),
    (replace(GOOD, memory=-1), "invalid --memory"),
    (replace(GOOD, memory_swap=-2), "invalid --memory-swap"),
])
def test_configs_built_by_any_front_end_are_checked(cfg: ContainerConfig, fragment: str) -> None:
    with pytest.raises(InvalidArgument, match=fragment):
        cfg.validate()


def test_a_good_config_passes() -> None:
    GOOD.validate()
    replace(GOOD, ports=(PortSpec(80, "sctp", "", 0),), memory_swap=-1).validate()
