// Model directories on disk: a Hugging Face checkpoint directory (config.json, safetensors
// shards or a single model.safetensors, optional hf_quant_config.json), a single .safetensors
// file, a bare config.json, and Hugging Face hub cache directories
// (~/.cache/huggingface/hub/models--<org>--<name>/{refs/main, snapshots/<rev>/}).
//
// Only headers and small JSON files are read. Errors name the file: not_found when a required
// file or snapshot is missing, bad_input for malformed or inconsistent files, io otherwise.
// Thread-safe (no shared state).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "model/model_spec.h"

namespace sparkctl::model {

// Loads a directory: a plain checkpoint directory, an HF cache repo directory
// ("models--openai--gpt-oss-120b": refs/main names the snapshot, else the only snapshot; several
// snapshots and no refs/main is bad_input listing them), or a snapshot directory inside one.
// Weights come from model.safetensors.index.json when present (every shard it names must exist,
// and hold the tensors it lists), else from every *.safetensors file in the directory.
// ModelSpec: source hf_cache (cache dirs) or safetensors (with weights) or config_json;
// files = the weight files read (tensor.file_index indexes it), or {config.json} without weights;
// weights_bytes = sum of tensor bytes, file_bytes = sum of the files' sizes (weights only);
// arch.params_total / params_active / vision.params from tensors when every tensor's packing is
// known (see tensor_logical_params), MTP layers excluded.
base::Result<ModelSpec> load_model_dir(const std::filesystem::path& dir);

// A bare config.json: architecture and declared quantization only (no tensors).
base::Result<ModelSpec> load_config_json(const std::filesystem::path& path);

// One .safetensors file, with the config.json beside it when present.
base::Result<ModelSpec> load_safetensors(const std::filesystem::path& path);

// "models--openai--gpt-oss-120b" -> "openai/gpt-oss-120b"; "models--gpt2" -> "gpt2"; nullopt
// for names that are not HF cache model directories.
std::optional<std::string> hf_id_from_cache_dir_name(std::string_view dir_name);

}  // namespace sparkctl::model
