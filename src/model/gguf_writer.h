// GGUF v3 (or v2) writer: metadata of every type including nested arrays, tensors of any
// ggml type with given shapes, data zero-filled or produced by a callback, with the padding
// llama.cpp's gguf.cpp expects. Used by tests to build files in code and by
// `sparkctl dev make-gguf`. Not thread-safe; one writer per file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "model/gguf.h"

namespace sparkctl::model {

// An encoded GGUF metadata value (type tag kept apart from the payload bytes).
class GgufWriterValue {
  public:
    static GgufWriterValue u8(std::uint8_t v);
    static GgufWriterValue i8(std::int8_t v);
    static GgufWriterValue u16(std::uint16_t v);
    static GgufWriterValue i16(std::int16_t v);
    static GgufWriterValue u32(std::uint32_t v);
    static GgufWriterValue i32(std::int32_t v);
    static GgufWriterValue u64(std::uint64_t v);
    static GgufWriterValue i64(std::int64_t v);
    static GgufWriterValue f32(float v);
    static GgufWriterValue f64(double v);
    static GgufWriterValue boolean(bool v);
    static GgufWriterValue str(std::string_view v);
    // An array whose elements all have type `elem` (checked: SPARKCTL_ASSERT).
    static GgufWriterValue array(GgufType elem, const std::vector<GgufWriterValue>& items);
    static GgufWriterValue u32_array(const std::vector<std::uint32_t>& v);
    static GgufWriterValue i32_array(const std::vector<std::int32_t>& v);
    static GgufWriterValue f32_array(const std::vector<float>& v);
    static GgufWriterValue bool_array(const std::vector<bool>& v);
    static GgufWriterValue str_array(const std::vector<std::string>& v);

    GgufType type() const { return type_; }
    const std::string& payload() const { return payload_; }

  private:
    GgufWriterValue(GgufType type, std::string payload)
        : type_(type), payload_(std::move(payload)) {}
    GgufType type_;
    std::string payload_;
};

class GgufWriter {
  public:
    // Fills dst (n bytes) with the tensor's bytes starting at `offset` within the tensor.
    using Fill = std::function<void(std::uint64_t offset, char* dst, std::size_t n)>;

    explicit GgufWriter(std::uint32_t version = 3) : version_(version) {}

    // Adds a metadata key (order is kept). A later add of the same key replaces the value.
    // "general.alignment" (u32, power of two) sets the alignment used for the data.
    void add(std::string key, GgufWriterValue value);
    void add_u32(std::string key, std::uint32_t v) { add(std::move(key), GgufWriterValue::u32(v)); }
    void add_u64(std::string key, std::uint64_t v) { add(std::move(key), GgufWriterValue::u64(v)); }
    void add_f32(std::string key, float v) { add(std::move(key), GgufWriterValue::f32(v)); }
    void add_bool(std::string key, bool v) { add(std::move(key), GgufWriterValue::boolean(v)); }
    void add_string(std::string key, std::string_view v) {
        add(std::move(key), GgufWriterValue::str(v));
    }

    // Adds a tensor; `ne` in ggml order (ne[0] = row). bad_input for unknown or removed type
    // ids, more than 4 dims, a row not a multiple of the block size, duplicate names.
    base::Result<void> add_tensor(std::string name, std::uint32_t type_id,
                                  std::vector<std::uint64_t> ne, Fill fill = {});

    // Header + tensor infos + padding (no tensor data): for tests of the reader.
    std::string header_bytes() const;
    // The whole file in memory; for small files (tests, fuzz seeds).
    std::string to_bytes() const;
    // Writes the file (to a temporary beside it, then renamed). io errors name the path.
    base::Result<void> write(const std::filesystem::path& path) const;

    std::uint64_t alignment() const;

  private:
    struct TensorEntry {
        std::string name;
        std::uint32_t type_id = 0;
        std::vector<std::uint64_t> ne;
        std::uint64_t bytes = 0;
        std::uint64_t offset = 0;
        Fill fill;
    };
    template <typename Sink>
    bool emit(Sink&& sink, bool with_data) const;

    std::uint32_t version_;
    std::vector<std::pair<std::string, GgufWriterValue>> kv_;
    std::vector<TensorEntry> tensors_;
};

}  // namespace sparkctl::model
