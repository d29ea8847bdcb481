#include "model/ggml_types.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace sparkctl::model {
namespace {

TEST(GgmlTypes, TableIsIndexedById) {
    auto types = ggml_types();
    ASSERT_EQ(types.size(), kGgmlTypeCount);
    for (std::uint32_t i = 0; i < types.size(); ++i) {
        EXPECT_EQ(types[i].id, i);
        if (!types[i].removed) {
            EXPECT_GT(types[i].block_size, 0u) << types[i].name;
            EXPECT_GT(types[i].type_size, 0u) << types[i].name;
        }
    }
}

struct Expect {
    const char* name;
    std::uint32_t id;
    std::uint32_t block;
    std::uint32_t size;
};

// Sizes from ggml-common.h block structs (sizeof), llama.cpp 2026-09.
TEST(GgmlTypes, BlockSizesMatchGgml) {
    const Expect cases[] = {
        {"F32", 0, 1, 4},         {"F16", 1, 1, 2},         {"Q4_0", 2, 32, 18},
        {"Q4_1", 3, 32, 20},      {"Q5_0", 6, 32, 22},      {"Q5_1", 7, 32, 24},
        {"Q8_0", 8, 32, 34},      {"Q8_1", 9, 32, 36},      {"Q2_K", 10, 256, 84},
        {"Q3_K", 11, 256, 110},   {"Q4_K", 12, 256, 144},   {"Q5_K", 13, 256, 176},
        {"Q6_K", 14, 256, 210},   {"Q8_K", 15, 256, 292},   {"IQ2_XXS", 16, 256, 66},
        {"IQ2_XS", 17, 256, 74},  {"IQ3_XXS", 18, 256, 98}, {"IQ1_S", 19, 256, 50},
        {"IQ4_NL", 20, 32, 18},   {"IQ3_S", 21, 256, 110},  {"IQ2_S", 22, 256, 82},
        {"IQ4_XS", 23, 256, 136}, {"I8", 24, 1, 1},         {"I16", 25, 1, 2},
        {"I32", 26, 1, 4},        {"I64", 27, 1, 8},        {"F64", 28, 1, 8},
        {"IQ1_M", 29, 256, 56},   {"BF16", 30, 1, 2},       {"TQ1_0", 34, 256, 54},
        {"TQ2_0", 35, 256, 66},   {"MXFP4", 39, 32, 17},    {"NVFP4", 40, 64, 36},
        {"Q1_0", 41, 128, 18},    {"Q2_0", 42, 64, 18},
    };
    for (const Expect& e : cases) {
        const GgmlType* t = ggml_type_by_id(e.id);
        ASSERT_NE(t, nullptr) << e.name;
        EXPECT_EQ(t->name, e.name);
        EXPECT_EQ(t->block_size, e.block) << e.name;
        EXPECT_EQ(t->type_size, e.size) << e.name;
        EXPECT_FALSE(t->removed);
        EXPECT_EQ(ggml_type_by_name(e.name), t);
    }
}

TEST(GgmlTypes, LookupByNameIsCaseInsensitive) {
    ASSERT_NE(ggml_type_by_name("q4_k"), nullptr);
    EXPECT_EQ(ggml_type_by_name("q4_k")->id, 12u);
    EXPECT_EQ(ggml_type_by_name("mxfp4")->id, 39u);
    EXPECT_EQ(ggml_type_by_name("Bf16")->id, 30u);
    EXPECT_EQ(ggml_type_by_name("Q4_0_4_4"), nullptr);  // removed
    EXPECT_EQ(ggml_type_by_name("Q9_K"), nullptr);
    EXPECT_EQ(ggml_type_by_name(""), nullptr);
}

TEST(GgmlTypes, RemovedAndUnknownIds) {
    for (std::uint32_t id : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u}) {
        ASSERT_NE(ggml_type_by_id(id), nullptr) << id;
        EXPECT_TRUE(ggml_type_by_id(id)->removed) << id;
        EXPECT_FALSE(ggml_bytes_for_elements(*ggml_type_by_id(id), 32).ok());
    }
    EXPECT_EQ(ggml_type_by_id(43), nullptr);
    EXPECT_EQ(ggml_type_by_id(UINT32_MAX), nullptr);
}

