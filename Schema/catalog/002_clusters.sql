-- Kindred catalog, migration 002: what each refit learnt of each cluster, for CLUSTERS and the
-- refit report. Cluster ids are stable: a run's cluster takes the id of the previous run's
-- cluster it overlaps most (Jaccard over members, at least refit.match_jaccard), else a new id.
CREATE TABLE clusters (
    run_id           INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    cluster          INTEGER NOT NULL,             -- stable id; never -1
    size             INTEGER NOT NULL,
    exemplar         INTEGER REFERENCES items(id) ON DELETE SET NULL,  -- the member nearest the cluster's centre
    silhouette       REAL,                         -- mean silhouette of its members (sampled for large runs)
    born_run_id      INTEGER NOT NULL,             -- the run in which this id first appeared
    matched_jaccard  REAL,                         -- overlap with the previous run's cluster of this id; NULL if new
    PRIMARY KEY (run_id, cluster)
) WITHOUT ROWID;
