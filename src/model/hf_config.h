// Hugging Face `config.json` (and ModelOpt's `hf_quant_config.json`) -> model::Arch and
// model::Quantization. JSON stays inside hf_config.cpp.
//
// Rules: a key that is absent or null is unknown (std::nullopt), except where the model's own
// transformers code fills a default that real checkpoints rely on (each such default is named
// and cited in hf_config.cpp). A key of the wrong JSON type is a bad_input error naming the file
// and the key ("config.json: key 'text_config.num_hidden_layers': expected an integer, got
// string"). Multimodal wrappers (Gemma3, Mistral3, Llama4, ...) are read from `text_config`, and
// `vision_config` fills Arch::vision. Inputs over kHfConfigMaxBytes or nested deeper than
// kHfConfigMaxDepth are refused. All functions are thread-safe and do not throw.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "model/model_spec.h"

namespace sparkctl::model {

inline constexpr std::uint64_t kHfConfigMaxBytes = 16ull << 20;  // 16 MiB
inline constexpr std::size_t kHfConfigMaxDepth = 32;

struct HfConfig {
    Arch arch;
    std::optional<Quantization> quant;  // quantization_config; else torch_dtype bf16/fp16
    std::string model_type;             // top level ("gemma3")
    std::string text_model_type;        // text_config.model_type, or model_type ("gemma3_text")
    std::string torch_dtype;            // "bfloat16", "" when absent (`dtype` in newer files)
};

// Parses config.json text. `name` labels errors (usually the path).
base::Result<HfConfig> parse_hf_config(std::string_view json, std::string_view name);

// Reads and parses `path` (at most kHfConfigMaxBytes).
base::Result<HfConfig> load_hf_config(const std::filesystem::path& path);

// Parses ModelOpt's hf_quant_config.json ({"producer": ..., "quantization": {"quant_algo":
// "NVFP4", "group_size": 16, "exclude_modules": [...]}}). nullopt when it declares no algorithm.
base::Result<std::optional<Quantization>> parse_hf_quant_config(std::string_view json,
                                                                std::string_view name);

// Canonical quantization name (docs/policy.md, Words) for a declared one, case-insensitive:
// "bfloat16" -> "bf16", "float16"/"half" -> "fp16", "fbgemm_fp8"/"FP8" -> "fp8", "NVFP4" ->
// "nvfp4", "awq"/"gptq"/"mxfp4" as is; other names are returned lower-cased.
std::string canonical_quant_method(std::string_view declared);

}  // namespace sparkctl::model
