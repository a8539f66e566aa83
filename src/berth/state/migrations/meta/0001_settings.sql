-- Key/value settings of a berth root (its id, defaults chosen at first use).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
