// sparkctl dev make-gguf: random-weight GGUF models with a minimal valid tokenizer, in the tensor
// layout llama.cpp expects (LC:src/models/<arch>.cpp load_arch_tensors), for checking the memory
// model against a real llama-server (docs/dev/fit.md "Validation"); sparkctl dev calibrate and
// dev validate: the performance model against published measurements
// (docs/dev/performance-model.md).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "base/exit_status.h"
#include "base/file.h"
#include "cli/command.h"
#include "fit/calibration.h"
#include "fit/weights.h"
#include "model/ggml_types.h"
#include "model/gguf_writer.h"

namespace sparkctl::cli {

namespace {

struct MakeArgs {
    std::string arch;
    std::string out;
    std::uint32_t layers = 4;
    std::uint64_t hidden = 1024;
    std::uint32_t heads = 16;
    std::uint32_t kv_heads = 4;
    std::uint64_t ff = 2816;
    std::uint32_t vocab = 32000;
    std::uint32_t experts = 8;
    std::uint32_t experts_used = 2;
    std::uint64_t context = 8192;
    std::uint32_t window = 512;
    std::string type = "F16";
};

constexpr const char* kArchs = "llama, qwen3moe, gemma3, gpt-oss, deepseek2";

// The model's architecture in sparkctl's terms; the same inventory the estimator prices.
model::Arch arch_for(const MakeArgs& a) {
    model::Arch r;
    r.family = a.arch;
    r.n_layers = a.layers;
    r.hidden_size = a.hidden;
    r.n_heads = a.heads;
    r.n_kv_heads = a.kv_heads;
    r.head_dim = static_cast<std::uint32_t>(a.hidden / a.heads);
    r.intermediate_size = a.ff;
    r.vocab_size = a.vocab;
    r.context_length = a.context;
    r.tie_word_embeddings = a.arch == "gemma3";
    if (a.arch == "gemma3" || a.arch == "gpt-oss") {
        r.sliding_window = a.window;
        const std::uint32_t period = a.arch == "gemma3" ? 6 : 2;
        for (std::uint32_t i = 0; i < a.layers; ++i) {
            r.layer_kinds.push_back(i % period < period - 1 ? model::LayerKind::sliding_attention
                                                            : model::LayerKind::full_attention);
        }
    }
    if (a.arch == "qwen3moe" || a.arch == "gpt-oss" || a.arch == "deepseek2") {
        model::Moe m;
        m.n_experts = a.experts;
        m.n_experts_per_token = a.experts_used;
        m.expert_intermediate_size = a.ff;
        if (a.arch == "deepseek2") {
            m.n_shared_experts = 1;
            m.n_leading_dense_layers = 1;
        }
        r.moe = m;
    }
    if (a.arch == "deepseek2") {
        model::Mla mla;
        mla.kv_lora_rank = 512;
        mla.q_lora_rank = 512;
        mla.qk_rope_head_dim = 64;
        mla.qk_nope_head_dim = 128;
        mla.v_head_dim = 128;
        r.mla = mla;
        r.n_kv_heads = r.n_heads;
        r.head_dim = 192;
    }
    return r;
}

std::vector<std::string> tokens(std::uint32_t n) {
    std::vector<std::string> t = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < 256 && t.size() < n; ++i) t.push_back(fmt::format("<0x{:02X}>", i));
    const char* letters = "abcdefghijklmnopqrstuvwxyz";
    for (int i = 0; i < 26 && t.size() < n; ++i) {
        t.push_back(std::string("\xe2\x96\x81") + letters[i]);  // U+2581 + letter
    }
    while (t.size() < n) t.push_back(fmt::format("\xe2\x96\x81t{}", t.size()));
    return t;
}

base::Result<void> make_gguf(const MakeArgs& a) {
    const std::string name = a.arch == "gpt-oss" ? "gpt-oss" : a.arch;
    if (a.arch != "llama" && a.arch != "qwen3moe" && a.arch != "gemma3" && a.arch != "gpt-oss" &&
        a.arch != "deepseek2") {
        return base::make_error(base::Errc::bad_input,
                                "--arch: '" + a.arch + "' is not one of " + kArchs);
    }
    if (a.heads == 0 || a.hidden % a.heads != 0 || a.kv_heads == 0 || a.heads % a.kv_heads) {
        return base::make_error(base::Errc::bad_input,
                                "--heads must divide --hidden and be a multiple of --kv-heads");
    }
    const model::GgmlType* wt = model::ggml_type_by_name(a.type);
    if (!wt || (a.type != "F16" && a.type != "F32" && a.type != "BF16" && a.type != "Q8_0")) {
        return base::make_error(base::Errc::bad_input, "--type: one of F16, BF16, F32, Q8_0");
    }
    const model::Arch arch = arch_for(a);
    auto inv = fit::synthesize_tensors(arch);
    if (!inv) return inv.error();

    model::GgufWriter w;
    const std::string p = name + ".";
    w.add_string("general.architecture", name);
    w.add_string("general.name", "sparkctl-random-" + a.arch);
    w.add_u32("general.file_type", a.type == "F32"    ? 0
                                   : a.type == "F16"  ? 1
                                   : a.type == "BF16" ? 32
                                                      : 7);
    w.add_u32(p + "context_length", static_cast<std::uint32_t>(a.context));
    w.add_u32(p + "embedding_length", static_cast<std::uint32_t>(a.hidden));
    w.add_u32(p + "block_count", a.layers);
    w.add_u32(p + "feed_forward_length", static_cast<std::uint32_t>(a.ff));
    w.add_u32(p + "attention.head_count", a.heads);
    w.add_u32(p + "attention.head_count_kv", a.arch == "deepseek2" ? 1 : a.kv_heads);
    w.add_f32(p + "attention.layer_norm_rms_epsilon", 1e-5f);
    w.add_f32(p + "rope.freq_base", 10000.0f);
    w.add_u32(p + "vocab_size", a.vocab);
    const std::uint32_t hd = static_cast<std::uint32_t>(a.hidden / a.heads);
    if (a.arch != "deepseek2") {
        w.add_u32(p + "attention.key_length", hd);
        w.add_u32(p + "attention.value_length", hd);
        w.add_u32(p + "rope.dimension_count", hd);
    }
    if (arch.sliding_window) w.add_u32(p + "attention.sliding_window", a.window);
    if (arch.moe) {
        w.add_u32(p + "expert_count", a.experts);
        w.add_u32(p + "expert_used_count", a.experts_used);
        w.add_u32(p + "expert_feed_forward_length", static_cast<std::uint32_t>(a.ff));
    }
    if (a.arch == "deepseek2") {
        w.add_u32(p + "leading_dense_block_count", 1);
        w.add_u32(p + "expert_shared_count", 1);
        w.add_f32(p + "expert_weights_scale", 1.0f);
        w.add_bool(p + "expert_weights_norm", true);
        w.add_u32(p + "expert_gating_func", 2);  // sigmoid
        w.add_u32(p + "attention.q_lora_rank", 512);
        w.add_u32(p + "attention.kv_lora_rank", 512);
        w.add_u32(p + "attention.key_length", 576);
        w.add_u32(p + "attention.value_length", 512);
        w.add_u32(p + "attention.key_length_mla", 192);
        w.add_u32(p + "attention.value_length_mla", 128);
        w.add_u32(p + "rope.dimension_count", 64);
    }
    // A minimal SentencePiece ("llama") vocabulary: control, byte and normal tokens.
    const std::vector<std::string> toks = tokens(a.vocab);
    std::vector<float> scores(toks.size());
    std::vector<std::int32_t> types(toks.size(), 1);
    types[0] = 2;
    types[1] = types[2] = 3;
    for (std::size_t i = 3; i < 259 && i < toks.size(); ++i) types[i] = 6;
    for (std::size_t i = 0; i < toks.size(); ++i) scores[i] = -static_cast<float>(i);
    w.add_string("tokenizer.ggml.model", "llama");
    w.add_string("tokenizer.ggml.pre", "default");
    w.add("tokenizer.ggml.tokens", model::GgufWriterValue::str_array(toks));
    w.add("tokenizer.ggml.scores", model::GgufWriterValue::f32_array(scores));
    w.add("tokenizer.ggml.token_type", model::GgufWriterValue::i32_array(types));
    w.add_u32("tokenizer.ggml.unknown_token_id", 0);
    w.add_u32("tokenizer.ggml.bos_token_id", 1);
    w.add_u32("tokenizer.ggml.eos_token_id", 2);

    // Tensors: the estimator's inventory, adapted to each arch's loader.
    std::vector<model::Tensor> ts;
    for (model::Tensor t : *inv) {
        if (a.arch == "gpt-oss" && t.name.find("ffn_norm") != std::string::npos) {
            t.name.replace(t.name.find("ffn_norm"), 8, "post_attention_norm");
        }
        if (a.arch == "deepseek2" && t.name.find("attn_kv_b") != std::string::npos) {
            const std::string blk = t.name.substr(0, t.name.find("attn_kv_b"));
            model::Tensor k = t;
            k.name = blk + "attn_k_b.weight";
            k.shape = {128, 512, a.heads};
            model::Tensor v = t;
            v.name = blk + "attn_v_b.weight";
            v.shape = {512, 128, a.heads};
            ts.push_back(k);
            ts.push_back(v);
            continue;
        }
        if (a.arch == "deepseek2" && t.name.find("exp_probs_b") != std::string::npos) {
            t.name = t.name.substr(0, t.name.find("exp_probs_b")) + "exp_probs_b.bias";
        }
        ts.push_back(t);
        if (a.arch == "gemma3" && t.name.find("ffn_norm") != std::string::npos) {
            const std::string blk = t.name.substr(0, t.name.find("ffn_norm"));
            model::Tensor pa = t;
            pa.name = blk + "post_attention_norm.weight";
            ts.push_back(pa);
            pa.name = blk + "post_ffw_norm.weight";
            ts.push_back(pa);
        }
    }
    for (const model::Tensor& t : ts) {
        // 1-D tensors and biases are F32 as converters write them (gpt-oss's 2-D expert biases
        // feed ggml_add_id, which the CPU backend only implements for F32).
        const bool bias = t.name.size() >= 5 && t.name.compare(t.name.size() - 5, 5, ".bias") == 0;
        const bool small = t.shape.size() == 1 || bias;
        const model::GgmlType* tt = small ? model::ggml_type_by_name("F32") : wt;
        const std::uint32_t type_id = tt->id;
        const std::string tname = t.name;
        // Deterministic small random values; quantized types get random bytes with a zero
        // scale pattern avoided by filling whole blocks uniformly.
        auto fill = [type_id, tname](std::uint64_t offset, char* dst, std::size_t n) {
            std::mt19937 gen(static_cast<std::uint32_t>(std::hash<std::string>{}(tname) ^ offset));
            if (type_id == 0) {  // F32: values in [-0.02, 0.02]
                std::uniform_real_distribution<float> d(-0.02f, 0.02f);
                for (std::size_t i = 0; i + 4 <= n; i += 4) {
                    const float v = d(gen);
                    std::memcpy(dst + i, &v, 4);
                }
                for (std::size_t i = n - n % 4; i < n; ++i) dst[i] = 0;
            } else {
                // F16/BF16/Q8_0: random low-magnitude 16-bit patterns (exponent bits kept small).
                std::uniform_int_distribution<int> d(0, 255);
                for (std::size_t i = 0; i < n; ++i) {
                    dst[i] = static_cast<char>((i % 2 == 1) ? (d(gen) & 0x9f) : d(gen));
                }
            }
        };
        auto r = w.add_tensor(t.name, type_id, t.shape, fill);
        if (!r) return r.error();
    }
    auto r = w.write(a.out);
    if (!r) return r.error();
    return {};
}

struct CalibrateArgs {
    std::string file;
    std::string out;
    std::string constants;
};

constexpr std::uint64_t kMaxTableBytes = 16u << 20;

base::Result<std::vector<fit::Measurement>> load_measurements(const std::string& file) {
    auto text = base::read_file(file, kMaxTableBytes);
    if (!text) return text.error();
    return fit::parse_measurements(*text, file);
}

// Per-row predictions against measurements and the MdAPE summary (overall and per engine x
// quantization family), the rows above their physical bound and the constants fitted at a
// bound of their range, as a table or JSON.
int report(Context& c, const std::vector<fit::RowResult>& results, const fit::ConstantsTable& table,
           const std::string& header) {
    const std::vector<fit::ErrorCell> by_family = fit::errors_by_family(results);
    std::vector<std::string> at_bound;
    for (const fit::EngineConstants& ec : table.engines)
        for (const std::string& name : ec.at_bound)
            at_bound.push_back(std::string(engines::to_string(ec.engine)) + "/" + name);
    std::size_t above_ceiling = 0;
    for (const fit::RowResult& r : results)
        if (r.skipped.empty() && r.row->value > r.ceiling) ++above_ceiling;
    struct Cell {
        const char* split;
        const char* metric;
    };
    const Cell cells[] = {
        {"fit", "decode"}, {"fit", "prefill"}, {"holdout", "decode"}, {"holdout", "prefill"}};
    if (c.out.json) {
        nlohmann::json rows = nlohmann::json::array();
        for (const fit::RowResult& r : results) {
            const fit::Measurement& m = *r.row;
            rows.push_back({{"line", m.line},
                            {"engine", engines::to_string(m.engine)},
                            {"model", m.model},
                            {"quant", m.quant},
                            {"test", m.test},
                            {"depth", m.depth},
                            {"concurrency", m.concurrency},
                            {"nodes", m.nodes},
                            {"metric", m.metric},
                            {"split", m.split},
                            {"measured_tokens_per_s", m.value},
                            {"predicted_tokens_per_s", r.predicted},
                            {"error", r.error},
                            {"constants", r.constants_source},
                            {"skipped", r.skipped},
                            {"family", r.family},
                            {"weight_layout", fit::to_string(m.weight_layout)},
                            {"ceiling_tokens_per_s", r.skipped.empty() ? r.ceiling : 0.0}});
        }
        nlohmann::json families = nlohmann::json::array();
        for (const fit::ErrorCell& e : by_family) {
            families.push_back({{"engine", engines::to_string(e.engine)},
                                {"family", e.family},
                                {"split", e.split},
                                {"metric", e.metric},
                                {"rows", e.rows},
                                {"mdape", e.mdape}});
        }
        nlohmann::json summary = nlohmann::json::object();
        for (const Cell& cell : cells) {
            std::size_t n = 0;
            const double e = fit::mdape(results, cell.split, cell.metric, &n);
            summary[std::string(cell.split) + "_" + cell.metric] = {{"rows", n}, {"mdape", e}};
        }
        c.out.emit_json({{"rows", rows},
                         {"summary", summary},
                         {"by_family", families},
                         {"rows_above_ceiling", above_ceiling},
                         {"constants_at_bound", at_bound}});
        return base::kExitOk;
    }
    std::string out = header;
    out += fmt::format(
        "{:>5} {:<9} {:<20} {:<7} {:<18} {:>6} {:>4} {:>2} {:<7} {:<7} {:>9} "
        "{:>9} {:>7}\n",
        "line", "engine", "model", "quant", "test", "depth", "conc", "tp", "metric", "split",
        "measured", "predicted", "error");
    for (const fit::RowResult& r : results) {
        const fit::Measurement& m = *r.row;
        if (!r.skipped.empty()) {
            out += fmt::format("{:>5} {:<9} {:<20} skipped: {}\n", m.line,
                               engines::to_string(m.engine), m.model.substr(0, 20), r.skipped);
            continue;
        }
        out += fmt::format(
            "{:>5} {:<9} {:<20} {:<7} {:<18} {:>6} {:>4} {:>2} {:<7} {:<7} "
            "{:>9.1f} {:>9.1f} {:>+6.1f}%\n",
            m.line, engines::to_string(m.engine), m.model.substr(0, 20), m.quant.substr(0, 7),
            m.test.substr(0, 18), m.depth, m.concurrency, m.nodes, m.metric, m.split, m.value,
            r.predicted, 100.0 * r.error);
    }
    out += "\nmedian absolute percentage error\n";
    for (const Cell& cell : cells) {
        std::size_t n = 0;
        const double e = fit::mdape(results, cell.split, cell.metric, &n);
        out += fmt::format("  {:<7} {:<7} {:>5.1f}%  ({} rows)\n", cell.split, cell.metric,
                           100.0 * e, n);
    }
    out += "\nby engine x quantization family (holdout first)\n";
    for (const char* split : {"holdout", "fit"}) {
        for (const fit::ErrorCell& e : by_family) {
            if (e.split != split) continue;
            out += fmt::format("  {:<7} {:<9} {:<12} {:<7} {:>5.1f}%  ({} rows)\n", e.split,
                               engines::to_string(e.engine), e.family, e.metric, 100.0 * e.mdape,
                               e.rows);
        }
    }
    out += fmt::format("\nrows above their physical bound: {}\n", above_ceiling);
    out += "constants fitted at a bound of their range (limits, not measurements): ";
    out += at_bound.empty() ? std::string("none") : fmt::format("{}", fmt::join(at_bound, ", "));
    out += "\n";
    c.out.emit_text(out);
    return base::kExitOk;
}

}  // namespace

