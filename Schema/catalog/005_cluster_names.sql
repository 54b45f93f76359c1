-- Kindred catalog, migration 005: clusters that name themselves, and names users give them.
--
-- 1. clusters.label: the name a refit made for the cluster from its members (the dominant top
--    folder under the root and the ImageNet classes its members show most; KindredEngine's
--    ClusterLabeler); NULL when nothing names it.
-- 2. cluster_names: a name a user gave with NAME-CLUSTER, keyed by the stable cluster id alone, so
--    it follows the cluster across refits while the id lives. It is kept when the id is absent
--    from the current run (the id may return); NAME-CLUSTER with an empty name removes it.
ALTER TABLE clusters ADD COLUMN label TEXT;

CREATE TABLE cluster_names (
    cluster   INTEGER PRIMARY KEY,                 -- stable cluster id, as in clusters.cluster
    name      TEXT    NOT NULL,
    named_at  INTEGER NOT NULL
);
