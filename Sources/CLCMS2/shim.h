// LittleCMS 2: ICC colour management, converting what files embed (or CMYK's default) to sRGB
// (Debian: liblcms2-dev).
#include <lcms2.h>

// The pixel-format macros are built from function-like macros, which Swift does not import.
static const cmsUInt32Number kk_lcms_rgb8 = TYPE_RGB_8;
static const cmsUInt32Number kk_lcms_cmyk8 = TYPE_CMYK_8;
// Adobe's CMYK JPEGs store ink inverted (0 is full ink).
static const cmsUInt32Number kk_lcms_cmyk8_inverted = TYPE_CMYK_8_REV;
