"""What berth's DNS answers, decided from the state database (no sockets bound)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from dnslib import QTYPE, RCODE, DNSRecord

from berth.network.dns.server import DnsServer, Listener, parse_upstream

from .conftest import Env


@pytest.fixture
def server(env: Env) -> Iterator[tuple[Env, DnsServer, dict[str, Listener]]]:
    nm = env.nm
    app = nm.create("app", subnet="10.70.0.0/24")
    other = nm.create("other", subnet="10.71.0.0/24")
    internal = nm.create("secret", subnet="10.72.0.0/24", internal=True)
    for n, (net, name, aliases) in enumerate([(app, "web", ("www", "shared")), (app, "db", ("shared",)),
                                               (other, "stranger", ()), (internal, "vault", ())]):
        cid, ns = env.sandbox(n)
        nm.connect(cid, net.name, ns, name=name, aliases=aliases)
    srv = DnsServer(env.db, [("127.0.0.1", 5999)])
    listeners = {}
    for net in (app, other, internal):
        assert net.gateway is not None
        listeners[net.name] = Listener(net.id, net.gateway, socket.socket(), socket.socket())
    yield env, srv, listeners
    for lst in listeners.values():
        lst.close()


def ask(srv: DnsServer, listener: Listener, source: str, name: str, qtype: str = "A") -> DNSRecord | None:
    raw = srv.answer(bytes(DNSRecord.question(name, qtype).pack()), source, listener)
    return None if raw is None else DNSRecord.parse(raw)


def addresses(reply: DNSRecord | None) -> list[str]:
    assert reply is not None
    return sorted(str(rr.rdata) for rr in reply.rr)


def test_names_aliases_and_short_ids_resolve_on_the_network(server: tuple[Env, DnsServer, dict[str, Listener]]
                                                            ) -> None:
    env, srv, lst = server
    web_ip = str(env.nm.endpoints(env.cid(0))[0].ip)
    db_ip = str(env.nm.endpoints(env.cid(1))[0].ip)
    app = lst["app"]
    assert addresses(ask(srv, app, db_ip, "web")) == [web_ip]
    assert addresses(ask(srv, app, db_ip, "WWW.")) == [web_ip]
    assert addresses(ask(srv, app, db_ip, env.cid(0)[:12])) == [web_ip]
    assert addresses(ask(srv, app, db_ip, "shared")) == sorted([web_ip, db_ip])
    aaaa = ask(srv, app, db_ip, "web", "AAAA")
    assert aaaa is not None and aaaa.header.rcode == RCODE.NOERROR and not aaaa.rr
    ptr = ask(srv, app, db_ip, ".".join(reversed(web_ip.split("."))) + ".in-addr.arpa", "PTR")
    assert ptr is not None and str(ptr.rr[0].rdata) == "web."


def test_other_networks_names_are_invisible_and_strangers_refused(
        server: tuple[Env, DnsServer, dict[str, Listener]]) -> None:
    env, srv, lst = server
    db_ip = str(env.nm.endpoints(env.cid(1))[0].ip)
    stranger_ip = str(env.nm.endpoints(env.cid(2))[0].ip)
    # not a local name: it goes upstream (None) rather than being answered from another network
    assert ask(srv, lst["app"], db_ip, "stranger") is None
    # a source that is no container of the listener's network gets REFUSED
    refused = ask(srv, lst["app"], stranger_ip, "web")
    assert refused is not None and refused.header.rcode == RCODE.REFUSED
    # the host itself (the gateway address) may ask
    assert addresses(ask(srv, lst["app"], "10.70.0.1", "web")) == [str(env.nm.endpoints(env.cid(0))[0].ip)]


def test_internal_networks_do_not_forward(server: tuple[Env, DnsServer, dict[str, Listener]]) -> None:
    env, srv, lst = server
    vault_ip = str(env.nm.endpoints(env.cid(3))[0].ip)
    reply = ask(srv, lst["secret"], vault_ip, "example.org")
    assert reply is not None and reply.header.rcode == RCODE.NXDOMAIN
    assert addresses(ask(srv, lst["secret"], vault_ip, "vault")) == [vault_ip]


def test_garbage_gets_no_reply(server: tuple[Env, DnsServer, dict[str, Listener]]) -> None:
    _env, srv, lst = server
    assert srv.answer(b"\x00\x01garbage", "10.70.0.2", lst["app"]) == b""
    assert QTYPE.A == 1


def test_upstream_syntax() -> None:
    assert parse_upstream("192.0.2.53") == ("192.0.2.53", 53)
    assert parse_upstream("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_upstream("fd00::53") == ("fd00::53", 53)
