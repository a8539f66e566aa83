"""skopeo pushes to and pulls from ``berth registry serve``: plain, private, TLS, concurrent."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import ssl
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from berth.oci import mediatype as mt
from berth.registry.server.auth import Htpasswd
from berth.testing.ocilayout import read_layout_manifest, write_oci_layout

from .conftest import RegistryProcess, manifest_digest, needs_skopeo, run_berth, stored_blob_files

pytestmark = needs_skopeo
Skopeo = Callable[..., subprocess.CompletedProcess[str]]
Start = Callable[..., RegistryProcess]


@pytest.mark.parametrize("fmt", ["oci", "v2s2"])
def test_push_then_pull_gives_back_the_same_image(
    tmp_path: Path, start_registry: Start, skopeo: Skopeo, skopeo_env: dict[str, str], fmt: str
) -> None:
    """OCI as is, and converted by skopeo to Docker's schema 2 (``--format v2s2``)."""
    image = write_oci_layout(str(tmp_path / "image"), (50_000, 300_000), tag="v1")
    server = start_registry()
    ref = f"docker://{server.host}/team/app:v1"
    digestfile = tmp_path / "digest"
    skopeo("copy", "--dest-tls-verify=false", "--format", fmt, "--digestfile", str(digestfile), image.reference, ref)
    pushed = digestfile.read_text().strip()
    if fmt == "oci":
        assert pushed == str(image.manifest.digest)
    assert manifest_digest(skopeo_env, ref) == pushed
    skopeo("copy", "--src-tls-verify=false", ref, f"dir:{tmp_path / 'pulled'}")
    manifest = (tmp_path / "pulled" / "manifest.json").read_bytes()
    assert "sha256:" + hashlib.sha256(manifest).hexdigest() == pushed
    expected_type = mt.OCI_MANIFEST if fmt == "oci" else mt.DOCKER_MANIFEST
    assert json.loads(manifest)["mediaType"] == expected_type
    for layer in image.layers:  # layers travel unchanged either way
        pulled = tmp_path / "pulled" / layer.digest.encoded
        assert pulled.read_bytes() == (tmp_path / "image" / "blobs" / "sha256" / layer.digest.encoded).read_bytes()
    assert len(stored_blob_files(server.storage)) == 1 + len(image.blobs)  # manifest, config, layers; once each


def test_private_hub_denies_and_stores_nothing(
    tmp_path: Path, start_registry: Start, skopeo: Skopeo, skopeo_env: dict[str, str]
) -> None:
    users = tmp_path / "users.htpasswd"
    for user in ("alice", "bob"):
        run_berth("registry", "htpasswd", str(users), user, "--password-stdin", "--rounds", "4", stdin=f"{user}-pw\n")
    assert oct(users.stat().st_mode & 0o777) == "0o600"
    policy = tmp_path / "policy"
    policy.write_text("team/*  alice  pull,push,delete\nteam/*  bob  pull\npublic/*  anonymous  pull\npublic/*  alice  push\n")
    server = start_registry("--auth", f"htpasswd:{users}", "--policy", str(policy))
    image = write_oci_layout(str(tmp_path / "image"), (20_000,), tag="v1")
    ref = f"docker://{server.host}/team/app:v1"

    denied = skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "bob:bob-pw", image.reference, ref, check=False)
    assert denied.returncode != 0
    assert "denied" in denied.stderr.lower() or "403" in denied.stderr
    anonymous = skopeo("copy", "--dest-tls-verify=false", image.reference, ref, check=False)
    assert anonymous.returncode != 0
    assert "401" in anonymous.stderr or "unauthorized" in anonymous.stderr.lower()
    wrong = skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "alice:nope", image.reference, ref, check=False)
    assert wrong.returncode != 0
    assert stored_blob_files(server.storage) == []
    assert not (server.storage / "repositories").exists() or not any((server.storage / "repositories").rglob("link"))

    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "alice:alice-pw", image.reference, ref)
    assert manifest_digest(skopeo_env, ref, "--creds", "bob:bob-pw") == str(image.manifest.digest)
    refused = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", ref], capture_output=True, text=True, env=skopeo_env)
    assert refused.returncode != 0  # anonymous pull of team/* is not allowed

    public = f"docker://{server.host}/public/web:v1"
    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "alice:alice-pw", image.reference, public)
    assert manifest_digest(skopeo_env, public) == str(image.manifest.digest)  # anonymous pull allowed here


