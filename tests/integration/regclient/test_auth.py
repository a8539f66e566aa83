"""Logins against docker-registry behind htpasswd (Basic) and behind Docker token
authentication (a test token service whose JWTs the registry verifies)."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

from berth.testing.distribution import DistributionRegistry
from berth.testing.oci_images import write_image

from .conftest import Berth, skopeo_push
from .helpers import TokenService


def test_basic_login_writes_dockers_file_and_logout_removes_it(cli: Berth, tmp_path: Path) -> None:
    with DistributionRegistry(tmp_path / "registry", users={"alice": "s3cret"}) as registry:
        image = write_image(str(tmp_path / "layout"), [2048], tag="1")
        skopeo_push(image.source, f"{registry.host}/private/app:1", "--dest-creds", "alice:s3cret")
        ref = f"{registry.host}/private/app:1"
        denied = cli.run("pull", ref, check=False)
        assert denied.returncode == 1 and "unauthorized" in denied.stderr
        wrong = cli.run("login", "-u", "alice", "--password-stdin", registry.host, input="nope\n", check=False)
        assert wrong.returncode == 1
        assert "incorrect username or password" in wrong.stderr
        assert not cli.docker_config.exists()
        ok = cli.run("login", "-u", "alice", "--password-stdin", registry.host, input="s3cret\n")
        assert ok.stdout.strip() == "Login Succeeded"
        doc = json.loads(cli.docker_config.read_text())
        assert doc == {"auths": {registry.host: {"auth": base64.b64encode(b"alice:s3cret").decode()}}}
        assert stat.S_IMODE(cli.docker_config.stat().st_mode) == 0o600
        cli.run("pull", ref)
        cli.run("tag", ref, f"{registry.host}/private/copy:2")
        assert "2: digest:" in cli.run("push", f"{registry.host}/private/copy:2").stdout
        out = cli.run("logout", registry.host).stdout
        assert out.strip() == f"Removing login credentials for {registry.host}"
        assert json.loads(cli.docker_config.read_text()) == {"auths": {}}
        assert cli.run("logout", registry.host).stdout.strip() == f"Not logged in to {registry.host}"
        assert cli.run("pull", ref, check=False).returncode == 1


def test_bearer_tokens_from_the_token_service_cached_per_scope(cli: Berth, tmp_path: Path) -> None:
    with TokenService(tmp_path, {"bob": "hunter2"}) as tokens, \
            DistributionRegistry(tmp_path / "registry", token=tokens.registry_config()) as registry:
        wrong = cli.run("login", "-u", "bob", "-p", "bad", registry.host, check=False)
        assert wrong.returncode == 1 and "incorrect username or password" in wrong.stderr
        cli.run("login", "-u", "bob", "--password-stdin", registry.host, input="hunter2")
        image = write_image(str(tmp_path / "layout"), [4096, 4096, 4096], tag="1")
        skopeo_push(image.source, f"{registry.host}/team/app:1", "--dest-creds", "bob:hunter2")
        tokens.requests.clear()
        cli.run("pull", f"{registry.host}/team/app:1")
        # one token for the whole pull: the manifest, the config and three layers
        assert tokens.requests == [("bob", ["repository:team/app:pull"])]
        tokens.requests.clear()
        cli.run("tag", f"{registry.host}/team/app:1", f"{registry.host}/team/other:1")
        out = cli.run("push", f"{registry.host}/team/other:1").stdout
        assert out.count("Mounted from team/app") == 3
        scopes = [s for _user, s in tokens.requests]
        assert ["repository:team/other:pull,push"] in scopes
        assert all(user == "bob" for user, _ in tokens.requests)
        assert len(tokens.requests) <= 2  # push scope, and push + the mount source's pull scope
        cli.run("logout", registry.host)
        anonymous = cli.run("pull", f"{registry.host}/team/app:1", check=False)
        assert anonymous.returncode == 1 and "access" in anonymous.stderr
