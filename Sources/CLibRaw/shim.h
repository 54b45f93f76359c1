// LibRaw (its thread-safe build, libraw_r): camera RAW files, as their embedded preview JPEG or a
// half-size decode of the sensor data (Debian: libraw-dev).
#include <libraw/libraw.h>
