// libwebp: still and animated WebP decode with scaling (Debian: libwebp-dev).
#include <webp/decode.h>
#include <webp/demux.h>
#include <webp/encode.h>
