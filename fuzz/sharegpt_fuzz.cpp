// libFuzzer target: the ShareGPT dataset parser (`simulate --dataset`) on hostile documents.
// Besides "no crash": every entry it keeps passes vLLM's filters (both sides at least 4 tokens,
// the prompt at most 1024, both at most 2048).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sim/workload.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto entries = sparkctl::sim::parse_sharegpt(text, "fuzz.json");
    if (!entries.ok()) return 0;
    if (entries->empty()) std::abort();
    for (const auto& e : *entries) {
        if (e.prompt_tokens < 4 || e.output_tokens < 4 || e.prompt_tokens > 1024 ||
            e.prompt_tokens + e.output_tokens > 2048) {
            std::abort();
        }
    }
    return 0;
}
