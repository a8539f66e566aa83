"""Capabilities, seccomp, users and no_new_privs, checked from inside the container."""

from __future__ import annotations

import re

from berth.runtime.defaults import DEFAULT_CAPS, default_seccomp
from berth.sys.caps import CAP_NUMBERS

from .conftest import Bundle


def _mask(names: list[str]) -> int:
    out = 0
    for name in names:
        out |= 1 << CAP_NUMBERS[name]
    return out


def _status_caps(text: str) -> dict[str, int]:
    return {m[0]: int(m[1], 16) for m in re.findall(r"^(Cap\w+):\s+([0-9a-f]+)$", text, re.M)}


def test_capability_sets_are_exactly_the_specs(bundle: Bundle) -> None:
    sets = {
        "bounding": ["CAP_KILL", "CAP_CHOWN", "CAP_NET_RAW", "CAP_SETUID", "CAP_SETGID"],
        "permitted": ["CAP_KILL", "CAP_CHOWN"],
        "effective": ["CAP_KILL"],
        "inheritable": ["CAP_KILL"],
        "ambient": ["CAP_KILL"],
    }
    bundle.process["capabilities"] = sets
    bundle.process["user"] = {"uid": 1000, "gid": 1000}
    result = bundle.sh("grep ^Cap /proc/self/status")
    assert result.returncode == 0, result.stderr
    caps = _status_caps(result.stdout)
    assert caps["CapBnd"] == _mask(sets["bounding"])
    # A non-root exec keeps only ambient capabilities in P and E (capabilities(7)).
    assert caps["CapPrm"] == _mask(sets["ambient"])
    assert caps["CapEff"] == _mask(sets["ambient"])
    assert caps["CapInh"] == _mask(sets["inheritable"])
    assert caps["CapAmb"] == _mask(sets["ambient"])


def test_root_process_gets_the_default_sets(bundle: Bundle) -> None:
    result = bundle.sh("grep ^Cap /proc/self/status")
    caps = _status_caps(result.stdout)
    expected = _mask(list(DEFAULT_CAPS))
    assert caps["CapBnd"] == caps["CapPrm"] == caps["CapEff"] == expected
    assert caps["CapInh"] == caps["CapAmb"] == 0


def test_user_and_groups_are_applied(bundle: Bundle) -> None:
    bundle.process["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [5, 65534]}
    result = bundle.sh("id -u; id -g; id -G")
    assert result.returncode == 0, result.stderr
    uid, gid, groups = result.stdout.splitlines()
    assert (uid, gid) == ("1000", "1000")
    assert set(groups.split()) == {"1000", "5", "65534"}


def test_no_new_privileges_is_set(bundle: Bundle) -> None:
    result = bundle.sh("grep NoNewPrivs /proc/self/status")
    assert result.stdout.split() == ["NoNewPrivs:", "1"]
    bundle.process["noNewPrivileges"] = False
    bundle.spec["linux"].pop("seccomp")
    result = bundle.sh("grep NoNewPrivs /proc/self/status")
    assert result.stdout.split() == ["NoNewPrivs:", "0"]


def test_seccomp_profile_refuses_with_eperm(bundle: Bundle) -> None:
    # mkdir is allowed by every capability here; only the filter can refuse it.
    bundle.spec["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
    }
    bundle.spec["root"]["readonly"] = False
    bundle.spec["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"})
    result = bundle.sh("mkdir /tmp/probe")
    assert result.returncode != 0
    assert "Operation not permitted" in result.stderr


def test_default_profile_refuses_swapoff_even_with_cap_sys_admin(bundle: Bundle) -> None:
    caps = list(DEFAULT_CAPS) + ["CAP_SYS_ADMIN"]
    bundle.process["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted")}
    script = "swapoff /no/such/file"
    # Without a filter the kernel answers ENOENT: the capability is there.
    bundle.spec["linux"].pop("seccomp")
    result = bundle.sh(script)
    assert "No such file or directory" in result.stderr, result.stderr
    # With the default profile (built as for a container lacking CAP_SYS_ADMIN), EPERM.
    bundle.spec["linux"]["seccomp"] = default_seccomp(set(DEFAULT_CAPS)).to_json()
    result = bundle.sh(script)
    assert "Operation not permitted" in result.stderr, result.stderr


def test_default_profile_refuses_new_user_namespaces(bundle: Bundle) -> None:
    result = bundle.sh("unshare -U true; echo rc=$?")
    assert "rc=0" not in result.stdout
    bundle.spec["linux"].pop("seccomp")
    bundle.process["noNewPrivileges"] = False
    caps = list(DEFAULT_CAPS) + ["CAP_SYS_ADMIN"]
    bundle.process["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted")}
    result = bundle.sh("unshare -U true; echo rc=$?")
    assert "rc=0" in result.stdout, result.stderr


def test_rlimits_are_applied(bundle: Bundle) -> None:
    bundle.process["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456}]
    result = bundle.sh("ulimit -n; ulimit -Hn")
    assert result.stdout.split() == ["123", "456"]


def test_oom_score_adj_is_applied(bundle: Bundle) -> None:
    bundle.process["oomScoreAdj"] = 512
    result = bundle.sh("cat /proc/self/oom_score_adj")
    assert result.stdout.strip() == "512"
