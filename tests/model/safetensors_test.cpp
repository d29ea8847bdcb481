// Safetensors header parsing: handcrafted good and bad files built in code.
#include "model/safetensors.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "support/temp_dir.h"

namespace sparkctl::model {
namespace {

std::string le64(std::uint64_t n) {
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>(n >> (8 * i));
    return out;
}

// A file: length, header text, `data_bytes` zero bytes.
std::string make_file(const std::string& header, std::uint64_t data_bytes) {
    return le64(header.size()) + header + std::string(data_bytes, '\0');
}

base::Result<SafetensorsHeader> parse(const std::string& file) {
    return parse_safetensors_header(file, file.size(), "m.safetensors");
}

std::string error_of(const std::string& file) {
    auto r = parse(file);
    EXPECT_FALSE(r.ok());
    if (r.ok()) return "";
    EXPECT_EQ(r.error().code, base::Errc::bad_input);
    EXPECT_NE(r.error().message.find("m.safetensors"), std::string::npos) << r.error().message;
    return r.error().message;
}

TEST(Safetensors, ParsesTensorsAndMetadata) {
    // Listed out of offset order: the spec sorts by offsets, so this is valid.
    const std::string header = R"({"b":{"dtype":"F32","shape":[2,3],"data_offsets":[4,28]},)"
                               R"("__metadata__":{"format":"pt","z":"1"},)"
                               R"("a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}})";
    auto r = parse(make_file(header, 28));
    ASSERT_TRUE(r.ok()) << r.error().message;
    const SafetensorsHeader& h = r.value();
    EXPECT_EQ(h.header_bytes, header.size());
    EXPECT_EQ(h.data_offset, 8 + header.size());
    EXPECT_EQ(h.data_bytes, 28u);
    ASSERT_EQ(h.tensors.size(), 2u);
    EXPECT_EQ(h.tensors[0].name, "a");
    EXPECT_EQ(h.tensors[1].name, "b");
    EXPECT_EQ(h.tensors[1].shape, (std::vector<std::uint64_t>{2, 3}));
    EXPECT_EQ(h.tensors[1].n_elements, 6u);
    ASSERT_EQ(h.metadata.size(), 2u);
    EXPECT_EQ(h.metadata[0], (std::pair<std::string, std::string>{"format", "pt"}));
}

TEST(Safetensors, EmptyHeaderAndScalars) {
    auto r = parse(make_file("{}      ", 0));  // serializer pads to 8 with spaces
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_TRUE(r->tensors.empty());
    // Rank-0 scalar: one element; a zero-size dimension: no bytes.
    r = parse(make_file(R"({"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
                        R"("e":{"dtype":"F32","shape":[0,5],"data_offsets":[4,4]}})",
                        4));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->tensors.size(), 2u);
}

TEST(Safetensors, EveryDtypeHasItsSize) {
    const std::pair<const char*, std::uint32_t> cases[] = {
        {"BOOL", 8},    {"U8", 8},      {"I8", 8},      {"I16", 16},    {"U16", 16},
        {"F16", 16},    {"BF16", 16},   {"I32", 32},    {"U32", 32},    {"F32", 32},
        {"I64", 64},    {"U64", 64},    {"F64", 64},    {"C64", 64},    {"F8_E4M3", 8},
        {"F8_E5M2", 8}, {"F8_E8M0", 8}, {"F6_E2M3", 6}, {"F6_E3M2", 6}, {"F4", 4},
    };
    for (const auto& [name, bits] : cases) {
        EXPECT_EQ(safetensors_dtype_bits(name), bits) << name;
        // 8 elements of any dtype take bits bytes.
        std::string header = std::string(R"({"t":{"dtype":")") + name +
                             R"(","shape":[8],"data_offsets":[0,)" + std::to_string(bits) + "]}}";
        auto r = parse(make_file(header, bits));
        EXPECT_TRUE(r.ok()) << name << ": " << (r.ok() ? "" : r.error().message);
    }
    EXPECT_FALSE(safetensors_dtype_bits("bf16"));  // case-sensitive, as serde is
    EXPECT_FALSE(safetensors_dtype_bits("Q4_K"));
}

TEST(Safetensors, SubByteDtypesNeedWholeBytes) {
    auto msg = error_of(make_file(R"({"t":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}})", 2));
    EXPECT_NE(msg.find("whole number of bytes"), std::string::npos) << msg;
}

TEST(SafetensorsBad, FileShorterThanLength) {
    EXPECT_NE(error_of(std::string(5, '\0')).find("smaller than"), std::string::npos);
}

