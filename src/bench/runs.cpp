#include "bench/runs.h"

#include <fmt/format.h>
#include <algorithm>
#include <cmath>

namespace sparkctl::bench {

namespace {

using nlohmann::json;

// The load fields a point may carry (design.md's workload vocabulary; depth: --depth mode).
// "depth" first: a depth point also carries the concurrency of its batches.
constexpr const char* kLoadNames[] = {"depth", "concurrency", "rate_per_s"};

json opt(const std::optional<double>& x) { return x ? json(*x) : json(nullptr); }

// The repeat values of `field` at a point (empty unless at least two).
std::vector<double> repeat_values(const json& point, const char* field) {
    std::vector<double> v;
    auto it = point.find("repeats");
    if (it == point.end() || !it->is_array()) return v;
    for (const json& r : *it) {
        if (r.is_object() && r.contains(field) && r[field].is_number())
            v.push_back(r[field].get<double>());
    }
    if (v.size() < 2) v.clear();
    return v;
}

void mean_var(const std::vector<double>& v, double& mean, double& var) {
    mean = 0;
    var = 0;
    for (double x : v) mean += x / double(v.size());
    for (double x : v) var += (x - mean) * (x - mean) / double(v.size() - 1);
}

std::string number_text(const std::optional<double>& x) {
    return x ? fmt::format("{:g}", *x) : std::string();
}

}  // namespace

std::vector<json> points_of(const json& doc) {
    if (!doc.is_object()) return {};
    // A sweep's points are in "sweep", a --depth run's in "depth"; a single point is the doc.
    for (const char* key : {"sweep", "depth"}) {
        auto it = doc.find(key);
        if (it == doc.end() || !it->is_array()) continue;
        std::vector<json> out;
        for (const json& p : *it)
            if (p.is_object()) out.push_back(p);
        return out;
    }
    return {doc};
}

std::string load_name_of(const json& point) {
    for (const char* name : kLoadNames) {
        if (point.is_object() && point.contains(name) && point[name].is_number()) return name;
    }
    return "";
}

std::optional<double> load_of(const json& point) {
    const std::string name = load_name_of(point);
    if (name.empty()) return std::nullopt;
    return point[name].get<double>();
}

std::string load_text_of(const json& point) {
    const std::optional<double> x = load_of(point);
    if (!x) return "trace";
    std::string text = fmt::format("{:g}", *x);
    if (load_name_of(point) == "depth") {
        if (auto n = number_at(point, "/concurrency"); n && *n > 1)
            text += fmt::format(" (c{:g})", *n);
    }
    return text;
}

std::string run_label(const json& doc) {
    const bool valid = doc.value("valid", false);
    const bool simulated = doc.value("simulated", false);
    const bool study = doc.value("prefix_cache_study", false);
    std::string label = simulated ? "SIMULATED " : "";
    label += valid ? (study ? "PREFIX-CACHE STUDY" : "VALID") : "INVALID";
    return label;
}

double headline_tokens_per_s(const json& doc) {
    double best = 0;
    for (const json& p : points_of(doc)) {
        best = std::max(best, number_at(p, "/output_tokens_per_s").value_or(0));
    }
    return best;
}

std::optional<double> number_at(const json& j, const char* pointer) {
    const json::json_pointer ptr(pointer);
    if (!j.contains(ptr)) return std::nullopt;
    const json& v = j.at(ptr);
    if (!v.is_number()) return std::nullopt;
    return v.get<double>();
}

const std::vector<Metric>& headline_metrics() {
    static const std::vector<Metric> m = {
        {"output_tokens_per_s", "/output_tokens_per_s", "output_tokens_per_s"},
        {"output_tokens_per_s_per_user", "/output_tokens_per_s_per_user", nullptr},
        {"requests_per_s", "/requests_per_s", "requests_per_s"},
        {"ttft_ms_p50", "/ttft_ms/p50", "ttft_ms_p50"},
        {"ttft_ms_p99", "/ttft_ms/p99", nullptr},
        {"tpot_ms_p50", "/tpot_ms/p50", nullptr},
        {"itl_ms_p99", "/itl_ms/p99", nullptr},
        {"e2e_ms_p50", "/e2e_ms/p50", nullptr},
        {"errors", "/errors", nullptr},
    };
    return m;
}

json compare_runs(const StoredRun& a, const StoredRun& b) {
    const std::vector<json> pa = points_of(a.doc), pb = points_of(b.doc);
    json points = json::array(), only_a = json::array(), only_b = json::array();
    std::vector<bool> used(pb.size(), false);
    for (const json& p : pa) {
        const std::string name = load_name_of(p);
        const std::optional<double> x = load_of(p);
        std::size_t match = pb.size();
        for (std::size_t i = 0; i < pb.size(); ++i) {
            if (!used[i] && load_name_of(pb[i]) == name && load_text_of(pb[i]) == load_text_of(p)) {
                match = i;
                break;
            }
        }
        if (match == pb.size()) {
            only_a.push_back(opt(x));
            continue;
        }
        used[match] = true;
        const json& q = pb[match];
        json metrics = json::object();
        for (const Metric& m : headline_metrics()) {
            const std::optional<double> va = number_at(p, m.pointer), vb = number_at(q, m.pointer);
            json e = {{"a", opt(va)},          {"b", opt(vb)},     {"diff", nullptr},
                      {"diff_ratio", nullptr}, {"noise", nullptr}, {"exceeds_noise", nullptr}};
            if (va && vb) {
                e["diff"] = *vb - *va;
                if (*va != 0) e["diff_ratio"] = (*vb - *va) / *va;
            }
            if (m.repeat) {
                const std::vector<double> ra = repeat_values(p, m.repeat),
                                          rb = repeat_values(q, m.repeat);
                if (!ra.empty() && !rb.empty()) {
                    double ma, va2, mb, vb2;
                    mean_var(ra, ma, va2);
                    mean_var(rb, mb, vb2);
                    const double noise =
                        2 * std::sqrt(va2 / double(ra.size()) + vb2 / double(rb.size()));
                    e["noise"] = noise;
                    e["exceeds_noise"] = std::abs(mb - ma) > noise;
                }
            }
            metrics[m.name] = e;
        }
        points.push_back({{"load_name", name}, {"load", opt(x)}, {"metrics", metrics}});
    }
    for (std::size_t i = 0; i < pb.size(); ++i) {
        if (!used[i]) only_b.push_back(opt(load_of(pb[i])));
    }
    auto side = [](const StoredRun& r) {
        return json{{"id", r.id},
                    {"created_at", r.created_at},
                    {"model", r.doc.value("model", "")},
                    {"engine", r.doc.value("engine", json())},
                    {"quant", r.doc.value("quant", json())},
                    {"label", run_label(r.doc)}};
    };
    return {{"a", side(a)},
            {"b", side(b)},
            {"points", points},
            {"only_in_a", only_a},
            {"only_in_b", only_b}};
}

std::string csv_field(std::string_view text) {
    if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
    std::string out = "\"";
    for (char ch : text) {
        if (ch == '"') out += '"';
        out += ch;
    }
    return out + '"';
}

std::string export_csv(const StoredRun& run) {
    static const char* kStats[] = {"mean", "p50", "p90", "p95", "p99", "p99_9"};
    static const char* kLatencies[] = {"ttft_ms", "tpot_ms", "itl_ms", "e2e_ms"};
    static const char* kCounts[] = {"completed",           "errors",
                                    "output_tokens_per_s", "output_tokens_per_s_per_user",
                                    "total_tokens_per_s",  "requests_per_s",
                                    "duration_s"};
    std::vector<std::string> header = {"run_id", "created_at", "model",     "engine",
                                       "quant",  "label",      "load_name", "load"};
    for (const char* c : kCounts) header.emplace_back(c);
    for (const char* l : kLatencies)
        for (const char* s : kStats) header.push_back(std::string(l) + "_" + s);
    header.emplace_back("invalid_reason");
    std::string out;
    auto line = [&](const std::vector<std::string>& fields) {
        for (std::size_t i = 0; i < fields.size(); ++i) {
            if (i) out += ',';
            out += csv_field(fields[i]);
        }
        out += "\r\n";
    };
    line(header);
    auto text = [](const json& j, const char* key) {
        auto it = j.find(key);
        return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    for (const json& p : points_of(run.doc)) {
        std::vector<std::string> f = {std::to_string(run.id), run.created_at,
                                      text(run.doc, "model"), text(run.doc, "engine"),
                                      text(run.doc, "quant"), run_label(run.doc),
                                      load_name_of(p),        number_text(load_of(p))};
        for (const char* c : kCounts)
            f.push_back(number_text(number_at(p, ("/" + std::string(c)).c_str())));
        for (const char* l : kLatencies)
            for (const char* s : kStats)
                f.push_back(number_text(number_at(p, fmt::format("/{}/{}", l, s).c_str())));
        f.push_back(text(run.doc, "invalid_reason"));
        line(f);
    }
    return out;
}

}  // namespace sparkctl::bench
