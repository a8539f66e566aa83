"""NetworkManager: networks, sandboxes, endpoints and published ports of one berth root.

Every operation follows one pattern: read and decide in a database transaction (leases,
names, port reservations are rows, so two berth processes never hand out one address
or one port), then have the ``Kernel`` apply a plan computed from those rows, undoing
both on failure (``contextlib.ExitStack``), so a failed call leaves nothing
half-configured. Undo plans are computed from rows too, so ``release`` and
``reconcile`` work after a crash.

Lifecycle of a bridge network's kernel side (bridge, gateway address, sysctls, nft
chains, DNS listener): brought up by ``create`` (``default()`` for the default
network, on first use), by ``connect`` when missing (after a reboot), and taken down
by ``remove`` and ``teardown``. A marker file ``$BERTH_RUN/network/up/<id>`` records
that it is up since boot; the nft table and berth's DNS server go with the last one.

Paths: sandboxes are ``$BERTH_RUN/netns/<container id>``; the DNS server keeps its
socket, pid and log in ``$BERTH_RUN/network/``.
"""

from __future__ import annotations

import builtins
import contextlib
import ipaddress
import os
import re
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from berth.errors import AlreadyExists, Conflict, InvalidArgument, NotFound, Unsupported
from berth.network import filters as filters_mod
from berth.network import ipam, naming, plan, ports, resolv, store
from berth.network.filters import Filters
from berth.network.nat import rules
from berth.network.types import BRIDGE, PREDEFINED, Endpoint, HostsEntry, Network, NetworkConfig, PortBinding
from berth.state.db import Database

if TYPE_CHECKING:
    from berth.network.dns.control import DnsControl
    from berth.network.kernel import Kernel

_CONTAINER_ID = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$")


def _now() -> str:
    now = time.time()  # RFC 3339 with microseconds; datetime costs 2 ms to import on the run path
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"


def _check_container_id(container_id: str) -> str:
    if not _CONTAINER_ID.match(container_id):
        raise InvalidArgument(f"invalid container id {container_id!r}")
    return container_id


