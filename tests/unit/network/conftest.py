from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from berth.network import NetworkConfig, NetworkManager
from berth.state import open_database
from berth.testing.network import FakeDns, FakeKernel


class Env:
    def __init__(self, tmp: Path) -> None:
        self.root, self.run = str(tmp / "root"), str(tmp / "run")
        (tmp / "run").mkdir()
        self.resolv = tmp / "resolv.conf"
        self.resolv.write_text("nameserver 127.0.0.53\nnameserver 192.0.2.53\nsearch example.test\noptions ndots:2\n")
        self.kernel = FakeKernel()
        self.dns = FakeDns()
        self.db = open_database(self.root)
        self.config = NetworkConfig(resolv_conf=str(self.resolv))
        self.nm = NetworkManager(self.db, self.root, self.run, config=self.config, kernel=self.kernel, dns=self.dns)

    @staticmethod
    def cid(n: int) -> str:
        return hashlib.sha256(str(n).encode()).hexdigest()

    def sandbox(self, n: int) -> tuple[str, str]:
        cid = self.cid(n)
        return cid, self.nm.create_sandbox(cid)


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(tmp_path)