TEST(GgmlTypes, ExactBytes) {
    auto bytes = [](const char* name, std::vector<std::uint64_t> ne) {
        auto r = ggml_tensor_bytes(*ggml_type_by_name(name), ne);
        EXPECT_TRUE(r.ok()) << name;
        return r.ok() ? *r : 0;
    };
    EXPECT_EQ(bytes("Q4_K", {4096, 4096}), 4096ull * 4096 / 256 * 144);
    EXPECT_EQ(bytes("MXFP4", {2880, 2880, 128}), 2880ull * 2880 * 128 / 32 * 17);
    EXPECT_EQ(bytes("Q8_0", {32}), 34u);
    EXPECT_EQ(bytes("IQ4_XS", {256, 3}), 3u * 136);
    EXPECT_EQ(bytes("BF16", {7, 3}), 42u);
    EXPECT_EQ(bytes("F32", {}), 4u);  // a scalar
    EXPECT_EQ(bytes("F16", {0, 5}), 0u);
    EXPECT_EQ(bytes("NVFP4", {128}), 72u);
}

TEST(GgmlTypes, RowMustBeMultipleOfBlock) {
    // 100 x 256 elements is 100 whole blocks, but rows of 100 cannot be blocked.
    auto r = ggml_tensor_bytes(*ggml_type_by_name("Q4_K"), std::vector<std::uint64_t>{100, 256});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, base::Errc::bad_input);
    EXPECT_NE(r.error().message.find("block size 256"), std::string::npos);
    EXPECT_FALSE(ggml_bytes_for_elements(*ggml_type_by_name("Q8_0"), 33).ok());
    EXPECT_EQ(*ggml_bytes_for_elements(*ggml_type_by_name("Q8_0"), 64), 68u);
}

TEST(GgmlTypes, OverflowIsAnError) {
    const GgmlType& f32 = *ggml_type_by_name("F32");
    EXPECT_FALSE(ggml_tensor_bytes(f32, std::vector<std::uint64_t>{1ull << 40, 1ull << 40}).ok());
    EXPECT_FALSE(ggml_bytes_for_elements(f32, UINT64_MAX).ok());
    EXPECT_FALSE(ggml_bytes_for_elements(*ggml_type_by_name("Q8_0"), UINT64_MAX / 32 * 32).ok());
}

TEST(GgmlTypes, FtypeNamesInLlamaSpelling) {
    EXPECT_EQ(llama_ftype_name(0), "F32");
    EXPECT_EQ(llama_ftype_name(1), "F16");
    EXPECT_EQ(llama_ftype_name(7), "Q8_0");
    EXPECT_EQ(llama_ftype_name(15), "Q4_K_M");
    EXPECT_EQ(llama_ftype_name(17), "Q5_K_M");
    EXPECT_EQ(llama_ftype_name(30), "IQ4_XS");
    EXPECT_EQ(llama_ftype_name(32), "BF16");
    EXPECT_EQ(llama_ftype_name(38), "MXFP4_MOE");
    EXPECT_EQ(llama_ftype_name(39), "NVFP4");
    EXPECT_EQ(llama_ftype_name(4), std::nullopt);   // removed Q4_1_SOME_F16
    EXPECT_EQ(llama_ftype_name(33), std::nullopt);  // removed Q4_0_4_4
    EXPECT_EQ(llama_ftype_name(42), std::nullopt);
    EXPECT_EQ(llama_ftype_name(1024), std::nullopt);
}

}  // namespace
}  // namespace sparkctl::model
