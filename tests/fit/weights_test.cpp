#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "fit/quant.h"
#include "fit/test_archs.h"
#include "fit/weights.h"
#include "model/catalog.h"

namespace sparkctl::fit {
namespace {

using engines::Engine;

std::uint64_t weights(const model::Arch& a, Engine e, std::string_view q) {
    auto quant = resolve_quant(e, q);
    EXPECT_TRUE(quant.ok()) << q;
    auto w = estimate_weights(a, *quant);
    EXPECT_TRUE(w.ok()) << (w.ok() ? "" : w.error().message);
    return w.ok() ? w->bytes : 0;
}

double rel(std::uint64_t got, double want) {
    return std::abs(static_cast<double>(got) - want) / want;
}

TEST(Quant, ResolvesPerEngine) {
    EXPECT_EQ(resolve_quant(Engine::llama_cpp, "q4_k_m")->name, "Q4_K_M");
    EXPECT_EQ(resolve_quant(Engine::llama_cpp, "mxfp4")->name, "MXFP4");
    EXPECT_EQ(resolve_quant(Engine::llama_cpp, "MXFP4_MOE")->ftype, 38u);
    EXPECT_EQ(resolve_quant(Engine::vllm, "MXFP4")->name, "mxfp4");
    EXPECT_EQ(resolve_quant(Engine::sglang, "AWQ")->name, "awq");
    EXPECT_FALSE(resolve_quant(Engine::vllm, "Q4_K_M").ok());
    EXPECT_FALSE(resolve_quant(Engine::llama_cpp, "awq").ok());
}

TEST(Inventory, Llama31_8bHasItsParameterCount) {
    auto t = synthesize_tensors(testing::llama31_8b());
    ASSERT_TRUE(t.ok());
    std::uint64_t n = 0;
    for (const auto& x : *t) n += x.n_elements;
    EXPECT_EQ(n, 8030261248u);  // Llama-3.1-8B: 8.03B parameters
}

// The inventory built from a catalog model's shape agrees with its published parameter count:
// a shape fact that is wrong or missing (Nemotron-3-Super's LatentMoE width once priced the
// experts at the hidden width: 4x the bytes) shows here. Published counts exclude MTP layers
// and vision towers, so those are left out of the sum.
TEST(Inventory, CatalogShapesMatchPublishedParameterCounts) {
    int checked = 0;
    for (const model::CatalogEntry& e : model::catalog()) {
        const model::Arch& a = e.spec.arch;
        if (!a.params_total) continue;
        auto t = synthesize_tensors(a);
        if (!t.ok()) continue;
        double n = 0;
        for (const auto& x : *t) {
            if (x.kind != model::TensorKind::mtp && x.kind != model::TensorKind::vision) {
                n += static_cast<double>(x.n_elements);
            }
        }
        const double published = static_cast<double>(*a.params_total);
        EXPECT_NEAR(n / published, 1.0, 0.03) << e.spec.name << ": shape gives " << n / 1e9
                                              << "B, published " << published / 1e9 << "B";
        ++checked;
    }
    EXPECT_GE(checked, 12);
}

TEST(Inventory, IncompleteArchitectureNamesTheFact) {
    model::Arch a = testing::llama31_8b();
    a.hidden_size.reset();
    auto t = synthesize_tensors(a);
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.error().message.find("hidden_size"), std::string::npos);
    a.params_total = 8000000000;
    auto w = estimate_weights(a, *resolve_quant(Engine::vllm, "bf16"));
    ASSERT_TRUE(w.ok());
    EXPECT_TRUE(w->from_params_only);
    EXPECT_EQ(w->bytes, 16000000000u);
}

TEST(GgufWeights, Llama31_8bMixesMatchQuantizeReadme) {
    // Whole-file bpw of Llama-3.1-8B (LC:tools/quantize/README.md, engines.md section 4).
    const auto a = testing::llama31_8b();
    const double n = 8030261248.0;
    EXPECT_LT(rel(weights(a, Engine::llama_cpp, "Q4_K_M"), n * 4.8944 / 8), 0.02);
    EXPECT_LT(rel(weights(a, Engine::llama_cpp, "Q5_K_M"), n * 5.7036 / 8), 0.02);
    EXPECT_LT(rel(weights(a, Engine::llama_cpp, "Q6_K"), n * 6.5633 / 8), 0.02);
    EXPECT_LT(rel(weights(a, Engine::llama_cpp, "Q8_0"), n * 8.5008 / 8), 0.02);
    EXPECT_LT(rel(weights(a, Engine::llama_cpp, "Q4_K_S"), n * 4.6672 / 8), 0.02);
    EXPECT_LT(rel(weights(a, Engine::llama_cpp, "F16"), n * 16.0005 / 8), 0.02);
}

TEST(GgufWeights, Q4KMBumpsAttnVAndFfnDownOnMoreBitsLayers) {
    const auto a = testing::llama31_8b();
    auto w = estimate_weights(a, *resolve_quant(Engine::llama_cpp, "Q4_K_M"));
    ASSERT_TRUE(w.ok());
    int q6 = 0;
    for (const auto& t : w->tensors) {
        if (t.name == "output.weight") {
            EXPECT_EQ(t.dtype, "Q6_K");
        }
        if (t.name == "token_embd.weight") {
            EXPECT_EQ(t.dtype, "Q4_K");
        }
        if (t.name == "blk.0.attn_v.weight") {
            EXPECT_EQ(t.dtype, "Q6_K");
        }
        if (t.name == "blk.5.attn_v.weight") {
            EXPECT_EQ(t.dtype, "Q4_K");
        }
        if (t.name == "blk.6.ffn_down.weight") {
            EXPECT_EQ(t.dtype, "Q6_K");
        }  // (6-4)%3 == 2
        if (t.name == "blk.0.attn_norm.weight") {
            EXPECT_EQ(t.dtype, "F32");
        }
        if (t.dtype == "Q6_K") ++q6;
    }
    // use_more_bits(i, 32): 4 first + 4 last + every third in between (8 of 24) = 16 layers,
    // for attn_v and ffn_down each, plus output.
    EXPECT_EQ(q6, 16 * 2 + 1);
}

// Published GGUF file sizes from the catalog's variants (data/catalog.json, cited there).
TEST(GgufWeights, CatalogVariantsWithin2Percent) {
    int checked = 0;
    for (const model::CatalogEntry& e : model::catalog()) {
        // An unknown MTP layer count cannot be priced, yet the files carry those layers
        // (GLM-4.5-Air's GGUFs hold its NextN layer, ~3% of the file).
        if (std::find(e.unknown.begin(), e.unknown.end(), "n_mtp_layers") != e.unknown.end()) {
            continue;
        }
        for (const model::Variant& v : e.variants) {
            if (!v.size_bytes || v.format.empty() || v.format[0] < 'A' || v.format[0] > 'Z') {
                continue;
            }
            auto q = resolve_quant(Engine::llama_cpp, v.format);
            if (!q.ok()) continue;
            auto w = estimate_weights(e.spec.arch, *q);
            ASSERT_TRUE(w.ok()) << e.id;
            if (w->from_params_only) continue;
            // A file holds the tensors plus metadata (the tokenizer: a few MB).
            EXPECT_LT(rel(w->bytes, static_cast<double>(*v.size_bytes)), 0.02)
                << e.id << " " << v.format << " " << v.repo << ": " << w->bytes << " vs "
                << *v.size_bytes;
            ++checked;
        }
    }
    EXPECT_GE(checked, 3);
}

TEST(GgufWeights, GptOss120bMxfp4WithoutDownload) {
    // ggml-org/gpt-oss-120b-GGUF: 63,372,242,452 B (catalog); experts MXFP4, the rest Q8_0.
    const auto a = testing::gpt_oss(36, 128);
    EXPECT_LT(rel(weights(a, Engine::llama_cpp, "mxfp4"), 63372242452.0), 0.02);
    auto w = estimate_weights(a, *resolve_quant(Engine::llama_cpp, "MXFP4"));
    for (const auto& t : w->tensors) {
        if (t.name == "blk.0.ffn_up_exps.weight") {
            EXPECT_EQ(t.dtype, "MXFP4");
        }
        if (t.name == "blk.0.attn_q.weight") {
            EXPECT_EQ(t.dtype, "Q8_0");
        }
        if (t.name == "output.weight") {
            EXPECT_EQ(t.dtype, "Q8_0");
        }
        if (t.name == "blk.0.ffn_gate_inp.weight") {
            EXPECT_EQ(t.dtype, "F32");
        }
    }
}

TEST(SafetensorsWeights, GptOssMxfp4ExpertsOnly) {
    // vLLM blog (engines.md section 4): ~63 GB for 120B, ~14 GB for 20B, in HF MXFP4.
    const auto big = testing::gpt_oss(36, 128);
    const auto small = testing::gpt_oss(24, 32);
    EXPECT_LT(rel(weights(big, Engine::vllm, "mxfp4"), 63e9), 0.05);
    EXPECT_LT(rel(weights(small, Engine::vllm, "mxfp4"), 13.8e9), 0.05);
}

TEST(SafetensorsWeights, FormatsFollowTheirLayouts) {
    const auto a = testing::llama31_8b();
    const std::uint64_t bf16 = weights(a, Engine::vllm, "bf16");
    EXPECT_EQ(bf16, 8030261248u * 2);
    // Embeddings and lm_head stay BF16: 2 * 128256 * 4096 params.
    const std::uint64_t emb = 2ull * 128256 * 4096;
    const std::uint64_t lin = 8030261248u - emb - (32 * 2 + 1) * 4096ull;
    const std::uint64_t awq = weights(a, Engine::vllm, "awq");
    EXPECT_NEAR(static_cast<double>(awq - emb * 2), lin * 4.15625 / 8, lin * 0.001);
    const std::uint64_t nvfp4 = weights(a, Engine::vllm, "nvfp4");
    EXPECT_NEAR(static_cast<double>(nvfp4 - emb * 2), lin * 4.5 / 8, lin * 0.001);
    const std::uint64_t fp8 = weights(a, Engine::vllm, "fp8");
    EXPECT_NEAR(static_cast<double>(fp8 - emb * 2), lin * 8.002 / 8, lin * 0.001);
    EXPECT_GT(weights(a, Engine::vllm, "gptq"), awq);
}

TEST(SafetensorsWeights, DeepSeekV3Fp8KeepsMtp) {
    // DeepSeek-V3: 671B main + 14B MTP = 685B parameters in the FP8 checkpoint (~ 689 GB).
    const auto a = testing::deepseek_v3();
    auto w = estimate_weights(a, *resolve_quant(Engine::vllm, "fp8"));
    ASSERT_TRUE(w.ok());
    EXPECT_LT(rel(w->n_params, 684.5e9), 0.01);
}

}  // namespace
}  // namespace sparkctl::fit
