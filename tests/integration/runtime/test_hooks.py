"""OCI hooks: the state each gets on stdin, and which failures stop the lifecycle (the
spec's: prestart and createRuntime do; poststart and poststop only warn)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .conftest import Bundle


def _hook(out: Path, name: str, *, fail: bool = False) -> dict[str, Any]:
    script = f"cat > {out / name}" + ("; echo broken >&2; exit 3" if fail else "")
    return {"path": "/bin/sh", "args": ["sh", "-c", script]}


def test_hooks_get_the_bundle_annotations_and_their_status(bundle: Bundle, tmp_path: Path) -> None:
    out = tmp_path / "hooks"
    out.mkdir()
    bundle.spec["root"]["path"] = os.path.relpath(bundle.spec["root"]["path"], bundle.path)  # not <bundle>/rootfs
    bundle.spec["annotations"] = {"org.example.who": "hook test"}
    bundle.spec["hooks"] = {kind: [_hook(out, kind)] for kind in ("prestart", "createRuntime", "poststart",
                                                                  "poststop")}
    bundle.run("true")
    states = {kind: json.loads((out / kind).read_text()) for kind in bundle.spec["hooks"]}
    for kind, state in states.items():
        assert state["id"] == bundle.id, kind
        assert state["bundle"] == str(bundle.path), kind
        assert state["annotations"] == {"org.example.who": "hook test"}, kind
    assert states["prestart"]["status"] == states["createRuntime"]["status"] == "created"
    assert states["poststart"]["status"] == "running"
    assert states["poststop"]["status"] == "stopped"
    assert states["prestart"]["pid"] == states["poststart"]["pid"] > 0


def test_a_failing_prestart_hook_fails_create(bundle: Bundle, tmp_path: Path) -> None:
    bundle.spec["hooks"] = {"prestart": [_hook(tmp_path, "pre", fail=True)]}
    result = bundle.run("true")
    assert result.returncode != 0
    assert "prestart hook /bin/sh: exit status 3: broken" in result.stderr
    assert bundle.cgroup_dirs() == []
    assert not (bundle.state / bundle.id).exists()


def test_failing_poststart_and_poststop_hooks_warn_and_the_lifecycle_goes_on(bundle: Bundle, tmp_path: Path) -> None:
    bundle.spec["hooks"] = {"poststart": [_hook(tmp_path, "start1", fail=True), _hook(tmp_path, "start2")],
                            "poststop": [_hook(tmp_path, "stop1", fail=True), _hook(tmp_path, "stop2")]}
    result = bundle.sh("echo ran")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ran\n"
    assert "berth: warning: poststart hook /bin/sh: exit status 3: broken" in result.stderr
    assert "berth: warning: poststop hook /bin/sh: exit status 3: broken" in result.stderr
    assert (tmp_path / "start2").exists() and (tmp_path / "stop2").exists()  # the next hook still ran
    assert not (bundle.state / bundle.id).exists()

    bundle.id += "-detached"
    bundle.spec["linux"]["cgroupsPath"] += "-detached"
    bundle.write()
    created = bundle.berth("create", "-b", str(bundle.path), bundle.id)
    assert created.returncode == 0, created.stderr
    started = bundle.berth("start", bundle.id)
    assert started.returncode == 0 and "poststart hook" in started.stderr
    deleted = bundle.berth("delete", "--force", bundle.id)
    assert deleted.returncode == 0 and "poststop hook" in deleted.stderr
