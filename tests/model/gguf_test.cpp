// GGUF reader tests: good files of several architectures built with GgufWriter and read back,
// and handcrafted hostile files (llama.cpp tests/test-gguf.cpp style).
#include "model/gguf.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "model/gguf_writer.h"
#include "support/temp_dir.h"

namespace sparkctl::model {
namespace {

namespace fs = std::filesystem;
using V = GgufWriterValue;

constexpr std::uint32_t kF32 = 0, kF16 = 1, kQ8_0 = 8, kQ4_K = 12, kQ6_K = 14, kBF16 = 30,
                        kMXFP4 = 39;

using test::TempDir;

// Byte builder for handcrafted (bad) files.
struct Raw {
    std::string b;
    template <typename T>
    Raw& put(T v) {
        char c[sizeof v];
        std::memcpy(c, &v, sizeof v);
        b.append(c, sizeof v);
        return *this;
    }
    Raw& u32(std::uint32_t v) { return put(v); }
    Raw& u64(std::uint64_t v) { return put(v); }
    Raw& str(std::string_view s) {
        u64(s.size());
        b.append(s);
        return *this;
    }
    Raw& header(std::uint32_t version, std::uint64_t n_tensors, std::uint64_t n_kv) {
        b += "GGUF";
        return u32(version).u64(n_tensors).u64(n_kv);
    }
    Raw& pad(std::size_t align = 32) {
        b.append((align - b.size() % align) % align, '\0');
        return *this;
    }
    Raw& zeros(std::size_t n) {
        b.append(n, '\0');
        return *this;
    }
};

// One tensor info, no metadata, then `data` bytes after the aligned header.
std::string one_tensor(std::string_view name, std::vector<std::uint64_t> ne, std::uint32_t type,
                       std::uint64_t offset, std::size_t data) {
    Raw r;
    r.header(3, 1, 0).str(name).u32(static_cast<std::uint32_t>(ne.size()));
    for (auto d : ne) r.u64(d);
    r.u32(type).u64(offset).pad().zeros(data);
    return r.b;
}

GgufFile parse_ok(const std::string& bytes) {
    auto r = parse_gguf_header(bytes, "m.gguf");
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? std::move(r).value() : GgufFile{};
}

void expect_bad(const std::string& bytes, const std::string& needle) {
    auto r = parse_gguf_header(bytes, "m.gguf");
    ASSERT_FALSE(r.ok()) << "expected an error containing: " << needle;
    EXPECT_EQ(r.error().code, base::Errc::bad_input) << r.error().message;
    EXPECT_NE(r.error().message.find("m.gguf: "), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
}

void add(GgufWriter& w, const std::string& name, std::uint32_t type,
         std::vector<std::uint64_t> ne) {
    auto r = w.add_tensor(name, type, std::move(ne));
    ASSERT_TRUE(r.ok()) << r.error().message;
}

// A small llama-like model: 4 layers, GQA, untied output, Q4_K_M.
GgufWriter llama_writer(std::uint32_t version = 3) {
    GgufWriter w(version);
    w.add_string("general.architecture", "llama");
    w.add_string("general.name", "Tiny Llama");
    w.add_u32("general.file_type", 15);
    w.add_u32("llama.block_count", 4);
    w.add_u32("llama.context_length", 8192);
    w.add_u32("llama.embedding_length", 256);
    w.add_u32("llama.feed_forward_length", 512);
    w.add_u32("llama.attention.head_count", 8);
    w.add_u32("llama.attention.head_count_kv", 2);
    w.add_f32("llama.rope.freq_base", 500000.0f);
    w.add_string("llama.rope.scaling.type", "llama3");
    w.add_f32("llama.rope.scaling.factor", 8.0f);
    w.add_u32("llama.rope.scaling.original_context_length", 8192);
    std::vector<std::string> toks;
    for (int i = 0; i < 3000; ++i) toks.push_back("tok" + std::to_string(i));
    w.add("tokenizer.ggml.tokens", V::str_array(toks));
    add(w, "token_embd.weight", kQ4_K, {256, 3000});
    add(w, "output_norm.weight", kF32, {256});
    add(w, "output.weight", kQ6_K, {256, 3000});
    for (int l = 0; l < 4; ++l) {
        std::string b = "blk." + std::to_string(l) + ".";
        add(w, b + "attn_norm.weight", kF32, {256});
        add(w, b + "attn_q.weight", kQ4_K, {256, 256});
        add(w, b + "attn_k.weight", kQ4_K, {256, 64});
        add(w, b + "attn_v.weight", kQ6_K, {256, 64});
        add(w, b + "attn_output.weight", kQ4_K, {256, 256});
        add(w, b + "ffn_norm.weight", kF32, {256});
        add(w, b + "ffn_gate.weight", kQ4_K, {256, 512});
        add(w, b + "ffn_up.weight", kQ4_K, {256, 512});
        add(w, b + "ffn_down.weight", kQ6_K, {512, 256});
    }
    return w;
}

// ------------------------------------------------------------------------------------------
// Good files

TEST(Gguf, ReadsLlamaHeaderAndTensors) {
    TempDir dir;
    GgufWriter w = llama_writer();
    fs::path p = dir.path() / "tiny.gguf";
    ASSERT_TRUE(w.write(p).ok());
    auto f = read_gguf_header(p);
    ASSERT_TRUE(f.ok()) << f.error().message;
    EXPECT_EQ(f->version, 3u);
    EXPECT_EQ(f->alignment, 32u);
    EXPECT_EQ(f->data_offset % 32, 0u);
    EXPECT_EQ(f->file_bytes, fs::file_size(p));
    EXPECT_EQ(f->tensors.size(), 3u + 4 * 9);
    EXPECT_EQ(f->get_string("general.name"), "Tiny Llama");
    EXPECT_EQ(f->get_uint("llama.block_count"), 4u);
    EXPECT_EQ(f->array_size("tokenizer.ggml.tokens"), 3000u);
    EXPECT_FALSE(f->find("tokenizer.ggml.tokens")->kept);  // too many strings to keep
    const GgufTensorInfo& te = f->tensors[0];
    EXPECT_EQ(te.name, "token_embd.weight");
    EXPECT_EQ(te.type->name, "Q4_K");
    EXPECT_EQ(te.n_elements, 256u * 3000);
    EXPECT_EQ(te.bytes, 3000u * 144);
    EXPECT_EQ(te.offset, 0u);
    EXPECT_EQ(f->tensors[1].offset, (3000u * 144 + 31) / 32 * 32);
    // The last tensor ends exactly at the end of the file (after padding).
    const GgufTensorInfo& last = f->tensors.back();
    EXPECT_EQ((f->data_offset + last.offset + last.bytes + 31) / 32 * 32, f->file_bytes);

    // Parsing the same bytes in memory gives the same result.
    auto m = parse_gguf_header(w.to_bytes(), "tiny.gguf");
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->data_offset, f->data_offset);
    EXPECT_EQ(m->tensors.size(), f->tensors.size());
}

TEST(Gguf, LoadsLlamaSpec) {
    TempDir dir;
    fs::path p = dir.path() / "tiny.gguf";
    ASSERT_TRUE(llama_writer().write(p).ok());
    auto spec = load_gguf(p);
    ASSERT_TRUE(spec.ok()) << spec.error().message;
    EXPECT_EQ(spec->source, SourceKind::gguf);
    EXPECT_EQ(spec->name, "tiny");
    ASSERT_EQ(spec->files.size(), 1u);
    const Arch& a = spec->arch;
    EXPECT_EQ(a.architecture, "llama");
    EXPECT_EQ(a.family, "llama");
    EXPECT_EQ(a.n_layers, 4u);
    EXPECT_EQ(a.n_mtp_layers, 0u);
    EXPECT_EQ(a.hidden_size, 256u);
    EXPECT_EQ(a.n_heads, 8u);
    EXPECT_EQ(a.n_kv_heads, 2u);
    EXPECT_TRUE(a.n_kv_heads_per_layer.empty());
    EXPECT_EQ(a.head_dim, 32u);
    EXPECT_EQ(a.head_dim_v, std::nullopt);
    EXPECT_EQ(a.intermediate_size, 512u);
    EXPECT_EQ(a.vocab_size, 3000u);
    EXPECT_EQ(a.context_length, 8192u);
    EXPECT_EQ(a.tie_word_embeddings, false);
    EXPECT_EQ(a.sliding_window, std::nullopt);
    ASSERT_EQ(a.layer_kinds.size(), 4u);
    for (auto k : a.layer_kinds) EXPECT_EQ(k, LayerKind::full_attention);
    ASSERT_TRUE(a.rope);
    EXPECT_EQ(a.rope->scaling_type, "llama3");
    EXPECT_DOUBLE_EQ(*a.rope->theta, 500000.0);
    EXPECT_DOUBLE_EQ(*a.rope->factor, 8.0);
    EXPECT_EQ(a.rope->original_context, 8192u);
    EXPECT_FALSE(a.moe);
    ASSERT_TRUE(spec->quant);
    EXPECT_EQ(spec->quant->method, "Q4_K_M");
    EXPECT_EQ(spec->quant->bits, 4u);
    std::uint64_t sum = 0;
    for (const Tensor& t : spec->tensors) sum += t.bytes;
    EXPECT_EQ(spec->weights_bytes, sum);
    EXPECT_EQ(spec->file_bytes, fs::file_size(p));
    EXPECT_EQ(spec->tensors[0].kind, TensorKind::embedding);
    EXPECT_EQ(spec->tensors[2].kind, TensorKind::output);
    EXPECT_EQ(spec->tensors[2].dtype, "Q6_K");
}

TEST(Gguf, Version2ReadsLikeVersion3) {
    auto f2 = parse_ok(llama_writer(2).to_bytes());
    auto f3 = parse_ok(llama_writer(3).to_bytes());
    EXPECT_EQ(f2.version, 2u);
    EXPECT_EQ(f2.tensors.size(), f3.tensors.size());
    EXPECT_EQ(f2.data_offset, f3.data_offset);
    EXPECT_EQ(f2.keys, f3.keys);
}

TEST(Gguf, EveryMetadataTypeRoundTrips) {
    GgufWriter w;
    w.add("u8", V::u8(200));
    w.add("i8", V::i8(-5));
    w.add("u16", V::u16(65535));
    w.add("i16", V::i16(-300));
    w.add("u32", V::u32(4000000000u));
    w.add("i32", V::i32(-7));
    w.add("u64", V::u64(1ull << 60));
    w.add("i64", V::i64(-(1ll << 60)));
    w.add("f32", V::f32(1.5f));
    w.add("f64", V::f64(-2.25));
    w.add("b", V::boolean(true));
    w.add("s", V::str("hello"));
    w.add("au32", V::u32_array({1, 2, 3}));
    w.add("ai32", V::i32_array({-1, 2}));
    w.add("af32", V::f32_array({0.5f}));
    w.add("ab", V::bool_array({true, false, true}));
    w.add("as", V::str_array({"a", "bc"}));
    w.add("aempty", V::u32_array({}));
    w.add("nested", V::array(GgufType::array, {V::u32_array({1, 2}), V::u32_array({3})}));
    w.add("big", V::u32_array(std::vector<std::uint32_t>(20000, 7)));
    auto f = parse_ok(w.to_bytes());
    EXPECT_EQ(f.keys.size(), 20u);
    EXPECT_EQ(f.get_uint("u8"), 200u);
    EXPECT_EQ(f.get_int("i8"), -5);
    EXPECT_EQ(f.get_uint("i8"), std::nullopt);
    EXPECT_EQ(f.get_uint("u16"), 65535u);
    EXPECT_EQ(f.get_int("i16"), -300);
    EXPECT_EQ(f.get_uint("u32"), 4000000000u);
    EXPECT_EQ(f.get_int("i32"), -7);
    EXPECT_EQ(f.get_uint("u64"), 1ull << 60);
    EXPECT_EQ(f.get_int("i64"), -(1ll << 60));
    EXPECT_EQ(f.get_float("f32"), 1.5);
    EXPECT_EQ(f.get_float("f64"), -2.25);
    EXPECT_EQ(f.get_float("u8"), 200.0);
    EXPECT_EQ(f.get_bool("b"), true);
    EXPECT_EQ(f.get_string("s"), "hello");
    EXPECT_EQ(f.get_string("u8"), std::nullopt);
    EXPECT_EQ(f.get_uint_array("au32"), (std::vector<std::uint64_t>{1, 2, 3}));
    EXPECT_EQ(f.get_uint_array("ai32"), std::nullopt);  // has a negative value
    EXPECT_EQ(f.get_uint_array("ab"), (std::vector<std::uint64_t>{1, 0, 1}));
    EXPECT_EQ(f.find("af32")->floats, std::vector<double>{0.5});
    EXPECT_EQ(f.find("as")->strings, (std::vector<std::string>{"a", "bc"}));
    EXPECT_EQ(f.array_size("aempty"), 0u);
    const GgufValue* nested = f.find("nested");
    ASSERT_NE(nested, nullptr);
    EXPECT_EQ(nested->elem_type, GgufType::array);
    EXPECT_EQ(nested->n, 2u);
    EXPECT_EQ(f.array_size("big"), 20000u);
    EXPECT_FALSE(f.find("big")->kept);
    EXPECT_EQ(f.get_uint_array("big"), std::nullopt);
    EXPECT_EQ(f.get_uint("au32"), std::nullopt);  // an array is not a scalar
}

TEST(Gguf, CustomAlignment) {
    GgufWriter w;
    w.add_u32("general.alignment", 64);
    add(w, "a", kF32, {3});
    add(w, "b", kF16, {5});
    auto f = parse_ok(w.to_bytes());
    EXPECT_EQ(f.alignment, 64u);
    EXPECT_EQ(f.data_offset % 64, 0u);
    EXPECT_EQ(f.tensors[1].offset, 64u);
}

TEST(Gguf, NoTensors) {
    GgufWriter w;
    w.add_string("general.architecture", "llama");
    auto f = parse_ok(w.to_bytes());
    EXPECT_TRUE(f.tensors.empty());
}

TEST(Gguf, LargeTokenizerIsWalkedNotStored) {
    GgufWriter w;
    std::vector<std::string> toks(200000, "token");
    w.add("tokenizer.ggml.tokens", V::str_array(toks));
    w.add("tokenizer.ggml.scores", V::f32_array(std::vector<float>(200000, 0.0f)));
    w.add_string("general.architecture", "qwen3");
    auto f = parse_ok(w.to_bytes());
    EXPECT_EQ(f.array_size("tokenizer.ggml.tokens"), 200000u);
    EXPECT_TRUE(f.find("tokenizer.ggml.tokens")->strings.empty());
    EXPECT_TRUE(f.find("tokenizer.ggml.scores")->floats.empty());
    EXPECT_EQ(f.get_string("general.architecture"), "qwen3");
}

// gpt-oss: MoE, MXFP4 experts, alternating sliding window (even layers SWA).
TEST(Gguf, GptOssLayout) {
    GgufWriter w;
    w.add_string("general.architecture", "gpt-oss");
    w.add_u32("general.file_type", 38);
    w.add_u32("gpt-oss.block_count", 4);
    w.add_u32("gpt-oss.context_length", 131072);
    w.add_u32("gpt-oss.embedding_length", 64);
    w.add_u32("gpt-oss.feed_forward_length", 64);
    w.add_u32("gpt-oss.attention.head_count", 4);
    w.add_u32("gpt-oss.attention.head_count_kv", 1);
    w.add_u32("gpt-oss.attention.key_length", 16);
    w.add_u32("gpt-oss.attention.value_length", 16);
    w.add_u32("gpt-oss.attention.sliding_window", 128);
    w.add_u32("gpt-oss.expert_count", 8);
    w.add_u32("gpt-oss.expert_used_count", 2);
    w.add_u32("gpt-oss.expert_feed_forward_length", 64);
    w.add_u32("gpt-oss.vocab_size", 100);
    add(w, "token_embd.weight", kQ8_0, {64, 100});
    add(w, "output.weight", kQ8_0, {64, 100});
    for (int l = 0; l < 4; ++l) {
        std::string b = "blk." + std::to_string(l) + ".";
        add(w, b + "attn_q.weight", kQ8_0, {64, 64});
        add(w, b + "attn_sinks.weight", kF32, {4});
        add(w, b + "ffn_gate_inp.weight", kF32, {64, 8});
        add(w, b + "ffn_up_exps.weight", kMXFP4, {64, 64, 8});
        add(w, b + "ffn_down_exps.weight", kMXFP4, {64, 64, 8});
    }
    TempDir dir;
    fs::path p = dir.path() / "gpt-oss-mini.gguf";
    ASSERT_TRUE(w.write(p).ok());
    auto spec = load_gguf(p);
    ASSERT_TRUE(spec.ok()) << spec.error().message;
    const Arch& a = spec->arch;
    EXPECT_EQ(a.family, "gpt-oss");
    EXPECT_EQ(a.sliding_window, 128u);
    EXPECT_EQ(a.layer_kinds,
              (std::vector<LayerKind>{LayerKind::sliding_attention, LayerKind::full_attention,
                                      LayerKind::sliding_attention, LayerKind::full_attention}));
    ASSERT_TRUE(a.moe);
    EXPECT_EQ(a.moe->n_experts, 8u);
    EXPECT_EQ(a.moe->n_experts_per_token, 2u);
    EXPECT_EQ(a.moe->expert_intermediate_size, 64u);
    EXPECT_EQ(a.vocab_size, 100u);
    EXPECT_EQ(spec->quant->method, "MXFP4_MOE");
    EXPECT_EQ(spec->quant->bits, 4u);
    std::uint64_t expert_bytes = 0, expert_params = 0;
    for (const Tensor& t : spec->tensors) {
        if (t.kind == TensorKind::ffn_experts) {
            EXPECT_EQ(t.dtype, "MXFP4");
            EXPECT_EQ(t.bytes, 64u * 64 * 8 / 32 * 17);
            expert_bytes += t.bytes;
            expert_params += t.n_elements;
        }
        if (t.name == "blk.0.ffn_gate_inp.weight") {
            EXPECT_EQ(t.kind, TensorKind::router);
        }
        if (t.name == "blk.0.attn_sinks.weight") {
            EXPECT_EQ(t.kind, TensorKind::attention);
        }
    }
    EXPECT_EQ(expert_bytes, 8u * 64 * 64 * 8 / 32 * 17);
    EXPECT_EQ(*a.params_active, *a.params_total - expert_params + expert_params / 4);
}

GgufWriter arch_only(const std::string& arch, std::uint32_t layers) {
    GgufWriter w;
    w.add_string("general.architecture", arch);
    w.add_u32(arch + ".block_count", layers);
    w.add_u32(arch + ".embedding_length", 64);
    w.add_u32(arch + ".attention.head_count", 4);
    return w;
}

base::Result<ModelSpec> spec_of(const GgufWriter& w) {
    auto f = parse_gguf_header(w.to_bytes(), "m.gguf");
    if (!f) return f.error();
    std::vector<GgufFile> shards;
    shards.push_back(std::move(f).value());
    return gguf_to_spec(shards);
}

std::string kinds_string(const std::vector<LayerKind>& kinds) {
    std::string s;
    for (auto k : kinds) {
        switch (k) {
            case LayerKind::full_attention:
                s += 'F';
                break;
            case LayerKind::sliding_attention:
                s += 'S';
                break;
            case LayerKind::chunked_attention:
                s += 'C';
                break;
            case LayerKind::recurrent:
                s += 'R';
                break;
            case LayerKind::feed_forward:
                s += 'M';
                break;
        }
    }
    return s;
}

TEST(Gguf, Gemma3PatternFiveSlidingOneFull) {
    GgufWriter w = arch_only("gemma3", 12);
    w.add_u32("gemma3.attention.sliding_window", 1024);
    auto s = spec_of(w);
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_EQ(kinds_string(s->arch.layer_kinds), "SSSSSFSSSSSF");
    EXPECT_EQ(s->arch.sliding_window, 1024u);
    // Without a sliding window, llama.cpp makes every gemma3 layer full attention.
    auto full = spec_of(arch_only("gemma3", 6));
    EXPECT_EQ(kinds_string(full->arch.layer_kinds), "FFFFFF");
    EXPECT_EQ(full->arch.sliding_window, std::nullopt);
}

TEST(Gguf, Gemma2AndCohere2Patterns) {
    auto g2 = spec_of(arch_only("gemma2", 4));
    EXPECT_EQ(kinds_string(g2->arch.layer_kinds), "SFSF");
    EXPECT_EQ(g2->arch.sliding_window, 4096u);  // gemma2 default
    GgufWriter c = arch_only("cohere2", 8);
    c.add_u32("cohere2.attention.sliding_window", 4096);
    EXPECT_EQ(kinds_string(spec_of(c)->arch.layer_kinds), "SSSFSSSF");
    // An explicit scalar pattern overrides the default period.
    GgufWriter c3 = arch_only("cohere2", 6);
    c3.add_u32("cohere2.attention.sliding_window", 4096);
    c3.add_u32("cohere2.attention.sliding_window_pattern", 3);
    EXPECT_EQ(kinds_string(spec_of(c3)->arch.layer_kinds), "SSFSSF");
}

TEST(Gguf, Gemma4PerLayerPatternArray) {
    GgufWriter w = arch_only("gemma4", 4);
    w.add_u32("gemma4.attention.sliding_window", 512);
    w.add("gemma4.attention.sliding_window_pattern", V::bool_array({true, true, true, false}));
    EXPECT_EQ(kinds_string(spec_of(w)->arch.layer_kinds), "SSSF");
    GgufWriter bad = arch_only("gemma4", 4);
    bad.add("gemma4.attention.sliding_window_pattern", V::bool_array({true, false}));
    EXPECT_FALSE(spec_of(bad).ok());
}

TEST(Gguf, Llama4ChunkedAttention) {
    auto s = spec_of(arch_only("llama4", 8));
    EXPECT_EQ(kinds_string(s->arch.layer_kinds), "CCCFCCCF");
    EXPECT_EQ(s->arch.sliding_window, 8192u);
    GgufWriter off = arch_only("llama4", 4);
    off.add_u32("llama4.attention.sliding_window", 0);
    EXPECT_EQ(kinds_string(spec_of(off)->arch.layer_kinds), "FFFF");
}

TEST(Gguf, Qwen3NextRecurrentLayers) {
    GgufWriter w = arch_only("qwen3next", 8);
    w.add_u32("qwen3next.ssm.conv_kernel", 4);
    w.add_u32("qwen3next.ssm.inner_size", 4096);
    w.add_u32("qwen3next.ssm.state_size", 128);
    w.add_u32("qwen3next.ssm.time_step_rank", 32);
    w.add_u32("qwen3next.ssm.group_count", 16);
    w.add_u32("qwen3next.full_attention_interval", 4);
    auto s = spec_of(w);
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_EQ(kinds_string(s->arch.layer_kinds), "RRRFRRRF");
    ASSERT_TRUE(s->arch.ssm);
    EXPECT_EQ(s->arch.ssm->d_conv, 4u);
    EXPECT_EQ(s->arch.ssm->d_inner, 4096u);
    EXPECT_EQ(s->arch.ssm->d_state, 128u);
    EXPECT_EQ(s->arch.ssm->n_group, 16u);
    EXPECT_EQ(s->arch.ssm->n_heads, 32u);
    EXPECT_EQ(s->arch.ssm->head_dim, 128u);
    // An explicit per-layer list wins over the interval.
    GgufWriter l = arch_only("qwen35", 4);
    l.add("qwen35.attention.recurrent_layers", V::bool_array({false, true, true, false}));
    EXPECT_EQ(kinds_string(spec_of(l)->arch.layer_kinds), "FRRF");
}

TEST(Gguf, NemotronHPerLayerHeads) {
    GgufWriter w = arch_only("nemotron_h", 4);
    w.add("nemotron_h.attention.head_count_kv", V::u32_array({0, 0, 8, 0}));
    w.add("nemotron_h.feed_forward_length", V::u32_array({0, 1024, 0, 0}));
    auto s = spec_of(w);
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_EQ(kinds_string(s->arch.layer_kinds), "RMFR");
    EXPECT_EQ(s->arch.n_kv_heads, 8u);
    EXPECT_EQ(s->arch.n_kv_heads_per_layer, (std::vector<std::uint32_t>{0, 0, 8, 0}));
    EXPECT_EQ(s->arch.intermediate_size, 1024u);
    // A per-layer array of the wrong length is refused, as llama.cpp does.
    GgufWriter bad = arch_only("nemotron_h", 4);
    bad.add("nemotron_h.attention.head_count_kv", V::u32_array({0, 8}));
    auto r = spec_of(bad);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("one per layer"), std::string::npos);
}

TEST(Gguf, JambaRecurrentWhereNoKvHeads) {
    GgufWriter w = arch_only("jamba", 4);
    w.add("jamba.attention.head_count_kv", V::u32_array({0, 0, 0, 8}));
    EXPECT_EQ(kinds_string(spec_of(w)->arch.layer_kinds), "RRRF");
    EXPECT_EQ(kinds_string(spec_of(arch_only("mamba2", 3))->arch.layer_kinds), "RRR");
}

TEST(Gguf, DeepSeek2MlaAndMtp) {
    GgufWriter w = arch_only("deepseek2", 4);
    w.add_u32("deepseek2.nextn_predict_layers", 1);
    w.add_u32("deepseek2.attention.head_count_kv", 1);
    w.add_u32("deepseek2.attention.kv_lora_rank", 512);
    w.add_u32("deepseek2.attention.q_lora_rank", 1536);
    w.add_u32("deepseek2.attention.key_length", 576);
    w.add_u32("deepseek2.attention.value_length", 512);
    w.add_u32("deepseek2.attention.key_length_mla", 192);
    w.add_u32("deepseek2.attention.value_length_mla", 128);
    w.add_u32("deepseek2.rope.dimension_count", 64);
    w.add_u32("deepseek2.expert_count", 16);
    w.add_u32("deepseek2.expert_used_count", 4);
    w.add_u32("deepseek2.expert_shared_count", 1);
    w.add_u32("deepseek2.leading_dense_block_count", 1);
    add(w, "blk.0.attn_kv_a_mqa.weight", kBF16, {64, 576});
    add(w, "blk.3.attn_q_a.weight", kBF16, {64, 64});
    add(w, "blk.3.nextn.eh_proj.weight", kBF16, {64, 64});
    add(w, "blk.2.ffn_up_shexp.weight", kBF16, {64, 64});
    auto s = spec_of(w);
    ASSERT_TRUE(s.ok()) << s.error().message;
    const Arch& a = s->arch;
    EXPECT_EQ(a.n_layers, 3u);
    EXPECT_EQ(a.n_mtp_layers, 1u);
    EXPECT_EQ(a.layer_kinds.size(), 3u);
    EXPECT_EQ(a.head_dim, 576u);
    EXPECT_EQ(a.head_dim_v, 512u);
    ASSERT_TRUE(a.mla);
    EXPECT_EQ(a.mla->kv_lora_rank, 512u);
    EXPECT_EQ(a.mla->q_lora_rank, 1536u);
    EXPECT_EQ(a.mla->qk_rope_head_dim, 64u);
    EXPECT_EQ(a.mla->qk_nope_head_dim, 128u);
    EXPECT_EQ(a.mla->v_head_dim, 128u);
    EXPECT_EQ(a.moe->n_shared_experts, 1u);
    EXPECT_EQ(a.moe->n_leading_dense_layers, 1u);
    EXPECT_EQ(s->tensors[0].kind, TensorKind::attention);
    EXPECT_EQ(s->tensors[1].kind, TensorKind::mtp);
    EXPECT_EQ(s->tensors[2].kind, TensorKind::mtp);
    EXPECT_EQ(s->tensors[3].kind, TensorKind::ffn_shared);
    EXPECT_EQ(a.tie_word_embeddings, std::nullopt);  // no token_embd in this file
}

TEST(Gguf, GuessesQuantWithoutFileType) {
    GgufWriter w;
    w.add_string("general.architecture", "llama");
    add(w, "blk.0.attn_q.weight", kQ8_0, {64, 64});
    add(w, "blk.0.attn_norm.weight", kF32, {64});
    auto s = spec_of(w);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->quant->method, "Q8_0");
    EXPECT_EQ(s->quant->bits, 8u);
}

