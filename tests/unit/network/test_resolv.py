from __future__ import annotations

from berth.network import resolv


def test_parse_host_resolv_conf() -> None:
    conf = resolv.parse("# comment\nnameserver 127.0.0.53\nnameserver 192.0.2.1 ; x\ndomain a.test\n"
                        "search b.test c.test\noptions ndots:1 edns0\n")
    assert conf == resolv.ResolvConf(("127.0.0.53", "192.0.2.1"), ("b.test", "c.test"), ("ndots:1", "edns0"))


def test_loopback_only_host_gives_a_commented_file() -> None:
    text = resolv.for_container(resolv.parse("nameserver 127.0.0.53\nnameserver ::1\n"), [], set()).render()
    assert "nameserver" not in text.replace("# berth: the host has no nameserver", "")
    assert resolv.upstreams(resolv.parse("nameserver 127.0.0.53\n")) == ("127.0.0.53",)
