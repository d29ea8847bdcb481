// The JSON form of fit results shared by `fit` and `plan` (one schema: docs/dev/fit.md).
#pragma once

#include <nlohmann/json.hpp>

#include "fit/performance.h"

namespace sparkctl::cli {

// `performance` object: speeds with their ceilings; unknown values are null.
nlohmann::json performance_json(const fit::Performance& p);

}  // namespace sparkctl::cli
