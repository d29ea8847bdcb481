// Model directories, single files and Hugging Face cache layouts, built in temp dirs.
#include "model/model_dir.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "model/safetensors.h"
#include "support/temp_dir.h"

namespace sparkctl::model {
namespace {

namespace fs = std::filesystem;

struct TensorDef {
    std::string name;
    std::string dtype;
    std::vector<std::uint64_t> shape;
};

// A valid .safetensors file holding zeroed tensors, laid out in the order given.
std::string make_safetensors(const std::vector<TensorDef>& defs) {
    std::string header = "{";
    std::uint64_t offset = 0;
    for (std::size_t i = 0; i < defs.size(); ++i) {
        std::uint64_t n = 1;
        std::string shape;
        for (std::size_t d = 0; d < defs[i].shape.size(); ++d) {
            n *= defs[i].shape[d];
            shape += (d ? "," : "") + std::to_string(defs[i].shape[d]);
        }
        std::uint64_t bytes = n * safetensors_dtype_bits(defs[i].dtype).value_or(8) / 8;
        header += (i ? "," : "") + std::string("\"") + defs[i].name + "\":{\"dtype\":\"" +
                  defs[i].dtype + "\",\"shape\":[" + shape + "],\"data_offsets\":[" +
                  std::to_string(offset) + "," + std::to_string(offset + bytes) + "]}";
        offset += bytes;
    }
    header += "}";
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) {
        out[static_cast<std::size_t>(i)] = static_cast<char>(header.size() >> (8 * i));
    }
    return out + header + std::string(offset, '\0');
}

constexpr const char* kLlamaConfig = R"({"architectures": ["LlamaForCausalLM"],
    "model_type": "llama", "num_hidden_layers": 1, "hidden_size": 4,
    "num_attention_heads": 2, "vocab_size": 10, "torch_dtype": "bfloat16"})";

class ModelDir : public test::TempDirTest {
  protected:
    fs::path write(const fs::path& rel, const std::string& bytes) {
        return temp_.write(rel, bytes);
    }
};

const std::vector<TensorDef> kLlamaTensors = {
    {"model.embed_tokens.weight", "BF16", {10, 4}},
    {"model.layers.0.self_attn.q_proj.weight", "BF16", {4, 4}},
    {"model.layers.0.mlp.up_proj.weight", "BF16", {8, 4}},
    {"model.layers.0.input_layernorm.weight", "BF16", {4}},
    {"lm_head.weight", "BF16", {10, 4}},
};

TEST_F(ModelDir, SingleFileCheckpoint) {
    write("m/config.json", kLlamaConfig);
    auto st = write("m/model.safetensors", make_safetensors(kLlamaTensors));
    auto r = load_model_dir(dir_ / "m");
    ASSERT_TRUE(r.ok()) << r.error().message;
    const ModelSpec& s = r.value();
    EXPECT_EQ(s.name, "m");
    EXPECT_EQ(s.source, SourceKind::safetensors);
    EXPECT_TRUE(s.hf_id.empty());
    ASSERT_EQ(s.files.size(), 1u);
    EXPECT_EQ(s.tensors.size(), 5u);
    EXPECT_EQ(s.weights_bytes, (40u + 16 + 32 + 4 + 40) * 2);
    EXPECT_EQ(s.file_bytes, fs::file_size(st));
    EXPECT_EQ(s.arch.params_total, 132u);
    EXPECT_FALSE(s.arch.params_active);
    EXPECT_EQ(s.arch.n_layers, 1u);
    ASSERT_TRUE(s.quant);
    EXPECT_EQ(s.quant->method, "bf16");
    EXPECT_EQ(s.tensors[0].kind, TensorKind::embedding);
}