TEST(SafetensorsBad, HeaderLengthOverLimit) {
    std::string f = le64(100'000'001) + "{}";
    auto msg = error_of(f);
    EXPECT_NE(msg.find("limit"), std::string::npos) << msg;
    EXPECT_NE(error_of(le64(~0ull) + "{}").find("limit"), std::string::npos);
}

TEST(SafetensorsBad, HeaderLengthPastEndOfFile) {
    auto msg = error_of(le64(64) + "{}");
    EXPECT_NE(msg.find("past the end"), std::string::npos) << msg;
}

TEST(SafetensorsBad, TruncatedData) {
    std::string f = make_file(R"({"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 16);
    f.resize(f.size() - 1);
    auto msg = error_of(f);
    EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
}

TEST(SafetensorsBad, TrailingBytes) {
    auto msg = error_of(make_file(R"({"t":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})", 5));
    EXPECT_NE(msg.find("trailing"), std::string::npos) << msg;
}

TEST(SafetensorsBad, InvalidJson) {
    EXPECT_NE(error_of(make_file("{\"t\":", 0)).find("not valid JSON"), std::string::npos);
    EXPECT_NE(error_of(make_file("[1,2]", 0)).find("not a JSON object"), std::string::npos);
    EXPECT_NE(error_of(make_file("{\"\xc3\x28\":1}", 0)).find("not valid JSON"), std::string::npos);
    EXPECT_NE(error_of(make_file(std::string(10000, '['), 0)).find("nested"), std::string::npos);
}

TEST(SafetensorsBad, MalformedEntries) {
    EXPECT_NE(error_of(make_file(R"({"t":5})", 0)).find("not an object"), std::string::npos);
    EXPECT_NE(error_of(make_file(R"({"t":{"dtype":"F32","shape":[1]}})", 0)).find("needs"),
              std::string::npos);
    EXPECT_NE(error_of(make_file(R"({"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4))
                  .find("negative"),
              std::string::npos);
    EXPECT_NE(error_of(make_file(R"({"t":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}})", 4))
                  .find("non-integer"),
              std::string::npos);
    EXPECT_NE(error_of(make_file(R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", 4))
                  .find("data_offsets"),
              std::string::npos);
    EXPECT_NE(error_of(make_file(R"({"t":{"dtype":7,"shape":[1],"data_offsets":[0,4]}})", 4))
                  .find("dtype"),
              std::string::npos);
    EXPECT_NE(error_of(make_file(R"({"__metadata__":{"a":1}})", 0)).find("__metadata__"),
              std::string::npos);
}

TEST(SafetensorsBad, UnknownDtype) {
    auto msg = error_of(make_file(R"({"t":{"dtype":"Q4_K","shape":[1],"data_offsets":[0,1]}})", 1));
    EXPECT_NE(msg.find("unknown dtype 'Q4_K'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("tensor 't'"), std::string::npos) << msg;
}

TEST(SafetensorsBad, ShapeTimesDtypeIsNotSize) {
    auto msg =
        error_of(make_file(R"({"t":{"dtype":"F32","shape":[4],"data_offsets":[0,12]}})", 12));
    EXPECT_NE(msg.find("needs 16"), std::string::npos) << msg;
}

TEST(SafetensorsBad, OverflowInShapeProduct) {
    auto msg = error_of(make_file(
        R"({"t":{"dtype":"U8","shape":[4294967296,4294967296,2],"data_offsets":[0,0]}})", 0));
    EXPECT_NE(msg.find("overflows"), std::string::npos) << msg;
    // Product fits, product x bits does not.
    msg = error_of(make_file(
        R"({"t":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,0]}})", 0));
    EXPECT_NE(msg.find("overflows"), std::string::npos) << msg;
    // Offsets near 2^64.
    msg = error_of(make_file(
        R"({"t":{"dtype":"U8","shape":[1],"data_offsets":[18446744073709551615,0]}})", 0));
    EXPECT_NE(msg.find("end before begin"), std::string::npos) << msg;
}

TEST(SafetensorsBad, OffsetsOverlapOrLeaveGaps) {
    auto msg = error_of(make_file(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                                  R"("b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})",
                                  6));
    EXPECT_NE(msg.find("overlaps"), std::string::npos) << msg;
    msg = error_of(make_file(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                             R"("b":{"dtype":"U8","shape":[4],"data_offsets":[6,10]}})",
                             10));
    EXPECT_NE(msg.find("gap"), std::string::npos) << msg;
    msg = error_of(make_file(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})", 6));
    EXPECT_NE(msg.find("expected 0"), std::string::npos) << msg;
    msg = error_of(make_file(R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[4,2]}})", 4));
    EXPECT_NE(msg.find("end before begin"), std::string::npos) << msg;
}

TEST(SafetensorsBad, OffsetsOutOfBounds) {
    auto msg = error_of(make_file(R"({"a":{"dtype":"U8","shape":[64],"data_offsets":[0,64]}})", 8));
    EXPECT_NE(msg.find("out of bounds"), std::string::npos) << msg;
}

TEST(SafetensorsBad, NamesArePrintedSafely) {
    auto msg =
        error_of(make_file("{\"a\\u0001\\n\":{\"dtype\":\"X\",\"shape\":[],"
                           "\"data_offsets\":[0,0]}}",
                           0));
    EXPECT_NE(msg.find("a\\x01\\x0a"), std::string::npos) << msg;
}

class SafetensorsFile : public test::TempDirTest {
  protected:
    std::filesystem::path write(const std::string& name, const std::string& bytes) {
        return temp_.write(name, bytes);
    }
};

TEST_F(SafetensorsFile, ReadsOnlyTheHeader) {
    auto p = write("a.safetensors",
                   make_file(R"({"w":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]}})", 8));
    auto r = read_safetensors_header(p);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->tensors.size(), 1u);
    EXPECT_EQ(r->tensors[0].data_end, 8u);
}

