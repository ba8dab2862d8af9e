#include "base/result.h"

// Result and Error are header-only; this unit keeps the library non-empty until Process lands.