TEST(Gguf, ClassifiesTensorNames) {
    struct C {
        const char* name;
        TensorKind kind;
    };
    const C cases[] = {
        {"token_embd.weight", TensorKind::embedding},
        {"output.weight", TensorKind::output},
        {"output_norm.weight", TensorKind::norm},
        {"blk.0.attn_q.weight", TensorKind::attention},
        {"blk.0.attn_qkv.bias", TensorKind::attention},
        {"blk.1.attn_kv_b.weight", TensorKind::attention},
        {"blk.1.attn_q_norm.weight", TensorKind::norm},
        {"blk.2.ffn_up.weight", TensorKind::ffn},
        {"blk.2.ffn_gate_up_exps.weight", TensorKind::ffn_experts},
        {"blk.2.ffn_down_exps.bias", TensorKind::ffn_experts},
        {"blk.2.ffn_down_shexp.weight", TensorKind::ffn_shared},
        {"blk.2.ffn_gate_inp.weight", TensorKind::router},
        {"blk.2.exp_probs_b.bias", TensorKind::router},
        {"blk.2.ffn_norm.weight", TensorKind::norm},
        {"blk.3.ssm_in.weight", TensorKind::ssm},
        {"blk.3.ssm_conv1d.weight", TensorKind::ssm},
        {"blk.3.ssm_norm.weight", TensorKind::norm},
        {"blk.3.nextn.eh_proj.weight", TensorKind::mtp},
        {"v.blk.0.attn_q.weight", TensorKind::vision},
        {"mm.0.weight", TensorKind::vision},
        {"rope_freqs.weight", TensorKind::other},
        {"blk.x", TensorKind::other},
    };
    for (const C& c : cases) EXPECT_EQ(classify_gguf_tensor(c.name), c.kind) << c.name;
    EXPECT_EQ(classify_gguf_tensor("blk.61.attn_q.weight", 61), TensorKind::mtp);
    EXPECT_EQ(classify_gguf_tensor("blk.60.attn_q.weight", 61), TensorKind::attention);
}

