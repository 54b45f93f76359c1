// Umbrella header: distance kernels for KindredIndex, CNN kernels for KindredFeatures.
#include "kindred_kernels.h"
#include "kindred_cnn.h"
