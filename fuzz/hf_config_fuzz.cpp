// libFuzzer target: config.json and hf_quant_config.json, parsed from memory (no disk).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "model/hf_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace sparkctl::model;
    std::string_view text(reinterpret_cast<const char*>(data), size);
    (void)parse_hf_config(text, "fuzz/config.json");
    (void)parse_hf_quant_config(text, "fuzz/hf_quant_config.json");
    return 0;
}
