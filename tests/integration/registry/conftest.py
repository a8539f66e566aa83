"""``berth registry serve`` as a real process on 127.0.0.1, and skopeo as its client."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import berth

SRC = os.path.dirname(os.path.dirname(os.path.abspath(berth.__file__)))
SKOPEO = shutil.which("skopeo")

needs_skopeo = pytest.mark.skipif(SKOPEO is None, reason="skopeo is not installed (Debian package skopeo)")


def berth_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_berth(*args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "berth", *args], input=stdin, capture_output=True, text=True, env=berth_env(), timeout=60
    )
    if check and result.returncode != 0:
        raise AssertionError(f"berth {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@dataclass
class RegistryProcess:
    storage: Path
    args: tuple[str, ...] = ()
    url: str = ""
    process: subprocess.Popen[str] | None = None
    output: list[str] = field(default_factory=list)

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, as skopeo names the registry."""
        return self.url.split("://", 1)[1]

    def start(self) -> RegistryProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "berth", "registry", "--storage", str(self.storage), "serve",
             "--listen", "127.0.0.1:0", "-q", *self.args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=berth_env(),
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if "listening on" not in line:
            rest = self.process.stdout.read() if self.process.poll() is not None else ""
            self.stop()
            raise AssertionError(f"registry did not start: {line}{rest}")
        self.url = line.split("listening on ", 1)[1].split()[0]
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.output.append(self.process.stdout.read())
            self.process.stdout.close()
        self.process = None


@pytest.fixture
def start_registry(tmp_path: Path) -> Iterator[Callable[..., RegistryProcess]]:
    """Start registries (each stopped at the end of the test); they share one storage
    folder unless given another."""
    started: list[RegistryProcess] = []

    def start(*args: str, storage: Path | None = None) -> RegistryProcess:
        server = RegistryProcess(storage or tmp_path / "storage", args).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def skopeo_env(tmp_path: Path) -> dict[str, str]:
    """An environment where skopeo reads and writes credentials in the test's folder only."""
    auth = tmp_path / "auth.json"
    auth.write_text("{}")
    env = dict(os.environ)
    env["REGISTRY_AUTH_FILE"] = str(auth)
    env["HOME"] = str(tmp_path)
    env.pop("DOCKER_CONFIG", None)
    return env


@pytest.fixture
def skopeo(skopeo_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    if SKOPEO is None:
        pytest.skip("skopeo is not installed (Debian package skopeo)")
    binary = SKOPEO

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([binary, "--insecure-policy", *args], capture_output=True, text=True, env=skopeo_env, timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"skopeo {' '.join(args)} failed:\n{result.stderr}")
        return result

    return run


def stored_blob_files(storage: Path) -> list[Path]:
    return sorted((storage / "blobs").rglob("data")) if (storage / "blobs").exists() else []


def manifest_digest(env: dict[str, str], ref: str, *creds: str) -> str:
    """The digest of the manifest bytes skopeo fetches for ``ref``."""
    assert SKOPEO is not None
    raw = subprocess.run(
        [SKOPEO, "inspect", "--raw", "--tls-verify=false", *creds, ref], capture_output=True, env=env, timeout=60, check=True
    ).stdout
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def history_json(storage: Path, ref: str) -> dict[str, object]:
    result = run_berth("registry", "--storage", str(storage), "history", ref, "-f", "json")
    doc: dict[str, object] = json.loads(result.stdout)
    return doc
