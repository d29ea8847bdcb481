#include "model/catalog.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace sparkctl::model {
namespace {

const CatalogEntry& must_find(const char* name) {
    const CatalogEntry* e = find_model(name);
    EXPECT_NE(e, nullptr) << name;
    static const CatalogEntry empty;
    return e != nullptr ? *e : empty;
}

std::size_t count_kind(const Arch& a, LayerKind k) {
    return static_cast<std::size_t>(std::count(a.layer_kinds.begin(), a.layer_kinds.end(), k));
}

TEST(Catalog, EmbeddedCatalogParses) {
    const auto& entries = catalog();
    EXPECT_GE(entries.size(), 23u);
}

TEST(Catalog, RequiredModelsPresent) {
    for (const char* id : {"gpt-oss-20b",
                           "gpt-oss-120b",
                           "llama-3.1-8b",
                           "llama-3.1-70b",
                           "llama-3.3-70b",
                           "qwen3-1.7b",
                           "qwen3-8b",
                           "qwen3-14b",
                           "qwen3-32b",
                           "qwen3-30b-a3b",
                           "qwen3-coder-30b-a3b",
                           "qwen3-235b-a22b",
                           "qwen2.5-coder-7b",
                           "qwen2.5-72b",
                           "glm-4.5-air",
                           "deepseek-v3",
                           "deepseek-r1",
                           "gemma-3-4b",
                           "gemma-3-27b",
                           "mistral-small-3.2-24b",
                           "nemotron-3-nano-30b-a3b",
                           "nemotron-3-super-120b-a12b",
                           "llama-4-scout"}) {
        const CatalogEntry* e = find_model(id);
        ASSERT_NE(e, nullptr) << id;
        EXPECT_EQ(e->id, id);
        EXPECT_EQ(e->spec.source, SourceKind::catalog);
        EXPECT_EQ(e->spec.name, e->id);
    }
}

TEST(Catalog, LookupIsCaseInsensitiveByIdAliasAndHfId) {
    EXPECT_EQ(must_find("GPT-OSS-120B").id, "gpt-oss-120b");
    EXPECT_EQ(must_find("gpt-oss:120b").id, "gpt-oss-120b");
    EXPECT_EQ(must_find("openai/gpt-oss-120b").id, "gpt-oss-120b");
    EXPECT_EQ(must_find("hf.co/OpenAI/GPT-OSS-120b").id, "gpt-oss-120b");
    EXPECT_EQ(must_find("https://huggingface.co/openai/gpt-oss-20b").id, "gpt-oss-20b");
    EXPECT_EQ(must_find("  llama3.1:8b ").id, "llama-3.1-8b");
    EXPECT_EQ(must_find("qwen3-coder-30b").id, "qwen3-coder-30b-a3b");
    EXPECT_EQ(must_find("DeepSeek-R1").id, "deepseek-r1");
    EXPECT_EQ(must_find("deepseek-ai/DeepSeek-V3").id, "deepseek-v3");
    // Variant repositories lead to their model too.
    EXPECT_EQ(must_find("ggml-org/gpt-oss-120b-GGUF").id, "gpt-oss-120b");
    EXPECT_EQ(must_find("nvidia/Qwen3-8B-FP8").id, "qwen3-8b");
    EXPECT_EQ(find_model("no-such-model"), nullptr);
    EXPECT_EQ(find_model(""), nullptr);
    EXPECT_EQ(find_model("hf.co/"), nullptr);
}

TEST(Catalog, SuggestsCloseIds) {
    auto s = suggest_models("gpt-oss-12b");
    ASSERT_FALSE(s.empty());
    EXPECT_EQ(s.front(), "gpt-oss-120b");
    EXPECT_LE(suggest_models("qwen3", 3).size(), 3u);
    EXPECT_FALSE(suggest_models("qwen3").empty());
    EXPECT_TRUE(suggest_models("zzzzzzzzzzzzzzzz").empty());
}

TEST(Catalog, EveryFactAndVariantIsSourced) {
    for (const CatalogEntry& e : catalog()) {
        SCOPED_TRACE(e.id);
        EXPECT_FALSE(e.spec.hf_id.empty());
        ASSERT_TRUE(e.sources.count("config"));
        EXPECT_FALSE(e.source_for("n_layers").empty());
        EXPECT_FALSE(e.source_for("moe.n_experts").empty());
        if (e.spec.arch.params_total) {
            EXPECT_FALSE(e.source_for("params_total").empty());
        }
        EXPECT_FALSE(e.variants.empty());
        for (const Variant& v : e.variants) {
            EXPECT_FALSE(v.repo.empty());
            EXPECT_FALSE(v.source.empty());
            EXPECT_FALSE(v.format.empty());
            if (v.size_bytes) {
                EXPECT_FALSE(v.size_source.empty());
            }
        }
    }
}

TEST(Catalog, LayerKindsMatchLayerCount) {
    for (const CatalogEntry& e : catalog()) {
        const Arch& a = e.spec.arch;
        if (a.n_layers && !a.layer_kinds.empty()) {
            EXPECT_EQ(*a.n_layers, a.layer_kinds.size()) << e.id;
        }
    }
}

TEST(Catalog, GptOss120bPublishedFacts) {
    const Arch& a = must_find("gpt-oss-120b").spec.arch;
    EXPECT_EQ(a.architecture, "GptOssForCausalLM");
    EXPECT_EQ(a.n_layers, 36u);
    EXPECT_EQ(a.n_heads, 64u);
    EXPECT_EQ(a.n_kv_heads, 8u);
    EXPECT_EQ(a.head_dim, 64u);
    EXPECT_EQ(a.sliding_window, 128u);
    ASSERT_TRUE(a.moe.has_value());
    EXPECT_EQ(a.moe->n_experts, 128u);
    EXPECT_EQ(a.moe->n_experts_per_token, 4u);
    ASSERT_EQ(a.layer_kinds.size(), 36u);
    for (std::size_t i = 0; i < a.layer_kinds.size(); ++i) {
        EXPECT_EQ(a.layer_kinds[i],
                  i % 2 == 0 ? LayerKind::sliding_attention : LayerKind::full_attention);
    }
    const CatalogEntry& e = must_find("gpt-oss-120b");
    bool has_mxfp4 = false, has_gguf = false;
    for (const Variant& v : e.variants) {
        has_mxfp4 |= v.format == "mxfp4" && v.repo == "openai/gpt-oss-120b";
        has_gguf |= v.format == "MXFP4" && v.repo == "ggml-org/gpt-oss-120b-GGUF";
    }
    EXPECT_TRUE(has_mxfp4);
    EXPECT_TRUE(has_gguf);
}

TEST(Catalog, DeepSeekV3PublishedFacts) {
    const Arch& a = must_find("deepseek-v3").spec.arch;
    EXPECT_EQ(a.n_layers, 61u);
    EXPECT_EQ(a.n_mtp_layers, 1u);
    ASSERT_TRUE(a.mla.has_value());
    EXPECT_EQ(a.mla->kv_lora_rank, 512u);
    EXPECT_EQ(a.mla->qk_rope_head_dim, 64u);
    ASSERT_TRUE(a.moe.has_value());
    EXPECT_EQ(a.moe->n_experts, 256u);
    EXPECT_EQ(a.moe->n_experts_per_token, 8u);
    EXPECT_EQ(a.moe->n_leading_dense_layers, 3u);
    EXPECT_NE(must_find("deepseek-v3").source_for("n_mtp_layers"),
              must_find("deepseek-v3").source_for("n_layers"));
}

TEST(Catalog, Gemma3_27bPublishedFacts) {
    const Arch& a = must_find("gemma-3-27b").spec.arch;
    EXPECT_EQ(a.n_layers, 62u);
    EXPECT_EQ(a.sliding_window, 1024u);
    ASSERT_EQ(a.layer_kinds.size(), 62u);
    for (std::size_t i = 0; i < a.layer_kinds.size(); ++i) {
        EXPECT_EQ(a.layer_kinds[i],
                  (i + 1) % 6 == 0 ? LayerKind::full_attention : LayerKind::sliding_attention)
            << i;
    }
    EXPECT_EQ(count_kind(a, LayerKind::full_attention), 10u);
}

TEST(Catalog, HybridAndChunkedLayouts) {
    const Arch& nano = must_find("nemotron-3-nano").spec.arch;
    EXPECT_EQ(count_kind(nano, LayerKind::full_attention), 6u);
    EXPECT_EQ(count_kind(nano, LayerKind::recurrent), 23u);
    EXPECT_EQ(count_kind(nano, LayerKind::feed_forward), 23u);
    EXPECT_TRUE(nano.ssm.has_value());
    const Arch& scout = must_find("llama-4-scout").spec.arch;
    EXPECT_EQ(count_kind(scout, LayerKind::chunked_attention), 36u);
    EXPECT_EQ(count_kind(scout, LayerKind::full_attention), 12u);
}

TEST(Catalog, UnknownFactsAreAbsentNotGuessed) {
    // Nemotron-3-Super: rope_theta is in config.json, but Nemotron-H attention has no RoPE.
    const CatalogEntry& super = must_find("nemotron-3-super");
    EXPECT_FALSE(super.spec.arch.rope.has_value());
    EXPECT_NE(std::find(super.unknown.begin(), super.unknown.end(), "rope"), super.unknown.end());
    // Its layout comes from the verbatim config.json (hybrid_override_pattern, 88 layers).
    ASSERT_EQ(super.spec.arch.layer_kinds.size(), 88u);
    EXPECT_EQ(count_kind(super.spec.arch, LayerKind::full_attention), 8u);
    EXPECT_EQ(count_kind(super.spec.arch, LayerKind::recurrent), 40u);
    // GLM-4.5-Air: sources disagree on rope theta, so rope stays absent and listed.
    const CatalogEntry& air = must_find("glm-4.5-air");
    EXPECT_FALSE(air.spec.arch.rope.has_value());
    EXPECT_NE(std::find(air.unknown.begin(), air.unknown.end(), "rope"), air.unknown.end());
}

TEST(Catalog, CoderModelsHaveSourcedShapes) {
    // Qwen3-Coder-30B-A3B-Instruct: verbatim config.json (tests/data/hf_configs/).
    const CatalogEntry& q3 = must_find("qwen3-coder-30b-a3b");
    EXPECT_TRUE(q3.unknown.empty());
    const Arch& a = q3.spec.arch;
    EXPECT_EQ(a.hidden_size, 2048u);
    EXPECT_EQ(a.head_dim, 128u);
    EXPECT_EQ(a.vocab_size, 151936u);
    EXPECT_EQ(a.context_length, 262144u);
    EXPECT_EQ(a.n_mtp_layers, 0u);
    ASSERT_TRUE(a.moe.has_value());
    EXPECT_EQ(a.moe->expert_intermediate_size, 768u);
    ASSERT_TRUE(a.rope.has_value());
    EXPECT_EQ(a.rope->theta, 10000000.0);
    EXPECT_NE(q3.source_for("hidden_size").find("Qwen3-Coder-30B-A3B-Instruct"), std::string::npos);
    // Qwen2.5-Coder-7B-Instruct: GGUF metadata of the checkpoint (no verbatim config.json found).
    const CatalogEntry& q25 = must_find("qwen2.5-coder-7b");
    EXPECT_TRUE(q25.unknown.empty());
    const Arch& b = q25.spec.arch;
    EXPECT_EQ(b.hidden_size, 3584u);
    EXPECT_EQ(b.head_dim, 128u);
    EXPECT_EQ(b.intermediate_size, 18944u);
    EXPECT_EQ(b.vocab_size, 152064u);
    EXPECT_EQ(b.tie_word_embeddings, false);
    EXPECT_EQ(b.n_mtp_layers, 0u);
    ASSERT_TRUE(b.rope.has_value());
    EXPECT_EQ(b.rope->theta, 1000000.0);
    EXPECT_NE(q25.source_for("hidden_size").find("GGUF"), std::string::npos);
    EXPECT_EQ(q25.source_for("n_layers"), q25.sources.at("config"));
}

TEST(CatalogParse, RejectsBadDocuments) {
    EXPECT_FALSE(parse_catalog("not json").ok());
    EXPECT_FALSE(parse_catalog("{}").ok());
    EXPECT_TRUE(parse_catalog(R"({"models": []})").ok());
    const char* no_config = R"({"models": [{"id": "a", "hf_id": "x/a", "arch": {}}]})";
    EXPECT_FALSE(parse_catalog(no_config).ok());
    const char* bad_format = R"({"models": [{"id": "a", "hf_id": "x/a",
        "sources": {"config": "u"}, "arch": {},
        "variants": [{"format": "q4_k_m", "repo": "x/a", "source": "u"}]}]})";
    auto r = parse_catalog(bad_format);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("model 'a'"), std::string::npos);
    const char* no_source = R"({"models": [{"id": "a", "hf_id": "x/a",
        "sources": {"config": "u"}, "arch": {},
        "variants": [{"format": "bf16", "repo": "x/a"}]}]})";
    EXPECT_FALSE(parse_catalog(no_source).ok());
    const char* bad_layout = R"({"models": [{"id": "a", "hf_id": "x/a",
        "sources": {"config": "u"}, "arch": {"n_layers": 3, "layer_layout": {"list": ["full"]}}}]})";
    EXPECT_FALSE(parse_catalog(bad_layout).ok());
    const char* negative = R"({"models": [{"id": "a", "hf_id": "x/a",
        "sources": {"config": "u"}, "arch": {"n_layers": -1}}]})";
    EXPECT_FALSE(parse_catalog(negative).ok());
    const char* duplicate = R"({"models": [
        {"id": "a", "hf_id": "x/a", "sources": {"config": "u"}, "arch": {}},
        {"id": "b", "aliases": ["A"], "hf_id": "x/b", "sources": {"config": "u"}, "arch": {}}]})";
    EXPECT_FALSE(parse_catalog(duplicate).ok());
}

TEST(CatalogParse, SourceInheritance) {
    const char* doc = R"({"models": [{"id": "a", "hf_id": "x/a",
        "sources": {"config": "C", "params": "P", "moe": "M", "moe.n_experts": "N"},
        "arch": {"n_layers": 2, "params_total": 5}}]})";
    auto r = parse_catalog(doc);
    ASSERT_TRUE(r.ok()) << r.error().message;
    const CatalogEntry& e = r.value().front();
    EXPECT_EQ(e.source_for("n_layers"), "C");
    EXPECT_EQ(e.source_for("params_total"), "P");
    EXPECT_EQ(e.source_for("moe.n_experts"), "N");
    EXPECT_EQ(e.source_for("moe.n_experts_per_token"), "M");
}

TEST(CatalogName, Normalizes) {
    EXPECT_EQ(normalize_model_name(" HF.CO/Org/Model/ "), "org/model");
    EXPECT_EQ(normalize_model_name("https://huggingface.co/a/b"), "a/b");
    EXPECT_EQ(normalize_model_name("gpt-oss:20b"), "gpt-oss:20b");
}

}  // namespace
}  // namespace sparkctl::model
