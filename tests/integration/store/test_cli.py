"""The CLI verbs: output like Docker's, errors as exit code 125 with one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from berth.store import Store
from berth.store.bootstrap import busybox

from .conftest import berth

VERBS = [["images"], ["image"], ["image", "ls"], ["image", "inspect"], ["image", "history"], ["image", "tag"],
         ["image", "rm"], ["image", "prune"], ["image", "save"], ["image", "load"], ["image", "import"], ["tag"],
         ["rmi"], ["save"], ["load"], ["import"], ["history"], ["system"], ["system", "df"], ["system", "prune"],
         ["system", "check"], ["bootstrap"]]


@pytest.mark.parametrize("verb", VERBS, ids=" ".join)
def test_every_verb_has_complete_help(env: dict[str, str], verb: list[str]) -> None:
    text = berth(env, *verb, "--help").stdout.decode()
    assert "Usage: berth " + " ".join(verb) in text
    assert "Example" in text
    assert "-h, --help" in text


def test_images_inspect_history_tag_rmi(store: Store, env: dict[str, str]) -> None:
    img = busybox(store)
    lines = berth(env, "images").stdout.decode().splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert lines[0].startswith("REPOSITORY   TAG       IMAGE ID       CREATED")
    assert lines[1].split()[:3] == ["busybox", "latest", img.id.short]
    data = json.loads(berth(env, "image", "inspect", "busybox").stdout)
    assert data[0]["Id"] == str(img.id) and data[0]["RepoTags"] == ["busybox:latest"]
    assert {"Id", "RepoTags", "RepoDigests", "Created", "Config", "ContainerConfig", "Architecture", "Os", "Size",
            "RootFS", "GraphDriver", "Metadata"} <= set(data[0])
    assert data[0]["RootFS"]["Layers"] == [str(d) for d in img.config.diff_ids]
    assert berth(env, "image", "inspect", "-f", "{{json .Config.Cmd}}", "busybox").stdout == b'["sh"]\n'
    history = berth(env, "history", "busybox").stdout.decode().splitlines()
    assert history[0].split()[:3] == ["IMAGE", "CREATED", "CREATED"] and img.id.short in history[1]
    berth(env, "tag", "busybox", "registry.local:5000/tools/bb:1")
    assert berth(env, "images", "--format", "{{.Repository}}:{{.Tag}}").stdout.decode().split() == \
        ["busybox:latest", "registry.local:5000/tools/bb:1"]
    assert berth(env, "rmi", "registry.local:5000/tools/bb:1").stdout == b"Untagged: registry.local:5000/tools/bb:1\n"


def test_errors_are_one_clear_line(store: Store, env: dict[str, str], tmp_path: Path) -> None:
    busybox(store)
    store.prepare_rootfs("a-container", store.images.get("busybox"), {})
    done = berth(env, "image", "inspect", "nope:1", check=False)
    assert done.returncode == 125 and b"No such image: nope:1" in done.stderr
    done = berth(env, "rmi", "busybox", check=False)
    assert done.returncode == 1 and b"container a-container is using its referenced image" in done.stderr
    done = berth(env, "tag", "busybox", "Not Valid", check=False)
    assert done.returncode == 125 and b"'Not Valid': repository name must be lowercase" in done.stderr
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"garbage" * 200)
    done = berth(env, "load", "-i", str(bad), check=False)
    assert done.returncode == 125 and done.stderr.decode().count("\n") == 1
    assert b"not a tar stream" in done.stderr
    done = berth(env, "import", "-c", "RUN make", str(bad), check=False)
    assert done.returncode == 125 and b"RUN is not a supported instruction" in done.stderr


def test_system_df_and_check(store: Store, env: dict[str, str]) -> None:
    busybox(store)
    lines = berth(env, "system", "df").stdout.decode().splitlines()
    assert lines[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert lines[1].split()[:3] == ["Images", "1", "0"] and lines[1].endswith("(100%)")
    types = [line.split("  ")[0].strip() for line in lines[1:]]
    assert types == ["Images", "Containers", "Local Volumes", "Build Cache", "Logs"]
    rows = [json.loads(x) for x in berth(env, "system", "df", "--format", "json").stdout.splitlines()]
    assert rows[0]["Type"] == "Images"
    out = berth(env, "system", "check").stdout.decode()
    assert out.strip().endswith("no problems")


def test_check_finds_and_repairs_damage(store: Store, env: dict[str, str]) -> None:
    img = busybox(store)
    blob = store.content.path(img.layers[0].blob)
    import os

    os.chmod(blob, 0o644)
    with open(blob, "r+b") as f:
        f.seek(100)
        f.write(b"X")
    layer_dir = store.snapshots.path(str(img.top_chain_id))
    os.unlink(os.path.join(layer_dir, "bin/busybox"))
    done = berth(env, "system", "check", check=False)
    assert done.returncode == 1
    out = done.stdout.decode()
    assert "does not match its digest" in out and "layer folder changed" in out
    done = berth(env, "system", "check", "--repair", check=False)
    assert done.returncode == 0, done.stdout.decode()
    assert berth(env, "system", "check").returncode == 0
    assert berth(env, "images", "-q").stdout == b""  # the image lost a blob: it was removed