// ------------------------------------------------------------------------------------------
// Split files

void write_shards(const TempDir& dir, std::uint32_t count, bool skip_second = false) {
    for (std::uint32_t i = 0; i < count; ++i) {
        GgufWriter w;
        if (i == 0) {
            w.add_string("general.architecture", "llama");
            w.add_u32("llama.block_count", count);
        }
        w.add("split.no", V::u16(static_cast<std::uint16_t>(i)));
        w.add("split.count", V::u16(static_cast<std::uint16_t>(count)));
        w.add("split.tensors.count", V::i32(static_cast<std::int32_t>(2 * count)));
        std::string b = "blk." + std::to_string(i) + ".";
        add(w, b + "attn_q.weight", kQ8_0, {64, 64});
        add(w, b + "ffn_up.weight", kQ8_0, {64, 128});
        char name[64];
        std::snprintf(name, sizeof name, "big-%05u-of-%05u.gguf", i + 1, count);
        if (skip_second && i == 1) continue;
        ASSERT_TRUE(w.write(dir.path() / name).ok());
    }
}

TEST(Gguf, SplitFilesAreSummed) {
    TempDir dir;
    write_shards(dir, 3);
    for (const char* start : {"big-00001-of-00003.gguf", "big-00003-of-00003.gguf"}) {
        auto spec = load_gguf(dir.path() / start);
        ASSERT_TRUE(spec.ok()) << spec.error().message;
        EXPECT_EQ(spec->name, "big");
        ASSERT_EQ(spec->files.size(), 3u);
        EXPECT_EQ(spec->files[1].filename(), "big-00002-of-00003.gguf");
        EXPECT_EQ(spec->tensors.size(), 6u);
        EXPECT_EQ(spec->tensors[5].file_index, 2u);
        EXPECT_EQ(spec->weights_bytes, 3u * (64 * 64 + 64 * 128) / 32 * 34);
        std::uint64_t on_disk = 0;
        for (const auto& p : spec->files) on_disk += fs::file_size(p);
        EXPECT_EQ(spec->file_bytes, on_disk);
        EXPECT_EQ(spec->arch.architecture, "llama");
        EXPECT_EQ(spec->arch.n_layers, 3u);
    }
}

