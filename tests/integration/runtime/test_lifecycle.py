"""create/start/state/kill/delete, exit statuses, cgroup limits, the terminal and init."""

from __future__ import annotations

import array
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from .conftest import Bundle


def test_exit_status_is_the_commands(bundle: Bundle) -> None:
    assert bundle.sh("exit 3").returncode == 3
    assert bundle.sh("exit 0").returncode == 0


def test_death_by_signal_gives_128_plus_n(bundle: Bundle) -> None:
    bundle.process["args"] = ["sleep", "600"]
    bundle.write()
    cmd = [sys.executable, "-m", "berth", "runtime", "--root", str(bundle.state), "run", "-b", str(bundle.path),
           bundle.id]
    runner = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(200):
            state = bundle.berth("state", bundle.id)
            if state.returncode == 0 and json.loads(state.stdout)["status"] == "running":
                break
            time.sleep(0.02)
        # PID 1 of a pid namespace only dies of signals sent from outside it.
        assert bundle.berth("kill", bundle.id, "KILL").returncode == 0
        assert runner.wait(timeout=30) == 128 + signal.SIGKILL
    finally:
        runner.kill()
        runner.wait()


def test_create_start_state_kill_delete(bundle: Bundle) -> None:
    bundle.process["args"] = ["sh", "-c", "trap 'exit 7' TERM; while true; do sleep 0.1; done"]
    bundle.write()
    created = bundle.berth("create", "-b", str(bundle.path), bundle.id)
    assert created.returncode == 0, created.stderr
    state = json.loads(bundle.berth("state", bundle.id, check=True).stdout)
    assert state["status"] == "created" and state["pid"] > 0
    assert bundle.cgroup_dirs(), "create makes the cgroup"
    assert bundle.berth("start", bundle.id).returncode == 0
    state = json.loads(bundle.berth("state", bundle.id, check=True).stdout)
    assert state["status"] == "running"
    listed = bundle.berth("list", "-q", check=True).stdout.split()
    assert listed == [bundle.id]
    refused = bundle.berth("delete", bundle.id)
    assert refused.returncode != 0 and "running" in refused.stderr
    assert bundle.berth("kill", bundle.id, "TERM").returncode == 0
    for _ in range(100):
        if json.loads(bundle.berth("state", bundle.id, check=True).stdout)["status"] == "stopped":
            break
        time.sleep(0.05)
    else:
        raise AssertionError("container did not stop")
    assert bundle.berth("delete", bundle.id).returncode == 0
    assert bundle.cgroup_dirs() == []
    assert not (bundle.state / bundle.id).exists()
    gone = bundle.berth("state", bundle.id)
    assert gone.returncode != 0 and "does not exist" in gone.stderr


def test_delete_force_kills_a_running_container(bundle: Bundle) -> None:
    bundle.detach("sleep", "600")
    pid = json.loads(bundle.berth("state", bundle.id, check=True).stdout)["pid"]
    assert bundle.berth("delete", "--force", bundle.id).returncode == 0
    assert not Path(f"/proc/{pid}/cmdline").exists() or b"sleep" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    assert bundle.cgroup_dirs() == []


def test_pause_and_resume_freeze_the_container(bundle: Bundle) -> None:
    bundle.detach("sleep", "600")
    try:
        bundle.berth("pause", bundle.id, check=True)
        state = json.loads(bundle.berth("state", bundle.id, check=True).stdout)
        assert state["status"] == "paused"
        freezer = [d for d in bundle.cgroup_dirs() if "/freezer/" in d]
        assert Path(freezer[0], "freezer.state").read_text().strip() == "FROZEN"
        bundle.berth("resume", bundle.id, check=True)
        assert json.loads(bundle.berth("state", bundle.id, check=True).stdout)["status"] == "running"
    finally:
        bundle.berth("delete", "--force", bundle.id)


