// Checks the llama.cpp memory model against real llama-server allocations recorded in
// data/llamacpp-measurements.tsv (docs/dev/fit.md "Validation"). CI cannot run llama.cpp; the
// recorded numbers stand in for it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "engines/engine.h"
#include "fit/memory.h"
#include "fit/quant.h"
#include "fit/weights.h"

namespace sparkctl::fit {
namespace {

std::vector<std::map<std::string, std::string>> rows() {
    const char* src = std::getenv("SPARKCTL_SOURCE_DIR");
    std::ifstream in(std::string(src ? src : ".") + "/data/llamacpp-measurements.tsv");
    std::vector<std::string> header;
    std::vector<std::map<std::string, std::string>> out;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::vector<std::string> cells;
        std::stringstream ss(line);
        std::string cell;
        while (std::getline(ss, cell, '\t')) cells.push_back(cell);
        if (header.empty()) {
            header = cells;
            continue;
        }
        std::map<std::string, std::string> row;
        for (std::size_t i = 0; i < header.size() && i < cells.size(); ++i)
            row[header[i]] = cells[i];
        out.push_back(row);
    }
    return out;
}

std::uint64_t u(const std::map<std::string, std::string>& r, const char* k) {
    return std::stoull(r.at(k));
}

model::Arch arch_of(const std::map<std::string, std::string>& r) {
    model::Arch a;
    const std::string arch = r.at("arch");
    a.family = arch;
    a.n_layers = static_cast<std::uint32_t>(u(r, "layers"));
    a.hidden_size = u(r, "hidden");
    a.n_heads = static_cast<std::uint32_t>(u(r, "heads"));
    a.n_kv_heads = static_cast<std::uint32_t>(u(r, "kv_heads"));
    a.head_dim = static_cast<std::uint32_t>(u(r, "hidden") / u(r, "heads"));
    a.intermediate_size = u(r, "ff");
    a.vocab_size = u(r, "vocab");
    a.tie_word_embeddings = arch == "gemma3";
    if (arch == "gemma3" || arch == "gpt-oss") {
        a.sliding_window = static_cast<std::uint32_t>(u(r, "window"));
        const std::uint32_t period = arch == "gemma3" ? 6 : 2;
        for (std::uint32_t i = 0; i < *a.n_layers; ++i) {
            a.layer_kinds.push_back(i % period < period - 1 ? model::LayerKind::sliding_attention
                                                            : model::LayerKind::full_attention);
        }
    }
    if (arch == "qwen3moe" || arch == "gpt-oss" || arch == "deepseek2") {
        model::Moe m;
        m.n_experts = static_cast<std::uint32_t>(u(r, "experts"));
        m.n_experts_per_token = static_cast<std::uint32_t>(u(r, "experts_used"));
        m.expert_intermediate_size = u(r, "ff");
        if (arch == "deepseek2") {
            m.n_shared_experts = 1;
            m.n_leading_dense_layers = 1;
        }
        a.moe = m;
    }
    if (arch == "deepseek2") {
        a.mla = model::Mla{512, 512, 64, 128, 128};
        a.head_dim = 192;
    }
    return a;
}

TEST(LlamaCppMeasurements, ModelMatchesRecordedAllocations) {
    const auto rs = rows();
    if (rs.empty()) GTEST_SKIP() << "no recorded llama-server runs";
    for (const auto& r : rs) {
        const model::Arch a = arch_of(r);
        const auto qit = r.find("quant");
        auto q = resolve_quant(engines::Engine::llama_cpp,
                               qit == r.end() || qit->second.empty() ? "F16" : qit->second);
        ASSERT_TRUE(q.ok()) << r.at("file");
        auto w = estimate_weights(a, *q);
        ASSERT_TRUE(w.ok());
        FitRequest req;
        req.engine = engines::Engine::llama_cpp;
        req.context = u(r, "ctx") / u(r, "np");
        req.parallel = static_cast<std::uint32_t>(u(r, "np"));
        req.n_ubatch = static_cast<std::uint32_t>(u(r, "ub"));
        req.kv_type = *engines::resolve_kv_cache_type(req.engine, r.at("ctk"));
        req.weights_bytes = w->bytes;
        req.budget_bytes = ~0ull;
        const Estimate e = estimate(a, req);
        const double mib = 1024.0 * 1024.0;
        const double model = std::stod(r.at("model_mib")) * mib;
        const double kv = std::stod(r.at("kv_mib")) * mib;
        const double measured =
            model + kv + std::stod(r.at("compute_mib")) * mib + std::stod(r.at("output_mib")) * mib;
        const double predicted = static_cast<double>(
            e.memory.weights_bytes + e.memory.kv_cache_bytes + e.memory.compute_bytes);
        const std::string what = r.at("arch") + " " + r.at("file");
        EXPECT_LT(std::abs(static_cast<double>(e.memory.weights_bytes) - model) / model, 0.01)
            << what;
        EXPECT_LT(std::abs(static_cast<double>(e.memory.kv_cache_bytes) - kv) / kv, 0.01) << what;
        EXPECT_LT(std::abs(predicted - measured) / measured, 0.10) << what;
        // SPARKCTL-FIT-1 is calibrated on these CPU-backend rows: within 10% (issue 11's bar for
        // -ub 2048; the SWA rows were +12% while the SWA mask was charged as an f32 + f16 pair).
        const double compute =
            std::stod(r.at("compute_mib")) * mib + std::stod(r.at("output_mib")) * mib;
        EXPECT_LT(std::abs(static_cast<double>(e.memory.compute_bytes) - compute) / compute, 0.10)
            << what;
    }
}

}  // namespace
}  // namespace sparkctl::fit