def test_login_and_token_flow_with_skopeo(tmp_path: Path, start_registry: Start, skopeo: Skopeo, skopeo_env: dict[str, str]) -> None:
    users = tmp_path / "users.htpasswd"
    users.write_text(Htpasswd.make_entry("alice", "s3cret", rounds=4) + "\n")
    server = start_registry("--auth", f"htpasswd:{users}")
    challenge = httpx.get(server.url + "/v2/").headers["WWW-Authenticate"]
    assert challenge.startswith(f'Bearer realm="{server.url}/berth/v1/token"')
    bad = skopeo("login", "--tls-verify=false", "-u", "alice", "-p", "wrong", server.host, check=False)
    assert bad.returncode != 0
    skopeo("login", "--tls-verify=false", "-u", "alice", "-p", "s3cret", server.host)
    assert server.host in Path(skopeo_env["REGISTRY_AUTH_FILE"]).read_text()
    image = write_oci_layout(str(tmp_path / "image"), (10_000,), tag="v1")
    ref = f"docker://{server.host}/app:v1"
    skopeo("copy", "--dest-tls-verify=false", image.reference, ref)  # credentials from the login
    skopeo("copy", "--src-tls-verify=false", ref, f"oci:{tmp_path / 'back'}:v1")
    assert read_layout_manifest(str(tmp_path / "back"), "v1")[0].digest == image.manifest.digest
    skopeo("logout", server.host)
    assert skopeo("inspect", "--tls-verify=false", ref, check=False).returncode != 0


def test_tls(tmp_path: Path, start_registry: Start, skopeo: Skopeo, skopeo_env: dict[str, str]) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    server = start_registry("--tls-cert", str(cert), "--tls-key", str(key))
    assert server.url.startswith("https://")
    assert httpx.get(server.url + "/v2/", verify=ssl.create_default_context(cafile=str(cert))).status_code == 200
    with pytest.raises(httpx.HTTPError):
        httpx.get(server.url.replace("https", "http") + "/v2/", timeout=5)
    certs = tmp_path / "certs"
    certs.mkdir()
    shutil.copy(cert, certs / "ca.crt")
    image = write_oci_layout(str(tmp_path / "image"), (10_000,), tag="v1")
    skopeo("copy", "--dest-cert-dir", str(certs), image.reference, f"docker://{server.host}/app:v1")
    assert manifest_digest(skopeo_env, f"docker://{server.host}/app:v1") == str(image.manifest.digest)


def test_two_concurrent_pushes_of_the_same_layers(tmp_path: Path, start_registry: Start, skopeo: Skopeo) -> None:
    image = write_oci_layout(str(tmp_path / "image"), (3_000_000, 2_000_000, 1_000_000), tag="v1")
    server = start_registry()
    results: list[subprocess.CompletedProcess[str]] = []

    def push(repo: str) -> None:
        results.append(skopeo("copy", "--dest-tls-verify=false", image.reference, f"docker://{server.host}/{repo}:v1", check=False))

    for round_ in range(3):
        threads = [threading.Thread(target=push, args=(f"r{round_}/{i}",)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert [r.returncode for r in results] == [0] * 6, [r.stderr for r in results]
    assert len(stored_blob_files(server.storage)) == 1 + len(image.blobs)


def test_concurrent_pulls(tmp_path: Path, start_registry: Start, skopeo: Skopeo) -> None:
    image = write_oci_layout(str(tmp_path / "image"), (2_000_000,), tag="v1")
    server = start_registry()
    skopeo("copy", "--dest-tls-verify=false", image.reference, f"docker://{server.host}/app:v1")
    results: list[int] = []

    def pull(i: int) -> None:
        out = f"oci:{tmp_path / f'pull{i}'}:v1"
        results.append(skopeo("copy", "--src-tls-verify=false", f"docker://{server.host}/app:v1", out, check=False).returncode)

    threads = [threading.Thread(target=pull, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [0] * 8
    for i in range(8):
        assert read_layout_manifest(str(tmp_path / f"pull{i}"), "v1")[0].digest == image.manifest.digest
    assert os.path.exists(server.storage)
