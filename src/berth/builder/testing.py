"""Fakes for testing the build system without a store: base images for the planner,
and plans made straight from Dockerfile text (no root, no containers)."""

from __future__ import annotations

from collections.abc import Mapping

from berth.builder.instructions import parse_program
from berth.builder.parser import parse
from berth.builder.plan import BaseImage, BuildOptions, Plan, make_plan
from berth.errors import ImageNotFound
from berth.oci.descriptor import Platform
from berth.oci.image import ContainerConfig

BUSYBOX = ContainerConfig(env=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",), cmd=("sh",))
BASES = {
    "busybox": BaseImage("busybox", "sha256:" + "b" * 64, BUSYBOX, Platform("linux", "amd64")),
    "base-with-cmd": BaseImage("base-with-cmd", "sha256:" + "c" * 64,
                               ContainerConfig(env=("PATH=/bin", "LANG=C"), cmd=("/bin/sh",), working_dir="/srv",
                                               labels={"from.base": "yes"}, exposed_ports=("22/tcp",),
                                               volumes=("/var/base",)),
                               Platform("linux", "amd64")),
    "onbuild-base": BaseImage("onbuild-base", "sha256:" + "d" * 64,
                              ContainerConfig(env=("PATH=/bin",), on_build=("ENV TRIGGERED=yes", "RUN echo built")),
                              Platform("linux", "amd64")),
}


class FakeImages:
    """The planner's view of a store holding BASES (any tag of those names)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def base(self, ref: str) -> BaseImage:
        self.asked.append(ref)
        name = ref.split(":", 1)[0]
        if name not in BASES:
            raise ImageNotFound(f"No such image: {ref}")
        return BASES[name]


def plan_of(text: str, build_args: Mapping[str, str] | None = None, target: str | None = None,
            labels: Mapping[str, str] | None = None, images: FakeImages | None = None) -> Plan:
    df = parse(text)
    options = BuildOptions(build_args=dict(build_args or {}), target=target, labels=dict(labels or {}),
                           platform=Platform("linux", "amd64"))
    return make_plan(parse_program(df), options, images or FakeImages())