TEST_F(SafetensorsFile, ErrorsNameThePath) {
    auto p = write("bad.safetensors", le64(1000) + "{}");
    auto r = read_safetensors_header(p);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("bad.safetensors"), std::string::npos);
    auto missing = read_safetensors_header(dir_ / "nope.safetensors");
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code, base::Errc::not_found);
    auto tiny = read_safetensors_header(write("tiny.safetensors", "abc"));
    ASSERT_FALSE(tiny.ok());
    EXPECT_EQ(tiny.error().code, base::Errc::bad_input);
}

TEST(SafetensorsIndex, ParsesWeightMap) {
    auto r = parse_safetensors_index(
        R"({"metadata":{"total_size":1234},"weight_map":{"a":"m-00002.safetensors",)"
        R"("b":"m-00001.safetensors","c":"m-00001.safetensors"}})",
        "model.safetensors.index.json");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->total_size, 1234u);
    EXPECT_EQ(r->shards, (std::vector<std::string>{"m-00001.safetensors", "m-00002.safetensors"}));
    EXPECT_EQ(r->weight_map.size(), 3u);
}

TEST(SafetensorsIndex, RefusesBadIndexes) {
    auto bad = [](const std::string& text) {
        auto r = parse_safetensors_index(text, "i.json");
        EXPECT_FALSE(r.ok()) << text;
        return r.ok() ? std::string() : r.error().message;
    };
    EXPECT_NE(bad("{}").find("weight_map"), std::string::npos);
    EXPECT_NE(bad(R"({"weight_map":{"a":1}})").find("weight_map.a"), std::string::npos);
    EXPECT_NE(bad(R"({"weight_map":{"a":"../../etc/passwd"}})").find("plain file name"),
              std::string::npos);
    EXPECT_NE(bad(R"({"weight_map":{"a":"/abs.safetensors"}})").find("plain"), std::string::npos);
    EXPECT_NE(bad(R"({"metadata":{"total_size":"x"},"weight_map":{}})").find("total_size"),
              std::string::npos);
    EXPECT_NE(bad("[").find("not valid JSON"), std::string::npos);
}

