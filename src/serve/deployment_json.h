// A deployment request as JSON: how `up` sends one over the admin socket and how the state store
// keeps it (so an `up` deployment persists across daemon restarts). Keys are the `[[models]]`
// keys of the config file.
#pragma once

#include <string>

#include "base/result.h"
#include "serve/deployment.h"

namespace sparkctl::serve {

// Compact JSON of every key (stable order, so two equal configs give equal text).
std::string deployment_to_json(const DeploymentConfig& d);
// Errors: bad_input naming the key with a wrong type, or text that is not a JSON object.
base::Result<DeploymentConfig> deployment_from_json(const std::string& text);

}  // namespace sparkctl::serve
