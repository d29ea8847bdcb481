// inspect_bench: reading the header of a 60 GB GGUF (a real header, its data region a sparse
// hole made with ftruncate) against a tiny one. Both should take the same few milliseconds:
// the reader touches only the header. Run: build/.../bench/inspect_bench.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "fit/fit.h"
#include "model/gguf.h"
#include "model/gguf_writer.h"

namespace {

namespace fs = std::filesystem;
using sparkctl::model::GgufWriter;

// A GGUF header whose tensors add up to `target_bytes` of data (Q4_K rows of 4096), written
// without its data; the file is then extended to its full size with ftruncate (a sparse hole).
fs::path make_file(const std::string& name, std::uint64_t target_bytes) {
    const fs::path path = fs::temp_directory_path() / name;
    GgufWriter w;
    w.add_string("general.architecture", "llama");
    w.add_u32("llama.block_count", 80);
    w.add_u32("llama.embedding_length", 8192);
    const std::uint32_t q4_k = 12;
    const std::uint64_t row_bytes = 4096 / 256 * 144;
    std::uint64_t total = 0;
    int i = 0;
    while (total < target_bytes) {
        const std::uint64_t rows = std::min<std::uint64_t>(
            65536, std::max<std::uint64_t>(1, (target_bytes - total) / row_bytes));
        auto r =
            w.add_tensor("blk." + std::to_string(i / 8) + ".t" + std::to_string(i % 8) + ".weight",
                         q4_k, {4096, rows});
        if (!r.ok()) std::abort();
        total += rows * row_bytes;
        ++i;
    }
    const std::string header = w.header_bytes();
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) std::abort();
    std::fwrite(header.data(), 1, header.size(), f);
    std::fclose(f);
    // Data section: header (already padded to the alignment) + tensors with padding.
    if (::truncate(path.c_str(), static_cast<off_t>(header.size() + total + 32 * i)) != 0) {
        std::abort();
    }
    return path;
}

void read_header(benchmark::State& state, const fs::path& path) {
    for (auto _ : state) {
        auto spec = sparkctl::model::load_gguf(path);
        benchmark::DoNotOptimize(spec);
    }
    state.counters["file_gb"] = static_cast<double>(fs::file_size(path)) / 1e9;
}

void BM_InspectTiny(benchmark::State& state) {
    static const fs::path p = make_file("sparkctl_bench_tiny.gguf", 1 << 20);
    read_header(state, p);
}

void BM_Inspect60GB(benchmark::State& state) {
    static const fs::path p = make_file("sparkctl_bench_60gb.gguf", 60ull * 1000 * 1000 * 1000);
    read_header(state, p);
}

BENCHMARK(BM_InspectTiny)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Inspect60GB)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
