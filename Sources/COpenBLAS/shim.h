// OpenBLAS for sgemm/sgemv and LAPACKE for eigen-decompositions
// (Debian: libopenblas-dev, liblapacke-dev).
#include <cblas.h>
#include <lapacke.h>
