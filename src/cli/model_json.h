// Rendering model facts for people (tables) and programs (JSON), shared by models and inspect.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "model/model_spec.h"

namespace sparkctl::cli {

// Architecture facts; unknown values are null. Field names carry units.
nlohmann::json arch_json(const model::Arch& arch);
nlohmann::json quant_json(const model::Quantization& quant);
// The whole spec: source, files, facts, quantization, inventory (by kind and dtype).
nlohmann::json spec_json(const model::ModelSpec& spec);

// A human table of the same facts; "unknown" where a fact is unknown.
std::string spec_text(const model::ModelSpec& spec);

// "dense", "MoE", "MoE + MLA", "hybrid (Mamba + attention)", ...
std::string arch_kind(const model::Arch& arch);

}  // namespace sparkctl::cli
