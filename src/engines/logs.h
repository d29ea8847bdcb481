// Measured memory from an engine's own load log lines: llama.cpp's buffer sizes, vLLM's "Model
// loading took" and "Available KV cache memory", SGLang's "Load weight end" and "KV Cache is
// allocated". Real captured lines are the fixtures (src/engines/fixtures/README.md). Pure and
// thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "engines/engine.h"

namespace sparkctl::engines {

struct MeasuredMemory {
    std::optional<std::uint64_t> weights_bytes, kv_bytes, compute_bytes, total_bytes;
    bool loaded = false;  // the engine said it finished loading (ready to serve)
};

// One engine log line; updates `into` with any memory figure it reports. True if it had one.
bool parse_memory_log_line(Engine engine, std::string_view line, MeasuredMemory& into);

}  // namespace sparkctl::engines
