"""berth.network's queries on the state database (tables in migrations/networks).

Functions take the connection so callers choose the transaction: the manager leases
an address and records the endpoint in one ``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

import ipaddress
import json
import sqlite3
from collections.abc import Iterable
from typing import NamedTuple

from berth.errors import Conflict, NetworkNotFound
from berth.network.types import Endpoint, Network, PortBinding

_NET_COLS = ("id, name, driver, bridge, subnet, gateway, ip_range, internal, dns, builtin, mtu, labels, "
             "options, created")


def _network(row: sqlite3.Row) -> Network:
    return Network(
        id=row["id"],
        name=row["name"],
        driver=row["driver"],
        bridge=row["bridge"],
        subnet=ipaddress.IPv4Network(row["subnet"]) if row["subnet"] else None,
        gateway=ipaddress.IPv4Address(row["gateway"]) if row["gateway"] else None,
        internal=bool(row["internal"]),
        dns=bool(row["dns"]),
        builtin=bool(row["builtin"]),
        ip_range=ipaddress.IPv4Network(row["ip_range"]) if row["ip_range"] else None,
        mtu=row["mtu"],
        labels=json.loads(row["labels"]),
        options=json.loads(row["options"]),
        created=row["created"],
    )


def networks(conn: sqlite3.Connection) -> list[Network]:
    rows = conn.execute(f"SELECT {_NET_COLS} FROM networks ORDER BY created, name").fetchall()
    return [_network(r) for r in rows]


def find_network(conn: sqlite3.Connection, ref: str) -> Network:
    """By exact name, exact id, or a unique id prefix (Docker's rules, in that order)."""
    row = conn.execute(f"SELECT {_NET_COLS} FROM networks WHERE name = ? OR id = ?", (ref, ref)).fetchone()
    if row is None and ref and all(c in "0123456789abcdef" for c in ref):
        rows = conn.execute(f"SELECT {_NET_COLS} FROM networks WHERE id LIKE ? || '%'", (ref,)).fetchall()
        if len(rows) > 1:
            raise Conflict(f"network {ref}: ambiguous id prefix ({len(rows)} networks)")
        row = rows[0] if rows else None
    if row is None:
        raise NetworkNotFound(f"network {ref} not found")
    return _network(row)


def insert_network(conn: sqlite3.Connection, net: Network) -> None:
    conn.execute(
        f"INSERT INTO networks ({_NET_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (net.id, net.name, net.driver, net.bridge, str(net.subnet or ""), str(net.gateway or ""),
         str(net.ip_range or ""), int(net.internal), int(net.dns), int(net.builtin), net.mtu,
         json.dumps(dict(net.labels), sort_keys=True), json.dumps(dict(net.options), sort_keys=True),
         net.created),
    )


def delete_network(conn: sqlite3.Connection, network_id: str) -> None:
    conn.execute("DELETE FROM networks WHERE id = ?", (network_id,))


def cursor(conn: sqlite3.Connection, network_id: str) -> ipaddress.IPv4Address | None:
    row = conn.execute("SELECT next_ip FROM networks WHERE id = ?", (network_id,)).fetchone()
    return ipaddress.IPv4Address(row[0]) if row and row[0] else None


def set_cursor(conn: sqlite3.Connection, network_id: str, ip: ipaddress.IPv4Address) -> None:
    conn.execute("UPDATE networks SET next_ip = ? WHERE id = ?", (str(ip), network_id))


# --- endpoints (leases) -------------------------------------------------------

_EP_SELECT = (
    "SELECT e.*, n.name AS network_name, n.subnet AS subnet, n.gateway AS gateway "
    "FROM network_endpoints e JOIN networks n ON n.id = e.network_id"
)


def _endpoint(row: sqlite3.Row) -> Endpoint:
    return Endpoint(
        id=row["id"],
        container_id=row["container_id"],
        network_id=row["network_id"],
        network=row["network_name"],
        ip=ipaddress.IPv4Address(row["address"]),
        prefixlen=ipaddress.IPv4Network(row["subnet"]).prefixlen,
        gateway=ipaddress.IPv4Address(row["gateway"]) if row["gateway"] else None,
        mac=row["mac"],
        ifname=row["ifname"],
        host_ifname=row["host_ifname"],
        netns=row["netns"],
        name=row["name"],
        hostname=row["hostname"],
        aliases=tuple(json.loads(row["aliases"])),
        default_route=bool(row["default_route"]),
    )