TEST_F(ModelDir, ShardedCheckpointSumsShards) {
    write("m/config.json", kLlamaConfig);
    auto a = write("m/model-00001-of-00002.safetensors",
                   make_safetensors({kLlamaTensors[0], kLlamaTensors[1]}));
    auto b = write("m/model-00002-of-00002.safetensors",
                   make_safetensors({kLlamaTensors[2], kLlamaTensors[3], kLlamaTensors[4]}));
    write("m/model.safetensors.index.json",
          R"({"metadata": {"total_size": 264}, "weight_map": {
              "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
              "model.layers.0.self_attn.q_proj.weight": "model-00001-of-00002.safetensors",
              "model.layers.0.mlp.up_proj.weight": "model-00002-of-00002.safetensors",
              "model.layers.0.input_layernorm.weight": "model-00002-of-00002.safetensors",
              "lm_head.weight": "model-00002-of-00002.safetensors"}})");
    // A stray file that the index does not name is not read.
    write("m/other.safetensors", "garbage");
    auto r = load_model_dir(dir_ / "m");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->files.size(), 2u);
    EXPECT_EQ(r->tensors.size(), 5u);
    EXPECT_EQ(r->weights_bytes, 264u);
    EXPECT_EQ(r->file_bytes, fs::file_size(a) + fs::file_size(b));
    EXPECT_EQ(r->arch.params_total, 132u);
    EXPECT_EQ(r->tensors[4].file_index, 1u);
}

TEST_F(ModelDir, IndexNamingMissingShard) {
    write("m/config.json", kLlamaConfig);
    write("m/model.safetensors.index.json",
          R"({"weight_map": {"a": "model-00001-of-00002.safetensors"}})");
    auto r = load_model_dir(dir_ / "m");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, base::Errc::not_found);
    EXPECT_NE(r.error().message.find("model-00001-of-00002.safetensors"), std::string::npos);
}

TEST_F(ModelDir, IndexNamingTensorNotInShard) {
    write("m/s1.safetensors", make_safetensors({kLlamaTensors[0]}));
    write("m/model.safetensors.index.json",
          R"({"weight_map": {"model.embed_tokens.weight": "s1.safetensors",
              "lm_head.weight": "s1.safetensors"}})");
    auto r = load_model_dir(dir_ / "m");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, base::Errc::bad_input);
    EXPECT_NE(r.error().message.find("lm_head.weight"), std::string::npos);
}

TEST_F(ModelDir, DuplicateTensorAcrossShards) {
    write("m/a.safetensors", make_safetensors({kLlamaTensors[0]}));
    write("m/b.safetensors", make_safetensors({kLlamaTensors[0]}));
    auto r = load_model_dir(dir_ / "m");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("also in"), std::string::npos);
}

TEST_F(ModelDir, BadShardNamesTheFile) {
    write("m/config.json", kLlamaConfig);
    write("m/model.safetensors", std::string("\x0a\0\0\0\0\0\0\0{not json}", 18));
    auto r = load_model_dir(dir_ / "m");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("model.safetensors"), std::string::npos);
}

TEST_F(ModelDir, BadConfigNamesTheFile) {
    write("m/config.json", R"({"num_hidden_layers": "x"})");
    auto r = load_model_dir(dir_ / "m");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, base::Errc::bad_input);
    EXPECT_NE(r.error().message.find("config.json"), std::string::npos);
    EXPECT_NE(r.error().message.find("num_hidden_layers"), std::string::npos);
}

TEST_F(ModelDir, EmptyOrMissingDirectory) {
    fs::create_directories(dir_ / "empty");
    auto r = load_model_dir(dir_ / "empty");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, base::Errc::not_found);
    r = load_model_dir(dir_ / "absent");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, base::Errc::not_found);
}

TEST_F(ModelDir, ConfigOnlyDirectory) {
    write("m/config.json", kLlamaConfig);
    auto r = load_model_dir(dir_ / "m");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->source, SourceKind::config_json);
    EXPECT_TRUE(r->tensors.empty());
    EXPECT_FALSE(r->weights_bytes);
    EXPECT_FALSE(r->arch.params_total);
    EXPECT_EQ(r->arch.head_dim, 2u);
}

TEST_F(ModelDir, MoeActiveParamsAndMtpExcluded) {
    write("m/config.json", R"({"model_type": "deepseek_v3", "num_hidden_layers": 1,
        "n_routed_experts": 4, "num_experts_per_tok": 1, "n_shared_experts": 1,
        "num_nextn_predict_layers": 1, "torch_dtype": "bfloat16"})");
    write("m/model.safetensors",
          make_safetensors({
              {"model.embed_tokens.weight", "BF16", {10, 4}},
              {"model.layers.0.mlp.experts.0.up_proj.weight", "BF16", {4, 4}},
              {"model.layers.0.mlp.experts.1.up_proj.weight", "BF16", {4, 4}},
              {"model.layers.0.mlp.experts.2.up_proj.weight", "BF16", {4, 4}},
              {"model.layers.0.mlp.experts.3.up_proj.weight", "BF16", {4, 4}},
              {"model.layers.0.mlp.shared_experts.up_proj.weight", "BF16", {4, 4}},
              {"model.layers.0.mlp.gate.weight", "BF16", {4, 4}},
              {"model.layers.1.eh_proj.weight", "BF16", {100, 4}},  // MTP layer
          }));
    auto r = load_model_dir(dir_ / "m");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->tensors.back().kind, TensorKind::mtp);
    EXPECT_EQ(r->arch.params_total, 40u + 64 + 16 + 16);
    EXPECT_EQ(r->arch.params_active, 40u + 16 + 16 + 16);
}

