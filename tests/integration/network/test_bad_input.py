"""Bad input: a clear error, and nothing half-configured."""

from __future__ import annotations

import os

import pytest

from berth.errors import AlreadyExists, Conflict, InvalidArgument, NetworkNotFound

from .conftest import Lab, host_state, leftovers


def test_errors_are_clear_and_change_nothing(lab: Lab) -> None:
    lab.nm.create("app", subnet="10.234.0.0/16")
    box = lab.box("box", "app")
    state = host_state()
    rows = lab.db.conn.execute("SELECT count(*) FROM network_endpoints").fetchone()[0]

    with pytest.raises(Conflict, match="overlaps 10.234.0.0/16 of network app"):
        lab.nm.create("clash", subnet="10.234.5.0/24")
    with pytest.raises(InvalidArgument, match="invalid subnet"):
        lab.nm.create("bad", subnet="10.0.0.0/40")
    with pytest.raises(InvalidArgument, match="host bits"):
        lab.nm.create("bad", subnet="10.235.0.1/16")
    with pytest.raises(Conflict, match="active endpoint"):
        lab.nm.remove("app")
    with pytest.raises(NetworkNotFound, match="network missing not found"):
        lab.nm.connect(box.id, "missing", box.netns)
    with pytest.raises(AlreadyExists):
        lab.nm.connect(box.id, "app", box.netns)
    with pytest.raises(Conflict, match="gateway"):
        lab.nm.connect(box.id, "bridge", box.netns, ip="10.231.0.1")

    assert not leftovers(state, host_state(), lab.marks())
    assert lab.db.conn.execute("SELECT count(*) FROM network_endpoints").fetchone()[0] == rows
    assert [n.name for n in lab.nm.list({"type": "custom"})] == ["app"]
    assert sorted(os.listdir(lab.nm.netns_dir)) == [box.id]
