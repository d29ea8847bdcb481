// libFuzzer target: a performance-constants file (`constants = FILE`, or the local table that
// `sparkctl calibrate` writes), parsed from memory. A table that parses is written back and must
// parse again to the same text (the writer and the reader agree).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fit/calibration.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace sparkctl::fit;
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto table = parse_constants_toml(text, "fuzz/perf-constants.toml");
    if (!table) return 0;
    const std::string written = constants_to_toml(*table);
    auto again = parse_constants_toml(written, "fuzz/written.toml");
    if (!again || constants_to_toml(*again) != written) std::abort();
    return 0;
}
