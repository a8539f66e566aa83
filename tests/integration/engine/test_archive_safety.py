"""Host-side work on container content never reaches a host file (issue 17, items 1, 3, 16).

The attack of item 1: a container swaps a folder for a symlink to ``/`` in a tight loop
while the host copies a path below that folder, in and out. Before the fix the host
resolved the path over /proc/PID/root and then opened it itself, so some copies read or
wrote the host's file. Race-free by construction means zero, however long it runs.
"""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from berth.engine.engine import Engine

from .conftest import Berth

ATTACK_SECONDS = 10.0
SWAP = "while :; do mv /w/d /w/t; ln -s / /w/d; rm /w/d; mv /w/t /w/d; done"


def _engine(berth: Berth) -> Engine:
    return Engine(berth.env["BERTH_ROOT"], berth.env["BERTH_RUN"])


def _racer(berth: Berth, canary: Path) -> None:
    """A container whose /w/d flips between a folder holding ``canary``'s path (with
    the container's own file in it) and a symlink to its /."""
    berth.ok("run", "-d", "--name", "race", "--network", "none", "busybox", "sh", "-c",
             f"mkdir -p /w/d{canary} && echo container > /w/d{canary}/hostfile && {SWAP}")


def _host_canary(berth: Berth) -> Path:
    canary = berth.tmp / "canary"
    canary.mkdir()
    (canary / "hostfile").write_text("host\n")
    return canary


def test_cp_out_of_a_swapping_container_never_reads_a_host_file(berth: Berth) -> None:
    canary = _host_canary(berth)
    _racer(berth, canary)
    engine = _engine(berth)
    reads = {"container": 0, "host": 0, "missing": 0}
    deadline = time.monotonic() + ATTACK_SECONDS
    while time.monotonic() < deadline:
        out = io.BytesIO()
        try:
            engine.archive_get("race", f"/w/d{canary}/hostfile", out)
        except Exception:
            reads["missing"] += 1  # the folder was a symlink to / that instant: no such file there
            continue
        out.seek(0)
        with tarfile.open(fileobj=out) as tar:
            member = tar.extractfile("hostfile")
            data = member.read() if member else b""
        reads["host" if data == b"host\n" else "container"] += 1
    # The CLI as a user runs it, for good measure.
    for i in range(20):
        result = berth("cp", f"race:/w/d{canary}/hostfile", str(berth.tmp / f"out{i}"))
        if result.returncode == 0:
            text = (berth.tmp / f"out{i}").read_text()
            reads["host" if text == "host\n" else "container"] += 1
    assert reads["host"] == 0, reads
    assert reads["container"] > 50, reads


def test_cp_into_a_swapping_container_never_writes_a_host_file(berth: Berth) -> None:
    canary = _host_canary(berth)
    _racer(berth, canary)
    engine = _engine(berth)
    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w") as tar:
        info = tarfile.TarInfo("planted")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
        info = tarfile.TarInfo("hostfile")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    writes = 0
    deadline = time.monotonic() + ATTACK_SECONDS
    while time.monotonic() < deadline:
        payload.seek(0)
        try:
            engine.archive_put("race", f"/w/d{canary}", payload)
            writes += 1
        except Exception:
            continue
    (berth.tmp / "planted").write_text("evil")
    for _ in range(10):
        berth("cp", str(berth.tmp / "planted"), f"race:/w/d{canary}/")
    assert sorted(os.listdir(canary)) == ["hostfile"]
    assert (canary / "hostfile").read_text() == "host\n"
    assert writes > 50
    # The writes went where the container sees them (/w/d, or /w/t if stopped mid-swap).
    assert f"{canary}/planted" in berth.ok("diff", "race")


def test_cp_of_a_stopped_container_mounts_nothing_on_the_host_even_when_killed(berth: Berth) -> None:
    berth.ok("run", "--name", "stopped", "--network", "none", "busybox", "sh", "-c",
             "dd if=/dev/zero of=/big bs=1M count=64 2>/dev/null")
    root = berth.env["BERTH_ROOT"]
    # A cp to a pipe nobody reads blocks half-way with the container's files open.
    proc = subprocess.Popen([sys.executable, "-m", "berth", "cp", "stopped:/big", "-"], env=berth.env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        assert len(proc.stdout.read(4096)) == 4096  # it is copying
        assert [p for p in _mount_points() if p.startswith(root)] == []
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        proc.kill()
        proc.wait()
    assert [p for p in _mount_points() if p.startswith(root)] == []
    check = berth("system", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert berth.ok("cp", "stopped:/big", str(berth.tmp / "big")) == ""
    assert (berth.tmp / "big").stat().st_size == 64 << 20


def _mount_points() -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f]


def test_cp_tar_from_stdin_is_unpacked_and_checked_first(berth: Berth) -> None:
    berth.ok("create", "--name", "target", "--network", "none", "busybox", "true")
    good = io.BytesIO()
    with tarfile.open(fileobj=good, mode="w") as tar:
        folder = tarfile.TarInfo("app")
        folder.type, folder.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(folder)
        info = tarfile.TarInfo("app/hello.txt")
        info.size, info.mode = 6, 0o640
        tar.addfile(info, io.BytesIO(b"hello\n"))
    cmd = [sys.executable, "-m", "berth", "cp", "-", "target:/tmp"]
    result = subprocess.run(cmd, input=good.getvalue(), env=berth.env, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    out = subprocess.run([sys.executable, "-m", "berth", "cp", "target:/tmp/app/hello.txt", "-"], env=berth.env,
                         capture_output=True, timeout=60).stdout
    with tarfile.open(fileobj=io.BytesIO(out)) as tar:
        member = tar.getmember("hello.txt")
        assert member.mode == 0o640 and member.uid == 0
        f = tar.extractfile(member)
        assert f is not None and f.read() == b"hello\n"

    escape = berth.tmp / "escaped"
    bad = io.BytesIO()
    with tarfile.open(fileobj=bad, mode="w") as tar:
        info = tarfile.TarInfo("first")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"1"))
        info = tarfile.TarInfo("../../../../../../../../" + str(escape).lstrip("/"))
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    result = subprocess.run(cmd, input=bad.getvalue(), env=berth.env, capture_output=True, timeout=60)
    assert result.returncode != 0
    assert b"outside the destination" in result.stderr
    assert not escape.exists()
    assert "/tmp/first" not in berth.ok("diff", "target")  # checked before anything was written