class NetworkManager:
    """Bridge networks for containers. Cheap to construct: nothing touches the kernel
    (or imports its wrappers) until a call needs it."""

    def __init__(self, db: Database, root: str, run_root: str, *, config: NetworkConfig | None = None,
                 kernel: Kernel | None = None, dns: DnsControl | None = None) -> None:
        self.db = db
        self.root = root
        self.run_root = run_root
        self.config = config or NetworkConfig()
        self.run_dir = os.path.join(run_root, "network")
        self.netns_dir = os.path.join(run_root, "netns")
        self._kernel = kernel
        self._dns = dns
        self._builtins_ready = False

    # --- collaborators, made on first use -----------------------------------------

    @property
    def kernel(self) -> Kernel:
        if self._kernel is None:
            from berth.network.kernel import LinuxKernel

            self._kernel = LinuxKernel()
        return self._kernel

    @property
    def dns(self) -> DnsControl:
        if self._dns is None:
            from berth.network.dns.control import DnsDaemon

            upstreams = self.config.dns_upstreams
            if upstreams is None:
                upstreams = resolv.upstreams(self._host_resolv())
            self._dns = DnsDaemon(self.root, self.run_dir, upstreams)
        return self._dns

    def _host_resolv(self) -> resolv.ResolvConf:
        try:
            with open(self.config.resolv_conf) as f:
                return resolv.parse(f.read())
        except FileNotFoundError:
            return resolv.ResolvConf()

    # --- networks -------------------------------------------------------------------

    def create(self, name: str, *, subnet: str | None = None, gateway: str | None = None, internal: bool = False,
               labels: Mapping[str, str] | None = None, driver: str = BRIDGE, ip_range: str | None = None,
               options: Mapping[str, str] | None = None) -> Network:
        """A user-defined bridge network, up when this returns (bridge, rules, DNS).

        Raises AlreadyExists (name taken), Conflict (subnet overlaps another network or
        a host route), InvalidArgument (bad name, CIDR, gateway or range), Unsupported
        (another driver, IPv6).
        """
        naming.check_network_name(name)
        if driver != BRIDGE:
            raise Unsupported(f"network driver {driver!r}: only 'bridge' networks can be created")
        opts = dict(options or {})
        mtu = int(opts.get("com.docker.network.driver.mtu", "0") or 0)
        net_id = naming.new_id()
        bridge = naming.check_ifname(opts.get("com.docker.network.bridge.name")
                                     or naming.bridge_name(self.config.bridge_prefix, net_id))
        requested = ipam.parse_subnet(subnet) if subnet else None
        if gateway and requested is None:
            raise InvalidArgument("--gateway needs --subnet")
        if ip_range and requested is None:
            raise InvalidArgument("--ip-range needs --subnet")
        host = self.kernel.host_subnets()
        self._builtins()
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM networks WHERE name = ?", (name,)).fetchone():
                raise AlreadyExists(f"network with name {name} already exists")
            if conn.execute("SELECT 1 FROM networks WHERE bridge = ?", (bridge,)).fetchone():
                raise AlreadyExists(f"bridge {bridge} is used by another network")
            taken = [(f"network {n.name}", n.subnet) for n in store.networks(conn) if n.subnet is not None]
            ours = {n.bridge for n in store.networks(conn)}
            host = [(f"a route on {dev}", sn) for dev, sn in host if dev not in ours]
            if requested is not None:
                ipam.check_free(requested, taken)
                ipam.check_free(requested, host)
                chosen = requested
            else:
                pool = ipam.parse_subnet(self.config.pool)
                chosen = ipam.pick_subnet(pool, self.config.pool_prefix, [sn for _, sn in taken + host])
            net = Network(
                id=net_id, name=name, driver=BRIDGE, bridge=bridge, subnet=chosen,
                gateway=ipam.gateway_for(chosen, gateway), internal=internal, dns=True,
                ip_range=ipam.parse_range(ip_range, chosen) if ip_range else None, mtu=mtu,
                labels=dict(labels or {}), options=opts, created=_now(),
            )
            store.insert_network(conn, net)
        with contextlib.ExitStack() as undo:
            undo.callback(self._forget_network, net.id)
            undo.callback(self._take_down, net)
            self._bring_up(net)
            undo.pop_all()
        return net

    def get(self, name_or_id: str) -> Network:
        """By name, id or unique id prefix; NetworkNotFound otherwise."""
        self._builtins()
        return store.find_network(self.db.conn, name_or_id)

    def list(self, filters: Filters | None = None) -> builtins.list[Network]:
        """Every network, narrowed by Docker's ``network ls`` filters: driver, id
        (prefix), label (``key`` or ``key=value``), name (substring), scope, type
        (custom|builtin), dangling (true|false)."""
        self._builtins()
        conn = self.db.conn
        nets = store.networks(conn)
        if not filters:
            return nets
        used = {r[0] for r in conn.execute("SELECT DISTINCT network_id FROM network_endpoints")}
        return [n for n in nets if filters_mod.matches(n, filters, n.id in used)]

    def remove(self, name_or_id: str) -> None:
        """Remove a network with no endpoints, and its bridge, rules and DNS listener.

        Raises NetworkNotFound, Conflict (a predefined network, or containers attached).
        """
        self._builtins()
        with self.db.transaction() as conn:
            net = store.find_network(conn, name_or_id)
            if net.builtin:
                raise Conflict(f"{net.name} is a pre-defined network and cannot be removed")
            count = store.endpoint_count(conn, net.id)
            if count:
                raise Conflict(f"network {net.name} ({net.short_id}) has {count} active endpoint"
                               f"{'s' if count > 1 else ''}: disconnect or remove the containers first")
            store.delete_network(conn, net.id)
        self._take_down(net)

    def prune(self, filters: Filters | None = None) -> builtins.list[str]:
        """Remove every user-defined network without endpoints; their names.
        Filters: label (``key``, ``key=value``, ``label!=...``), until (RFC 3339)."""
        filters_mod.check_prune(filters or {})
        removed = []
        for net in self.list({"type": "custom", "dangling": "true"}):
            if filters and not filters_mod.prune_matches(net, filters):
                continue
            try:
                self.remove(net.id)
            except (Conflict, NotFound):
                continue  # a container connected meanwhile, or someone else removed it
            removed.append(net.name)
        return removed

    def default(self) -> Network:
        """The default network ("bridge", on ``config.default_bridge``), up."""
        self._builtins()
        net = store.find_network(self.db.conn, "bridge")
        self._ensure_up(net)
        return net

    def attached(self, name_or_id: str) -> builtins.list[Endpoint]:
        """The endpoints of one network (``network inspect``'s Containers)."""
        net = self.get(name_or_id)
        return store.endpoints(self.db.conn, network_id=net.id)

    # --- sandboxes and endpoints ------------------------------------------------------

    def sandbox_path(self, container_id: str) -> str:
        return os.path.join(self.netns_dir, _check_container_id(container_id))

    def create_sandbox(self, container_id: str) -> str:
        """A new network namespace at ``$BERTH_RUN/netns/<id>`` with ``lo`` up; its path.

        A leftover file from a crash is replaced; a live one is AlreadyExists.
        """
        path = self.sandbox_path(container_id)
        os.makedirs(self.netns_dir, mode=0o711, exist_ok=True)
        if os.path.lexists(path):
            if self.kernel.live_netns([path]):
                raise AlreadyExists(f"container {container_id[:12]}: network sandbox {path} already exists")
            self.kernel.delete_netns(path)
        self.kernel.create_netns(path)
        return path

    def connect(self, container_id: str, network: str, netns: str, *, aliases: Sequence[str] = (),
                ip: str | None = None, mac: str | None = None, hostname: str | None = None,
                name: str | None = None) -> Endpoint:
        """Attach the sandbox at ``netns`` to ``network``: a veth pair (``ethN`` inside, on
        the bridge outside), an address leased from the network, the default route via
        its gateway (the container's first non-internal network holds it). ``name`` and
        ``aliases`` are the DNS names other containers use (with the short id).

        Raises NetworkNotFound, AlreadyExists (already connected), Conflict (``ip`` taken,
        subnet full), InvalidArgument (bad ``ip``/``mac``/alias, missing ``netns``, a
        host/none network). On failure nothing stays: no lease, no link.
        """
        _check_container_id(container_id)
        alias_list = tuple(dict.fromkeys(naming.check_alias(a) for a in aliases))
        if name:
            naming.check_alias(name)
        mac_address = naming.check_mac(mac) if mac else naming.random_mac()
        if not os.path.exists(netns):
            raise InvalidArgument(f"network namespace {netns} does not exist")
        self._builtins()
        with self.db.transaction() as conn:
            net = store.find_network(conn, network)
            if net.driver != BRIDGE:
                raise InvalidArgument(f"container cannot be connected to network {net.name}: "
                                      f"{net.name} is chosen with --network {net.name} when the container is made")
            existing = store.endpoints(conn, container_id=container_id)
            if any(e.network_id == net.id for e in existing):
                raise AlreadyExists(f"container {container_id[:12]} is already connected to network {net.name}")
            assert net.subnet is not None
            used = store.leased(conn, net.id)
            if ip:
                address = ipam.check_requested(net.subnet, net.gateway, used, ip)
            else:
                address = ipam.allocate(net.subnet, net.gateway, used, after=store.cursor(conn, net.id),
                                        ip_range=net.ip_range)
                store.set_cursor(conn, net.id, address)
            ep = Endpoint(
                id=naming.new_id(), container_id=container_id, network_id=net.id, network=net.name, ip=address,
                prefixlen=net.subnet.prefixlen, gateway=net.gateway, mac=mac_address,
                ifname=naming.container_ifname({e.ifname for e in existing}),
                host_ifname=naming.host_ifname(self.config.veth_prefix), netns=netns, name=name or "",
                hostname=hostname or "", aliases=alias_list,
                default_route=not net.internal and not any(e.default_route for e in existing),
            )
            try:
                store.insert_endpoint(conn, ep)
            except sqlite3.IntegrityError as err:
                raise Conflict(f"container {container_id[:12]} on network {net.name}: {err}") from err
        with contextlib.ExitStack() as undo:
            undo.callback(self._forget_endpoint, ep.id)
            self._ensure_up(net)
            # A port map element no row accounts for (its container is gone, its release
            # missed it) would hand this address another container's published port.
            self.sweep_ports(address=ep.ip)
            undo.callback(self.kernel.apply, plan.detach(ep))
            self.kernel.apply(plan.attach(ep, net, self.config))
            undo.pop_all()
        return ep

    def publish(self, container_id: str, ep: Endpoint, bindings: Sequence[PortBinding]) -> builtins.list[PortBinding]:
        """Publish ports of the container at ``ep``; the bindings as made (free host
        ports chosen, ``host_ip`` "0.0.0.0" for every address).

        Raises Conflict naming the port when another container published it or a host
        socket holds it, InvalidArgument for bad ports or a host address that is not
        the host's, NotFound when ``ep`` is not a current endpoint of the container.
        """
        wanted = [ports.normalize(b) for b in bindings]
        if not wanted:
            return []
        with self.db.transaction() as conn:
            current = {e.id: e for e in store.endpoints(conn, container_id=container_id)}
            if ep.id not in current:
                raise NotFound(f"container {container_id[:12]} has no endpoint {ep.id[:12]} on network {ep.network}")
            ep = current[ep.id]
            rows = store.ports(conn)
            made: builtins.list[PortBinding] = []
            for want in wanted:
                if want.host_port == 0:
                    avoid = {r.binding.host_port for r in rows if r.binding.proto == want.proto}
                    avoid |= {b.host_port for b in made if b.proto == want.proto}
                    want = replace(want, host_port=self.kernel.free_port(want.host_ip, want.proto, avoid))
                else:
                    clash = ports.first_clash(want, [r.binding for r in rows])
                    if clash is not None:
                        owner = next(r.container_id for r in rows if r.binding == clash)
                        raise Conflict(f"host port {want.host_ip}:{want.host_port}/{want.proto} is already "
                                       f"published by container {owner[:12]}")
                    if ports.first_clash(want, made) is not None:
                        raise Conflict(f"host port {want.host_ip}:{want.host_port}/{want.proto} is given twice")
                    if not self.kernel.port_available(want.host_ip, want.host_port, want.proto):
                        raise Conflict(f"host port {want.host_ip}:{want.host_port}/{want.proto} is already "
                                       "in use by another program on the host")
                made.append(want)
            new_rows = [store.PortRow(ep.id, container_id, b, ep.ip) for b in made]
            store.insert_ports(conn, new_rows)
        with contextlib.ExitStack() as undo:
            undo.callback(self._forget_ports, new_rows)
            try:
                self.kernel.apply(plan.publish(self.config, _port_rules(new_rows)))
            except OSError:
                # The rows said these ports were free: an element the kernel still has
                # belongs to a container that is gone. Sweep such elements and try once more.
                if not self.sweep_ports():
                    raise
                self.kernel.apply(plan.publish(self.config, _port_rules(new_rows)))
            undo.pop_all()
        return made

    def sweep_ports(self, *, address: ipaddress.IPv4Address | None = None) -> builtins.list[rules.PortRule]:
        """Delete the port map elements that no published port of a current container
        accounts for (all of them, or those forwarding to ``address``); what it deleted."""
        found = self.kernel.published_ports(self.config.table)
        if address is not None:
            found = [r for r in found if r.container_ip == address]
        if not found:
            return []
        rows = store.ports(self.db.conn)
        current = set(_port_rules(rows))
        stale = [r for r in found if r not in current]
        if stale:
            self.kernel.apply(plan.unpublish(self.config, stale))
            # A stale element may have shared its key with a current row: put the row back.
            keys = {(r.proto, r.host_ip, r.host_port) for r in stale}
            again = [r for r in current if (r.proto, r.host_ip, r.host_port) in keys]
            if again:
                self.kernel.apply(plan.publish(self.config, again))
        return stale

    def port_holders(self) -> set[str]:
        """Ids of the containers that have published ports."""
        return {r.container_id for r in store.ports(self.db.conn)}

    def ports(self, container_id: str) -> builtins.list[PortBinding]:
        """The container's published ports (``berth port``)."""
        return [r.binding for r in store.ports(self.db.conn, container_id=container_id)]

    def disconnect(self, container_id: str, network: str) -> None:
        """Detach the container from ``network``: its ports there, the veth pair and the
        lease go. If that endpoint held the default route, the next non-internal one
        takes it. Raises NetworkNotFound, NotFound (not connected)."""
        conn = self.db.conn
        net = store.find_network(conn, network)
        mine = store.endpoints(conn, container_id=container_id)
        ep = next((e for e in mine if e.network_id == net.id), None)
        if ep is None:
            raise NotFound(f"container {container_id[:12]} is not connected to network {net.name}")
        successor = next((e for e in mine if e.id != ep.id and not self._internal(e)), None) \
            if ep.default_route else None
        rows = store.ports(conn, endpoint_id=ep.id)
        steps: builtins.list[plan.Op] = [*plan.unpublish(self.config, _port_rules(rows)), *plan.detach(ep)]
        if successor is not None and successor.gateway is not None:
            steps.append(plan.DefaultRoute(successor.netns, successor.ifname, successor.gateway))
        self.kernel.apply(tuple(steps))
        with self.db.transaction() as conn:
            store.delete_endpoint(conn, ep.id)
            if successor is not None:
                store.set_default_route(conn, successor.id)

    def release(self, container_id: str) -> None:
        """Everything of the container goes: published ports, endpoints (veth pairs and
        leases), and the sandbox made by ``create_sandbox``. Idempotent, and safe after a
        crash (it works from the database rows and tolerates what is already gone).

        Veth pairs inside berth's own sandbox are not deleted one by one: unmounting the
        sandbox lets the kernel destroy the namespace with its links in the background
        (deleting a link waits ~30 ms for an RCU grace period; this returns at once).
        Links in a namespace berth did not make are deleted here.
        """
        conn = self.db.conn
        mine = store.endpoints(conn, container_id=container_id)
        rows = store.ports(conn, container_id=container_id)
        sandbox = os.path.join(self.netns_dir, container_id) if _CONTAINER_ID.match(container_id) else ""
        steps: builtins.list[plan.Op] = [*plan.unpublish(self.config, _port_rules(rows))]
        for ep in mine:
            if ep.netns != sandbox:
                steps += plan.detach(ep)
        self.kernel.apply(tuple(steps))
        if sandbox and os.path.lexists(sandbox):
            self.kernel.delete_netns(sandbox)
        with self.db.transaction() as conn:
            for ep in mine:
                store.delete_endpoint(conn, ep.id)
            conn.execute("DELETE FROM network_ports WHERE container_id = ?", (container_id,))

    def endpoints(self, container_id: str) -> builtins.list[Endpoint]:
        """The container's endpoints, in connection order (eth0 first)."""
        return store.endpoints(self.db.conn, container_id=container_id)

    def resolv_conf(self, container_id: str, *, servers: Sequence[str] = (), search: Sequence[str] = (),
                    options: Sequence[str] = ()) -> str:
        """The container's /etc/resolv.conf: berth's DNS (the gateway) on a user-defined
        network, else the host's non-loopback resolvers; ``servers``/``search``/``options``
        (``--dns``, ``--dns-search``, ``--dns-option``) replace them."""
        conn = self.db.conn
        dns_ids = {r[0] for r in conn.execute("SELECT id FROM networks WHERE dns = 1")}
        conf = resolv.for_container(self._host_resolv(), store.endpoints(conn, container_id=container_id), dns_ids,
                                    servers=servers, search=search, options=options)
        return conf.render()

    def hosts_entries(self, container_id: str, hostname: str | None = None) -> builtins.list[HostsEntry]:
        """The container's /etc/hosts lines (``str(entry)`` is a line)."""
        return resolv.hosts(container_id, self.endpoints(container_id), hostname)

    # --- recovery ---------------------------------------------------------------------

    def reconcile(self) -> builtins.list[str]:
        """After a crash or a reboot: release every container whose network namespace is
        gone (leases, rules, links), delete port map elements no container accounts for,
        and bring user-defined networks back up. Returns the ids of the containers
        released."""
        eps = store.endpoints(self.db.conn)
        live = self.kernel.live_netns({e.netns for e in eps})
        dead = sorted({e.container_id for e in eps if e.netns not in live})
        for container_id in dead:
            self.release(container_id)
        self.sweep_ports()
        for net in store.networks(self.db.conn):
            if net.has_kernel_objects and not net.builtin:
                self._ensure_up(net)
            if net.has_kernel_objects and self._is_up(net):  # veths of namespaces someone else kept alive
                known = {e.host_ifname for e in store.endpoints(self.db.conn, network_id=net.id)}
                strays = [p for p in self.kernel.bridge_ports(net.bridge) if p not in known]
                self.kernel.apply(tuple(plan.LinkDown(p) for p in strays))
        return dead

    def teardown(self) -> builtins.list[str]:
        """Take down the kernel side of every network with no endpoints (the default
        bridge included); records stay and come back up on next use. Names of the
        networks taken down. With no endpoint left anywhere, nothing of berth's remains
        in the kernel: no bridge, nft table, DNS server."""
        conn = self.db.conn
        down = []
        for net in store.networks(conn):
            if self._is_up(net) and not store.endpoint_count(conn, net.id):
                self._take_down(net)
                down.append(net.name)
        if os.path.isdir(self.netns_dir) and not os.listdir(self.netns_dir):
            self.kernel.close_sandbox_dir(self.netns_dir)
        return down

    # --- internals --------------------------------------------------------------------

    def _builtins(self) -> None:
        """The predefined networks bridge, host and none exist as records."""
        if self._builtins_ready:
            return
        conn = self.db.conn
        have = {r[0] for r in conn.execute("SELECT name FROM networks WHERE builtin = 1")}
        if have >= set(PREDEFINED):
            self._builtins_ready = True
            return
        with self.db.transaction() as conn:
            have = {r[0] for r in conn.execute("SELECT name FROM networks WHERE builtin = 1")}
            for name, driver in PREDEFINED.items():
                if name in have:
                    continue
                if driver == BRIDGE:
                    subnet = ipam.parse_subnet(self.config.default_subnet)
                    net = Network(naming.new_id(), name, BRIDGE, naming.check_ifname(self.config.default_bridge),
                                  subnet, ipam.gateway_for(subnet), builtin=True, mtu=self.config.mtu,
                                  options=_default_bridge_options(self.config), created=_now())
                else:
                    net = Network(naming.new_id(), name, driver, "", None, None, builtin=True, created=_now())
                store.insert_network(conn, net)
        self._builtins_ready = True

    def _internal(self, ep: Endpoint) -> bool:
        return store.find_network(self.db.conn, ep.network_id).internal

    def _marker(self, net: Network) -> str:
        return os.path.join(self.run_dir, "up", net.id)

    def _is_up(self, net: Network) -> bool:
        return os.path.exists(self._marker(net))

    def _ensure_up(self, net: Network) -> None:
        if self._is_up(net) and self.kernel.link_exists(net.bridge):
            return
        self._bring_up(net)

    def _bring_up(self, net: Network) -> None:
        if not net.has_kernel_objects:
            return
        if net.builtin and net.subnet is not None:  # user networks were checked by create()
            for dev, routed in self.kernel.host_subnets():
                if dev != net.bridge and routed.overlaps(net.subnet):
                    raise Conflict(f"default network subnet {net.subnet} overlaps {routed} (a route on {dev}): "
                                   "choose another one with BERTH_NET_DEFAULT_SUBNET")
        self.kernel.apply(plan.network_up(net, self.config))
        os.makedirs(os.path.dirname(self._marker(net)), mode=0o700, exist_ok=True)
        with open(self._marker(net), "w"):
            pass
        if net.dns:
            self.dns.sync(True)

    def _take_down(self, net: Network) -> None:
        """Sweep stray ports off the bridge (veths of namespaces someone else kept
        alive), then the network's rules (or the table) and the bridge."""
        if not net.has_kernel_objects:
            return
        self.kernel.apply(tuple(plan.LinkDown(p) for p in self.kernel.bridge_ports(net.bridge)))
        others = [n for n in os.listdir(os.path.dirname(self._marker(net))) if n != net.id] \
            if os.path.isdir(os.path.dirname(self._marker(net))) else []
        self.kernel.apply(plan.network_down(net, self.config, last=not others))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._marker(net))
        self._sync_dns()

    def _sync_dns(self) -> None:
        dns_up = any(n.dns and self._is_up(n) for n in store.networks(self.db.conn))
        if dns_up or self._dns is not None or os.path.exists(os.path.join(self.run_dir, "dns.sock")):
            self.dns.sync(dns_up)

    def _forget_network(self, network_id: str) -> None:
        with self.db.transaction() as conn:
            store.delete_network(conn, network_id)

    def _forget_endpoint(self, endpoint_id: str) -> None:
        with self.db.transaction() as conn:
            store.delete_endpoint(conn, endpoint_id)

    def _forget_ports(self, rows: Sequence[store.PortRow]) -> None:
        with self.db.transaction() as conn:
            store.delete_ports(conn, rows)


def _port_rules(rows: Iterable[store.PortRow]) -> list[rules.PortRule]:
    return [rules.PortRule(r.binding.proto, r.binding.host_ip, r.binding.host_port, r.container_ip,
                                r.binding.container_port) for r in rows]


def _default_bridge_options(cfg: NetworkConfig) -> dict[str, str]:
    return {
        "com.docker.network.bridge.default_bridge": "true",
        "com.docker.network.bridge.enable_icc": "true",
        "com.docker.network.bridge.enable_ip_masquerade": "true",
        "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
        "com.docker.network.bridge.name": cfg.default_bridge,
        "com.docker.network.driver.mtu": str(cfg.mtu or 1500),
    }


__all__ = ["NetworkManager"]
