// LMDB: the memory-mapped B+tree that holds Kindred's vectors (Debian: liblmdb-dev).
#include <lmdb.h>
