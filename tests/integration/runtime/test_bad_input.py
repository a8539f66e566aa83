"""Bad bundles: one clear error naming the field, a non-zero exit, nothing left behind."""

from __future__ import annotations

import pytest

from .conftest import Bundle


def _assert_refused(bundle: Bundle, *fragments: str) -> None:
    result = bundle.berth("run", "-b", str(bundle.path), bundle.id)
    assert result.returncode != 0
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1, message
    for fragment in fragments:
        assert fragment in message, message
    assert bundle.cgroup_dirs() == []
    assert not (bundle.state / bundle.id).exists()


def test_malformed_json(bundle: Bundle) -> None:
    (bundle.path / "config.json").write_text('{"ociVersion": "1.1.0", "root": ')
    _assert_refused(bundle, "config.json", "invalid JSON")


def test_missing_rootfs(bundle: Bundle) -> None:
    bundle.spec["root"]["path"] = "/no/such/rootfs"
    bundle.write()
    _assert_refused(bundle, "root.path", "/no/such/rootfs")


def test_unknown_namespace(bundle: Bundle) -> None:
    bundle.spec["linux"]["namespaces"].append({"type": "galaxy"})
    bundle.write()
    _assert_refused(bundle, "linux.namespaces[6].type", "galaxy")


def test_bad_capability(bundle: Bundle) -> None:
    bundle.process["capabilities"]["bounding"].append("CAP_FLY")
    bundle.write()
    _assert_refused(bundle, "process.capabilities.bounding[14]", "CAP_FLY")


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        (lambda s: s["process"].update(args=[]), ("process.args",)),
        (lambda s: s["process"].update(cwd="relative"), ("process.cwd",)),
        (lambda s: s["process"].update(rlimits=[{"type": "RLIMIT_WINGS", "soft": 1, "hard": 1}]), ("rlimits[0].type",)),
        (lambda s: s["mounts"].append({"destination": "/x", "type": "bind", "source": "/no/such"}), ("mounts[7].source",)),
        (lambda s: s["mounts"].append({"destination": "rel", "type": "tmpfs"}), ("mounts[7].destination",)),
        (lambda s: s.pop("ociVersion"), ("ociVersion",)),
    ],
)
def test_other_bad_fields(bundle: Bundle, change: object, fragments: tuple[str, ...]) -> None:
    change(bundle.spec)  # type: ignore[operator]
    bundle.write()
    _assert_refused(bundle, *fragments)


def test_missing_program_exits_127_with_a_clear_message(bundle: Bundle) -> None:
    result = bundle.run("no-such-program")
    assert result.returncode == 127
    assert "no-such-program" in result.stderr and "not found" in result.stderr
    assert bundle.cgroup_dirs() == []


def test_id_in_use_is_refused(bundle: Bundle) -> None:
    bundle.detach("sleep", "600")
    try:
        again = bundle.berth("create", "-b", str(bundle.path), bundle.id)
        assert again.returncode != 0 and "already exists" in again.stderr
    finally:
        bundle.berth("delete", "--force", bundle.id)


def test_bad_signal_name(bundle: Bundle) -> None:
    bundle.detach("sleep", "600")
    try:
        result = bundle.berth("kill", bundle.id, "SIGWOBBLE")
        assert result.returncode != 0 and "SIGWOBBLE" in result.stderr
    finally:
        bundle.berth("delete", "--force", bundle.id)
