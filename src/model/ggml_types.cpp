#include "model/ggml_types.h"

#include <array>
#include <string>

#include "base/strings.h"

namespace sparkctl::model {

namespace {

// Ids from ggml/include/ggml.h `enum ggml_type`; block size and sizeof(block_*) from
// ggml/src/ggml.c `type_traits` and ggml/src/ggml-common.h (llama.cpp, 2026-09 tree).
// QK_K = 256. Removed ids keep their slot so files using them get a precise error.
constexpr std::array<GgmlType, kGgmlTypeCount> kTypes = {{
    {0, "F32", 1, 4, false, false},
    {1, "F16", 1, 2, false, false},
    {2, "Q4_0", 32, 18, true, false},  // block_q4_0: f16 d + 16 B nibbles
    {3, "Q4_1", 32, 20, true, false},  // block_q4_1: f16 d, m + 16 B
    {4, "Q4_2", 0, 0, false, true},    // removed
    {5, "Q4_3", 0, 0, false, true},    // removed
    {6, "Q5_0", 32, 22, true, false},  // block_q5_0: f16 d + 4 B qh + 16 B
    {7, "Q5_1", 32, 24, true, false},  // block_q5_1
    {8, "Q8_0", 32, 34, true, false},  // block_q8_0: f16 d + 32 x int8
    {9, "Q8_1", 32, 36, true, false},  // block_q8_1: f16 d, s + 32 x int8
    {10, "Q2_K", 256, 84, true, false},
    {11, "Q3_K", 256, 110, true, false},
    {12, "Q4_K", 256, 144, true, false},
    {13, "Q5_K", 256, 176, true, false},
    {14, "Q6_K", 256, 210, true, false},
    {15, "Q8_K", 256, 292, true, false},  // block_q8_K: f32 d + 256 x int8 + 16 x int16
    {16, "IQ2_XXS", 256, 66, true, false},
    {17, "IQ2_XS", 256, 74, true, false},
    {18, "IQ3_XXS", 256, 98, true, false},
    {19, "IQ1_S", 256, 50, true, false},
    {20, "IQ4_NL", 32, 18, true, false},
    {21, "IQ3_S", 256, 110, true, false},
    {22, "IQ2_S", 256, 82, true, false},
    {23, "IQ4_XS", 256, 136, true, false},
    {24, "I8", 1, 1, false, false},
    {25, "I16", 1, 2, false, false},
    {26, "I32", 1, 4, false, false},
    {27, "I64", 1, 8, false, false},
    {28, "F64", 1, 8, false, false},
    {29, "IQ1_M", 256, 56, true, false},
    {30, "BF16", 1, 2, false, false},
    {31, "Q4_0_4_4", 0, 0, false, true},  // removed: Q4_0 with runtime repacking
    {32, "Q4_0_4_8", 0, 0, false, true},  // removed
    {33, "Q4_0_8_8", 0, 0, false, true},  // removed
    {34, "TQ1_0", 256, 54, true, false},
    {35, "TQ2_0", 256, 66, true, false},
    {36, "IQ4_NL_4_4", 0, 0, false, true},  // removed: IQ4_NL with runtime repacking
    {37, "IQ4_NL_4_8", 0, 0, false, true},  // removed
    {38, "IQ4_NL_8_8", 0, 0, false, true},  // removed
    {39, "MXFP4", 32, 17, true, false},     // block_mxfp4: E8M0 scale + 16 B of E2M1
    {40, "NVFP4", 64, 36, true, false},     // block_nvfp4: 4 x UE4M3 scales + 32 B of E2M1
    {41, "Q1_0", 128, 18, true, false},     // block_q1_0: f16 d + 16 B of bits
    {42, "Q2_0", 64, 18, true, false},      // block_q2_0: f16 d + 16 B of 2-bit quants
}};

// include/llama.h `enum llama_ftype`; names drop the LLAMA_FTYPE_MOSTLY_ prefix as llama.cpp's
// tools/quantize spells them. Empty: removed value.
constexpr std::array<std::string_view, 42> kFtypes = {
    "F32",   "F16",     "Q4_0",      "Q4_1",   "",       "",        "",       "Q8_0",   "Q5_0",
    "Q5_1",  "Q2_K",    "Q3_K_S",    "Q3_K_M", "Q3_K_L", "Q4_K_S",  "Q4_K_M", "Q5_K_S", "Q5_K_M",
    "Q6_K",  "IQ2_XXS", "IQ2_XS",    "Q2_K_S", "IQ3_XS", "IQ3_XXS", "IQ1_S",  "IQ4_NL", "IQ3_S",
    "IQ3_M", "IQ2_S",   "IQ2_M",     "IQ4_XS", "IQ1_M",  "BF16",    "",       "",       "",
    "TQ1_0", "TQ2_0",   "MXFP4_MOE", "NVFP4",  "Q1_0",   "Q2_0",
};

base::Error type_error(const GgmlType& type, const std::string& what) {
    return base::make_error(base::Errc::bad_input,
                            "tensor type " + std::string(type.name) + ": " + what);
}

}  // namespace

std::span<const GgmlType> ggml_types() { return kTypes; }

const GgmlType* ggml_type_by_id(std::uint32_t id) {
    if (id >= kTypes.size()) return nullptr;
    return &kTypes[id];
}

const GgmlType* ggml_type_by_name(std::string_view name) {
    for (const GgmlType& t : kTypes) {
        if (!t.removed && base::iequals(t.name, name)) return &t;
    }
    return nullptr;
}

base::Result<std::uint64_t> ggml_bytes_for_elements(const GgmlType& type,
                                                    std::uint64_t n_elements) {
    if (type.removed || type.block_size == 0) {
        return type_error(type, "removed from ggml, no longer loadable");
    }
    if (n_elements % type.block_size != 0) {
        return type_error(type, std::to_string(n_elements) +
                                    " elements is not a multiple of the block size " +
                                    std::to_string(type.block_size));
    }
    std::uint64_t blocks = n_elements / type.block_size;
    if (blocks > UINT64_MAX / type.type_size) {
        return type_error(
            type, "byte size of " + std::to_string(n_elements) + " elements overflows 64 bits");
    }
    return blocks * type.type_size;
}

base::Result<std::uint64_t> ggml_tensor_bytes(const GgmlType& type,
                                              std::span<const std::uint64_t> ne) {
    if (type.removed || type.block_size == 0) {
        return type_error(type, "removed from ggml, no longer loadable");
    }
    if (!ne.empty() && ne[0] % type.block_size != 0) {
        return type_error(type, "row of " + std::to_string(ne[0]) +
                                    " elements is not a multiple of the block size " +
                                    std::to_string(type.block_size));
    }
    std::uint64_t n = 1;
    for (std::uint64_t d : ne) {
        if (d != 0 && n > UINT64_MAX / d) {
            return type_error(type, "element count overflows 64 bits");
        }
        n *= d;
    }
    return ggml_bytes_for_elements(type, n);
}

std::optional<std::string_view> llama_ftype_name(std::uint32_t ftype) {
    if (ftype >= kFtypes.size() || kFtypes[ftype].empty()) return std::nullopt;
    return kFtypes[ftype];
}

}  // namespace sparkctl::model
