// libFuzzer target for the GGUF reader: parses the input in memory (no disk I/O), then
// derives the ModelSpec from whatever parsed. Seeds: fuzz/corpus/gguf/.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "model/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view bytes(reinterpret_cast<const char*>(data), size);
    auto f = sparkctl::model::parse_gguf_header(bytes, "fuzz.gguf");
    if (!f.ok()) return 0;
    for (const auto& t : f->tensors) {
        (void)sparkctl::model::classify_gguf_tensor(t.name, 3);
    }
    for (const auto& k : f->keys) {
        (void)f->get_uint(k);
        (void)f->get_float(k);
        (void)f->get_string(k);
        (void)f->get_uint_array(k);
    }
    std::vector<sparkctl::model::GgufFile> shards;
    shards.push_back(std::move(f).value());
    (void)sparkctl::model::gguf_to_spec(shards);
    return 0;
}
