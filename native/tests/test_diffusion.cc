#include "check.h"

TEST_MAIN("native diffusion")
