-- berth.network: networks, endpoints (each one an address lease) and published ports.

CREATE TABLE networks (
    id        TEXT PRIMARY KEY,            -- 64 hex digits
    name      TEXT NOT NULL UNIQUE,
    driver    TEXT NOT NULL,               -- bridge | host | null
    bridge    TEXT NOT NULL DEFAULT '',    -- Linux interface name; '' for host and none
    subnet    TEXT NOT NULL DEFAULT '',    -- CIDR; '' for host and none
    gateway   TEXT NOT NULL DEFAULT '',
    ip_range  TEXT NOT NULL DEFAULT '',    -- CIDR inside subnet that leases come from
    internal  INTEGER NOT NULL DEFAULT 0,  -- no outbound traffic, no forwarding
    dns       INTEGER NOT NULL DEFAULT 0,  -- berth's DNS answers container names here
    builtin   INTEGER NOT NULL DEFAULT 0,  -- bridge, host, none
    mtu       INTEGER NOT NULL DEFAULT 0,
    labels    TEXT NOT NULL DEFAULT '{}',  -- JSON object
    options   TEXT NOT NULL DEFAULT '{}',  -- JSON object
    next_ip   TEXT NOT NULL DEFAULT '',    -- round-robin cursor: the last address leased
    created   TEXT NOT NULL                -- RFC 3339
);
CREATE UNIQUE INDEX networks_bridge ON networks (bridge) WHERE bridge != '';

-- One container on one network. The (network_id, address) pair is the lease.
CREATE TABLE network_endpoints (
    id            TEXT PRIMARY KEY,
    container_id  TEXT NOT NULL,
    network_id    TEXT NOT NULL REFERENCES networks (id),
    address       TEXT NOT NULL,
    mac           TEXT NOT NULL,
    ifname        TEXT NOT NULL,           -- inside the sandbox: eth0, eth1...
    host_ifname   TEXT NOT NULL UNIQUE,    -- the veth end on the bridge
    netns         TEXT NOT NULL,           -- path of the sandbox's network namespace
    name          TEXT NOT NULL DEFAULT '',
    hostname      TEXT NOT NULL DEFAULT '',
    aliases       TEXT NOT NULL DEFAULT '[]',
    default_route INTEGER NOT NULL DEFAULT 0,
    seq           INTEGER NOT NULL,        -- connection order within the container
    UNIQUE (container_id, network_id),
    UNIQUE (network_id, address)
);
CREATE INDEX network_endpoints_container ON network_endpoints (container_id);

CREATE TABLE network_ports (
    endpoint_id    TEXT NOT NULL REFERENCES network_endpoints (id),
    container_id   TEXT NOT NULL,
    proto          TEXT NOT NULL,          -- tcp | udp
    host_ip        TEXT NOT NULL,          -- 0.0.0.0: every host address
    host_port      INTEGER NOT NULL,
    container_ip   TEXT NOT NULL,
    container_port INTEGER NOT NULL,
    UNIQUE (proto, host_ip, host_port)
);
CREATE INDEX network_ports_container ON network_ports (container_id);
