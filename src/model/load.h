// Resolving a MODEL argument to a ModelSpec: files first, then the catalog.
#pragma once

#include <string_view>

#include "base/result.h"
#include "model/model_spec.h"

namespace sparkctl::model {

// `arg` is an existing path (a .gguf file or any shard of a split GGUF, a .safetensors file, a
// config.json, a model directory, a Hugging Face cache directory `models--org--name` or one of
// its snapshots) or a catalog name (id, alias or HF id, case-insensitive). Real files take
// precedence over the catalog. Errors: bad_input for unreadable or hostile files (the message
// names the file), not_found for a name that is neither a path nor in the catalog (the message
// suggests close catalog names).
base::Result<ModelSpec> load_model(std::string_view arg);

}  // namespace sparkctl::model
