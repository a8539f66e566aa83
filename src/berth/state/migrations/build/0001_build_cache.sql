-- berth.build: the build cache. Each row is one built step: the cache key (a digest of
-- the step's parent key, its definition and the inputs it read) and the image it made.
-- Images named here are ordinary (untagged) images; `berth images` hides those that
-- are only intermediate steps, as Docker hides intermediate images.
CREATE TABLE build_cache (
    key        TEXT    PRIMARY KEY,          -- sha256:… over parent, definition, inputs
    parent     TEXT    NOT NULL,             -- the previous step's key, or image:<id> / scratch
    image_id   TEXT    NOT NULL,             -- the step's result
    created_by TEXT    NOT NULL,             -- the history text (explains misses)
    inputs     TEXT    NOT NULL DEFAULT '{}',-- JSON: what the step read (build args as hashes, files as digests)
    final      INTEGER NOT NULL DEFAULT 0,   -- 1: some build's result, not just a step
    created    REAL    NOT NULL,
    last_used  REAL    NOT NULL
);
CREATE INDEX build_cache_parent ON build_cache(parent);
CREATE INDEX build_cache_image ON build_cache(image_id);
