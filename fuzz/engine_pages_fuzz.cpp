// libFuzzer target: the readers of the engines' pages (src/engines/metrics.h) on hostile input.
// The same bytes go to every reader (Prometheus text and JSON alike); each must return a value
// or an error, never crash, and a setting it reads must quote its evidence.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "engines/metrics.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace e = sparkctl::engines;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (auto s = e::vllm_prefix_cache_setting(text, "fuzz"); s && s->evidence.empty()) {
        std::abort();
    }
    (void)e::vllm_prefix_cache_counters(text, "fuzz");
    if (auto s = e::sglang_prefix_cache_setting(text, "fuzz"); s && s->evidence.empty()) {
        std::abort();
    }
    (void)e::sglang_prefix_cache_counters(text, "fuzz");
    if (auto s = e::llamacpp_prefix_cache_setting(text, "fuzz");
        s && *s && (*s)->evidence.empty()) {
        std::abort();
    }
    (void)e::llamacpp_cache_n(text);
    (void)e::engine_from_models(text);
    return 0;
}