TEST(Gguf, MissingShardIsAClearError) {
    TempDir dir;
    write_shards(dir, 3, /*skip_second=*/true);
    auto spec = load_gguf(dir.path() / "big-00001-of-00003.gguf");
    ASSERT_FALSE(spec.ok());
    EXPECT_EQ(spec.error().code, base::Errc::not_found);
    EXPECT_NE(spec.error().message.find("missing shard 2 of 3"), std::string::npos)
        << spec.error().message;
    EXPECT_NE(spec.error().message.find("big-00002-of-00003.gguf"), std::string::npos);
}

TEST(Gguf, ShardThatLiesAboutItsIndex) {
    TempDir dir;
    write_shards(dir, 2);
    fs::rename(dir.path() / "big-00002-of-00002.gguf", dir.path() / "tmp.gguf");
    fs::copy_file(dir.path() / "big-00001-of-00002.gguf", dir.path() / "big-00002-of-00002.gguf");
    auto spec = load_gguf(dir.path() / "big-00001-of-00002.gguf");
    ASSERT_FALSE(spec.ok());
    EXPECT_NE(spec.error().message.find("split.no"), std::string::npos) << spec.error().message;
}

TEST(Gguf, SplitCountWithoutPatternName) {
    TempDir dir;
    GgufWriter w;
    w.add("split.no", V::u16(0));
    w.add("split.count", V::u16(2));
    fs::path p = dir.path() / "renamed.gguf";
    ASSERT_TRUE(w.write(p).ok());
    auto spec = load_gguf(p);
    ASSERT_FALSE(spec.ok());
    EXPECT_NE(spec.error().message.find("does not follow"), std::string::npos);
}

