// Cross-checks the built-in catalog (data/catalog.json) against verbatim published config.json
// files in tests/data/hf_configs/ (their sources: tests/data/hf_configs/SOURCES.md). Every fact
// that both the parsed config and the catalog entry know must agree; a mismatch means the catalog
// (or the parser) is wrong. A catalog fact listed as unknown that the verbatim config provides is
// a failure too: fill it in the catalog.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "model/catalog.h"
#include "model/hf_config.h"

namespace sparkctl::model {
namespace {

namespace fs = std::filesystem;

fs::path config_dir() {
    if (const char* src = std::getenv("SPARKCTL_SOURCE_DIR")) {
        return fs::path(src) / "tests" / "data" / "hf_configs";
    }
    // tests/model/<this file> -> tests/data/hf_configs
    return fs::path(__FILE__).parent_path().parent_path() / "data" / "hf_configs";
}

struct Case {
    const char* file;        // in tests/data/hf_configs/
    const char* catalog_id;  // model::find_model() name
    // Set when the parser is known to refuse the verbatim file; the reason is checked to stay
    // "not valid JSON" so a parser fix shows up here (then clear the flag).
    bool parse_fails = false;
    // Catalog "unknown" entries the config seems to give but that stay unknown on purpose.
    std::vector<std::string> keep_unknown = {};
};

const std::vector<Case>& cases() {
    static const std::vector<Case> kCases = {
        {"openai--gpt-oss-20b.json", "gpt-oss-20b"},
        {"openai--gpt-oss-120b.json", "gpt-oss-120b"},
        // Base checkpoints: Base and Instruct share shapes (the catalog lists the base repo as
        // an alias of llama-3.1-8b).
        {"meta-llama--Meta-Llama-3.1-8B.json", "llama-3.1-8b"},
        {"meta-llama--Meta-Llama-3.1-70B.json", "llama-3.1-70b"},
        {"meta-llama--Llama-3.3-70B-Instruct.json", "llama-3.3-70b"},
        {"Qwen--Qwen3-1.7B.json", "qwen3-1.7b"},
        {"Qwen--Qwen3-8B.json", "qwen3-8b"},
        {"Qwen--Qwen3-14B.json", "qwen3-14b"},
        {"Qwen--Qwen3-32B.json", "qwen3-32b"},
        {"Qwen--Qwen3-30B-A3B.json", "qwen3-30b-a3b"},
        {"Qwen--Qwen3-235B-A22B.json", "qwen3-235b-a22b"},
        {"Qwen--Qwen3-Coder-30B-A3B-Instruct.json", "qwen3-coder-30b-a3b"},
        // rope_theta is in the file, but Nemotron-H attention uses no rotary embedding.
        {"nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.json",
         "nemotron-3-nano-30b-a3b",
         false,
         {"rope"}},
        // Carries "time_step_limit": [0.0, Infinity] (Python's json output, read as null).
        {"nvidia--NVIDIA-Nemotron-3-Super-120B-A12B-NVFP4.json",
         "nemotron-3-super-120b-a12b",
         false,
         {"rope"}},
    };
    return kCases;
}

template <typename T>
void check(std::string_view field, const std::optional<T>& catalog,
           const std::optional<T>& config) {
    if (catalog && config) {
        EXPECT_EQ(*catalog, *config)
            << field << ": catalog " << *catalog << ", config.json " << *config;
    }
}

template <typename T>
void check(std::string_view field, const T& catalog, const T& config) {
    EXPECT_EQ(catalog, config) << field << ": catalog " << catalog << ", config.json " << config;
}

void check_str(std::string_view field, const std::string& catalog, const std::string& config) {
    if (!catalog.empty() && !config.empty()) check(field, catalog, config);
}

std::string kinds_string(const std::vector<LayerKind>& kinds) {
    std::string s;
    for (LayerKind k : kinds) {
        if (!s.empty()) s += ",";
        s += to_string(k);
    }
    return s;
}

void compare(const Arch& cat, const Arch& cfg) {
    check_str("architecture", cat.architecture, cfg.architecture);
    check_str("family", cat.family, cfg.family);
    check("n_layers", cat.n_layers, cfg.n_layers);
    check("n_mtp_layers", cat.n_mtp_layers, cfg.n_mtp_layers);
    check("hidden_size", cat.hidden_size, cfg.hidden_size);
    check("n_heads", cat.n_heads, cfg.n_heads);
    check("n_kv_heads", cat.n_kv_heads, cfg.n_kv_heads);
    check("head_dim", cat.head_dim, cfg.head_dim);
    check("head_dim_v", cat.head_dim_v, cfg.head_dim_v);
    check("intermediate_size", cat.intermediate_size, cfg.intermediate_size);
    check("vocab_size", cat.vocab_size, cfg.vocab_size);
    check("context_length", cat.context_length, cfg.context_length);
    check("sliding_window", cat.sliding_window, cfg.sliding_window);
    check("tie_word_embeddings", cat.tie_word_embeddings, cfg.tie_word_embeddings);
    auto cat_layout = layer_layout(cat);
    auto cfg_layout = layer_layout(cfg);
    if (cat_layout && cfg_layout) {
        EXPECT_EQ(kinds_string(*cat_layout), kinds_string(*cfg_layout)) << "layer kinds";
    }
    EXPECT_EQ(cat.mla.has_value(), cfg.mla.has_value()) << "mla present";
    if (cat.mla && cfg.mla) {
        check("mla.kv_lora_rank", cat.mla->kv_lora_rank, cfg.mla->kv_lora_rank);
        check("mla.q_lora_rank", cat.mla->q_lora_rank, cfg.mla->q_lora_rank);
        check("mla.qk_rope_head_dim", cat.mla->qk_rope_head_dim, cfg.mla->qk_rope_head_dim);
        check("mla.qk_nope_head_dim", cat.mla->qk_nope_head_dim, cfg.mla->qk_nope_head_dim);
        check("mla.v_head_dim", cat.mla->v_head_dim, cfg.mla->v_head_dim);
    }
    EXPECT_EQ(cat.moe.has_value(), cfg.moe.has_value()) << "moe present";
    if (cat.moe && cfg.moe) {
        check("moe.n_experts", cat.moe->n_experts, cfg.moe->n_experts);
        check("moe.n_experts_per_token", cat.moe->n_experts_per_token,
              cfg.moe->n_experts_per_token);
        check("moe.n_shared_experts", cat.moe->n_shared_experts, cfg.moe->n_shared_experts);
        check("moe.expert_intermediate_size", cat.moe->expert_intermediate_size,
              cfg.moe->expert_intermediate_size);
        check("moe.shared_expert_intermediate_size", cat.moe->shared_expert_intermediate_size,
              cfg.moe->shared_expert_intermediate_size);
        check("moe.latent_size", cat.moe->latent_size, cfg.moe->latent_size);
        check("moe.n_leading_dense_layers", cat.moe->n_leading_dense_layers,
              cfg.moe->n_leading_dense_layers);
        check("moe.n_moe_layers", cat.moe->n_moe_layers, cfg.moe->n_moe_layers);
    }
    EXPECT_EQ(cat.ssm.has_value(), cfg.ssm.has_value()) << "ssm present";
    if (cat.ssm && cfg.ssm) {
        check("ssm.d_conv", cat.ssm->d_conv, cfg.ssm->d_conv);
        check("ssm.d_inner", cat.ssm->d_inner, cfg.ssm->d_inner);
        check("ssm.d_state", cat.ssm->d_state, cfg.ssm->d_state);
        check("ssm.n_group", cat.ssm->n_group, cfg.ssm->n_group);
        check("ssm.n_heads", cat.ssm->n_heads, cfg.ssm->n_heads);
        check("ssm.head_dim", cat.ssm->head_dim, cfg.ssm->head_dim);
    }
    if (cat.rope && cfg.rope) {
        check("rope.scaling_type", cat.rope->scaling_type, cfg.rope->scaling_type);
        check("rope.theta", cat.rope->theta, cfg.rope->theta);
        check("rope.factor", cat.rope->factor, cfg.rope->factor);
        check("rope.original_context", cat.rope->original_context, cfg.rope->original_context);
    }
    if (cat.vision && cfg.vision) {
        check("vision.n_layers", cat.vision->n_layers, cfg.vision->n_layers);
        check("vision.hidden_size", cat.vision->hidden_size, cfg.vision->hidden_size);
    }
}

// Whether the parsed config knows the catalog field named in an "unknown" list.
bool config_knows(const Arch& cfg, const std::string& field) {
    if (field == "n_mtp_layers") return cfg.n_mtp_layers.has_value();
    if (field == "hidden_size") return cfg.hidden_size.has_value();
    if (field == "head_dim") return cfg.head_dim.has_value();
    if (field == "intermediate_size") return cfg.intermediate_size.has_value();
    if (field == "vocab_size") return cfg.vocab_size.has_value();
    if (field == "context_length") return cfg.context_length.has_value();
    if (field == "tie_word_embeddings") return cfg.tie_word_embeddings.has_value();
    if (field == "rope") return cfg.rope.has_value();
    if (field == "layer_kinds") return !cfg.layer_kinds.empty();
    if (field == "moe.expert_intermediate_size") {
        return cfg.moe && cfg.moe->expert_intermediate_size.has_value();
    }
    if (field == "moe.n_shared_experts") return cfg.moe.has_value();
    if (field == "ssm.d_conv") return cfg.ssm && cfg.ssm->d_conv.has_value();
    if (field == "ssm.n_group") return cfg.ssm && cfg.ssm->n_group.has_value();
    if (field == "vision" || field == "vision.n_layers" || field == "vision.hidden_size") {
        return cfg.vision.has_value();
    }
    return false;  // params_total, family, vision.params: not in config.json
}

TEST(CatalogCrossCheck, EveryVerbatimConfigIsListed) {
    const fs::path dir = config_dir();
    ASSERT_TRUE(fs::is_directory(dir)) << dir;
    std::set<std::string> listed;
    for (const Case& c : cases()) {
        listed.insert(c.file);
        EXPECT_TRUE(fs::is_regular_file(dir / c.file)) << c.file;
    }
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.path().extension() != ".json") continue;
        EXPECT_EQ(listed.count(entry.path().filename().string()), 1u)
            << entry.path().filename() << " is not in cases()";
    }
}

