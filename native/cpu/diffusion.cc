// placeholder
#include "core/diffusion.h"
