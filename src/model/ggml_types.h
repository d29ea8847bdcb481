// ggml tensor types (id, name, block size, bytes per block) and llama.cpp file types, as in a
// 2026 llama.cpp tree. Sources: ggml/include/ggml.h (enum ggml_type), ggml/src/ggml.c
// (type_traits), ggml/src/ggml-common.h (block structs), include/llama.h (enum llama_ftype).
// All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "base/result.h"

namespace sparkctl::model {

struct GgmlType {
    std::uint32_t id = 0;
    std::string_view name;         // GGUF/gguf-py spelling: "Q4_K", "MXFP4", "BF16", "F32"
    std::uint32_t block_size = 0;  // elements per block; 0 for removed types
    std::uint32_t type_size = 0;   // bytes per block
    bool quantized = false;
    bool removed = false;  // id once existed; llama.cpp refuses it in GGUF files
};

// One past the largest id in the table (GGML_TYPE_COUNT).
inline constexpr std::uint32_t kGgmlTypeCount = 43;

// Every known id, live and removed, in id order.
std::span<const GgmlType> ggml_types();

// The entry for `id` (removed ids included, with removed = true); nullptr when unknown.
const GgmlType* ggml_type_by_id(std::uint32_t id);

// Case-insensitive lookup of a live type ("q4_k", "Q4_K", "mxfp4"); nullptr when unknown.
const GgmlType* ggml_type_by_name(std::string_view name);

// Bytes of `n_elements` elements of `type`. bad_input when the type is removed, when
// n_elements is not a multiple of the block size, or when the result overflows 64 bits.
base::Result<std::uint64_t> ggml_bytes_for_elements(const GgmlType& type, std::uint64_t n_elements);

// Bytes of a tensor with ggml dims `ne` (ne[0] is the row, the innermost dimension).
// Like ggml, the row length ne[0] must be a multiple of the block size. bad_input on a
// removed type, a bad row length, or overflow of the element count or byte size.
base::Result<std::uint64_t> ggml_tensor_bytes(const GgmlType& type,
                                              std::span<const std::uint64_t> ne);

// llama_ftype (GGUF `general.file_type`) in llama.cpp spelling: 15 -> "Q4_K_M",
// 38 -> "MXFP4_MOE", 0 -> "F32". nullopt for unknown or removed values.
std::optional<std::string_view> llama_ftype_name(std::uint32_t ftype);

}  // namespace sparkctl::model
