"""Prune verbs refuse bad input before removing anything (issue 17 item 8)."""

from __future__ import annotations

from .conftest import Berth


def test_system_prune_with_a_bogus_filter_removes_nothing(berth: Berth) -> None:
    berth.ok("create", "--name", "stopped", "--network", "none", "busybox", "true")
    berth.ok("network", "create", "spare")
    for args in (["system", "prune", "-f", "--filter", "until=bogus"],
                 ["system", "prune", "-af", "--volumes", "--filter", "nonsense"],
                 ["image", "prune", "-af", "--filter", "until=bogus"],
                 ["network", "prune", "-f", "--filter", "until=bogus"],
                 ["network", "prune", "-f", "--filter", "colour=red"]):
        result = berth(*args)
        assert result.returncode == 125, (args, result.stdout, result.stderr)
        assert "until" in result.stderr or "filter" in result.stderr
    assert berth.ok("ps", "-a", "--format", "{{.Names}}") == "stopped"
    assert "spare" in berth.ok("network", "ls", "--format", "{{.Name}}")
    assert "busybox" in berth.ok("images")
