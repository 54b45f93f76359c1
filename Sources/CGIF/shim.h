// giflib: GIF decode from memory; its encoder makes the test fixtures (Debian: libgif-dev).
#include <gif_lib.h>
