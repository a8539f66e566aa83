-- berth.store: snapshots, unpacked layers, images and their names.

-- Snapshots (after containerd's snapshotter): a folder under snapshots/<id>/ and its
-- place in a tree. 'committed' snapshots are read-only parents (unpacked layers, keyed
-- by chain id); 'active' ones are writable (a container's upper folder, or a layer
-- being unpacked); 'view' ones are read-only mounts of a committed snapshot.
CREATE TABLE snapshots (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    key     TEXT    NOT NULL UNIQUE,
    kind    TEXT    NOT NULL CHECK (kind IN ('active', 'view', 'committed')),
    parent  INTEGER REFERENCES snapshots(id),
    labels  TEXT    NOT NULL DEFAULT '{}',
    created REAL    NOT NULL,
    updated REAL    NOT NULL
);
CREATE INDEX snapshots_parent ON snapshots(parent);

-- What each committed layer snapshot should hold, written when it was unpacked;
-- `berth system check` compares the folder against it.
CREATE TABLE layers (
    chain_id TEXT    PRIMARY KEY REFERENCES snapshots(key) ON DELETE CASCADE,
    diff_id  TEXT    NOT NULL,
    size     INTEGER NOT NULL,   -- bytes of file content in the layer tar
    files    INTEGER NOT NULL,   -- entries in the folder after unpacking
    bytes    INTEGER NOT NULL    -- bytes of regular files in the folder (each inode once)
);

-- Images, one per config digest (Docker's image ID).
CREATE TABLE images (
    id              TEXT    PRIMARY KEY,
    manifest_digest TEXT    NOT NULL,
    manifest_type   TEXT    NOT NULL,
    manifest_size   INTEGER NOT NULL,
    size            INTEGER NOT NULL,   -- bytes of file content over all layers
    created         TEXT,               -- the config's 'created'
    added           REAL    NOT NULL,   -- when this store got it
    top_chain_id    TEXT
);

-- The blobs and layers an image is made of, in order (for gc, df and history).
CREATE TABLE image_layers (
    image_id   TEXT    NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    blob       TEXT    NOT NULL,
    media_type TEXT    NOT NULL,
    blob_size  INTEGER NOT NULL,
    diff_id    TEXT    NOT NULL,
    chain_id   TEXT    NOT NULL,
    PRIMARY KEY (image_id, position)
);
CREATE INDEX image_layers_blob ON image_layers(blob);
CREATE INDEX image_layers_chain ON image_layers(chain_id);

-- name:tag → image. Names are stored normalised: docker.io/library/busybox:latest.
CREATE TABLE image_tags (
    name     TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    created  REAL NOT NULL
);
CREATE INDEX image_tags_image ON image_tags(image_id);

-- name@digest → image, for images that came from (or went to) a registry.
CREATE TABLE image_digests (
    name     TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
);
CREATE INDEX image_digests_image ON image_digests(image_id);