def test_archive_stat_is_dockers_path_stat(berth: Berth) -> None:
    berth.ok("run", "--name", "st", "--network", "none", "busybox", "sh", "-c",
             "mkdir /d && echo abc > /d/f && ln -s /d/f /link")
    engine = _engine(berth)
    stat = engine.archive_stat("st", "/d/f")
    assert (stat.name, stat.size, stat.mode, stat.link_target) == ("f", 4, 0o644, "")
    folder = engine.archive_stat("st", "/d")
    assert folder.is_dir and folder.mode == (1 << 31) | 0o755
    link = engine.archive_stat("st", "/link")
    assert link.is_symlink and link.link_target == "/d/f"
    decoded = json.loads(base64.b64decode(link.header()))
    assert set(decoded) == {"name", "size", "mode", "mtime", "linkTarget"}
    assert decoded["mtime"].endswith("Z") and "T" in decoded["mtime"]
    berth.ok("cp", "-L", "st:/link", str(berth.tmp / "followed"))
    assert (berth.tmp / "followed").read_text() == "abc\n"
    berth.ok("cp", "st:/d", str(berth.tmp / "copy"))
    assert (berth.tmp / "copy" / "f").read_text() == "abc\n"
    berth.ok("cp", "st:/d/.", str(berth.tmp / "contents"))
    assert (berth.tmp / "contents" / "f").exists()


def test_a_setuid_file_copied_out_loses_its_setuid_bit_unless_archive(berth: Berth) -> None:
    berth.ok("run", "--name", "suid", "--network", "none", "busybox", "sh", "-c",
             "cp /bin/busybox /sush && chmod 4755 /sush")
    berth.ok("cp", "suid:/sush", str(berth.tmp / "plain"))
    assert (berth.tmp / "plain").stat().st_mode & 0o7777 == 0o755
    berth.ok("cp", "-a", "suid:/sush", str(berth.tmp / "kept"))
    assert (berth.tmp / "kept").stat().st_mode & 0o7777 == 0o4755


def test_diff_and_commit_of_a_swapping_container_never_walk_the_host(berth: Berth) -> None:
    canary = _host_canary(berth)
    _racer(berth, canary)
    engine = _engine(berth)
    cid = engine.get("race").id
    seen: set[str] = set()
    deadline = time.monotonic() + ATTACK_SECONDS
    while time.monotonic() < deadline:
        seen.update(path for _, path in engine.store.diff(cid))
    allowed = {"/w", "/w/d", "/w/t"}
    strays = {p for p in seen if p not in allowed and not p.startswith(("/w/d/tmp", "/w/t/tmp"))}
    assert strays == set(), sorted(strays)[:20]
    for i in range(8):
        berth.ok("commit", "--no-pause", "race", f"snap:{i}")
        out = subprocess.run([sys.executable, "-m", "berth", "save", f"snap:{i}"], env=berth.env,
                             capture_output=True, timeout=120).stdout
        with tarfile.open(fileobj=io.BytesIO(out)) as saved:
            manifest = json.load(saved.extractfile("manifest.json"))  # type: ignore[arg-type]
            top = saved.extractfile(manifest[0]["Layers"][-1])
            assert top is not None
            with tarfile.open(fileobj=top) as layer:
                names = layer.getnames()
                assert all(n.startswith(("w", "etc")) for n in names), names[:20]  # etc: mount points
                for member in layer.getmembers():
                    if member.name.endswith("hostfile"):
                        f = layer.extractfile(member)
                        assert f is not None and f.read() == b"container\n"


def test_volume_prefill_never_writes_through_a_symlink_planted_by_another_container(berth: Berth) -> None:
    canary = _host_canary(berth) / "hostfile"
    berth.ok("volume", "create", "shared")
    # Keeps the volume looking empty, and a symlink to the host's canary where the
    # pre-fill would write the image's /etc/passwd.
    berth.ok("run", "-d", "--name", "planter", "--network", "none", "-v", "shared:/v", "busybox", "sh", "-c",
             f"while :; do rm -rf /v/* 2>/dev/null; ln -s {canary} /v/passwd; ln -s {canary} /v/group; "
             "rm -f /v/passwd /v/group; done")
    runs = 0
    deadline = time.monotonic() + ATTACK_SECONDS
    while time.monotonic() < deadline:
        berth("run", "--rm", "--network", "none", "-v", "shared:/etc", "busybox", "true")
        runs += 1
    assert canary.read_text() == "host\n"
    assert runs > 5
