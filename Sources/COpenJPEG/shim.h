// OpenJPEG: JPEG 2000 (JP2 boxes and raw J2K codestreams), decoded at a reduced resolution when
// the output is smaller; its encoder makes the test fixtures (Debian: libopenjp2-7-dev).
#include <openjpeg.h>