// ------------------------------------------------------------------------------------------
// Hostile files

TEST(GgufBad, BadMagic) {
    Raw r;
    r.b = "GGML";
    r.u32(3).u64(0).u64(0);
    expect_bad(r.b, "bad magic 'GGML'");
    expect_bad("GG", "not a GGUF file");
    expect_bad("", "not a GGUF file");
}

TEST(GgufBad, BadVersion) {
    expect_bad(Raw().header(1, 0, 0).b, "version 1 is no longer supported");
    expect_bad(Raw().header(0, 0, 0).b, "unsupported GGUF version 0");
    expect_bad(Raw().header(4, 0, 0).b, "unsupported GGUF version 4");
    expect_bad(Raw().header(0x03000000, 0, 0).b, "byte-swapped");
}

TEST(GgufBad, TruncatedHeader) {
    Raw r;
    r.b = "GGUF";
    r.u32(3).u32(0);
    expect_bad(r.b, "truncated");
    GgufWriter w = arch_only("llama", 2);
    w.add("as", V::str_array({"a", "bc"}));
    w.add("nested", V::array(GgufType::array, {V::u32_array({1, 2}), V::u32_array({3})}));
    add(w, "blk.0.attn_q.weight", kQ8_0, {64, 64});
    add(w, "blk.0.attn_k.weight", kQ8_0, {64, 64});
    const std::string good = w.header_bytes();
    // Every strict prefix of a valid header fails cleanly.
    for (std::size_t n = 0; n < good.size(); ++n) {
        auto res = parse_gguf_header(std::string_view(good).substr(0, n), "m.gguf");
        EXPECT_FALSE(res.ok()) << n;
    }
}

