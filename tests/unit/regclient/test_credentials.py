from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from berth.registry.client.credentials import (
    DOCKER_HUB_KEY,
    Credentials,
    CredentialStore,
    config_key,
    hostname_of,
)


def test_round_trip_in_dockers_format_keeping_other_fields(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "dc"))
    store = CredentialStore()
    assert store.path == str(tmp_path / "dc" / "config.json")
    assert store.get("127.0.0.1:5000") is None
    (tmp_path / "dc").mkdir()
    (tmp_path / "dc" / "config.json").write_text(json.dumps({"psFormat": "table", "auths": {}}))
    store.store("127.0.0.1:5000", Credentials("alice", "p:w"))
    store.store("docker.io", Credentials("bob", "x"))
    doc = json.loads((tmp_path / "dc" / "config.json").read_text())
    assert doc["psFormat"] == "table"
    assert doc["auths"]["127.0.0.1:5000"] == {"auth": base64.b64encode(b"alice:p:w").decode()}
    assert DOCKER_HUB_KEY in doc["auths"]
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert store.get("127.0.0.1:5000") == Credentials("alice", "p:w")
    assert store.get("docker.io") == Credentials("bob", "x")
    assert store.erase("127.0.0.1:5000") is True
    assert store.erase("127.0.0.1:5000") is False
    assert store.get("127.0.0.1:5000") is None


def test_keys_written_by_other_tools_are_found(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"auths": {
        "https://registry.example.com/v1/": {"auth": base64.b64encode(b"u:p").decode()},
        "http://other:5000": {"username": "x", "password": "y"},
        "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hub:pw").decode(), "identitytoken": "rt"},
    }}))
    store = CredentialStore(str(tmp_path))
    assert store.get("registry.example.com") == Credentials("u", "p")
    assert store.get("other:5000") == Credentials("x", "y")
    assert store.get("docker.io") == Credentials("hub", "pw", "rt")
    assert hostname_of("https://registry-1.docker.io/v2/") == "docker.io"
    assert config_key("index.docker.io") == DOCKER_HUB_KEY


def test_credential_helpers_are_driven_like_docker_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    state = tmp_path / "helper.json"
    helper = bin_dir / "docker-credential-fake"
    helper.write_text(f"""#!/usr/bin/env python3
import json, sys
path = {str(state)!r}
try:
    db = json.load(open(path))
except FileNotFoundError:
    db = {{}}
action, data = sys.argv[1], sys.stdin.read()
if action == "store":
    doc = json.loads(data); db[doc["ServerURL"]] = doc
elif action == "get":
    if data.strip() not in db:
        print("credentials not found in native keychain"); sys.exit(1)
    print(json.dumps(db[data.strip()]))
elif action == "erase":
    if db.pop(data.strip(), None) is None:
        print("credentials not found in native keychain"); sys.exit(1)
json.dump(db, open(path, "w"))
""")
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    (tmp_path / "config.json").write_text(json.dumps({"credHelpers": {"reg.example:5000": "fake"}}))
    store = CredentialStore(str(tmp_path))
    assert store.get("reg.example:5000") is None
    assert store.store("reg.example:5000", Credentials("carol", "pw")) == "docker-credential-fake"
    assert store.get("reg.example:5000") == Credentials("carol", "pw")
    assert "auths" not in json.loads((tmp_path / "config.json").read_text())
    assert store.erase("reg.example:5000") is True
    assert store.get("reg.example:5000") is None