def endpoints(conn: sqlite3.Connection, *, container_id: str | None = None,
              network_id: str | None = None) -> list[Endpoint]:
    where, args = [], []
    if container_id is not None:
        where.append("e.container_id = ?")
        args.append(container_id)
    if network_id is not None:
        where.append("e.network_id = ?")
        args.append(network_id)
    sql = _EP_SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY e.container_id, e.seq"
    return [_endpoint(r) for r in conn.execute(sql, args)]


def endpoint_count(conn: sqlite3.Connection, network_id: str) -> int:
    return int(conn.execute("SELECT count(*) FROM network_endpoints WHERE network_id = ?",
                            (network_id,)).fetchone()[0])


def leased(conn: sqlite3.Connection, network_id: str) -> set[ipaddress.IPv4Address]:
    rows = conn.execute("SELECT address FROM network_endpoints WHERE network_id = ?", (network_id,))
    return {ipaddress.IPv4Address(r[0]) for r in rows}


def insert_endpoint(conn: sqlite3.Connection, ep: Endpoint) -> None:
    seq = conn.execute("SELECT coalesce(max(seq), -1) + 1 FROM network_endpoints WHERE container_id = ?",
                       (ep.container_id,)).fetchone()[0]
    conn.execute(
        "INSERT INTO network_endpoints (id, container_id, network_id, address, mac, ifname, host_ifname, netns,"
        " name, hostname, aliases, default_route, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (ep.id, ep.container_id, ep.network_id, str(ep.ip), ep.mac, ep.ifname, ep.host_ifname, ep.netns,
         ep.name, ep.hostname, json.dumps(list(ep.aliases)), int(ep.default_route), seq),
    )


def set_default_route(conn: sqlite3.Connection, endpoint_id: str) -> None:
    conn.execute("UPDATE network_endpoints SET default_route = 1 WHERE id = ?", (endpoint_id,))


def delete_endpoint(conn: sqlite3.Connection, endpoint_id: str) -> None:
    conn.execute("DELETE FROM network_ports WHERE endpoint_id = ?", (endpoint_id,))
    conn.execute("DELETE FROM network_endpoints WHERE id = ?", (endpoint_id,))


# --- published ports ------------------------------------------------------------


class PortRow(NamedTuple):
    endpoint_id: str
    container_id: str
    binding: PortBinding
    container_ip: ipaddress.IPv4Address


def _port(row: sqlite3.Row) -> PortRow:
    binding = PortBinding(row["host_ip"], row["host_port"], row["container_port"], row["proto"])
    return PortRow(row["endpoint_id"], row["container_id"], binding, ipaddress.IPv4Address(row["container_ip"]))


def ports(conn: sqlite3.Connection, *, container_id: str | None = None,
          endpoint_id: str | None = None) -> list[PortRow]:
    sql, args = "SELECT * FROM network_ports", []
    if container_id is not None:
        sql, args = sql + " WHERE container_id = ?", [container_id]
    elif endpoint_id is not None:
        sql, args = sql + " WHERE endpoint_id = ?", [endpoint_id]
    return [_port(r) for r in conn.execute(sql + " ORDER BY rowid", args)]


def insert_ports(conn: sqlite3.Connection, rows: Iterable[PortRow]) -> None:
    conn.executemany(
        "INSERT INTO network_ports (endpoint_id, container_id, proto, host_ip, host_port, container_ip,"
        " container_port) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(r.endpoint_id, r.container_id, r.binding.proto, r.binding.host_ip, r.binding.host_port,
          str(r.container_ip), r.binding.container_port) for r in rows],
    )


def delete_ports(conn: sqlite3.Connection, rows: Iterable[PortRow]) -> None:
    conn.executemany("DELETE FROM network_ports WHERE proto = ? AND host_ip = ? AND host_port = ?",
                     [(r.binding.proto, r.binding.host_ip, r.binding.host_port) for r in rows])
