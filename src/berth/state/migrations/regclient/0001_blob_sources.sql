-- berth.registry.client: where each blob is known to live on registries (pulled from
-- or pushed to), so a push to another repository of the same registry can ask for a
-- cross-repository mount instead of uploading the bytes again (Docker's v2 metadata).
CREATE TABLE blob_sources (
    digest     TEXT NOT NULL,
    registry   TEXT NOT NULL,   -- a reference domain: docker.io, 127.0.0.1:5000
    repository TEXT NOT NULL,   -- the path on it: library/busybox
    updated    REAL NOT NULL,
    PRIMARY KEY (digest, registry, repository)
);