TEST(SafetensorsClassify, HfTensorNames) {
    struct Case {
        const char* name;
        TensorKind kind;
    };
    const Case cases[] = {
        {"model.embed_tokens.weight", TensorKind::embedding},
        {"lm_head.weight", TensorKind::output},
        {"model.norm.weight", TensorKind::norm},
        {"model.layers.0.input_layernorm.weight", TensorKind::norm},
        {"model.layers.0.self_attn.q_norm.weight", TensorKind::norm},
        {"model.layers.0.self_attn.q_proj.weight", TensorKind::attention},
        {"model.layers.0.self_attn.sinks", TensorKind::attention},
        {"model.layers.0.self_attn.kv_a_proj_with_mqa.weight", TensorKind::attention},
        {"model.layers.0.mlp.gate_proj.weight", TensorKind::ffn},
        {"model.layers.0.mlp.down_proj.qweight", TensorKind::ffn},
        {"model.layers.5.mlp.experts.17.up_proj.weight", TensorKind::ffn_experts},
        {"model.layers.5.mlp.experts.gate_up_proj_blocks", TensorKind::ffn_experts},
        {"model.layers.5.mlp.shared_experts.down_proj.weight", TensorKind::ffn_shared},
        {"model.layers.5.mlp.shared_expert_gate.weight", TensorKind::ffn_shared},
        {"model.layers.5.mlp.gate.weight", TensorKind::router},
        {"model.layers.5.mlp.gate.e_score_correction_bias", TensorKind::router},
        {"model.layers.5.mlp.router.bias", TensorKind::router},
        {"language_model.model.layers.0.feed_forward.router.weight", TensorKind::router},
        {"language_model.model.layers.0.feed_forward.experts.down_proj", TensorKind::ffn_experts},
        {"language_model.model.layers.0.feed_forward.shared_expert.up_proj.weight",
         TensorKind::ffn_shared},
        {"backbone.embeddings.weight", TensorKind::embedding},
        {"backbone.layers.0.mixer.in_proj.weight", TensorKind::ssm},
        {"backbone.layers.0.mixer.A_log", TensorKind::ssm},
        {"backbone.layers.0.mixer.out_proj.weight", TensorKind::ssm},
        {"backbone.layers.0.mixer.norm.weight", TensorKind::norm},
        {"backbone.layers.5.mixer.q_proj.weight", TensorKind::attention},
        {"backbone.layers.1.mixer.experts.3.up_proj.weight", TensorKind::ffn_experts},
        {"backbone.layers.1.mixer.gate.weight", TensorKind::router},
        {"backbone.layers.1.mixer.shared_experts.up_proj.weight", TensorKind::ffn_shared},
        {"backbone.norm_f.weight", TensorKind::norm},
        {"vision_tower.vision_model.encoder.layers.0.self_attn.q_proj.weight", TensorKind::vision},
        {"multi_modal_projector.mm_input_projection_weight", TensorKind::vision},
        {"visual.blocks.0.attn.qkv.weight", TensorKind::vision},
        {"mtp.layers.0.self_attn.q_proj.weight", TensorKind::mtp},
        {"model.mtp.fc.weight", TensorKind::mtp},
        {"something.else", TensorKind::other},
    };
    for (const Case& c : cases) {
        EXPECT_EQ(classify_hf_tensor(c.name), c.kind) << c.name;
    }
    // DeepSeek-V3 keeps its MTP layer as model.layers.61 (num_hidden_layers 61).
    EXPECT_EQ(classify_hf_tensor("model.layers.61.eh_proj.weight", 61u), TensorKind::mtp);
    EXPECT_EQ(classify_hf_tensor("model.layers.61.embed_tokens.weight", 61u), TensorKind::mtp);
    EXPECT_EQ(classify_hf_tensor("model.layers.60.mlp.gate.weight", 61u), TensorKind::router);
}

TEST(SafetensorsParams, PackedDtypesGiveLogicalCounts) {
    auto tensor = [](const char* name, const char* dtype, std::uint64_t n) {
        Tensor t;
        t.name = name;
        t.dtype = dtype;
        t.n_elements = n;
        return t;
    };
    Quantization awq{"awq", "awq", 4u, 128u, true, {}};
    EXPECT_EQ(tensor_logical_params(tensor("l.qweight", "I32", 4096 * 512), awq), 4096u * 4096);
    EXPECT_EQ(tensor_logical_params(tensor("l.qzeros", "I32", 32 * 512), awq), 0u);
    EXPECT_EQ(tensor_logical_params(tensor("l.scales", "F16", 32 * 4096), awq), 0u);
    EXPECT_FALSE(tensor_logical_params(tensor("l.qweight", "I32", 8), std::nullopt));
    Quantization nvfp4{"nvfp4", "modelopt", 4u, 16u, {}, {}};
    EXPECT_EQ(tensor_logical_params(tensor("l.weight", "U8", 100), nvfp4), 200u);
    EXPECT_EQ(tensor_logical_params(tensor("l.weight_scale", "F8_E4M3", 10), nvfp4), 0u);
    EXPECT_EQ(tensor_logical_params(tensor("l.weight_scale_2", "F32", 1), nvfp4), 0u);
    EXPECT_EQ(tensor_logical_params(tensor("e.gate_up_proj_blocks", "U8", 16), std::nullopt), 32u);
    EXPECT_EQ(tensor_logical_params(tensor("e.gate_up_proj_scales", "U8", 1), std::nullopt), 0u);
    EXPECT_EQ(tensor_logical_params(tensor("l.weight", "BF16", 7), std::nullopt), 7u);
    EXPECT_EQ(tensor_logical_params(tensor("l.weight", "F8_E4M3", 7), std::nullopt), 7u);
    EXPECT_EQ(tensor_logical_params(tensor("l.weight_scale_inv", "F32", 7), std::nullopt), 0u);
    EXPECT_EQ(tensor_logical_params(tensor("l.weight", "F4", 8), std::nullopt), 8u);
    EXPECT_FALSE(tensor_logical_params(tensor("l.weight", "U8", 8), std::nullopt));
    EXPECT_FALSE(tensor_logical_params(tensor("l.weight", "WHAT", 8), std::nullopt));
}

}  // namespace
}  // namespace sparkctl::model
