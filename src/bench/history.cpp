#include "bench/history.h"

#include <cctype>
#include <chrono>
#include <ctime>
#include <regex>
#include <vector>

#include "store/database.h"

namespace sparkctl::bench {

namespace {

using base::Errc;
using base::Result;
using nlohmann::json;

std::optional<std::string> text_field(const json& doc, const char* key) {
    auto it = doc.find(key);
    if (it == doc.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
}

std::int64_t flag_field(const json& doc, const char* key) {
    auto it = doc.find(key);
    return it != doc.end() && it->is_boolean() && it->get<bool>() ? 1 : 0;
}

const char* kColumns = "SELECT id, created_at, doc FROM bench_runs";

Result<StoredRun> read_row(store::Database& db, store::Statement& st) {
    StoredRun r{st.column_int64(0), st.column_text(1),
                json::parse(st.column_text(2), nullptr, false)};
    if (!r.doc.is_object()) {
        return base::make_error(Errc::io, db.path() + ": bench run " + std::to_string(r.id) +
                                              ": the stored document is not a JSON object");
    }
    return r;
}

}  // namespace

std::string utc_now_iso8601() {
    const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

Result<std::int64_t> save_run(store::Database& db, json doc) {
    if (!doc.is_object() || !text_field(doc, "endpoint") || !text_field(doc, "model")) {
        return base::make_error(Errc::bad_input,
                                "bench run record: not an object with \"endpoint\" and \"model\"");
    }
    std::int64_t id = 0;
    const std::string created_at = utc_now_iso8601();
    auto r = db.transaction([&]() -> Result<void> {
        auto st = db.prepare(
            "INSERT INTO bench_runs (created_at, endpoint, model, engine, engine_version, quant, "
            "simulated, valid, invalid_reason, prefix_cache_study, doc) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, '{}')");
        if (!st) return st.error();
        SPARKCTL_TRY(st->bind(1, std::string_view(created_at)));
        SPARKCTL_TRY(st->bind(2, std::string_view(doc["endpoint"].get_ref<const std::string&>())));
        SPARKCTL_TRY(st->bind(3, std::string_view(doc["model"].get_ref<const std::string&>())));
        SPARKCTL_TRY(st->bind(4, text_field(doc, "engine")));
        SPARKCTL_TRY(st->bind(5, text_field(doc, "engine_version")));
        SPARKCTL_TRY(st->bind(6, text_field(doc, "quant")));
        SPARKCTL_TRY(st->bind(7, flag_field(doc, "simulated")));
        SPARKCTL_TRY(st->bind(8, flag_field(doc, "valid")));
        SPARKCTL_TRY(st->bind(9, text_field(doc, "invalid_reason")));
        SPARKCTL_TRY(st->bind(10, flag_field(doc, "prefix_cache_study")));
        SPARKCTL_TRY(st->run());
        id = db.last_insert_rowid();
        // The document carries its own id, so an export names the run it came from.
        doc["run_id"] = id;
        auto up = db.prepare("UPDATE bench_runs SET doc = ?1 WHERE id = ?2");
        if (!up) return up.error();
        const std::string text = doc.dump();
        SPARKCTL_TRY(up->bind(1, std::string_view(text)));
        SPARKCTL_TRY(up->bind(2, id));
        return up->run();
    });
    if (!r) return base::with_context(r.error(), "saving the bench run");
    return id;
}

Result<std::vector<StoredRun>> list_runs(store::Database& db) {
    auto st = db.prepare(std::string(kColumns) + " ORDER BY id");
    if (!st) return st.error();
    std::vector<StoredRun> out;
    for (;;) {
        auto row = st->step();
        if (!row) return base::with_context(row.error(), "reading bench runs");
        if (!*row) break;
        auto run = read_row(db, *st);
        if (!run) return run.error();
        out.push_back(std::move(*run));
    }
    return out;
}

Result<StoredRun> load_run(store::Database& db, std::int64_t id) {
    auto st = db.prepare(std::string(kColumns) + " WHERE id = ?1");
    if (!st) return st.error();
    SPARKCTL_TRY(st->bind(1, id));
    auto row = st->step();
    if (!row) return base::with_context(row.error(), "reading bench run " + std::to_string(id));
    if (!*row) {
        return base::make_error(Errc::bad_input, "bench run " + std::to_string(id) +
                                                     ": no such run (see sparkctl bench list)");
    }
    return read_row(db, *st);
}

std::optional<std::string> gguf_quant(std::string_view path) {
    std::string name(path.substr(
        path.find_last_of('/') == std::string_view::npos ? 0 : path.find_last_of('/') + 1));
    for (char& ch : name) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (name.size() > 5 && name.ends_with(".GGUF")) name.resize(name.size() - 5);
    // <Shard>: -00001-of-00009 (gguf.md).
    static const std::regex shard("-[0-9]{5}-OF-[0-9]{5}$");
    name = std::regex_replace(name, shard, "");
    // ggml type names (ggml/include/ggml.h enum ggml_type, llama.cpp tools/quantize): Q4_0,
    // Q4_K_M, IQ4_XS, TQ1_0, F16, BF16, F32, MXFP4; unsloth's dynamic "Q4_K_XL" fits the first.
    static const std::regex type("^(I?Q[0-9](_[0-9A-Z]+)*|TQ[0-9]_[0-9]|F16|F32|BF16|MXFP4)$");
    std::vector<std::string> parts;
    for (std::size_t start = 0;;) {
        const std::size_t dash = name.find('-', start);
        parts.push_back(name.substr(start, dash - start));
        if (dash == std::string::npos) break;
        start = dash + 1;
    }
    // The Encoding is last, or second to last when a Type (LoRA, vocab) follows it.
    for (std::size_t back = 1; back <= 2 && back <= parts.size(); ++back) {
        if (std::regex_match(parts[parts.size() - back], type)) return parts[parts.size() - back];
    }
    return std::nullopt;
}

}  // namespace sparkctl::bench
