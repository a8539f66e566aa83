"""A container's network over its life, through the CLI with the fork server on (what
users get): restarts on every network mode, and published ports and addresses freed on
every exit path (--rm, a killed shim, stale kernel state from earlier runs)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Berth
from .test_networking import HTTPD, _http

BERTH = os.path.join(os.path.dirname(sys.executable), "berth")


@pytest.fixture
def warm(berth: Berth, tmp_path: Path) -> Iterator[Berth]:
    """``berth`` as installed: through a fork server of this test's own."""
    folder = tmp_path / "fs"
    env = dict(berth.env, BERTH_FORKSERVER_DIR=str(folder))
    env.pop("BERTH_FORKSERVER", None)
    yield Berth(env, tmp_path, [BERTH])
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmdline = open(f"/proc/{pid}/cmdline", "rb").read()
            except OSError:
                continue
            if b"berth.cli.forkserver" in cmdline and str(folder).encode() in cmdline:
                os.kill(int(pid), signal.SIGTERM)


def _elements(env: dict[str, str]) -> list[list[object]]:
    """The elements of the test's tcp_any map: [host port, {concat: [ip, port]}]."""
    out = subprocess.run(["nft", "-j", "list", "map", "ip", env["BERTH_NET_TABLE"], "tcp_any"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        return []
    maps = [item["map"] for item in json.loads(out.stdout)["nftables"] if "map" in item]
    return [list(e) for e in maps[0].get("elem", [])]


def _running(berth: Berth, name: str) -> bool:
    return berth.inspect(name, "{{.State.Status}}") == "running"


@pytest.mark.parametrize("network", ["bridge", "front", "none", "host"])
def test_restart_works_on_every_network_mode(warm: Berth, network: str) -> None:
    if network == "front":
        warm.ok("network", "create", "front")
    publish = ["-p", "18301:80"] if network in ("bridge", "front") else []
    warm.ok("run", "-d", "--name", "r1", "--network", network, *publish, "busybox", "sh", "-c",
            HTTPD.format(text="again"))
    for _ in range(3):
        done = warm("restart", "-t", "1", "r1")
        assert done.returncode == 0 and done.stdout.strip() == "r1", done.stderr
        assert _running(warm, "r1")
    if publish:
        assert _http("127.0.0.1", 18301).strip() == "again"
        assert warm.ok("port", "r1") == "80/tcp -> 0.0.0.0:18301"
        assert len(_elements(warm.env)) == 1
    # stop then start at once (another client), and a container sharing its stack
    warm.ok("stop", "-t", "0", "r1")
    warm.ok("start", "r1")
    assert _running(warm, "r1")
    if network != "host":
        warm.ok("run", "-d", "--name", "r2", "--network", "container:r1", "busybox", "sleep", "600")
        warm.ok("restart", "-t", "0", "r2")
        assert _running(warm, "r2")


def test_restart_policies_and_health_checks_keep_working_on_a_network(warm: Berth) -> None:
    warm.ok("network", "create", "back")
    warm.ok("run", "-d", "--name", "flaky", "--network", "back", "-p", "18302:80", "--restart", "always",
            "busybox", "sh", "-c", "sleep 0.3; exit 3")
    warm.until(lambda: int(warm.inspect("flaky", "{{.RestartCount}}")) >= 3, what="three restarts")
    warm.ok("run", "-d", "--name", "checked", "--network", "back", "--restart", "always", "--health-cmd", "true",
            "--health-interval", "1s", "busybox", "sleep", "600")
    warm.until(lambda: warm.inspect("checked", "{{.State.Health.Status}}") == "healthy", what="healthy")
    for name in ("flaky", "checked"):
        done = warm("restart", "-t", "0", name)
        assert done.returncode == 0, done.stderr
    warm.until(lambda: _running(warm, "checked"), what="checked running")
    warm.until(lambda: warm.inspect("checked", "{{.State.Health.Status}}") == "healthy", what="healthy again")
    warm.until(lambda: int(warm.inspect("flaky", "{{.RestartCount}}")) >= 1, what="a restart after restart")
    assert warm("inspect", "-f", "{{.State.Error}}", "flaky").stdout.strip() == ""


def test_run_rm_frees_its_published_port_and_address(warm: Berth) -> None:
    """The issue's repro: the second run used to fail with nft's "File exists", and a
    container given the freed address was exposed on the port."""
    warm.ok("network", "create", "--subnet", "10.179.77.0/29", "small")
    for _ in range(2):
        done = warm("run", "--rm", "--network", "small", "-p", "18303:80", "busybox", "true")
        assert done.returncode == 0, done.stderr
        assert _elements(warm.env) == []
    warm.ok("run", "-d", "--name", "quiet", "--network", "small", "busybox", "sleep", "600")
    assert _elements(warm.env) == []
    assert warm.ok("port", "quiet") == ""


def test_a_killed_shim_frees_ports_for_the_next_container(warm: Berth) -> None:
    cid = warm.ok("run", "-d", "--name", "victim", "-p", "18304:80", "busybox", "sleep", "600")
    state = json.loads((Path(warm.env["BERTH_ROOT"]) / "containers" / cid / "state.json").read_text())
    os.kill(state["shim_pid"], signal.SIGKILL)
    # Nobody looked at the victim: the next container's publish finds its holder dead.
    done = warm("run", "-d", "--name", "heir", "-p", "18304:80", "busybox", "sh", "-c", HTTPD.format(text="heir"))
    assert done.returncode == 0, done.stderr
    assert _http("127.0.0.1", 18304).strip() == "heir"
    assert warm.inspect("victim", "{{.State.Status}} {{.State.ExitCode}}") == "exited 137"
    assert warm.ok("port", "victim") == ""
    assert len(_elements(warm.env)) == 1


def test_stale_map_elements_are_swept(warm: Berth) -> None:
    """Elements left by an older berth (or a crash between kernel and database) name a
    port and an address no container holds: the next container on that address, or
    publishing that port, does not inherit them."""
    warm.ok("network", "create", "--subnet", "10.179.78.0/29", "tiny")
    warm.ok("run", "-d", "--name", "first", "--network", "tiny", "busybox", "sleep", "600")
    table = warm.env["BERTH_NET_TABLE"]
    subprocess.run(["nft", "add", "element", "ip", table, "tcp_any", "{ 18305 : 10.179.78.3 . 80 }"], check=True)
    subprocess.run(["nft", "add", "element", "ip", table, "tcp_any", "{ 18306 : 10.179.78.6 . 80 }"], check=True)
    warm.ok("run", "-d", "--name", "second", "--network", "tiny", "busybox", "sleep", "600")
    assert warm.inspect("second", "{{.NetworkSettings.Networks.tiny.IPAddress}}") == "10.179.78.3"
    assert [e[0] for e in _elements(warm.env)] == [18306]
    done = warm("run", "-d", "--name", "third", "--network", "tiny", "-p", "18306:80", "busybox", "sleep", "600")
    assert done.returncode == 0, done.stderr
    third = warm.inspect("third", "{{.NetworkSettings.Networks.tiny.IPAddress}}")
    assert _elements(warm.env) == [[18306, {"concat": [third, 80]}]]


def test_sctp_ports_are_published(warm: Berth) -> None:
    warm.ok("run", "-d", "--name", "sig", "-p", "18307:3868/sctp", "busybox", "sleep", "600")
    assert warm.ok("port", "sig") == "3868/sctp -> 0.0.0.0:18307"
    out = subprocess.run(["nft", "list", "map", "ip", warm.env["BERTH_NET_TABLE"], "sctp_any"], capture_output=True,
                         text=True, check=True).stdout
    assert "18307 : " in out
    warm.ok("rm", "-f", "sig")
    out = subprocess.run(["nft", "list", "map", "ip", warm.env["BERTH_NET_TABLE"], "sctp_any"], capture_output=True,
                         text=True, check=True).stdout
    assert "18307" not in out
