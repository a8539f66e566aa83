"""The container lifecycle through the CLI, as the issue lists it."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from .conftest import Berth


def test_run_foreground_prints_and_exits_with_the_status(berth: Berth) -> None:
    result = berth("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert result.returncode == 3
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"
    assert berth.ok("ps", "-aq") == ""  # --rm left nothing


def test_run_detached_then_logs_follow_and_exec(berth: Berth) -> None:
    cid = berth.ok("run", "-d", "--name", "ticker", "busybox", "sh", "-c",
                   "i=0; while [ $i -lt 5 ]; do echo tick $i; i=$((i+1)); sleep 0.2; done")
    assert len(cid) == 64
    follow = berth("logs", "-f", "ticker", timeout=30)
    assert follow.stdout.splitlines() == [f"tick {i}" for i in range(5)]
    assert berth.inspect("ticker", "{{.State.Status}}") == "exited"
    assert berth.inspect("ticker", "{{.State.ExitCode}}") == "0"
    assert berth.ok("logs", "--tail", "2", "ticker").splitlines() == ["tick 3", "tick 4"]
    stamped = berth.ok("logs", "-t", "ticker").splitlines()[0]
    assert stamped.endswith(" tick 0") and "T" in stamped.split()[0]

    berth.ok("run", "-d", "--name", "sleeper", "busybox", "sleep", "600")
    assert berth.ok("exec", "sleeper", "sh", "-c", "echo $$; hostname") .splitlines()[1] == cid[:0] + \
        berth.inspect("sleeper", "{{.Config.Hostname}}")
    assert berth("exec", "sleeper", "sh", "-c", "exit 7").returncode == 7
    assert berth.ok("exec", "-e", "X=42", "-w", "/tmp", "-u", "1000", "sleeper", "sh", "-c",
                    'echo $X $(pwd) $(id -u)') == "42 /tmp 1000"


def test_interactive_tty_through_a_pty(berth: Berth) -> None:
    master, slave = pty.openpty()
    cmd = [sys.executable, "-m", "berth", "run", "-it", "--rm", "busybox", "sh"]
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=berth.env, close_fds=True)
    os.close(slave)
    out = b""

    def read_until(marker: bytes, timeout: float = 20) -> None:
        nonlocal out
        deadline = time.monotonic() + timeout
        while marker not in out and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    out += os.read(master, 4096)
                except OSError:
                    break
        assert marker in out, out

    try:
        read_until(b"# ")
        os.write(master, b"tty; echo MARK$((40+2))\n")
        read_until(b"MARK42")
        assert b"/dev/pts/0" in out or b"/dev/console" in out
        os.write(master, b"exit 5\n")
        assert proc.wait(timeout=20) == 5
    finally:
        proc.kill()
        proc.wait()
        os.close(master)


def test_piped_stdin_reaches_the_container(berth: Berth) -> None:
    result = berth("run", "-i", "--rm", "busybox", "sh", "-c", "tr a-z A-Z", input="hello\nworld\n")
    assert result.returncode == 0
    assert result.stdout == "HELLO\nWORLD\n"


def test_stop_honours_the_timeout_and_the_stop_signal(berth: Berth) -> None:
    # Ignores TERM: stop must wait the timeout, then kill.
    berth.ok("run", "-d", "--name", "stubborn", "busybox", "sh", "-c", "trap '' TERM; while true; do sleep 0.1; done")
    start = time.monotonic()
    berth.ok("stop", "-t", "2", "stubborn")
    elapsed = time.monotonic() - start
    assert 1.8 <= elapsed < 10, elapsed
    assert berth.inspect("stubborn", "{{.State.ExitCode}}") == "137"
    # Honours a custom stop signal: USR1 is trapped and turned into exit 10.
    berth.ok("run", "-d", "--name", "polite", "--stop-signal", "SIGUSR1", "busybox", "sh", "-c",
             "trap 'exit 10' USR1; while true; do sleep 0.1; done")
    start = time.monotonic()
    berth.ok("stop", "-t", "20", "polite")
    assert time.monotonic() - start < 5
    assert berth.inspect("polite", "{{.State.ExitCode}}") == "10"


def test_image_stopsignal_is_used(berth: Berth, busybox_tar: str) -> None:
    berth.ok("import", "--change", "STOPSIGNAL SIGUSR2", busybox_tar, "usr2:latest")
    berth.ok("run", "-d", "--name", "u2", "usr2", "sh", "-c", "trap 'exit 12' USR2; while true; do sleep 0.1; done")
    berth.ok("stop", "-t", "20", "u2")
    assert berth.inspect("u2", "{{.State.ExitCode}}") == "12"


def test_restart_on_failure_restarts_exactly_three_times(berth: Berth) -> None:
    berth.ok("run", "-d", "--name", "flaky", "--restart", "on-failure:3", "busybox", "sh", "-c", "echo run; exit 1")
    berth.until(lambda: berth.inspect("flaky", "{{.State.Status}}") == "exited"
                and berth.inspect("flaky", "{{.RestartCount}}") == "3", timeout=30, what="three restarts")
    time.sleep(1.5)
    assert berth.inspect("flaky", "{{.RestartCount}}") == "3"
    assert berth.ok("logs", "flaky").splitlines() == ["run"] * 4


def test_restart_always_survives_a_crash_but_not_a_stop(berth: Berth) -> None:
    berth.ok("run", "-d", "--name", "always", "--restart", "always", "busybox", "sh", "-c", "sleep 0.3; exit 2")
    berth.until(lambda: int(berth.inspect("always", "{{.RestartCount}}")) >= 2, timeout=30, what="restarts")
    berth.ok("stop", "-t", "1", "always")
    count = berth.inspect("always", "{{.RestartCount}}")
    time.sleep(1)
    assert berth.inspect("always", "{{.State.Status}}") == "exited"
    assert berth.inspect("always", "{{.RestartCount}}") == count


def test_health_check_goes_healthy_then_unhealthy(berth: Berth) -> None:
    berth.ok("run", "-d", "--name", "hc", "--health-cmd", "test -f /tmp/ok", "--health-interval", "300ms",
             "--health-retries", "2", "busybox", "sh", "-c", "touch /tmp/ok; sleep 2; rm /tmp/ok; sleep 600")
    berth.until(lambda: berth.inspect("hc", "{{.State.Health.Status}}") == "healthy", what="healthy")
    berth.until(lambda: berth.inspect("hc", "{{.State.Health.Status}}") == "unhealthy", what="unhealthy")
    health = json.loads(berth.inspect("hc", "{{json .State.Health}}"))
    assert health["FailingStreak"] >= 2 and health["Log"][-1]["ExitCode"] == 1
    assert "(unhealthy)" in berth.ok("ps")


def test_named_volume_outlives_its_container_and_is_prefilled(berth: Berth) -> None:
    # /etc holds the image's passwd: a new volume there starts with it.
    berth.ok("run", "--rm", "-v", "etcdata:/etc", "busybox", "sh", "-c", "cat /etc/passwd >/dev/null && echo kept > /etc/note")
    assert "etcdata" in berth.ok("volume", "ls")
    out = berth.ok("run", "--rm", "-v", "etcdata:/etc", "busybox", "sh", "-c", "cat /etc/note; grep -c root /etc/passwd")
    assert out.splitlines() == ["kept", "1"]
    mountpoint = berth.ok("volume", "inspect", "-f", "{{.Mountpoint}}", "etcdata")
    assert os.path.exists(os.path.join(mountpoint, "note"))
    berth.ok("volume", "rm", "etcdata")
    assert not os.path.exists(mountpoint)


def test_bind_mounts_and_read_only(berth: Berth) -> None:
    host = berth.tmp / "shared"
    host.mkdir()
    (host / "in.txt").write_text("from host\n")
    out = berth.ok("run", "--rm", "-v", f"{host}:/data", "busybox", "sh", "-c", "cat /data/in.txt; echo back > /data/out.txt")
    assert out == "from host"
    assert (host / "out.txt").read_text() == "back\n"
    ro = berth("run", "--rm", "-v", f"{host}:/data:ro", "busybox", "touch", "/data/x")
    assert ro.returncode != 0 and "Read-only" in ro.stderr
    root_ro = berth("run", "--rm", "--read-only", "busybox", "touch", "/x")
    assert root_ro.returncode != 0


def test_rm_leaves_nothing(berth: Berth) -> None:
    berth.ok("run", "--name", "gone", "--rm", "busybox", "true")
    assert berth.ok("ps", "-aq") == ""
    root = berth.env["BERTH_ROOT"]
    assert os.listdir(os.path.join(root, "containers")) == []


def test_commit_then_run_the_new_image(berth: Berth) -> None:
    berth.ok("run", "--name", "base", "busybox", "sh", "-c", "echo committed > /greeting")
    assert "A /greeting" in berth.ok("diff", "base").splitlines()
    berth.ok("commit", "-c", 'CMD ["cat", "/greeting"]', "-m", "add greeting", "base", "greeter:1")
    assert berth.ok("run", "--rm", "greeter:1") == "committed"


def test_fifty_parallel_runs_all_succeed_with_distinct_names_and_addresses(berth: Berth) -> None:
    def start(i: int) -> str:
        return berth.ok("run", "-d", "busybox", "sleep", "600", timeout=120)

    with ThreadPoolExecutor(max_workers=10) as pool:
        ids = list(pool.map(start, range(50)))
    assert len(set(ids)) == 50
    names = berth.ok("ps", "--format", "{{.Names}}").split()
    assert len(names) == 50 and len(set(names)) == 50
    addresses = [berth.inspect(cid, "{{.NetworkSettings.IPAddress}}") for cid in ids]
    assert len(set(addresses)) == 50 and all(a.startswith("10.88.") for a in addresses)
    for cid in ids:
        berth("rm", "-f", cid)


def test_a_killed_shim_is_reported_as_the_containers_exit(berth: Berth) -> None:
    cid = berth.ok("run", "-d", "busybox", "sleep", "600")
    state = json.load(open(os.path.join(berth.env["BERTH_ROOT"], "containers", cid, "state.json")))
    os.kill(state["shim_pid"], signal.SIGKILL)
    berth.until(lambda: berth.inspect(cid, "{{.State.Status}}") == "exited", what="exit noticed")
    assert berth.inspect(cid, "{{.State.ExitCode}}") == "137"
    assert "shim" in berth.inspect(cid, "{{.State.Error}}")
    berth.until(lambda: not os.path.exists(f"/proc/{state['pid']}"), what="the container's process to be gone")


def test_log_rotation_keeps_at_most_max_file_files(berth: Berth) -> None:
    cid = berth.ok("run", "-d", "--log-opt", "max-size=2k", "--log-opt", "max-file=3", "busybox", "sh", "-c",
                   "i=0; while [ $i -lt 400 ]; do echo line $i; i=$((i+1)); done")
    berth.until(lambda: berth.inspect(cid, "{{.State.Status}}") == "exited", what="exit")
    folder = os.path.join(berth.env["BERTH_ROOT"], "containers", cid)
    logs = sorted(f for f in os.listdir(folder) if "-json.log" in f)
    assert logs == [f"{cid}-json.log", f"{cid}-json.log.1", f"{cid}-json.log.2"]
    assert berth.ok("logs", "--tail", "1", cid) == "line 399"


def test_pause_unpause_top_stats_rename(berth: Berth) -> None:
    berth.ok("run", "-d", "--name", "pz", "busybox", "sleep", "600")
    berth.ok("pause", "pz")
    assert berth.inspect("pz", "{{.State.Status}}") == "paused"
    berth.ok("unpause", "pz")
    assert berth.inspect("pz", "{{.State.Status}}") == "running"
    assert "sleep 600" in berth.ok("top", "pz")
    assert "pz" in berth.ok("stats", "--no-stream", "pz")
    berth.ok("rename", "pz", "qz")
    assert berth.inspect("qz", "{{.Name}}") == "/qz"


def test_events_are_recorded(berth: Berth) -> None:
    since = str(time.time() - 1)
    berth.ok("run", "--rm", "--name", "ev", "busybox", "true")
    out = berth.ok("events", "--since", since, "--until", str(time.time() + 0.5), "--format", "{{.Action}}")
    actions = out.split()
    for action in ("create", "start", "die", "destroy"):
        assert action in actions, (action, actions)


def _mount_points() -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f]


def test_after_a_reboot_like_loss_containers_show_exited_and_start_again(berth: Berth) -> None:
    import shutil

    cid = berth.ok("run", "-d", "--name", "survivor", "busybox", "sleep", "600")
    state = json.load(open(os.path.join(berth.env["BERTH_ROOT"], "containers", cid, "state.json")))
    # A reboot: every process gone at once, the kernel's network objects gone, and the
    # run directory (a tmpfs) empty.
    os.kill(state["shim_pid"], signal.SIGKILL)
    os.kill(state["pid"], signal.SIGKILL)
    berth.until(lambda: not os.path.exists(f"/proc/{state['pid']}"), what="the processes to die")
    from berth.testing.netenv import teardown_networks

    teardown_networks(berth.env)
    for point in sorted(p for p in _mount_points() if p.startswith(berth.env["BERTH_RUN"])):
        subprocess.run(["umount", "-l", point], check=False)
    shutil.rmtree(berth.env["BERTH_RUN"])
    os.makedirs(berth.env["BERTH_RUN"])
    assert berth.inspect("survivor", "{{.State.Status}}") == "exited"
    assert "Exited (137)" in berth.ok("ps", "-a")
    berth.ok("start", "survivor")
    assert berth.inspect("survivor", "{{.State.Status}}") == "running"
    berth.ok("rm", "-f", "survivor")


def test_prune_removes_stopped_containers_and_unused_volumes(berth: Berth) -> None:
    berth.ok("run", "--name", "old", "-v", "/anon", "busybox", "true")
    berth.ok("run", "-d", "--name", "live", "busybox", "sleep", "600")
    out = berth.ok("container", "prune", "-f")
    assert "Deleted Containers" in out
    assert berth.ok("ps", "-a", "--format", "{{.Names}}") == "live"
    assert berth.ok("volume", "ls", "-q") != ""
    berth.ok("volume", "prune", "-f")
    assert berth.ok("volume", "ls", "-q") == ""


def test_init_reaps_and_forwards(berth: Berth) -> None:
    out = berth.ok("run", "--rm", "--init", "busybox", "sh", "-c", "ps -o pid,comm | grep -c berth-init; echo $$")
    assert out.splitlines() == ["1", "2"] or out.splitlines()[0] == "1"


def test_attach_and_cp(berth: Berth) -> None:
    berth.ok("run", "-d", "--name", "att", "busybox", "sh", "-c", "sleep 1; echo attached-output; sleep 600")
    attached = subprocess.Popen([sys.executable, "-m", "berth", "attach", "--no-stdin", "att"], env=berth.env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        line = attached.stdout.readline() if attached.stdout else b""
        assert line == b"attached-output\n"
    finally:
        attached.kill()
        attached.wait()
    (berth.tmp / "in.txt").write_text("copied in\n")
    berth.ok("cp", str(berth.tmp / "in.txt"), "att:/tmp/in.txt")
    assert berth.ok("exec", "att", "cat", "/tmp/in.txt") == "copied in"
    berth.ok("cp", "att:/etc/passwd", str(berth.tmp / "passwd"))
    assert "root:x:0:0" in (berth.tmp / "passwd").read_text()


def test_cp_from_and_into_a_stopped_container(berth: Berth) -> None:
    berth.ok("run", "--name", "stopped", "busybox", "sh", "-c", "echo made-inside > /result")
    berth.ok("cp", "stopped:/result", str(berth.tmp / "result"))
    assert (berth.tmp / "result").read_text() == "made-inside\n"
    (berth.tmp / "input").write_text("put-in\n")
    berth.ok("cp", str(berth.tmp / "input"), "stopped:/input")
    assert "A /input" in berth.ok("diff", "stopped")
    # `..` cannot climb out of the container: busybox has no /etc/shadow, the host does.
    escape = berth("cp", "stopped:/../../../../etc/shadow", str(berth.tmp / "x"))
    assert escape.returncode != 0 and not (berth.tmp / "x").exists()


def test_system_df_and_prune_count_containers_volumes_and_logs(berth: Berth) -> None:
    berth.ok("run", "--name", "writer", "-v", "/anon", "busybox", "sh", "-c",
             "dd if=/dev/zero of=/big bs=1M count=2 2>/dev/null; echo done")
    berth.ok("run", "-d", "--name", "keeper", "--network", "none", "busybox", "sleep", "600")
    rows = {line.split()[0]: line.split() for line in berth.ok("system", "df").splitlines()[1:]}
    assert rows["Containers"][1:3] == ["2", "1"]
    assert rows["Local"][2:4] == ["1", "1"]  # "Local Volumes": one, used by the stopped container
    out = berth.ok("system", "prune", "-f", "--volumes")
    assert "Deleted Containers:" in out and "Deleted Volumes:" in out
    assert berth.ok("ps", "-a", "--format", "{{.Names}}") == "keeper"
    assert berth.ok("volume", "ls", "-q") == ""


def test_mount_point_placeholders_are_not_changes(berth: Berth) -> None:
    # busybox has no /etc/hosts: the runtime makes an empty one to bind-mount over.
    berth.ok("run", "--name", "quiet", "--network", "none", "busybox", "true")
    assert berth.ok("diff", "quiet") == ""
    berth.ok("commit", "quiet", "quiet:1")
    top = berth.ok("history", "quiet:1").splitlines()[1].split()
    assert "0B" in top  # the committed layer holds nothing
    assert berth("run", "--rm", "--network", "none", "quiet:1", "cat", "/etc/hosts").returncode == 0
