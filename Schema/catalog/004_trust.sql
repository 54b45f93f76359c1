-- Kindred catalog, migration 004: what kindredd needs to keep its word.
--
-- 1. Item ids are never handed out twice (AUTOINCREMENT). Without it SQLite reuses the largest id
--    once its row is deleted, and a vector, index node or assignment still keyed by the old id would
--    then describe a different file. SQLite cannot add AUTOINCREMENT in place, so the table is
--    rebuilt (SQLite's documented procedure; the migrator turns foreign keys off around it and
--    checks them after). Copying the rows seeds sqlite_sequence with the largest id.
-- 2. items.attempts: how many times decoding the file has started since it last ended (indexed
--    or failed). It is committed before the decoder runs, so a file that kills the process (a
--    decoder crash, the kernel's OOM killer) is found at the next start: it is retried alone, and a
--    second kill marks it failed until the file changes.
-- 3. roots.device: st_dev of the root when it was added. A root that now lives on another device
--    (an unmounted share shows the empty mount point's file system) is paused, not emptied.
CREATE TABLE items_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    path          TEXT    NOT NULL UNIQUE,          -- absolute, canonical (KindredCore.CollectionPath); compared byte for byte
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
    last_indexed  INTEGER,                          -- when vectors were last extracted
    attempts      INTEGER NOT NULL DEFAULT 0        -- decodes started and not finished (see above)
);
INSERT INTO items_new (id, path, root_id, size, mtime_ns, content_hash, width, height, format, status, error, first_seen, last_indexed)
    SELECT id, path, root_id, size, mtime_ns, content_hash, width, height, format, status, error, first_seen, last_indexed FROM items;
DROP TABLE items;
ALTER TABLE items_new RENAME TO items;
CREATE INDEX items_by_status ON items (status);
CREATE INDEX items_by_content_hash ON items (content_hash);
CREATE INDEX items_by_root ON items (root_id);

ALTER TABLE roots ADD COLUMN device INTEGER;        -- st_dev when added; NULL for roots added before 004
