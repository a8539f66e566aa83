"""Who is asking, and what names they may see (queries on the state database).

A query is answered for the container that sent it: its source address on the
listener's network identifies the container, and it sees the names of every endpoint
on every DNS network it is connected to (as with Docker's embedded DNS). Containers on
other networks stay invisible. The host itself (the gateway address) sees the
listener's network. Names match case-insensitively: the container name, each alias,
the 12-digit short id and the full id.
"""

from __future__ import annotations

import ipaddress
import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scope:
    network_ids: tuple[str, ...]
    forward: bool  # may other names go to the upstream resolvers (not for --internal only)


def scope_of(conn: sqlite3.Connection, source: ipaddress.IPv4Address, network_id: str,
             gateway: ipaddress.IPv4Address) -> Scope | None:
    """The scope of a query from ``source`` to the listener of ``network_id``; None for
    strangers (they get REFUSED)."""
    if source == gateway:
        row = conn.execute("SELECT internal FROM networks WHERE id = ?", (network_id,)).fetchone()
        return Scope((network_id,), not row[0]) if row else None
    row = conn.execute("SELECT container_id FROM network_endpoints WHERE network_id = ? AND address = ?",
                       (network_id, str(source))).fetchone()
    if row is None:
        return None
    rows = conn.execute(
        "SELECT e.network_id, n.internal, n.dns FROM network_endpoints e JOIN networks n ON n.id = e.network_id"
        " WHERE e.container_id = ?", (row[0],)).fetchall()
    ids = tuple(r[0] for r in rows if r[2])
    return Scope(ids, any(not r[1] for r in rows))


def lookup(conn: sqlite3.Connection, scope: Scope, qname: str) -> list[ipaddress.IPv4Address]:
    """Addresses of ``qname`` in ``scope`` (several when an alias is shared)."""
    name = qname.rstrip(".").lower()
    if not name or not scope.network_ids:
        return []
    marks = ",".join("?" * len(scope.network_ids))
    rows = conn.execute(
        f"SELECT address FROM network_endpoints WHERE network_id IN ({marks}) AND ("
        " lower(name) = ? OR substr(container_id, 1, 12) = ? OR container_id = ?"
        " OR EXISTS (SELECT 1 FROM json_each(aliases) WHERE lower(value) = ?))"
        " ORDER BY container_id, network_id",
        (*scope.network_ids, name, name, name, name)).fetchall()
    return list(dict.fromkeys(ipaddress.IPv4Address(r[0]) for r in rows))


def reverse(conn: sqlite3.Connection, scope: Scope, address: ipaddress.IPv4Address) -> str | None:
    """The name of the container holding ``address`` in ``scope`` (PTR queries)."""
    if not scope.network_ids:
        return None
    marks = ",".join("?" * len(scope.network_ids))
    row = conn.execute(
        f"SELECT name, container_id FROM network_endpoints WHERE network_id IN ({marks}) AND address = ?",
        (*scope.network_ids, str(address))).fetchone()
    if row is None:
        return None
    return str(row[0] or row[1][:12])


def listeners(conn: sqlite3.Connection) -> list[tuple[str, ipaddress.IPv4Address]]:
    """(network id, gateway) of every network whose names berth's DNS serves."""
    rows = conn.execute("SELECT id, gateway FROM networks WHERE dns = 1 AND driver = 'bridge' AND gateway != ''")
    return [(r[0], ipaddress.IPv4Address(r[1])) for r in rows]
