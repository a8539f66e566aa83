"""``berth registry history|rollback|gc|htpasswd`` on a storage folder and over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from berth.oci.digest import Digest
from berth.testing.ocilayout import write_oci_layout

from .conftest import (
    RegistryProcess,
    history_json,
    manifest_digest,
    needs_skopeo,
    run_berth,
    stored_blob_files,
)

Skopeo = Callable[..., subprocess.CompletedProcess[str]]
Start = Callable[..., RegistryProcess]


@needs_skopeo
def test_history_and_rollback_through_the_cli(
    tmp_path: Path, start_registry: Start, skopeo: Skopeo, skopeo_env: dict[str, str]
) -> None:
    users = tmp_path / "users"
    run_berth("registry", "htpasswd", str(users), "alice", "--password-stdin", "--rounds", "4", stdin="pw\n")
    server = start_registry("--auth", f"htpasswd:{users}")
    ref = f"docker://{server.host}/team/app:prod"
    images = [write_oci_layout(str(tmp_path / f"v{i}"), (5_000,), tag="v") for i in range(3)]
    for image in images:
        skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "alice:pw", image.reference, ref)
    digests = [str(i.manifest.digest) for i in images]

    doc = history_json(server.storage, "team/app:prod")  # offline read while the server runs
    assert doc["current"] == digests[2]
    moves = doc["history"]
    assert isinstance(moves, list)
    assert [(m["from"], m["to"], m["user"], m["action"]) for m in moves] == [
        (None, digests[0], "alice", "push"), (digests[0], digests[1], "alice", "push"), (digests[1], digests[2], "alice", "push"),
    ]
    table = run_berth("registry", "--storage", str(server.storage), "history", "team/app:prod").stdout.splitlines()
    assert table[0].split() == ["STEP", "TIME", "(UTC)", "USER", "ACTION", "FROM", "TO"]
    assert table[1].split()[0] == "0" and table[1].split()[-1] == digests[2].split(":")[1][:12]

    # over HTTP, with the token flow
    remote = ("--url", server.url, "-u", "alice", "--password-stdin")
    out = run_berth("registry", "rollback", "team/app:prod", "--steps", "2", *remote, stdin="pw\n").stdout
    assert digests[0] in out
    assert manifest_digest(skopeo_env, ref, "--creds", "alice:pw") == digests[0]
    remote_doc = json.loads(run_berth("registry", "history", "team/app:prod", "-f", "json", *remote, stdin="pw\n").stdout)
    assert remote_doc["history"][-1]["action"] == "rollback"
    denied = run_berth("registry", "rollback", "team/app:prod", "--url", server.url, check=False)
    assert denied.returncode != 0 and "UNAUTHORIZED" in denied.stderr

    # offline, on the storage folder, with the server stopped
    server.stop()
    run_berth("registry", "--storage", str(server.storage), "rollback", "team/app:prod", "--to", digests[1])
    doc = history_json(server.storage, "team/app:prod")
    assert doc["current"] == digests[1]
    last = doc["history"][-1]  # type: ignore[index]
    assert (last["action"], last["from"], last["to"]) == ("rollback", digests[0], digests[1])
    assert last["user"].startswith("local:")
    bad = run_berth("registry", "--storage", str(server.storage), "rollback", "team/app:prod", "--steps", "40", check=False)
    assert bad.returncode != 0 and "cannot go back 40" in bad.stderr
    restarted = RegistryProcess(server.storage, ("--auth", f"htpasswd:{users}")).start()
    try:
        assert manifest_digest(skopeo_env, f"docker://{restarted.host}/team/app:prod", "--creds", "alice:pw") == digests[1]
    finally:
        restarted.stop()


@needs_skopeo
def test_gc_keeps_referenced_blobs_and_removes_the_rest(tmp_path: Path, start_registry: Start, skopeo: Skopeo) -> None:
    server = start_registry()
    kept = write_oci_layout(str(tmp_path / "kept"), (10_000, 20_000), tag="v1")
    gone = write_oci_layout(str(tmp_path / "gone"), (30_000,), tag="v1")
    skopeo("copy", "--dest-tls-verify=false", kept.reference, f"docker://{server.host}/app:v1")
    skopeo("copy", "--dest-tls-verify=false", gone.reference, f"docker://{server.host}/app@{gone.manifest.digest}")
    orphan = os.urandom(5000)
    with httpx.Client(base_url=server.url) as http:
        r = http.post("/v2/app/blobs/uploads/", params={"digest": str(Digest.from_bytes(orphan))}, content=orphan)
        assert r.status_code == 201
        assert http.delete(f"/v2/app/manifests/{gone.manifest.digest}").status_code == 202
    server.stop()
    storage = str(server.storage)
    before = stored_blob_files(server.storage)
    dry = run_berth("registry", "--storage", storage, "gc", "--dry-run").stdout
    assert stored_blob_files(server.storage) == before
    expected_gone = {str(Digest.from_bytes(orphan)), str(gone.manifest.digest), *(str(b.digest) for b in gone.blobs)}
    assert {line.split()[3] for line in dry.splitlines() if line.startswith("would remove blob")} == expected_gone
    out = run_berth("registry", "--storage", storage, "gc").stdout
    assert f"removed {len(expected_gone)} blobs" in out
    remaining = {"sha256:" + p.parent.name for p in stored_blob_files(server.storage)}
    assert remaining == {str(kept.manifest.digest), *(str(b.digest) for b in kept.blobs)}
    restarted = start_registry()
    skopeo("copy", "--src-tls-verify=false", f"docker://{restarted.host}/app:v1", f"oci:{tmp_path / 'check'}:v1")
    with httpx.Client(base_url=restarted.url) as http:
        assert http.get(f"/v2/app/blobs/{Digest.from_bytes(orphan)}").status_code == 404


def test_gc_and_history_need_an_existing_storage(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope")
    for args in (("gc",), ("history", "a:b"), ("rollback", "a:b")):
        result = run_berth("registry", "--storage", missing, *args, check=False)
        assert result.returncode != 0
        assert result.stderr.strip().startswith("berth: registry storage")
        assert len(result.stderr.strip().splitlines()) == 1
    assert not os.path.exists(missing)


@pytest.mark.parametrize("ref", ["noseparator", "UPPER:tag", "a:-bad", "a/../b:t", "a:b/c"])
def test_bad_references_are_one_clear_error(tmp_path: Path, ref: str) -> None:
    result = run_berth("registry", "--storage", str(tmp_path), "history", ref, check=False)
    assert result.returncode != 0
    assert result.stderr.startswith("berth: ")
    assert "Traceback" not in result.stderr


def test_serve_refuses_bad_options(tmp_path: Path) -> None:
    for args in (("--listen", "nope"), ("--auth", "ldap:x"), ("--auth", f"htpasswd:{tmp_path / 'missing'}"),
                 ("--tls-cert", __file__)):
        result = run_berth("registry", "--storage", str(tmp_path / "s"), "serve", *args, check=False)
        assert result.returncode != 0, args
        assert "Traceback" not in result.stderr, result.stderr
    policy = tmp_path / "policy"
    policy.write_text("* alice fly\n")
    users = tmp_path / "users"
    run_berth("registry", "htpasswd", str(users), "alice", "--password-stdin", "--rounds", "4", stdin="pw\n")
    result = run_berth("registry", "--storage", str(tmp_path / "s"), "serve", "--auth", f"htpasswd:{users}",
                       "--policy", str(policy), check=False)
    assert result.returncode != 0 and "policy:1" in result.stderr.replace(str(policy), "policy")


def test_htpasswd_add_change_delete(tmp_path: Path) -> None:
    users = tmp_path / "users"
    run_berth("registry", "htpasswd", str(users), "alice", "--password-stdin", "--rounds", "4", stdin="one\n")
    run_berth("registry", "htpasswd", str(users), "bob", "--password-stdin", "--rounds", "4", stdin="two\n")
    run_berth("registry", "htpasswd", str(users), "alice", "--password-stdin", "--rounds", "4", stdin="three\n")
    lines = users.read_text().splitlines()
    assert [line.split(":")[0] for line in lines] == ["bob", "alice"]
    import bcrypt

    assert bcrypt.checkpw(b"three", lines[1].split(":", 1)[1].encode())
    run_berth("registry", "htpasswd", str(users), "bob", "-D")
    assert [line.split(":")[0] for line in users.read_text().splitlines()] == ["alice"]
    assert run_berth("registry", "htpasswd", str(users), "bob", "-D", check=False).returncode != 0
    assert run_berth("registry", "htpasswd", str(users), "anonymous", "--password-stdin", stdin="x\n", check=False).returncode != 0


@pytest.mark.parametrize("verb", ["serve", "history", "rollback", "gc", "htpasswd"])
def test_every_verb_has_complete_help(verb: str) -> None:
    text = run_berth("registry", verb, "--help").stdout
    assert "Example" in text
    options = [line.split()[0] for line in text.splitlines() if line.strip().startswith("-")]
    assert options  # every option is listed with its help
    for line in text.split("Options:", 1)[1].splitlines():
        if line.strip().startswith("-"):
            assert len(line.split()) > 1, f"{verb}: option without help: {line}"
