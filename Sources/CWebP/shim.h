// libwebp: still and animated WebP decode with scaling; the encoders make test fixtures
// (Debian: libwebp-dev).
#include <webp/decode.h>
#include <webp/demux.h>
#include <webp/encode.h>
#include <webp/mux.h>
