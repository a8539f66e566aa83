"""The DNS server process: ``python -m berth.network.dns.server --root R --run-dir D``.

It listens on UDP and TCP port 53 of the gateway of every network with DNS (bound
with IP_FREEBIND, so a bridge that is not up yet is no error), answers container names
from the state database (``records.py``) and forwards every other name to the
upstream resolvers. A Unix socket ``D/dns.sock`` takes one command per connection:

    reload   re-read the networks; reply ``ok N`` (N listeners); with N = 0 it exits
    stop     reply ``ok`` and exit
    ping     reply ``ok``

``--ready-fd`` gets ``ready`` once every socket is bound; ``--daemonize`` forks first,
so the process that started it can reap it at once.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import selectors
import signal
import socket
import struct
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from berth.network.dns import records
from berth.state.db import Database

log = logging.getLogger("berth.network.dns")

IP_FREEBIND = 15
TTL = 60
FORWARD_TIMEOUT = 2.0
PORT = 53


@dataclass
class Listener:
    network_id: str
    gateway: ipaddress.IPv4Address
    udp: socket.socket
    tcp: socket.socket
    closed: bool = field(default=False)

    def close(self) -> None:
        self.closed = True
        self.udp.close()
        self.tcp.close()


def _bind(gateway: ipaddress.IPv4Address, port: int, kind: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, kind | socket.SOCK_CLOEXEC)
    try:
        sock.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((str(gateway), port))
        if kind == socket.SOCK_STREAM:
            sock.listen(64)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def parse_upstream(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
    return (host, int(port)) if port else (text, PORT)


class DnsServer:
    def __init__(self, db: Database, upstreams: list[tuple[str, int]], port: int = PORT) -> None:
        self.db = db
        self.upstreams = upstreams
        self.port = port
        self.listeners: dict[str, Listener] = {}
        self.selector = selectors.DefaultSelector()
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="dns")
        self.running = True
        self._db_lock = threading.Lock()
        self.files: tuple[str, ...] = ()  # control socket and pid file, removed on the way out

    def shutdown(self) -> None:
        """Stop listening and remove our files (only if still ours: a successor may have
        started as soon as we replied to ``stop``). Idempotent."""
        self.running = False
        for listener in self.listeners.values():
            listener.close()
        files, self.files = self.files, ()
        if files:
            try:
                with open(files[-1]) as f:
                    ours = f.read().strip() == str(os.getpid())
            except OSError:
                ours = False
            for path in files if ours else ():
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass

    # --- listeners ------------------------------------------------------------

    def reload(self) -> int:
        with self._db_lock:
            wanted = {nid: gw for nid, gw in records.listeners(self.db.conn)}
        for nid in list(self.listeners):
            if nid not in wanted or self.listeners[nid].gateway != wanted[nid]:
                listener = self.listeners.pop(nid)
                self.selector.unregister(listener.udp)
                self.selector.unregister(listener.tcp)
                listener.close()
        for nid, gw in wanted.items():
            if nid in self.listeners:
                continue
            udp = _bind(gw, self.port, socket.SOCK_DGRAM)
            try:
                tcp = _bind(gw, self.port, socket.SOCK_STREAM)
            except BaseException:
                udp.close()
                raise
            listener = Listener(nid, gw, udp, tcp)
            self.listeners[nid] = listener
            self.selector.register(udp, selectors.EVENT_READ, ("udp", listener))
            self.selector.register(tcp, selectors.EVENT_READ, ("tcp", listener))
        log.info("listening on %s", ", ".join(str(x.gateway) for x in self.listeners.values()) or "nothing")
        return len(self.listeners)

    # --- answering ------------------------------------------------------------

    def answer(self, data: bytes, source: str, listener: Listener) -> bytes | None:
        """The reply to a query, or None when it goes upstream."""
        from dnslib import PTR, QTYPE, RCODE, RR, A, DNSRecord

        try:
            query = DNSRecord.parse(data)
        except Exception:  # dnslib raises several types on garbage: no reply
            return b""
        reply = query.reply(ra=1, aa=1)
        try:
            src = ipaddress.IPv4Address(source)
        except ValueError:
            src = None
        with self._db_lock:
            scope = records.scope_of(self.db.conn, src, listener.network_id, listener.gateway) if src else None
            if scope is None:
                reply.header.rcode = RCODE.REFUSED
                return bytes(reply.pack())
            if not query.questions:
                reply.header.rcode = RCODE.FORMERR
                return bytes(reply.pack())
            q = query.q
            qname = str(q.qname)
            if q.qtype == QTYPE.PTR:
                address = _from_arpa(qname)
                name = records.reverse(self.db.conn, scope, address) if address else None
                if name is not None:
                    reply.add_answer(RR(q.qname, QTYPE.PTR, rdata=PTR(name + "."), ttl=TTL))
                    return bytes(reply.pack())
            else:
                found = records.lookup(self.db.conn, scope, qname)
                if found:
                    if q.qtype in (QTYPE.A, QTYPE.ANY):
                        for ip in found:
                            reply.add_answer(RR(q.qname, QTYPE.A, rdata=A(str(ip)), ttl=TTL))
                    return bytes(reply.pack())  # AAAA and others: the name exists, no data
        if scope.forward and self.upstreams:
            return None
        reply.header.rcode = RCODE.NXDOMAIN if not scope.forward else RCODE.SERVFAIL
        return bytes(reply.pack())

    def forward(self, data: bytes) -> bytes:
        for host, port in self.upstreams:
            try:
                with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.settimeout(FORWARD_TIMEOUT)
                    s.sendto(data, (host, port))
                    while True:
                        reply, _ = s.recvfrom(65535)
                        if reply[:2] == data[:2]:
                            return reply
            except OSError as err:
                log.info("upstream %s:%d: %s", host, port, err)
        return _servfail(data)

    # --- transports -----------------------------------------------------------

    def _udp(self, listener: Listener) -> None:
        try:
            data, (host, port) = listener.udp.recvfrom(65535)
        except (BlockingIOError, InterruptedError):
            return
        reply = self.answer(data, host, listener)
        if reply is None:
            self.pool.submit(self._udp_forward, listener, data, (host, port))
        elif reply:
            self._sendto(listener, reply, (host, port))

    def _udp_forward(self, listener: Listener, data: bytes, peer: tuple[str, int]) -> None:
        self._sendto(listener, self.forward(data), peer)

    @staticmethod
    def _sendto(listener: Listener, reply: bytes, peer: tuple[str, int]) -> None:
        if listener.closed:
            return
        try:
            listener.udp.sendto(reply, peer)
        except OSError as err:
            log.info("reply to %s: %s", peer, err)

    def _tcp_accept(self, listener: Listener) -> None:
        try:
            conn, (host, _port) = listener.tcp.accept()
        except (BlockingIOError, InterruptedError):
            return
        self.pool.submit(self._tcp_serve, conn, host, listener)

    def _tcp_serve(self, conn: socket.socket, host: str, listener: Listener) -> None:
        with conn:
            conn.setblocking(True)
            conn.settimeout(FORWARD_TIMEOUT)
            try:
                size = struct.unpack("!H", _recv_exactly(conn, 2))[0]
                data = _recv_exactly(conn, size)
                reply = self.answer(data, host, listener)
                if reply is None:
                    reply = self.forward(data)
                if reply:
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
            except (OSError, struct.error) as err:
                log.info("tcp query from %s: %s", host, err)

    def _control(self, server: socket.socket) -> None:
        try:
            conn, _ = server.accept()
        except (BlockingIOError, InterruptedError):
            return
        with conn:
            conn.setblocking(True)
            conn.settimeout(5)
            try:
                command = conn.recv(64).decode(errors="replace").strip()
                if command == "reload":
                    n = self.reload()
                    if n == 0:
                        self.shutdown()
                    conn.sendall(f"ok {n}\n".encode())
                elif command == "stop":
                    self.shutdown()
                    conn.sendall(b"ok\n")
                elif command == "ping":
                    conn.sendall(b"ok\n")
                else:
                    conn.sendall(f"error unknown command {command!r}\n".encode())
            except Exception as err:  # a bad reload must not kill the server silently
                log.exception("control command failed")
                try:
                    conn.sendall(f"error {err}\n".encode())
                except OSError:
                    pass

    def serve(self, control: socket.socket) -> None:
        control.setblocking(False)
        self.selector.register(control, selectors.EVENT_READ, ("control", None))
        while self.running:
            for key, _ in self.selector.select(timeout=1.0):
                kind, listener = key.data
                if not self.running or (listener is not None and listener.closed):
                    break
                if kind == "control":
                    self._control(control)
                elif kind == "udp":
                    self._udp(listener)
                else:
                    self._tcp_accept(listener)
        self.shutdown()
        self.pool.shutdown(wait=False, cancel_futures=True)


def _recv_exactly(conn: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise OSError("connection closed")
        buf += chunk
    return buf


def _from_arpa(qname: str) -> ipaddress.IPv4Address | None:
    labels = qname.rstrip(".").lower().split(".")
    if len(labels) != 6 or labels[-2:] != ["in-addr", "arpa"]:
        return None
    try:
        return ipaddress.IPv4Address(".".join(reversed(labels[:4])))
    except ValueError:
        return None


def _servfail(data: bytes) -> bytes:
    from dnslib import RCODE, DNSRecord

    try:
        reply = DNSRecord.parse(data).reply(ra=1)
    except Exception:
        return b""
    reply.header.rcode = RCODE.SERVFAIL
    return bytes(reply.pack())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="berth-dns", description=__doc__)
    parser.add_argument("--root", required=True, help="berth root (the state database)")
    parser.add_argument("--run-dir", required=True, help="folder for dns.sock and dns.pid")
    parser.add_argument("--upstream", action="append", default=[], help="ip or ip:port to forward to")
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--ready-fd", type=int, default=-1)
    parser.add_argument("--daemonize", action="store_true")
    args = parser.parse_args(argv)
    if args.daemonize and os.fork() > 0:
        os._exit(0)
    if args.daemonize:
        os.setsid()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s berth-dns[%(process)d] %(levelname)s %(message)s")
    db = Database(os.path.join(args.root, "berth.db"))
    server = DnsServer(db, [parse_upstream(u) for u in args.upstream], args.port)
    signal.signal(signal.SIGTERM, lambda *_: setattr(server, "running", False))
    sock_path = os.path.join(args.run_dir, "dns.sock")
    pid_path = os.path.join(args.run_dir, "dns.pid")
    try:
        os.unlink(sock_path)  # a crashed predecessor's
    except FileNotFoundError:
        pass
    server.files = (sock_path, pid_path)
    control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    control.bind(sock_path)
    control.listen(16)
    server.reload()
    with open(pid_path + ".tmp", "w") as f:
        f.write(f"{os.getpid()}\n")
    os.rename(pid_path + ".tmp", pid_path)
    if args.ready_fd >= 0:
        os.write(args.ready_fd, b"ready\n")
        os.close(args.ready_fd)
    try:
        server.serve(control)
    finally:
        server.shutdown()
        control.close()
        log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
