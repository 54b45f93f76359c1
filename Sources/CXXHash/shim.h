// xxHash: XXH3, the checksum over index snapshots (Debian: libxxhash-dev).
#include <xxhash.h>
