// libFuzzer target: safetensors headers and shard indexes, parsed from memory (no disk).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace sparkctl::model;
    std::string_view bytes(reinterpret_cast<const char*>(data), size);
    auto header = parse_safetensors_header(bytes, size, "fuzz.safetensors");
    if (header.ok()) {
        Quantization awq{"awq", "awq", 4u, 128u, true, {}};
        for (const Tensor& t : to_model_tensors(header.value(), 0, 4u)) {
            (void)tensor_logical_params(t, std::nullopt);
            (void)tensor_logical_params(t, awq);
        }
    }
    // The same bytes as an index (JSON text) and as a tensor name.
    (void)parse_safetensors_index(bytes, "fuzz.index.json");
    (void)classify_hf_tensor(bytes, 2u);
    return 0;
}
