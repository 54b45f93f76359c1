// FreeType renders the captions of contact sheets (Debian: libfreetype-dev; the font is
// DejaVu Sans from fonts-dejavu-core).
#include <ft2build.h>
#include FT_FREETYPE_H
