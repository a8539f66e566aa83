"""Operations killed half-way leave nothing stuck (issue 17 item 12)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from .conftest import Berth


def test_a_killed_commit_leaves_the_container_running_not_frozen(berth: Berth) -> None:
    berth.ok("run", "-d", "--name", "busy", "--network", "none", "busybox", "sh", "-c",
             "head -c 300000000 /dev/urandom > /big; echo ready; sleep 600")
    berth.until(lambda: "ready" in berth.ok("logs", "busy"), timeout=60, what="the big file")
    proc = subprocess.Popen([sys.executable, "-m", "berth", "commit", "busy", "half:1"], env=berth.env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        berth.until(lambda: berth.inspect("busy", "{{.State.Status}}") == "paused", timeout=30,
                    what="commit to freeze the container")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        proc.kill()
        proc.wait()
    assert berth.inspect("busy", "{{.State.Status}}") == "running"
    assert berth.ok("exec", "busy", "echo", "alive") == "alive"
    # A user's pause is not an operation's: it stays.
    berth.ok("pause", "busy")
    assert berth.inspect("busy", "{{.State.Status}}") == "paused"
    assert berth.inspect("busy", "{{.State.Status}}") == "paused"
    berth.ok("unpause", "busy")
