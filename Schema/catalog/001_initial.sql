-- Kindred catalog, migration 001: the file catalog and the tables refits write.
-- Times are unix seconds (INTEGER) unless the column name says otherwise; JSON columns hold
-- objects. Open read-only for your own SQL: sqlite3 -readonly "$STATE/catalog.sqlite".

-- Watched directories. WATCH/UNWATCH change this table, so the set survives restarts.
CREATE TABLE roots (
    id         INTEGER PRIMARY KEY,
    path       TEXT    NOT NULL UNIQUE,            -- absolute, no trailing slash
    added_at   INTEGER NOT NULL,
    enabled    INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1))
);

-- One row per image file. `id` is also the key of the item's vectors in LMDB (Schema/lmdb.md).
CREATE TABLE items (
    id            INTEGER PRIMARY KEY,
    path          TEXT    NOT NULL UNIQUE,          -- absolute
    root_id       INTEGER REFERENCES roots(id) ON DELETE SET NULL,
    size          INTEGER NOT NULL,                 -- bytes
    mtime_ns      INTEGER NOT NULL,                 -- modification time, nanoseconds since the epoch
    content_hash  TEXT,                             -- hex digest of the file's bytes; NULL until read
    width         INTEGER,                          -- pixels, as stored in the file
    height        INTEGER,
    format        TEXT,                             -- 'jpeg', 'png' or 'webp'
    status        TEXT    NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'indexed', 'failed')),
    error         TEXT,                             -- why extraction failed; NULL unless status = 'failed'
    first_seen    INTEGER NOT NULL,
    last_indexed  INTEGER                           -- when vectors were last extracted
);
CREATE INDEX items_by_status ON items (status);
CREATE INDEX items_by_content_hash ON items (content_hash);
CREATE INDEX items_by_root ON items (root_id);

-- One row per refit (PCA -> UMAP -> HDBSCAN or k-means). Exactly one finished run is current.
CREATE TABLE runs (
    id              INTEGER PRIMARY KEY,
    started_at      INTEGER NOT NULL,
    finished_at     INTEGER,
    status          TEXT    NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    is_current      INTEGER NOT NULL DEFAULT 0 CHECK (is_current IN (0, 1)),
    space           TEXT    NOT NULL DEFAULT 'cnn', -- the vector space that was clustered
    algorithm       TEXT    NOT NULL,               -- 'hdbscan' or 'kmeans'
    parameters      TEXT    NOT NULL DEFAULT '{}',  -- JSON
    item_count      INTEGER,
    cluster_count   INTEGER,
    noise_fraction  REAL,
    silhouette      REAL,                           -- mean, noise excluded
    metrics         TEXT    NOT NULL DEFAULT '{}',  -- JSON: Davies-Bouldin, per-cluster silhouette, ...
    timings         TEXT    NOT NULL DEFAULT '{}',  -- JSON: seconds per stage
    error           TEXT                            -- why it failed; NULL unless status = 'failed'
);
CREATE UNIQUE INDEX runs_one_current ON runs (is_current) WHERE is_current = 1;

-- Each item's place in a run: its cluster and its map coordinates.
CREATE TABLE assignments (
    run_id         INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    item_id        INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    cluster        INTEGER NOT NULL,                -- stable cluster id; -1 is noise
    probability    REAL,                            -- HDBSCAN membership strength, 0..1
    outlier_score  REAL,                            -- GLOSH, 0..1
    x2 REAL, y2 REAL,                               -- 2-D map
    x3 REAL, y3 REAL, z3 REAL,                      -- 3-D map
    PRIMARY KEY (run_id, item_id)
) WITHOUT ROWID;
CREATE INDEX assignments_by_cluster ON assignments (run_id, cluster);
CREATE INDEX assignments_by_item ON assignments (item_id);
