-- Containers and named volumes (berth.engine). A container's live state (pid, exit
-- code, health) is written by its shim to containers/<id>/state.json, not here, so a
-- shim never needs the database.
CREATE TABLE containers (
    id       TEXT PRIMARY KEY,          -- 64 hex digits
    name     TEXT NOT NULL UNIQUE,      -- without Docker's leading '/'
    image    TEXT NOT NULL,             -- the reference as the user gave it
    image_id TEXT NOT NULL,             -- sha256:… of the image config
    created  TEXT NOT NULL,             -- RFC 3339, UTC, nanoseconds
    config   TEXT NOT NULL,             -- JSON: the create request (berth.engine.model.ContainerConfig)
    labels   TEXT NOT NULL DEFAULT '{}' -- JSON object, copied from config for filtering
);
CREATE INDEX containers_image ON containers(image_id);

CREATE TABLE volumes (
    name      TEXT PRIMARY KEY,
    driver    TEXT NOT NULL DEFAULT 'local',
    created   TEXT NOT NULL,
    labels    TEXT NOT NULL DEFAULT '{}',
    options   TEXT NOT NULL DEFAULT '{}',
    anonymous INTEGER NOT NULL DEFAULT 0
);