TEST(GgufBad, AbsurdCounts) {
    expect_bad(Raw().header(3, 0, 1ull << 60).zeros(64).b, "absurd metadata count");
    expect_bad(Raw().header(3, 1ull << 40, 0).zeros(64).b, "absurd tensor count");
    expect_bad(Raw().header(3, UINT64_MAX, UINT64_MAX).b, "absurd");
    // An array claiming more elements than the file holds.
    Raw a;
    a.header(3, 0, 1).str("k").u32(9).u32(4).u64(1ull << 61).zeros(16);
    expect_bad(a.b, "exceeds the remaining");
    Raw s;
    s.header(3, 0, 1).str("k").u32(9).u32(8).u64(1ull << 40).zeros(64);
    expect_bad(s.b, "exceeds the remaining");
}

TEST(GgufBad, TruncatedStrings) {
    Raw r;
    r.header(3, 0, 1).u64(1000).b += "short";
    r.zeros(20);
    expect_bad(r.b, "string length 1000 exceeds the remaining");
    Raw v;
    v.header(3, 0, 1).str("key").u32(8).u64(UINT64_MAX).zeros(8);
    expect_bad(v.b, "exceeds the remaining");
    Raw big_key;
    big_key.header(3, 0, 1).u64(70000).zeros(70000 + 8);
    expect_bad(big_key.b, "exceeds the limit");
    expect_bad(Raw().header(3, 0, 1).str("").u32(0).zeros(8).b, "is empty");
}