TEST(CatalogCrossCheck, VerbatimConfigsAgreeWithCatalog) {
    const fs::path dir = config_dir();
    for (const Case& c : cases()) {
        SCOPED_TRACE(std::string(c.file) + " vs catalog " + c.catalog_id);
        const CatalogEntry* entry = find_model(c.catalog_id);
        ASSERT_NE(entry, nullptr);
        auto parsed = load_hf_config(dir / c.file);
        if (c.parse_fails) {
            ASSERT_FALSE(parsed.ok()) << "the parser now reads this file: clear parse_fails";
            EXPECT_NE(parsed.error().message.find("not valid JSON"), std::string::npos)
                << parsed.error().message;
            continue;
        }
        ASSERT_TRUE(parsed.ok()) << parsed.error().message;
        const Arch& cfg = parsed.value().arch;
        compare(entry->spec.arch, cfg);
        for (const std::string& field : entry->unknown) {
            if (std::find(c.keep_unknown.begin(), c.keep_unknown.end(), field) !=
                c.keep_unknown.end()) {
                continue;
            }
            EXPECT_FALSE(config_knows(cfg, field))
                << "catalog lists '" << field << "' as unknown, but the verbatim config gives it";
        }
    }
}

}  // namespace
}  // namespace sparkctl::model
