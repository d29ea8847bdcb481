// The detected hardware as `sparkctl hw --json` prints it under "detected" (cmd_hw.cpp); bench
// stores it with every run.
#pragma once

#include <nlohmann/json.hpp>

#include "hw/detect.h"

namespace sparkctl::cli {

nlohmann::json detection_json(const hw::Detection& d);

}  // namespace sparkctl::cli
