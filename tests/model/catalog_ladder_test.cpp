// The catalog's published GGUF ladders (issue 10 item 4): every model lists the GGUF checkpoints
// ggml-org, Unsloth and bartowski publish along Q8_0, Q6_K, Q5_K_M, Q4_K_M, IQ4_XS, Q3_K_M,
// Q2_K (plus the native GGUF: MXFP4 for gpt-oss, QAT Q4_0 for Gemma 3), each sourced, and the
// citations point at public material only.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/strings.h"
#include "model/catalog.h"
#include "model/ggml_types.h"

namespace sparkctl::model {
namespace {

const std::vector<std::string> kLadder = {"Q8_0",   "Q6_K",   "Q5_K_M", "Q4_K_M",
                                          "IQ4_XS", "Q3_K_M", "Q2_K"};

// GGUF types are upper case, safetensors methods lower case (docs/dev/catalog.md).
bool is_gguf(const Variant& v) {
    return !v.format.empty() && std::isupper(static_cast<unsigned char>(v.format[0]));
}

// A name llama.cpp gives a whole-file quantization (enum llama_ftype), or MXFP4, the ggml type
// gpt-oss's GGUFs are named after.
bool llama_cpp_names(const std::string& format) {
    if (format == "MXFP4") return true;
    for (std::uint32_t i = 0; i < 64; ++i) {
        if (llama_ftype_name(i) == format) return true;
    }
    return false;
}

std::set<std::string> gguf_formats(const CatalogEntry& e) {
    std::set<std::string> out;
    for (const Variant& v : e.variants) {
        if (is_gguf(v)) out.insert(v.format);
    }
    return out;
}

const CatalogEntry& entry(const char* id) {
    const CatalogEntry* e = find_model(id);
    EXPECT_NE(e, nullptr) << id;
    static const CatalogEntry empty;
    return e != nullptr ? *e : empty;
}

TEST(CatalogLadder, EveryGgufVariantIsANamedSourcedFile) {
    int n = 0;
    for (const CatalogEntry& e : catalog()) {
        for (const Variant& v : e.variants) {
            if (!is_gguf(v)) continue;
            ++n;
            SCOPED_TRACE(e.id + " " + v.repo + " " + v.format);
            EXPECT_TRUE(llama_cpp_names(v.format));
            EXPECT_NE(base::to_lower(v.repo).find("gguf"), std::string::npos);
            EXPECT_FALSE(v.file.empty());
            EXPECT_FALSE(v.source.empty());
            EXPECT_FALSE(v.publisher.empty());
            if (v.size_bytes) {
                EXPECT_FALSE(v.size_source.empty());
            }
        }
    }
    EXPECT_GE(n, 125);
}

// Published sizes must be plausible for the format: bits per weight of the whole file against
// the model's parameter count (llama.cpp's tools/quantize table puts Q8_0 at 8.5, Q4_K_M at
// about 4.9, Q2_K at about 3.4 for Llama-3.1-8B). Catches a GB/GiB slip or a wrong row.
TEST(CatalogLadder, PublishedSizesArePlausibleAndGrowAlongTheLadder) {
    const std::map<std::string, std::pair<double, double>> bpw = {
        {"Q8_0", {7.5, 9.5}},   {"Q6_K", {6.0, 7.6}},   {"Q5_K_M", {5.0, 6.6}},
        {"Q4_K_M", {4.3, 5.7}}, {"IQ4_XS", {4.0, 5.2}}, {"Q3_K_M", {3.3, 4.8}},
        {"Q2_K", {2.5, 4.1}},   {"Q4_0", {4.0, 5.5}},   {"MXFP4", {4.0, 5.0}}};
    int checked = 0;
    for (const CatalogEntry& e : catalog()) {
        std::map<std::string, std::vector<std::pair<std::size_t, std::uint64_t>>> by_repo;
        for (const Variant& v : e.variants) {
            if (!is_gguf(v) || !v.size_bytes) continue;
            SCOPED_TRACE(e.id + " " + v.repo + " " + v.format);
            auto rung = std::find(kLadder.begin(), kLadder.end(), v.format);
            if (rung != kLadder.end()) {
                by_repo[v.repo].emplace_back(rung - kLadder.begin(), *v.size_bytes);
            }
            if (!e.spec.arch.params_total) continue;
            auto it = bpw.find(v.format);
            ASSERT_NE(it, bpw.end());
            const double bits = 8.0 * static_cast<double>(*v.size_bytes) /
                                static_cast<double>(*e.spec.arch.params_total);
            EXPECT_GE(bits, it->second.first);
            EXPECT_LE(bits, it->second.second);
            ++checked;
        }
        for (auto& [repo, sizes] : by_repo) {
            std::sort(sizes.begin(), sizes.end());
            for (std::size_t i = 1; i < sizes.size(); ++i) {
                EXPECT_GT(sizes[i - 1].second, sizes[i].second)
                    << e.id << " " << repo << ": " << kLadder[sizes[i - 1].first] << " vs "
                    << kLadder[sizes[i].first];
            }
        }
    }
    EXPECT_GE(checked, 15);
}

// The gaps an owner hit: GLM-4.5-Air at Q4_K_M on one box, Qwen3-Coder's Q8_0 (the GGUF of
// llama.cpp's own DGX Spark benchmark), a GGUF of Llama-3.3-70B, Qwen3-235B below Q8_0.
TEST(CatalogLadder, GapsOwnersHitArePublished) {
    EXPECT_TRUE(gguf_formats(entry("glm-4.5-air")).count("Q4_K_M"));
    bool coder_q8 = false;
    for (const Variant& v : entry("qwen3-coder-30b-a3b").variants) {
        coder_q8 |=
            v.format == "Q8_0" && v.repo == "ggml-org/Qwen3-Coder-30B-A3B-Instruct-Q8_0-GGUF";
    }
    EXPECT_TRUE(coder_q8);
    EXPECT_TRUE(gguf_formats(entry("llama-3.3-70b")).count("Q4_K_M"));
    const auto big = gguf_formats(entry("qwen3-235b-a22b"));
    EXPECT_TRUE(big.count("Q3_K_M"));
    EXPECT_TRUE(big.count("Q2_K"));
}

// Q4_K_M and Q8_0 for every model, except where the publisher's files are not that ladder:
// gpt-oss GGUFs keep the MoE experts in their native MXFP4 whatever the file is called, so the
// native MXFP4 is the one rung (LC:benches/dgx-spark.md); DeepSeek-V3's Q8_0 GGUF was not found.
TEST(CatalogLadder, EveryModelHasQ4KMAndQ8_0OrItsNativeGguf) {
    const std::set<std::string> native_only = {"gpt-oss-20b", "gpt-oss-120b"};
    for (const CatalogEntry& e : catalog()) {
        SCOPED_TRACE(e.id);
        const auto f = gguf_formats(e);
        if (native_only.count(e.id)) {
            EXPECT_TRUE(f.count("MXFP4"));
            continue;
        }
        EXPECT_TRUE(f.count("Q4_K_M"));
        if (e.id != "deepseek-v3") {
            EXPECT_TRUE(f.count("Q8_0"));
        }
    }
}

// The whole ladder for the models owners run on a Spark.
TEST(CatalogLadder, SparkModelsHaveTheWholeLadder) {
    for (const char* id : {"glm-4.5-air", "qwen3-coder-30b-a3b", "qwen3-30b-a3b", "qwen3-235b-a22b",
                           "llama-3.3-70b", "llama-3.1-70b", "llama-3.1-8b", "qwen3-32b",
                           "qwen3-8b", "gemma-3-27b", "mistral-small-3.2-24b"}) {
        const auto f = gguf_formats(entry(id));
        for (const std::string& q : kLadder) EXPECT_TRUE(f.count(q)) << id << " " << q;
    }
    EXPECT_TRUE(gguf_formats(entry("gemma-3-27b")).count("Q4_0"));  // Google's QAT GGUF
    EXPECT_TRUE(gguf_formats(entry("gemma-3-4b")).count("Q4_0"));
}

// Within a model, the first variant of a format is the one planned: one publisher per rung.
TEST(CatalogLadder, OneVariantPerGgufFormatAndPublisher) {
    for (const CatalogEntry& e : catalog()) {
        std::set<std::pair<std::string, std::string>> seen;
        for (const Variant& v : e.variants) {
            if (!is_gguf(v)) continue;
            EXPECT_TRUE(seen.emplace(v.format, v.repo).second)
                << e.id << " " << v.repo << " " << v.format;
        }
    }
}

// Users of the repository do not have the team's files: every citation is public.
TEST(CatalogLadder, CitationsArePublic) {
    auto internal = [](const std::string& s) {
        for (const char* bad : {"shared/data", "model-arch.tsv", "spark-knowledge", "engines.md",
                                "shared table", "index id"}) {
            if (s.find(bad) != std::string::npos) return true;
        }
        return false;
    };
    for (const CatalogEntry& e : catalog()) {
        for (const auto& [key, text] : e.sources)
            EXPECT_FALSE(internal(text)) << e.id << " " << key;
        EXPECT_FALSE(internal(e.notes)) << e.id;
        for (const Variant& v : e.variants) {
            EXPECT_FALSE(internal(v.source)) << e.id << " " << v.repo;
            EXPECT_FALSE(internal(v.size_source)) << e.id << " " << v.repo;
        }
    }
}

}  // namespace
}  // namespace sparkctl::model
