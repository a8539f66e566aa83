"""Fixtures for the registry client against the reference registry (docker-registry)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import berth
from berth.testing.distribution import DistributionRegistry, available

SRC = os.path.dirname(os.path.dirname(os.path.abspath(berth.__file__)))

pytestmark = pytest.mark.skipif(not available() or shutil.which("skopeo") is None,
                                reason="needs docker-registry and skopeo (Debian packages)")


@dataclass
class Berth:
    env: dict[str, str]
    root: Path

    def run(self, *args: str, check: bool = True, input: str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "berth", *args], env=self.env, capture_output=True,
                              text=True, input=input, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"berth {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "berth", *args], env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def inspect(self, ref: str) -> dict[str, object]:
        data = json.loads(self.run("image", "inspect", ref).stdout)
        assert isinstance(data, list)
        item = data[0]
        assert isinstance(item, dict)
        return item

    @property
    def docker_config(self) -> Path:
        return Path(self.env["DOCKER_CONFIG"]) / "config.json"


@pytest.fixture
def cli(tmp_path: Path) -> Berth:
    env = dict(os.environ)
    env.update(BERTH_ROOT=str(tmp_path / "root"), BERTH_RUN=str(tmp_path / "run"),
               DOCKER_CONFIG=str(tmp_path / "docker"), BERTH_FORKSERVER="0",
               PYTHONPATH=SRC + os.pathsep + env.get("PYTHONPATH", ""))
    env.pop("BERTH_INSECURE_REGISTRIES", None)
    return Berth(env, tmp_path / "root")


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[DistributionRegistry]:
    with DistributionRegistry(tmp_path / "registry") as reg:
        yield reg


def skopeo(*args: str) -> str:
    done = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise AssertionError(f"skopeo {' '.join(args)}: {done.stderr}")
    return done.stdout


def skopeo_push(source: str, dest: str, *extra: str) -> None:
    skopeo("copy", "--dest-tls-verify=false", *extra, source, f"docker://{dest}")