TEST_F(ModelDir, PackedAwqParams) {
    write("m/config.json", R"({"model_type": "llama", "quantization_config": {
        "quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": true}})");
    write("m/model.safetensors", make_safetensors({
                                     {"model.layers.0.mlp.up_proj.qweight", "I32", {128, 16}},
                                     {"model.layers.0.mlp.up_proj.qzeros", "I32", {1, 16}},
                                     {"model.layers.0.mlp.up_proj.scales", "F16", {1, 128}},
                                 }));
    auto r = load_model_dir(dir_ / "m");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->arch.params_total, 128u * 128);
    EXPECT_EQ(r->weights_bytes, 128u * 16 * 4 + 16 * 4 + 128 * 2);
}

TEST_F(ModelDir, UnknownPackingLeavesParamsUnknown) {
    write("m/model.safetensors", make_safetensors({{"x.weight", "U8", {16}}}));
    auto r = load_model_dir(dir_ / "m");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_FALSE(r->arch.params_total);
    EXPECT_EQ(r->weights_bytes, 16u);
}

TEST_F(ModelDir, HfQuantConfigFillsModelOpt) {
    write("m/config.json", kLlamaConfig);
    write("m/hf_quant_config.json", R"({"producer": {"name": "modelopt"},
        "quantization": {"quant_algo": "NVFP4", "group_size": 16}})");
    write("m/model.safetensors",
          make_safetensors({{"model.layers.0.mlp.up_proj.weight", "U8", {4, 8}},
                            {"model.layers.0.mlp.up_proj.weight_scale", "F8_E4M3", {4, 1}},
                            {"model.layers.0.mlp.up_proj.weight_scale_2", "F32", {}}}));
    auto r = load_model_dir(dir_ / "m");
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_TRUE(r->quant);
    EXPECT_EQ(r->quant->method, "nvfp4");
    EXPECT_EQ(r->arch.params_total, 64u);
}

TEST_F(ModelDir, VisionParamsFromTensors) {
    write("m/config.json", R"({"model_type": "gemma3", "text_config": {"num_hidden_layers": 1},
        "vision_config": {"num_hidden_layers": 2, "hidden_size": 4}})");
    write("m/model.safetensors",
          make_safetensors({{"language_model.model.embed_tokens.weight", "BF16", {10, 4}},
                            {"vision_tower.vision_model.post_layernorm.weight", "BF16", {4}},
                            {"multi_modal_projector.mm_input_projection_weight", "BF16", {4, 4}}}));
    auto r = load_model_dir(dir_ / "m");
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_TRUE(r->arch.vision);
    EXPECT_EQ(r->arch.vision->params, 20u);
    EXPECT_EQ(r->arch.vision->n_layers, 2u);
    EXPECT_EQ(r->arch.params_total, 60u);
}

