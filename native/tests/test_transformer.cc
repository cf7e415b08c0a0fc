#include "tests/check.h"
TEST_MAIN("native transformer")
