"""The warm start: commands run in workers forked from berth's fork server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

BERTH = os.path.join(os.path.dirname(sys.executable), "berth")


@pytest.fixture
def fs_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = dict(os.environ, BERTH_FORKSERVER_DIR=str(tmp_path / "fs"), BERTH_ROOT=str(tmp_path / "root"),
               BERTH_RUN=str(tmp_path / "run"))
    env.pop("BERTH_FORKSERVER", None)
    yield env
    for sock in (tmp_path / "fs").glob("*.sock"):
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    cmdline = open(f"/proc/{pid}/cmdline", "rb").read()
                except OSError:
                    continue
                if str(sock).encode() in cmdline:
                    os.kill(int(pid), signal.SIGTERM)


def _server_up(env: dict[str, str]) -> None:
    subprocess.run([BERTH, "--version"], env=env, check=True, capture_output=True)
    folder = Path(env["BERTH_FORKSERVER_DIR"])
    for _ in range(200):
        if list(folder.glob("*.sock")):
            return
        time.sleep(0.05)
    raise AssertionError("the fork server did not start")


def _server_pids(env: dict[str, str]) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmdline = open(f"/proc/{pid}/cmdline", "rb").read()
            except OSError:
                continue
            if b"berth.cli.forkserver" in cmdline and env["BERTH_FORKSERVER_DIR"].encode() in cmdline:
                found.append(int(pid))
    return found


def test_commands_run_in_workers_with_our_stdio_env_cwd_and_status(fs_env: dict[str, str], tmp_path: Path) -> None:
    _server_up(fs_env)
    assert _server_pids(fs_env)
    (tmp_path / "spec").mkdir()
    done = subprocess.run([BERTH, "runtime", "spec", "--no-terminal"], cwd=tmp_path / "spec", env=fs_env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "spec" / "config.json").exists()  # the worker used our cwd
    again = subprocess.run([BERTH, "runtime", "spec"], cwd=tmp_path / "spec", env=fs_env, capture_output=True,
                           text=True)
    assert again.returncode == 125 and "already exists" in again.stderr  # status and stderr come back
    listed = subprocess.run([BERTH, "runtime", "--root", str(tmp_path / "rt"), "list", "-q"], env=fs_env,
                            capture_output=True, text=True)
    assert listed.returncode == 0 and listed.stdout == ""


def test_a_changed_berth_never_runs_old_code(fs_env: dict[str, str]) -> None:
    from berth.cli.launch import package_stamp

    _server_up(fs_env)
    stamp = package_stamp()
    sockets = [p.name for p in Path(fs_env["BERTH_FORKSERVER_DIR"]).glob("*.sock")]
    assert sockets == [f"{stamp}.sock"]


def test_signals_reach_the_worker(fs_env: dict[str, str], tmp_path: Path, busybox_rootfs: str) -> None:
    _server_up(fs_env)
    bundle = tmp_path / "b"
    bundle.mkdir()
    subprocess.run([BERTH, "runtime", "spec", "-b", str(bundle), "--no-terminal", "--rootfs", busybox_rootfs,
                    "--args", "sleep 600"], env=fs_env, check=True)
    proc = subprocess.Popen([BERTH, "runtime", "--root", str(tmp_path / "rt"), "run", "-b", str(bundle), "sig"],
                            env=fs_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        state = tmp_path / "rt" / "sig" / "state.json"
        for _ in range(200):
            if state.exists():
                break
            time.sleep(0.05)
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)  # forwarded to the worker, which forwards it to the container
        # PID 1 of a pid namespace ignores TERM without a handler; KILL from outside ends it.
        subprocess.run([BERTH, "runtime", "--root", str(tmp_path / "rt"), "kill", "sig", "KILL"], env=fs_env)
        assert proc.wait(timeout=20) == 137
    finally:
        proc.kill()
        proc.wait()


def test_it_can_be_turned_off(fs_env: dict[str, str]) -> None:
    env = dict(fs_env, BERTH_FORKSERVER="0")
    subprocess.run([BERTH, "--version"], env=env, check=True, capture_output=True)
    time.sleep(0.3)
    assert not _server_pids(env)
