// libspng: PNG decode row by row, so huge images stream through a downscaler
// (Debian: libspng-dev).
#include <spng.h>
