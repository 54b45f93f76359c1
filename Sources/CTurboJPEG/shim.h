// libjpeg-turbo's TurboJPEG API: JPEG decode with DCT scaling, and JPEG encode
// (Debian: libturbojpeg0-dev).
#include <turbojpeg.h>
