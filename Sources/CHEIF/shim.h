// libheif: HEIC (HEVC through libde265) and AVIF (AV1 through dav1d or libaom), the primary image
// with its rotation, mirroring and crop applied; its encoders make the test fixtures
// (Debian: libheif-dev).
#include <libheif/heif.h>
