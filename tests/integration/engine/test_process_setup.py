"""What the container's process gets from `run` and `exec`: limits, user, environment,
capabilities, sysctls and loopback, as Docker gives them (issues 17 and 18)."""

from __future__ import annotations

import os

from .conftest import Berth


def test_ulimit_soft_and_hard_are_kept_apart(berth: Berth) -> None:
    out = berth.ok("run", "--rm", "--ulimit", "nofile=1024:2048", "busybox", "sh", "-c", "ulimit -Sn; ulimit -Hn")
    assert out.splitlines() == ["1024", "2048"]
    out = berth.ok("run", "--rm", "--ulimit", "nproc=300", "busybox", "sh", "-c", "ulimit -Su; ulimit -Hu")
    assert out.splitlines() == ["300", "300"]


def test_each_root_has_its_own_cgroup_parent(berth: Berth) -> None:
    from berth.engine.paths import cgroup_parent

    parent = cgroup_parent(berth.env["BERTH_ROOT"])
    assert parent.startswith("/berth-") and parent != "/berth"
    cid = berth.ok("run", "-d", "busybox", "sleep", "60")
    hierarchy = "/sys/fs/cgroup/memory" if os.path.isdir("/sys/fs/cgroup/memory") else "/sys/fs/cgroup"
    assert os.path.isdir(f"{hierarchy}{parent}/{cid}")
    assert not os.path.exists(f"{hierarchy}/berth/{cid}")
    assert berth.ok("exec", cid, "cat", "/proc/self/cgroup")  # exec joins the same group
    berth.ok("rm", "-f", cid)
    assert not os.path.exists(f"{hierarchy}{parent}")  # the root's parent goes with its last container
