-- Kindred catalog, migration 003: each item's nearest neighbours as a refit saw them, so the map
-- (`kindred map`) can list them on a click without a search per item. The refit already asks the
-- live index for every item's neighbours to build UMAP's graph; this keeps the first few.
-- Little-endian int64 item ids, nearest first, the item itself left out; NULL if not known.
ALTER TABLE assignments ADD COLUMN neighbours BLOB;