TEST(GgufBad, UnknownValueTypes) {
    expect_bad(Raw().header(3, 0, 1).str("k").u32(13).zeros(8).b, "unknown value type 13");
    expect_bad(Raw().header(3, 0, 1).str("k").u32(9).u32(77).u64(0).b,
               "unknown array element type 77");
}

TEST(GgufBad, NestedArrayDepth) {
    Raw r;
    r.header(3, 0, 1).str("deep").u32(9);
    for (int i = 0; i < 20; ++i) r.u32(9).u64(1);
    r.u32(4).u64(0);
    expect_bad(r.b, "nested deeper than 8");
    // Depth within the cap is fine.
    Raw ok;
    ok.header(3, 0, 1).str("deep").u32(9);
    for (int i = 0; i < 3; ++i) ok.u32(9).u64(1);
    ok.u32(4).u64(1).u32(5);
    EXPECT_TRUE(parse_gguf_header(ok.b, "m.gguf").ok());
}

TEST(GgufBad, DuplicateKeys) {
    Raw r;
    r.header(3, 0, 2).str("a").u32(4).u32(1).str("a").u32(4).u32(2);
    expect_bad(r.b, "duplicate metadata key 'a'");
}

TEST(GgufBad, Alignment) {
    Raw r;
    r.header(3, 0, 1).str("general.alignment").u32(4).u32(48);
    expect_bad(r.b, "not a power of two");
    Raw z;
    z.header(3, 0, 1).str("general.alignment").u32(4).u32(0);
    expect_bad(z.b, "not a power of two");
    Raw t;
    t.header(3, 0, 1).str("general.alignment").u32(10).u64(32);
    expect_bad(t.b, "must be uint32");
}

TEST(GgufBad, TensorInfos) {
    expect_bad(one_tensor("t", {32, 2, 1, 1, 1}, kF32, 0, 1024), "5 dimensions, more than 4");
    expect_bad(one_tensor("t", {1ull << 40, 1ull << 40}, kF32, 0, 64), "element count overflows");
    expect_bad(one_tensor("t", {1ull << 63}, kF32, 0, 64), "is negative");
    expect_bad(one_tensor("t", {32}, 99, 0, 64), "unknown ggml type id 99");
    expect_bad(one_tensor("t", {32}, 31, 0, 64), "was removed");
    expect_bad(one_tensor("t", {100, 256}, kQ4_K, 0, 1 << 16), "block size 256");
    expect_bad(one_tensor(std::string(64, 'n'), {32}, kF32, 0, 128), "name longer than 63");
    // n_dims read but dims missing: truncated.
    expect_bad(Raw().header(3, 1, 0).str("t").u32(3).u64(8).zeros(8).b,
               "truncated: tensor 't' dims");
}

TEST(GgufBad, TensorOffsets) {
    EXPECT_TRUE(parse_gguf_header(one_tensor("t", {8}, kF32, 0, 32), "m.gguf").ok());
    expect_bad(one_tensor("blk.3.attn_q.weight", {8}, kF32, 8, 64),
               "tensor 'blk.3.attn_q.weight': offset 8 is not a multiple of the alignment 32");
    expect_bad(one_tensor("blk.3.attn_q.weight", {8}, kF32, 1024, 32),
               "tensor 'blk.3.attn_q.weight': offset past end of file");
    expect_bad(one_tensor("t", {64}, kF32, 0, 32), "extends past end of file");
    // offset + size overflows 64 bits: offset aligned near 2^64.
    expect_bad(one_tensor("t", {1ull << 40}, kF32, 0xFFFFFFFFFFFFFFE0ull, 64), "past end of file");
    expect_bad(one_tensor("t", {1ull << 61}, kF32, 0, 64), "extends past end of file");
    expect_bad(one_tensor("t", {1ull << 62}, kF32, 0, 64), "overflows");
}

TEST(GgufBad, DuplicateTensorNames) {
    Raw r;
    r.header(3, 2, 0);
    r.str("t").u32(1).u64(8).u32(kF32).u64(0);
    r.str("t").u32(1).u64(8).u32(kF32).u64(32);
    r.pad().zeros(64);
    expect_bad(r.b, "duplicate tensor 't'");
}

TEST(GgufBad, UnprintableNamesAreEscaped) {
    auto r = parse_gguf_header(one_tensor(std::string("a\x01\xff", 3), {8}, 99, 0, 64), "m.gguf");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("a\\x01\\xff"), std::string::npos) << r.error().message;
}

TEST(GgufBad, FileErrorsNameThePath) {
    TempDir dir;
    auto r = read_gguf_header(dir.path() / "absent.gguf");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, base::Errc::not_found);
    fs::path p = dir.write("bad.gguf", "GGUF\x01\0\0\0");
    auto v1 = read_gguf_header(p);
    ASSERT_FALSE(v1.ok());
    EXPECT_EQ(v1.error().message.rfind("bad.gguf: ", 0), 0u) << v1.error().message;
}

TEST(GgufBad, AbsurdBlockCount) {
    GgufWriter w = arch_only("llama", 1);
    w.add_u32("llama.block_count", 4000000000u);
    auto s = spec_of(w);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().message.find("block_count"), std::string::npos);
    GgufWriter n = arch_only("llama", 2);
    n.add_u32("llama.nextn_predict_layers", 3);
    EXPECT_FALSE(spec_of(n).ok());
}

