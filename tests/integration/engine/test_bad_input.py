"""Bad input: one clear line, a non-zero exit, and the state unchanged."""

from __future__ import annotations

import pytest

from .conftest import Berth


def _refused(berth: Berth, *args: str, fragment: str, code: int | None = None) -> None:
    before = berth.ok("ps", "-aq", "--no-trunc")
    result = berth(*args)
    assert result.returncode != 0 if code is None else result.returncode == code, result
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) <= 2 and any(fragment in ln for ln in lines), result.stderr
    assert berth.ok("ps", "-aq", "--no-trunc") == before


def test_unknown_image(berth: Berth) -> None:
    _refused(berth, "run", "--rm", "nosuchimage:1", "true", fragment="nosuchimage", code=125)


def test_name_in_use(berth: Berth) -> None:
    berth.ok("create", "--name", "taken", "busybox", "true")
    _refused(berth, "run", "--name", "taken", "busybox", "true", fragment="already in use", code=125)


@pytest.mark.parametrize("spec", ["a:b:c:d", "vol:relative", "/h:/c:bogus", "bad name!:/x"])
def test_bad_volume_spec(berth: Berth, spec: str) -> None:
    _refused(berth, "run", "-v", spec, "busybox", "true", fragment="invalid volume specification", code=125)


def test_exec_into_a_stopped_container(berth: Berth) -> None:
    berth.ok("run", "--name", "done", "busybox", "true")
    _refused(berth, "exec", "done", "true", fragment="is not running")


def test_bad_signal_name(berth: Berth) -> None:
    berth.ok("run", "-d", "--name", "sig", "busybox", "sleep", "600")
    _refused(berth, "kill", "-s", "SIGWOBBLE", "sig", fragment="SIGWOBBLE")
    assert berth.inspect("sig", "{{.State.Status}}") == "running"
    _refused(berth, "run", "--stop-signal", "NOPE", "busybox", "true", fragment="NOPE")


def test_missing_program_is_127_and_not_executable_is_126(berth: Berth) -> None:
    result = berth("run", "--rm", "busybox", "no-such-program")
    assert result.returncode == 127 and "no-such-program" in result.stderr
    result = berth("run", "--rm", "busybox", "/etc/passwd")
    assert result.returncode == 126


def test_unknown_container(berth: Berth) -> None:
    _refused(berth, "stop", "ghost", fragment="No such container: ghost")
    _refused(berth, "logs", "ghost", fragment="No such container: ghost")


def test_bad_option_values(berth: Berth) -> None:
    _refused(berth, "run", "-m", "lots", "busybox", "true", fragment="invalid --memory")
    _refused(berth, "run", "-p", "http", "busybox", "true", fragment="invalid port")
    _refused(berth, "run", "--restart", "sometimes", "busybox", "true", fragment="invalid restart policy")
    _refused(berth, "run", "--cap-add", "FLY", "busybox", "true", fragment="unknown capability")
