// GGUF reader (versions 2 and 3): header, metadata, tensor infos, split files, and the
// ModelSpec that llama.cpp would derive from them. Reads only the header, through a buffered
// positional reader, so a 60 GB file is inspected in milliseconds. Every count, length and
// offset is checked before use: hostile files give Errc::bad_input, never a crash, a hang or
// an unbounded allocation. Format: ggml/src/gguf.cpp and docs/dev/model-gguf.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "model/ggml_types.h"
#include "model/model_spec.h"

namespace sparkctl::model {

// GGUF metadata value types (ggml/include/gguf.h `enum gguf_type`).
enum class GgufType : std::uint32_t {
    uint8 = 0,
    int8 = 1,
    uint16 = 2,
    int16 = 3,
    uint32 = 4,
    int32 = 5,
    float32 = 6,
    boolean = 7,
    string = 8,
    array = 9,
    uint64 = 10,
    int64 = 11,
    float64 = 12,
};

const char* to_string(GgufType type);

// Limits of the reader (see docs/dev/model-gguf.md).
inline constexpr std::uint64_t kGgufMaxKv = 1u << 16;
inline constexpr std::uint64_t kGgufMaxTensors = 1u << 20;
inline constexpr std::uint32_t kGgufMaxDims = 4;         // GGML_MAX_DIMS
inline constexpr std::uint64_t kGgufMaxNameLength = 63;  // GGML_MAX_NAME - 1
inline constexpr std::uint64_t kGgufMaxKeyLength = 65535;
inline constexpr std::uint32_t kGgufMaxArrayDepth = 8;           // nested arrays
inline constexpr std::uint64_t kGgufMaxKeptNumericArray = 8192;  // elements kept per array
inline constexpr std::uint64_t kGgufMaxKeptStringArray = 1024;   // strings kept per array
inline constexpr std::uint64_t kGgufMaxKeptBytes = 64u << 20;    // all kept values together

// One metadata value. Scalars have n = 1 and one element in the vector matching their type.
// Arrays keep element type and count always; their elements only when `kept` (numeric arrays
// up to kGgufMaxKeptNumericArray elements, string arrays up to kGgufMaxKeptStringArray);
// nested arrays never keep elements.
struct GgufValue {
    GgufType type = GgufType::uint8;       // GgufType::array for arrays
    GgufType elem_type = GgufType::uint8;  // arrays: element type
    std::uint64_t n = 1;                   // arrays: element count
    bool kept = true;                      // false: elements were walked, not stored
    std::vector<std::uint64_t> uints;      // uint8..uint64 and bool (0/1)
    std::vector<std::int64_t> ints;        // int8..int64
    std::vector<double> floats;            // float32, float64
    std::vector<std::string> strings;      // string

    bool is_array() const { return type == GgufType::array; }
};

struct GgufTensorInfo {
    std::string name;
    std::vector<std::uint64_t> ne;  // ggml order: ne[0] is the row (innermost) dimension
    std::uint32_t type_id = 0;
    const GgmlType* type = nullptr;  // never null after a successful read
    std::uint64_t offset = 0;        // from the start of the data section
    std::uint64_t n_elements = 0;
    std::uint64_t bytes = 0;  // exact, without alignment padding
};

// A parsed GGUF header. Plain data; safe to share across threads once built.
struct GgufFile {
    std::filesystem::path path;
    std::uint32_t version = 0;
    std::uint64_t file_bytes = 0;
    std::uint64_t alignment = 32;   // general.alignment, a power of two
    std::uint64_t data_offset = 0;  // absolute file offset of the data section
    std::vector<std::string> keys;  // in file order
    std::unordered_map<std::string, GgufValue> kv;
    std::vector<GgufTensorInfo> tensors;

    const GgufValue* find(std::string_view key) const;
    // Typed accessors: nullopt when absent, of another kind, or an array.
    std::optional<std::uint64_t> get_uint(std::string_view key) const;  // any int type, >= 0
    std::optional<std::int64_t> get_int(std::string_view key) const;    // any int type
    std::optional<double> get_float(std::string_view key) const;        // floats and ints
    std::optional<bool> get_bool(std::string_view key) const;
    std::optional<std::string> get_string(std::string_view key) const;
    // Scalar or kept array of non-negative integers (bools as 0/1), e.g. per-layer counts.
    std::optional<std::vector<std::uint64_t>> get_uint_array(std::string_view key) const;
    // Element count of an array key (kept or not).
    std::optional<std::uint64_t> array_size(std::string_view key) const;
};

// Reads the header of one GGUF file (v2 or v3; v1 rejected). Errors: not_found/io from
// opening and reading, bad_input for anything malformed, the message naming the file.
base::Result<GgufFile> read_gguf_header(const std::filesystem::path& path);

// Parses a GGUF header from bytes in memory (a whole file or a prefix; tensor ranges are
// checked against bytes.size()). `name` stands for the file in messages.
base::Result<GgufFile> parse_gguf_header(std::string_view bytes, std::string_view name);

// All shards of a split model, in order ("name-00001-of-00003.gguf" from any shard), or
// the file alone when not split. not_found names a missing shard; bad_input flags shards
// that disagree (split.no/split.count, duplicate tensors across shards).
// "<prefix>-NNNNN-of-NNNNN.gguf" (llama.cpp's split naming): shard number (1-based) and count.
struct GgufSplitName {
    std::string prefix;
    std::uint32_t no = 0;
    std::uint32_t count = 0;
};
// nullopt when the name does not follow the pattern or the numbers are inconsistent.
std::optional<GgufSplitName> parse_gguf_split_name(std::string_view filename);

base::Result<std::vector<GgufFile>> read_gguf_shards(const std::filesystem::path& path);

// The ModelSpec llama.cpp would see: all shards, tensors, sizes, quantization and Arch
// (layer layout per llama.cpp's src/models/<arch>.cpp load_arch_hparams).
base::Result<ModelSpec> load_gguf(const std::filesystem::path& path);

// Builds the spec from already-read shards (same as load_gguf, without I/O).
base::Result<ModelSpec> gguf_to_spec(const std::vector<GgufFile>& shards);

// Kind of a llama.cpp tensor name ("blk.3.ffn_up_exps.weight" -> ffn_experts). Blocks at
// index >= first_mtp_block (when given) and `nextn.` tensors are TensorKind::mtp.
TensorKind classify_gguf_tensor(std::string_view name,
                                std::optional<std::uint32_t> first_mtp_block = std::nullopt);

}  // namespace sparkctl::model
