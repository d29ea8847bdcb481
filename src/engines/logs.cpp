#include "engines/logs.h"

#include <charconv>
#include <cmath>
#include <string>

namespace sparkctl::engines {

namespace {

constexpr double kMiB = 1024.0 * 1024.0;
constexpr double kGiB = 1024.0 * kMiB;

// The number right after `key` in `line` (spaces skipped); nullopt when absent or malformed.
std::optional<double> number_after(std::string_view line, std::string_view key) {
    const std::size_t at = line.find(key);
    if (at == std::string_view::npos) return std::nullopt;
    std::string_view rest = line.substr(at + key.size());
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    double v = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), v);
    if (ec != std::errc() || end == rest.data() || !std::isfinite(v) || v < 0 || v > 1e15) {
        return std::nullopt;
    }
    return v;
}

std::uint64_t to_bytes(double v, double unit) {
    return static_cast<std::uint64_t>(std::llround(v * unit));
}

void add(std::optional<std::uint64_t>& field, std::uint64_t bytes) {
    field = field.value_or(0) + bytes;
}

void update_total(MeasuredMemory& m) {
    m.total_bytes =
        m.weights_bytes.value_or(0) + m.kv_bytes.value_or(0) + m.compute_bytes.value_or(0);
}

// llama.cpp, one line per backend buffer (the host copy of a model on CPU_Mapped counts too):
// LC:src/llama-model.cpp "%s: %12s model buffer size = %8.2f MiB", LC:src/llama-kv-cache.cpp
// "%s: %10s KV buffer size = %8.2f MiB", LC:src/llama-context.cpp "%s: %10s compute buffer size
// = %8.2f MiB"; ready: LC:tools/server/server.cpp SRV_INF "model loaded".
bool parse_llamacpp(std::string_view line, MeasuredMemory& m) {
    if (auto v = number_after(line, " model buffer size =")) {
        add(m.weights_bytes, to_bytes(*v, kMiB));
    } else if (auto kv = number_after(line, " KV buffer size =")) {
        add(m.kv_bytes, to_bytes(*kv, kMiB));
    } else if (auto c = number_after(line, " compute buffer size =")) {
        add(m.compute_bytes, to_bytes(*c, kMiB));
    } else if (line.find("srv ") != std::string_view::npos &&
               line.find(": model loaded") != std::string_view::npos) {
        m.loaded = true;
        return false;
    } else {
        return false;
    }
    update_total(m);
    return true;
}

// vLLM: V:vllm/v1/worker/gpu_model_runner.py "Model loading took %.4f GiB memory and %.6f
// seconds"; V:vllm/v1/worker/gpu_worker.py "Available KV cache memory: %.2f GiB"; ready:
// uvicorn's "Application startup complete.".
bool parse_vllm(std::string_view line, MeasuredMemory& m) {
    if (auto v = number_after(line, "Model loading took")) {
        m.weights_bytes = to_bytes(*v, kGiB);
    } else if (auto kv = number_after(line, "Available KV cache memory:")) {
        m.kv_bytes = to_bytes(*kv, kGiB);
    } else {
        if (line.find("Application startup complete.") != std::string_view::npos) m.loaded = true;
        return false;
    }
    update_total(m);
    return true;
}

// SGLang: S:python/sglang/srt/model_executor/model_runner.py "Load weight end. ... mem usage=%.2f
// GB." (free memory before minus after, get_available_gpu_memory: bytes / (1 << 30));
// S:python/sglang/srt/mem_cache/memory_pool.py "KV Cache is allocated. #tokens: N, K size: %.2f
// GB, V size: %.2f GB" (MHA) or "..., KV size: %.2f GB" (MLA), with GB = 1024 * 1024 * 1024;
// ready: S:python/sglang/srt/entrypoints/http_server.py "The server is fired up and ready to
// roll!". "GB" in these lines is GiB.
bool parse_sglang(std::string_view line, MeasuredMemory& m) {
    if (line.find("Load weight end.") != std::string_view::npos) {
        auto v = number_after(line, "mem usage=");
        if (!v) return false;
        m.weights_bytes = to_bytes(*v, kGiB);
    } else if (line.find("KV Cache is allocated.") != std::string_view::npos) {
        if (auto kv = number_after(line, " KV size:")) {  // MLA: one latent cache
            m.kv_bytes = to_bytes(*kv, kGiB);
        } else {
            auto k = number_after(line, " K size:");
            auto v = number_after(line, " V size:");
            if (!k || !v) return false;
            m.kv_bytes = to_bytes(*k, kGiB) + to_bytes(*v, kGiB);
        }
    } else {
        if (line.find("The server is fired up and ready to roll!") != std::string_view::npos) {
            m.loaded = true;
        }
        return false;
    }
    update_total(m);
    return true;
}

}  // namespace

bool parse_memory_log_line(Engine engine, std::string_view line, MeasuredMemory& into) {
    switch (engine) {
        case Engine::llama_cpp:
            return parse_llamacpp(line, into);
        case Engine::vllm:
            return parse_vllm(line, into);
        case Engine::sglang:
            return parse_sglang(line, into);
    }
    return false;
}

}  // namespace sparkctl::engines
