// `sparkctl models`: the built-in catalog as a table, or as JSON with every fact and variant.
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/exit_status.h"
#include "cli/command.h"
#include "cli/model_json.h"
#include "model/catalog.h"

namespace sparkctl::cli {

namespace {

using model::Arch;
using model::CatalogEntry;
using nlohmann::json;

template <typename T>
json opt(const std::optional<T>& v) {
    return v ? json(*v) : json(nullptr);
}

json str_or_null(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

std::string billions(const std::optional<std::uint64_t>& n) {
    if (!n) return "?";
    return fmt::format("{:.1f}B", static_cast<double>(*n) / 1e9);
}

template <typename T>
std::string num_or_unknown(const std::optional<T>& v) {
    return v ? fmt::format("{}", *v) : std::string("?");
}

std::string context_text(const std::optional<std::uint64_t>& ctx) {
    if (!ctx) return "?";
    if (*ctx >= 1048576 && *ctx % 1048576 == 0) return fmt::format("{}M", *ctx / 1048576);
    if (*ctx % 1024 == 0) return fmt::format("{}K", *ctx / 1024);
    return fmt::format("{}", *ctx);
}

std::string formats_of(const CatalogEntry& e) {
    std::vector<std::string> seen;
    for (const model::Variant& v : e.variants) {
        bool dup = false;
        for (const std::string& s : seen) dup |= s == v.format;
        if (!dup) seen.push_back(v.format);
    }
    std::string out;
    for (const std::string& s : seen) out += (out.empty() ? "" : ",") + s;
    return out;
}

json entry_json(const CatalogEntry& e) {
    json m;
    m["id"] = e.id;
    m["display_name"] = e.display_name;
    m["hf_id"] = e.spec.hf_id;
    m["aliases"] = e.aliases;
        m["facts"] = arch_json(e.spec.arch);
    m["unknown"] = e.unknown;
    m["sources"] = e.sources;
    m["notes"] = str_or_null(e.notes);
    json variants = json::array();
    for (const model::Variant& v : e.variants) {
        variants.push_back({{"format", v.format},
                            {"repo", v.repo},
                            {"file", str_or_null(v.file)},
                            {"size_bytes", opt(v.size_bytes)},
                            {"size_exact", v.size_bytes ? json(v.size_exact) : json(nullptr)},
                            {"size_source", str_or_null(v.size_source)},
                            {"publisher", str_or_null(v.publisher)},
                            {"source", v.source}});
    }
    m["variants"] = variants;
    return m;
}

std::string table_text(const std::vector<CatalogEntry>& entries) {
    struct Row {
        std::string id, kind, params, layers, kv, ctx, formats;
    };
    std::vector<Row> rows;
    rows.push_back(
        {"ID", "KIND", "PARAMS (TOTAL/ACTIVE)", "LAYERS", "KV HEADS", "CONTEXT", "VARIANTS"});
    for (const CatalogEntry& e : entries) {
        const Arch& a = e.spec.arch;
        std::string params = billions(a.params_total);
        if (a.moe) params += "/" + billions(a.params_active);
        rows.push_back({e.id, arch_kind(a), params, num_or_unknown(a.n_layers),
                        num_or_unknown(a.n_kv_heads), context_text(a.context_length),
                        formats_of(e)});
    }
    std::size_t w[6] = {0, 0, 0, 0, 0, 0};
    for (const Row& r : rows) {
        const std::string* cells[6] = {&r.id, &r.kind, &r.params, &r.layers, &r.kv, &r.ctx};
        for (int i = 0; i < 6; ++i) w[i] = std::max(w[i], cells[i]->size());
    }
    std::string out;
    for (const Row& r : rows) {
        out +=
            fmt::format("{:<{}}  {:<{}}  {:<{}}  {:>{}}  {:>{}}  {:>{}}  {}\n", r.id, w[0], r.kind,
                        w[1], r.params, w[2], r.layers, w[3], r.kv, w[4], r.ctx, w[5], r.formats);
    }
    out += "\n'?' = not found in a public source (see `sparkctl models --json` for sources).\n";
    return out;
}

}  // namespace

Action setup_models(CLI::App& app, Context& ctx) {
    (void)app;
    (void)ctx;
    return [](Context& c) -> int {
        const std::vector<CatalogEntry>& entries = model::catalog();
        if (c.out.json) {
            json doc;
            doc["models"] = json::array();
            for (const CatalogEntry& e : entries) doc["models"].push_back(entry_json(e));
            c.out.emit_json(doc);
        } else {
            c.out.emit_text(table_text(entries));
        }
        return base::kExitOk;
    };
}

}  // namespace sparkctl::cli