def test_memory_hog_is_oom_killed_and_the_host_is_untouched(bundle: Bundle) -> None:
    bundle.spec["linux"]["resources"]["memory"] = {"limit": 32 * 1024 * 1024, "swap": 32 * 1024 * 1024}
    # dd's 128 MiB buffer is touched by the read from /dev/zero.
    result = bundle.sh("dd if=/dev/zero of=/dev/null bs=128M count=1; echo survived=$?")
    assert "survived=0" not in result.stdout
    assert "survived=137" in result.stdout or result.returncode == 137, (result.stdout, result.stderr)
    assert os.getpid() > 0  # this process, outside the limit, is alive and well
    assert bundle.cgroup_dirs() == []


def test_fork_bomb_stops_at_the_pids_limit(bundle: Bundle) -> None:
    bundle.spec["linux"]["resources"]["pids"] = {"limit": 20}
    # A child shell forks until refused; the count uses builtins only, since at the
    # limit even `ls` could not be forked.
    bomb = "sh -c 'i=0; while [ $i -lt 60 ]; do sleep 30 & i=$((i+1)); done' 2>/dev/null"
    script = f"{bomb} & wait $!; set -- /proc/[0-9]*; echo $#"
    result = bundle.sh(script, timeout=60)
    count = int(result.stdout.split()[-1])
    assert 0 < count <= 20, result.stdout
    assert bundle.cgroup_dirs() == []


def test_cpu_and_memory_limits_reach_the_cgroup(bundle: Bundle) -> None:
    bundle.spec["linux"]["resources"]["memory"] = {"limit": 64 * 1024 * 1024}
    bundle.spec["linux"]["resources"]["cpu"] = {"quota": 50000, "period": 100000, "shares": 512}
    bundle.detach("sleep", "600")
    try:
        dirs = {d.split("/")[4]: d for d in bundle.cgroup_dirs()}
        assert Path(dirs["memory"], "memory.limit_in_bytes").read_text().strip() == str(64 * 1024 * 1024)
        assert Path(dirs["cpu"], "cpu.cfs_quota_us").read_text().strip() == "50000"
        assert Path(dirs["cpu"], "cpu.shares").read_text().strip() == "512"
        pid = json.loads(bundle.berth("state", bundle.id, check=True).stdout)["pid"]
        assert str(pid) in Path(dirs["memory"], "cgroup.procs").read_text().split()
    finally:
        bundle.berth("delete", "--force", bundle.id)
    assert bundle.cgroup_dirs() == []


def test_terminal_master_goes_to_the_console_socket(bundle: Bundle, tmp_path: Path) -> None:
    bundle.process["terminal"] = True
    bundle.process["args"] = ["sh", "-c", "tty; stty size; echo done"]
    bundle.process["consoleSize"] = {"height": 33, "width": 77}
    bundle.write()
    path = str(tmp_path / "console.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    try:
        created = bundle.berth("create", "--console-socket", path, "-b", str(bundle.path), bundle.id)
        assert created.returncode == 0, created.stderr
        conn, _ = server.accept()
        fds = array.array("i")
        _, ancdata, _, _ = conn.recvmsg(64, socket.CMSG_SPACE(fds.itemsize))
        fds.frombytes(ancdata[0][2][: fds.itemsize])
        master = fds[0]
        conn.close()
        bundle.berth("start", bundle.id, check=True)
        output = b""
        while b"done" not in output:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        os.close(master)
        text = output.decode()
        assert "/dev/pts/0" in text
        assert "33 77" in text
    finally:
        server.close()
        bundle.berth("delete", "--force", bundle.id)


def test_init_reaps_zombies_and_forwards_signals(bundle: Bundle) -> None:
    bundle.spec["annotations"] = {"run.berth.init": "true"}
    # The shell leaves an orphan that exits; init must reap it. A TERM sent to PID 1
    # reaches the shell, which traps it and exits 9.
    script = "(sleep 0.1 &) ; trap 'exit 9' TERM; kill -TERM 1; sleep 5; exit 1"
    result = bundle.sh(script)
    assert result.returncode == 9, (result.stdout, result.stderr)


def test_init_exits_with_the_programs_status(bundle: Bundle) -> None:
    bundle.spec["annotations"] = {"run.berth.init": "true"}
    result = bundle.sh("ps -o pid,comm | grep -c berth-init; exit 4")
    assert result.returncode == 4
    assert result.stdout.strip() == "1"
