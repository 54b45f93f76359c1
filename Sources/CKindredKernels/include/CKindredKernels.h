// Umbrella header: distance kernels for KindredIndex, CNN kernels for KindredFeatures, per-pixel
// kernels for KindredImaging, and the system calls Swift cannot see.
#include "kindred_kernels.h"
#include "kindred_cnn.h"
#include "kindred_imaging.h"
#include "kindred_system.h"
