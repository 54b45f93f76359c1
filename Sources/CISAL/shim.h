// Intel's ISA-L: streaming zlib inflate and CRC-32, several times zlib's speed on PNG image
// data, with kernels chosen for the CPU at run time (Debian: libisal-dev).
#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
