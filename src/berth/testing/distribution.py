"""The reference registry (Debian's ``docker-registry``, distribution 2.8) as a test
peer: bound to 127.0.0.1 on a free port, storing into a temp folder, optionally behind
htpasswd (bcrypt) or Docker token authentication.

    with DistributionRegistry(tmp_path) as reg:        # reg.host == "127.0.0.1:PORT"
        ...
    with DistributionRegistry(tmp_path, users={"alice": "secret"}) as reg: ...
    with DistributionRegistry(tmp_path, token=TokenIssuer(...)) as reg: ...
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

BINARY = "/usr/bin/docker-registry"


def available() -> bool:
    return os.path.exists(BINARY)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bcrypt_htpasswd(users: dict[str, str]) -> str:
    import bcrypt

    lines = []
    for user, password in users.items():
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()
        lines.append(f"{user}:{hashed}")
    return "\n".join(lines) + "\n"


class DistributionRegistry:
    def __init__(self, folder: str | Path, *, users: dict[str, str] | None = None,
                 token: dict[str, str] | None = None) -> None:
        """``token``: realm, service, issuer and rootcertbundle of a token service."""
        self.folder = Path(folder)
        self.users = users
        self.token = token
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def _config(self) -> str:
        storage = self.folder / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        lines = [
            "version: 0.1",
            "log:",
            "  level: error",
            "  accesslog:",
            "    disabled: true",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {storage}",
            "  delete:",
            "    enabled: true",
            "http:",
            f"  addr: 127.0.0.1:{self.port}",
        ]
        if self.users is not None:
            htpasswd = self.folder / "htpasswd"
            htpasswd.write_text(bcrypt_htpasswd(self.users))
            lines += ["auth:", "  htpasswd:", "    realm: berth-test", f"    path: {htpasswd}"]
        elif self.token is not None:
            lines += ["auth:", "  token:"] + [f"    {k}: {v}" for k, v in self.token.items()]
        path = self.folder / "config.yml"
        path.write_text("\n".join(lines) + "\n")
        return str(path)

    def start(self) -> DistributionRegistry:
        config = self._config()
        log = open(self.folder / "registry.log", "wb")
        self.process = subprocess.Popen([BINARY, "serve", config], stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {(self.folder / 'registry.log').read_text()}")
            try:
                urllib.request.urlopen(f"{self.url}/v2/", timeout=1)
                return self
            except urllib.error.HTTPError:
                return self  # 401: up, and asking for credentials
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("docker-registry did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder / "storage", ignore_errors=True)

    def __enter__(self) -> DistributionRegistry:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
