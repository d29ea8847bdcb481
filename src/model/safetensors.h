// Safetensors: the header of one .safetensors file (read byte for byte, never the tensor data),
// the shard index `model.safetensors.index.json`, and what Hugging Face tensor names mean.
//
// Format (huggingface/safetensors, safetensors/src/tensor.rs, SafeTensors::read_metadata and
// Metadata::validate): 8 bytes little-endian u64 N, then N bytes of UTF-8 JSON (an object of
// tensor name -> {dtype, shape, data_offsets: [begin, end]} plus an optional "__metadata__"
// object of string -> string), then the data section. N <= 100,000,000. Offsets are relative to
// the data section; sorted by offset, the tensors tile it exactly (the first begins at 0, each
// begins where the previous ended, the last ends at the end of the file) and each tensor's
// end - begin equals n_elements * bits(dtype) / 8 (a whole number of bytes).
//
// All functions are pure or read-only and thread-safe; none throws.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "model/model_spec.h"

namespace sparkctl::model {

// safetensors' MAX_HEADER_SIZE (tensor.rs).
inline constexpr std::uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;

// Bits per element of a safetensors dtype name as the current spec spells it (BOOL, U8, I8, I16,
// U16, I32, U32, I64, U64, F16, BF16, F32, F64, C64, F8_E4M3, F8_E5M2, F8_E8M0, F8_E4M3FNUZ,
// F8_E5M2FNUZ, F6_E2M3, F6_E3M2, F4); nullopt for any other name. Case-sensitive, as serde is.
std::optional<std::uint32_t> safetensors_dtype_bits(std::string_view dtype);

struct SafetensorsTensor {
    std::string name;
    std::string dtype;
    std::vector<std::uint64_t> shape;
    std::uint64_t n_elements = 0;
    std::uint64_t data_begin = 0;  // relative to the data section
    std::uint64_t data_end = 0;
};

struct SafetensorsHeader {
    std::uint64_t header_bytes = 0;  // N: the JSON header's length
    std::uint64_t data_offset = 0;   // 8 + N: where the data section starts in the file
    std::uint64_t data_bytes = 0;    // length of the data section (= sum of tensor bytes)
    std::vector<std::pair<std::string, std::string>> metadata;  // "__metadata__", sorted by key
    std::vector<SafetensorsTensor> tensors;                     // sorted by data_begin
};

// Parses and validates a header. `bytes` holds the file from offset 0 and must contain at least
// 8 + N bytes (anything after is ignored); `file_size` is the whole file's size, so the data
// section can be checked without reading it. `name` labels error messages. bad_input on any
// violation of the format above, with the tensor name where one is to blame.
base::Result<SafetensorsHeader> parse_safetensors_header(std::string_view bytes,
                                                         std::uint64_t file_size,
                                                         std::string_view name);

// Opens `path` and reads only its header (two positional reads), then parses it as above.
// not_found / io from the file system; bad_input for a malformed file.
base::Result<SafetensorsHeader> read_safetensors_header(const std::filesystem::path& path);

// `model.safetensors.index.json`: which shard holds each tensor.
struct SafetensorsIndex {
    std::optional<std::uint64_t> total_size;                      // metadata.total_size, when given
    std::vector<std::string> shards;                              // distinct file names, sorted
    std::vector<std::pair<std::string, std::string>> weight_map;  // tensor -> shard, sorted
};

// Parses an index. Shard names must be plain file names (no '/', '\\', "..", NUL): an index
// may not point outside its directory. bad_input names `name` and the key at fault.
base::Result<SafetensorsIndex> parse_safetensors_index(std::string_view json,
                                                       std::string_view name);

// Where a Hugging Face tensor belongs, from its name alone ("model.layers.3.mlp.experts.7.
// down_proj.weight" -> ffn_experts). With `n_layers` (num_hidden_layers), a decoder layer index
// >= n_layers is an MTP layer (DeepSeek-V3, GLM-4.5 keep theirs as model.layers.<n_layers+i>).
TensorKind classify_hf_tensor(std::string_view name,
                              std::optional<std::uint32_t> n_layers = std::nullopt);

// Converts a parsed header into ModelSpec tensors (exact bytes, kind from the name).
std::vector<Tensor> to_model_tensors(const SafetensorsHeader& header, std::uint32_t file_index,
                                     std::optional<std::uint32_t> n_layers = std::nullopt);

// Logical parameters a tensor stands for, or nullopt when its packing is unknown.
//  - float dtypes (F64/F32/F16/BF16/F8_*/F6_*/F4, safetensors shapes count logical elements)
//    and I8 weights: n_elements.
//  - quantization side tensors (scales, zero points, g_idx, weight_shape, input/k/v scales,
//    MXFP4 `*_scales`): 0 parameters.
//  - AWQ/GPTQ `qweight` and compressed-tensors `weight_packed` in I32: 32/bits values per
//    element (bits from `quant`, else unknown).
//  - U8 holding two E2M1 values per byte: MXFP4 `*_blocks` (gpt-oss), compressed-tensors NVFP4
//    `weight_packed`, ModelOpt NVFP4 `weight` (when `quant` says nvfp4): 2 per element.
//  - anything else in an integer dtype: unknown.
std::optional<std::uint64_t> tensor_logical_params(const Tensor& tensor,
                                                   const std::optional<Quantization>& quant);

}  // namespace sparkctl::model