// Deterministic mutations of a valid file: the reader must never crash or hang.
TEST(GgufBad, MutatedFilesNeverCrash) {
    GgufWriter w = arch_only("deepseek2", 4);
    w.add("deepseek2.attention.head_count_kv", V::u32_array({1, 1, 0, 1}));
    w.add_u32("deepseek2.attention.kv_lora_rank", 512);
    w.add_u32("deepseek2.expert_count", 4);
    w.add("tokenizer.ggml.tokens", V::str_array({"a", "b", "c"}));
    for (int l = 0; l < 4; ++l)
        add(w, "blk." + std::to_string(l) + ".ffn_up_exps.weight", kQ8_0, {64, 8, 4});
    w.add("nested", V::array(GgufType::array, {V::u32_array({1, 2}), V::u32_array({3})}));
    const std::string good = w.header_bytes();
    std::uint64_t seed = 0x9E3779B97F4A7C15ull;
    auto next = [&] {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        return seed;
    };
    int ok = 0;
    for (int i = 0; i < 3000; ++i) {
        std::string m = good;
        int flips = 1 + static_cast<int>(next() % 4);
        for (int j = 0; j < flips; ++j) {
            m[next() % m.size()] = static_cast<char>(next() & 0xff);
        }
        auto r = parse_gguf_header(m, "m.gguf");
        if (r.ok()) {
            ++ok;
            std::vector<GgufFile> shards;
            shards.push_back(std::move(r).value());
            (void)gguf_to_spec(shards);
        }
    }
    SUCCEED() << ok << " mutations still parsed";
}

TEST(GgufWriter, RejectsBadTensors) {
    GgufWriter w;
    EXPECT_FALSE(w.add_tensor("a", 31, {32}).ok());
    EXPECT_FALSE(w.add_tensor("a", 999, {32}).ok());
    EXPECT_FALSE(w.add_tensor("a", kQ4_K, {100}).ok());
    EXPECT_FALSE(w.add_tensor("a", kF32, {1, 1, 1, 1, 1}).ok());
    EXPECT_TRUE(w.add_tensor("a", kF32, {1}).ok());
    EXPECT_FALSE(w.add_tensor("a", kF32, {1}).ok());
}

TEST(GgufWriter, FillCallbackWritesData) {
    GgufWriter w;
    ASSERT_TRUE(w.add_tensor("a", kF32, {3}, [](std::uint64_t off, char* dst, std::size_t n) {
                     for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<char>(off + i + 1);
                 }).ok());
    ASSERT_TRUE(w.add_tensor("b", kF16, {2}).ok());
    const std::string bytes = w.to_bytes();
    auto f = parse_ok(bytes);
    ASSERT_EQ(f.tensors.size(), 2u);
    EXPECT_EQ(bytes.size(), f.data_offset + 32 + 32);
    for (int i = 0; i < 12; ++i) {
        EXPECT_EQ(bytes[f.data_offset + static_cast<std::size_t>(i)], static_cast<char>(i + 1));
    }
    EXPECT_EQ(bytes[f.data_offset + 12], 0);  // padding
}

// Regenerates fuzz/corpus/gguf (run with --gtest_also_run_disabled_tests
// --gtest_filter='*WriteFuzzSeeds'); each seed stays well under 64 KiB.
TEST(GgufSeeds, DISABLED_WriteFuzzSeeds) {
    const char* src = std::getenv("SPARKCTL_SOURCE_DIR");
    ASSERT_NE(src, nullptr);
    fs::path dir = fs::path(src) / "fuzz" / "corpus" / "gguf";
    fs::create_directories(dir);
    auto save = [&](const std::string& name, const GgufWriter& w) {
        std::string bytes = w.to_bytes();
        ASSERT_LT(bytes.size(), 64u * 1024);
        ASSERT_TRUE(parse_gguf_header(bytes, name).ok());
        std::ofstream(dir / name, std::ios::binary)
            .write(bytes.data(), static_cast<long>(bytes.size()));
    };
    {
        GgufWriter w = arch_only("llama", 2);
        w.add_u32("general.file_type", 7);
        w.add_u32("llama.attention.head_count_kv", 2);
        w.add_f32("llama.rope.freq_base", 10000.0f);
        w.add("tokenizer.ggml.tokens", V::str_array({"<s>", "</s>", "a", "b"}));
        add(w, "token_embd.weight", kQ8_0, {64, 4});
        add(w, "blk.0.attn_q.weight", kQ8_0, {64, 64});
        add(w, "blk.1.ffn_norm.weight", kF32, {64});
        save("llama.gguf", w);
    }
    {
        GgufWriter w = arch_only("gpt-oss", 2);
        w.add_u32("general.file_type", 38);
        w.add_u32("gpt-oss.attention.sliding_window", 128);
        w.add_u32("gpt-oss.expert_count", 4);
        w.add_u32("gpt-oss.expert_used_count", 2);
        add(w, "blk.0.ffn_up_exps.weight", kMXFP4, {64, 8, 4});
        add(w, "blk.0.ffn_gate_inp.weight", kF32, {64, 4});
        save("gpt_oss.gguf", w);
    }
    {
        GgufWriter w = arch_only("nemotron_h", 4);
        w.add("nemotron_h.attention.head_count_kv", V::u32_array({0, 0, 8, 0}));
        w.add("nemotron_h.feed_forward_length", V::u32_array({0, 1024, 0, 0}));
        w.add_u32("nemotron_h.ssm.conv_kernel", 4);
        w.add_u32("nemotron_h.ssm.inner_size", 256);
        add(w, "blk.0.ssm_in.weight", kBF16, {64, 8});
        save("nemotron_h.gguf", w);
    }
    {
        GgufWriter w = arch_only("deepseek2", 3);
        w.add_u32("deepseek2.nextn_predict_layers", 1);
        w.add_u32("deepseek2.attention.kv_lora_rank", 512);
        w.add_u32("deepseek2.rope.dimension_count", 64);
        w.add_u32("general.alignment", 64);
        add(w, "blk.2.nextn.eh_proj.weight", kQ4_K, {256, 2});
        save("deepseek2.gguf", w);
    }
    {
        GgufWriter w(2);
        w.add("u8", V::u8(1));
        w.add("i16", V::i16(-2));
        w.add("u64", V::u64(3));
        w.add("f64", V::f64(0.5));
        w.add("b", V::boolean(true));
        w.add("nested", V::array(GgufType::array, {V::u32_array({1, 2}), V::u32_array({3})}));
        w.add("split.no", V::u16(0));
        w.add("split.count", V::u16(1));
        add(w, "t", kF16, {3, 2});
        save("types_v2.gguf", w);
    }
}

}  // namespace
}  // namespace sparkctl::model