Action setup_dev(CLI::App& app, Context&) {
    app.require_subcommand(1);
    auto a = std::make_shared<MakeArgs>();
    CLI::App* mk = app.add_subcommand("make-gguf", "Write a random-weight GGUF model for testing");
    mk->add_option("--arch", a->arch, kArchs)->required();
    mk->add_option("--out", a->out, "Output .gguf file")->required();
    mk->add_option("--layers", a->layers, "Blocks (default 4)");
    mk->add_option("--hidden", a->hidden, "Embedding length (default 1024)");
    mk->add_option("--heads", a->heads, "Attention heads (default 16)");
    mk->add_option("--kv-heads", a->kv_heads, "KV heads (default 4)");
    mk->add_option("--ff", a->ff, "FFN (and expert FFN) width (default 2816)");
    mk->add_option("--vocab", a->vocab, "Vocabulary size (default 32000, at least 300)")
        ->check(CLI::Range(300u, 1u << 20));
    mk->add_option("--experts", a->experts, "Experts for MoE archs (default 8)");
    mk->add_option("--experts-used", a->experts_used, "Experts per token (default 2)");
    mk->add_option("--context", a->context, "Trained context (default 8192)");
    mk->add_option("--window", a->window, "Sliding window for gemma3/gpt-oss (default 512)");
    mk->add_option("--type", a->type, "Weight type: F16 (default), BF16, F32, Q8_0");

    auto ca = std::make_shared<CalibrateArgs>();
    CLI::App* cal = app.add_subcommand(
        "calibrate", "Fit the performance model's constants to published measurements");
    cal->add_option("FILE", ca->file, "Measurements (data/perf-measurements.tsv)")->required();
    cal->add_option("--out", ca->out, "Write the constants here (data/perf-constants.toml)");
    CLI::App* val = app.add_subcommand(
        "validate", "Predicted against measured speed per row, and the error by split");
    val->add_option("FILE", ca->file, "Measurements (data/perf-measurements.tsv)")->required();
    val->add_option("--constants", ca->constants,
                    "Constants file (default: the one built into sparkctl)");

    return [a, mk, ca, cal, val](Context& c) -> int {
        if (cal->parsed()) {
            auto rows = load_measurements(ca->file);
            if (!rows) return c.out.fail(rows.error());
            std::string cmd = "sparkctl dev calibrate " + ca->file;
            if (!ca->out.empty()) cmd += " --out " + ca->out;
            auto table = fit::calibrate(*rows, cmd);
            if (!table) return c.out.fail(table.error());
            if (!ca->out.empty()) {
                auto w = base::write_file_atomic(ca->out, fit::constants_to_toml(*table));
                if (!w) return c.out.fail(w.error());
            }
            auto results = fit::evaluate(*rows, *table);
            if (!results) return c.out.fail(results.error());
            std::string header = ca->out.empty() ? "" : "wrote " + ca->out + "\n";
            header += fit::constants_to_toml(*table) + "\n";
            return report(c, *results, *table, header);
        }
        if (val->parsed()) {
            auto rows = load_measurements(ca->file);
            if (!rows) return c.out.fail(rows.error());
            fit::ConstantsTable table = fit::builtin_constants();
            if (!ca->constants.empty()) {
                auto text = base::read_file(ca->constants, kMaxTableBytes);
                if (!text) return c.out.fail(text.error());
                auto t = fit::parse_constants_toml(*text, ca->constants);
                if (!t) return c.out.fail(t.error());
                table = *t;
            }
            auto results = fit::evaluate(*rows, table);
            if (!results) return c.out.fail(results.error());
            return report(c, *results, table, "");
        }
        if (!mk->parsed()) return c.out.fail(base::kExitBadInput, "dev: no subcommand given");
        auto r = make_gguf(*a);
        if (!r) return c.out.fail(r.error());
        if (c.out.json) {
            c.out.emit_json({{"path", a->out}, {"arch", a->arch}});
        } else {
            c.out.emit_text("wrote " + a->out + "\n");
        }
        return base::kExitOk;
    };
}

}  // namespace sparkctl::cli