// ~/.cache/huggingface/hub layout: blobs/, refs/main, snapshots/<rev>/ with links into blobs.
TEST_F(ModelDir, HfCacheWithRefsMain) {
    fs::path repo = dir_ / "hub" / "models--openai--gpt-oss-120b";
    write("hub/models--openai--gpt-oss-120b/blobs/aaa", kLlamaConfig);
    write("hub/models--openai--gpt-oss-120b/blobs/bbb", make_safetensors(kLlamaTensors));
    write("hub/models--openai--gpt-oss-120b/refs/main", "abc123\n");
    fs::create_directories(repo / "snapshots" / "abc123");
    fs::create_directories(repo / "snapshots" / "old999");
    fs::create_symlink("../../blobs/aaa", repo / "snapshots" / "abc123" / "config.json");
    fs::create_symlink("../../blobs/bbb", repo / "snapshots" / "abc123" / "model.safetensors");
    auto r = load_model_dir(repo);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->hf_id, "openai/gpt-oss-120b");
    EXPECT_EQ(r->name, "gpt-oss-120b");
    EXPECT_EQ(r->source, SourceKind::hf_cache);
    EXPECT_EQ(r->tensors.size(), 5u);
    EXPECT_EQ(r->file_bytes, fs::file_size(repo / "blobs" / "bbb"));

    // The snapshot directory itself, with a trailing slash.
    auto snap = load_model_dir((repo / "snapshots" / "abc123").string() + "/");
    ASSERT_TRUE(snap.ok()) << snap.error().message;
    EXPECT_EQ(snap->hf_id, "openai/gpt-oss-120b");
    EXPECT_EQ(snap->source, SourceKind::hf_cache);

    // A single file inside a snapshot knows its repository too.
    auto file = load_safetensors(repo / "snapshots" / "abc123" / "model.safetensors");
    ASSERT_TRUE(file.ok()) << file.error().message;
    EXPECT_EQ(file->hf_id, "openai/gpt-oss-120b");
    EXPECT_EQ(file->arch.n_layers, 1u);  // config.json beside it
}

TEST_F(ModelDir, HfCacheWithoutRefs) {
    fs::path repo = dir_ / "models--Qwen--Qwen3-8B";
    write("models--Qwen--Qwen3-8B/snapshots/r1/config.json", kLlamaConfig);
    auto one = load_model_dir(repo);
    ASSERT_TRUE(one.ok()) << one.error().message;
    EXPECT_EQ(one->hf_id, "Qwen/Qwen3-8B");
    EXPECT_EQ(one->source, SourceKind::hf_cache);

    write("models--Qwen--Qwen3-8B/snapshots/r2/config.json", kLlamaConfig);
    auto two = load_model_dir(repo);
    ASSERT_FALSE(two.ok());
    EXPECT_EQ(two.error().code, base::Errc::bad_input);
    EXPECT_NE(two.error().message.find("r1, r2"), std::string::npos) << two.error().message;
}

TEST_F(ModelDir, HfCacheBadRefs) {
    write("models--a--b/snapshots/r1/config.json", kLlamaConfig);
    write("models--a--b/refs/main", "missing");
    auto r = load_model_dir(dir_ / "models--a--b");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, base::Errc::not_found);
    EXPECT_NE(r.error().message.find("missing"), std::string::npos);
    write("models--a--b/refs/main", "../../etc");
    r = load_model_dir(dir_ / "models--a--b");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, base::Errc::bad_input);
    fs::create_directories(dir_ / "models--c--d" / "snapshots");
    r = load_model_dir(dir_ / "models--c--d");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, base::Errc::not_found);
}

TEST_F(ModelDir, ConfigJsonAndSafetensorsFiles) {
    auto cfg = write("llama-x/config.json", kLlamaConfig);
    auto r = load_config_json(cfg);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->name, "llama-x");
    EXPECT_EQ(r->source, SourceKind::config_json);
    EXPECT_EQ(r->arch.architecture, "LlamaForCausalLM");
    EXPECT_FALSE(load_config_json(dir_ / "nope.json").ok());

    auto st = write("solo/w.safetensors", make_safetensors({kLlamaTensors[0]}));
    auto s = load_safetensors(st);
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_EQ(s->name, "w");
    EXPECT_EQ(s->source, SourceKind::safetensors);
    EXPECT_EQ(s->weights_bytes, 80u);
    EXPECT_EQ(s->arch.params_total, 40u);
    EXPECT_FALSE(s->quant);
}

TEST(ModelDirNames, HfIdFromCacheDirName) {
    EXPECT_EQ(hf_id_from_cache_dir_name("models--openai--gpt-oss-120b"), "openai/gpt-oss-120b");
    EXPECT_EQ(hf_id_from_cache_dir_name("models--gpt2"), "gpt2");
    EXPECT_FALSE(hf_id_from_cache_dir_name("datasets--a--b"));
    EXPECT_FALSE(hf_id_from_cache_dir_name("models--"));
    EXPECT_FALSE(hf_id_from_cache_dir_name("models----x"));
    EXPECT_FALSE(hf_id_from_cache_dir_name("gpt-oss-120b"));
}

}  // namespace
}  // namespace sparkctl::model
