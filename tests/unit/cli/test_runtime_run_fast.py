"""`berth runtime run` without click (cli/launch.py) reads its arguments as click does."""

from __future__ import annotations

import os
from typing import Any

import pytest

from berth.cli import main as cli_main
from berth.cli.launch import RuntimeRun
from berth.runtime.linux import LinuxRuntime

ACCEPTED = [
    ["runtime", "run", "c1"],
    ["runtime", "run", "-b", "/b", "c1"],
    ["runtime", "run", "c1", "-b", "/b"],
    ["runtime", "run", "--bundle", "rel/b", "c1", "--keep"],
    ["runtime", "run", "--bundle=/b", "-d", "c1"],
    ["runtime", "--root", "/state", "run", "-b", "/b", "c1"],
    ["runtime", "--root=/state", "run", "--detach", "--pid-file", "p.pid", "c1"],
    ["--run-root", "/rr", "runtime", "run", "c1"],
    ["--root", "/data", "--run-root=rel-run", "runtime", "run", "c1", "--preserve-fds", "2"],
    ["runtime", "run", "--console-socket", "s.sock", "--preserve-fds=1", "c1", "-b", "/b", "-b", "/last"],
]

DECLINED = [
    ["runtime", "run"],  # no id: click's error message
    ["runtime", "run", "a", "b"],
    ["runtime", "run", "-h"],
    ["runtime", "run", "--help"],
    ["runtime", "run", "-db", "/b", "c1"],  # clustered short options
    ["runtime", "run", "-b/b", "c1"],
    ["runtime", "run", "--", "c1"],
    ["runtime", "run", "--bundle", "--keep", "c1"],
    ["runtime", "run", "--preserve-fds", "x", "c1"],
    ["runtime", "run", "--keep=1", "c1"],
    ["runtime", "run", "--bogus", "c1"],
    ["runtime", "run", "", "-b", "/b"],
    ["--debug", "runtime", "run", "c1"],
    ["-v"],
    ["runtime", "list"],
    ["runtime", "-h", "run", "c1"],
    ["run", "busybox"],
    ["runtime", "run", "-b"],
]


def _click_reading(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> RuntimeRun:
    """What click's `berth ... runtime run` hands LinuxRuntime.run."""
    seen: dict[str, Any] = {}

    def fake_run(self: LinuxRuntime, container_id: str, bundle: str, io: Any = None, **kwargs: Any) -> int:
        seen.update(root=self.root, container_id=container_id, bundle=bundle, io=io, **kwargs)
        return 0

    monkeypatch.setattr(LinuxRuntime, "run", fake_run)
    monkeypatch.setattr(RuntimeRun, "parse", classmethod(lambda cls, argv, environ: None))
    with pytest.raises(SystemExit) as done:
        cli_main.main(list(argv))
    assert done.value.code == 0
    io = seen.pop("io")
    return RuntimeRun(seen["root"], seen["container_id"], seen["bundle"], seen["detach"], seen["keep"],
                      io.console_socket, seen["pid_file"], io.preserve_fds)


@pytest.mark.parametrize("argv", ACCEPTED)
@pytest.mark.parametrize("berth_run", [None, "/env-run"])
def test_plain_arguments_read_as_click_reads_them(argv: list[str], berth_run: str | None,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BERTH_DEBUG", raising=False)
    if berth_run:
        monkeypatch.setenv("BERTH_RUN", berth_run)
    else:
        monkeypatch.delenv("BERTH_RUN", raising=False)
    fast = RuntimeRun.parse(argv, os.environ)
    assert fast is not None
    if fast.console_socket:
        fast.console_socket = os.path.abspath(fast.console_socket)  # as execute() passes it on
    assert fast == _click_reading(argv, monkeypatch)


@pytest.mark.parametrize("argv", DECLINED)
def test_anything_else_is_left_to_click(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BERTH_DEBUG", raising=False)
    assert RuntimeRun.parse(argv, os.environ) is None


def test_debug_from_the_environment_is_left_to_click() -> None:
    assert RuntimeRun.parse(["runtime", "run", "c1"], {"BERTH_DEBUG": "1"}) is None
