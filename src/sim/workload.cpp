#include "sim/workload.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "base/strings.h"

namespace sparkctl::sim {

namespace {

std::optional<double> parse_number(std::string_view s) {
    s = base::trim(s);
    if (s.empty()) return std::nullopt;
    double v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
    return v;
}

base::Error bad(std::string message) {
    return base::make_error(base::Errc::bad_input, std::move(message));
}

// Largest trace file read (a day of traffic at 100 requests/s is well under this).
constexpr std::uint64_t kMaxTraceBytes = 1ull << 30;
// Largest dataset read (ShareGPT_V3_unfiltered_cleaned_split.json is about 0.67 GB).
constexpr std::uint64_t kMaxDatasetBytes = 2ull << 30;

}  // namespace

base::Result<Distribution> parse_distribution(std::string_view flag, std::string_view text) {
    const std::string f(flag);
    const std::string shown = base::printable(text);
    const std::vector<std::string> parts = base::split(text, ':');
    Distribution d;
    if (parts.size() == 1) {
        const auto v = parse_number(parts[0]);
        if (!v || *v < 1) return bad(f + ": '" + shown + "' is not a token count of at least 1");
        d.a = std::round(*v);
        return d;
    }
    if (parts.size() != 3) {
        return bad(f + ": '" + shown +
                   "': expected a number, uniform:A:B, normal:MEAN:SD or lognormal:MEDIAN:SIGMA");
    }
    const std::string kind = base::to_lower(parts[0]);
    const auto a = parse_number(parts[1]);
    const auto b = parse_number(parts[2]);
    if (!a || !b) return bad(f + ": '" + shown + "': parameters must be numbers");
    d.a = *a;
    d.b = *b;
    if (kind == "uniform") {
        d.kind = Distribution::Kind::uniform;
        if (d.a < 1 || d.b < d.a) return bad(f + ": '" + shown + "': uniform needs 1 <= A <= B");
    } else if (kind == "normal") {
        d.kind = Distribution::Kind::normal;
        if (d.a < 1 || d.b < 0)
            return bad(f + ": '" + shown + "': normal needs MEAN >= 1, SD >= 0");
    } else if (kind == "lognormal") {
        d.kind = Distribution::Kind::lognormal;
        if (d.a < 1 || d.b < 0) {
            return bad(f + ": '" + shown + "': lognormal needs MEDIAN >= 1, SIGMA >= 0");
        }
    } else {
        return bad(f + ": '" + shown + "': unknown distribution '" + base::printable(parts[0]) +
                   "' (uniform, normal, lognormal)");
    }
    return d;
}

base::Result<Arrivals> parse_arrivals(std::string_view text) {
    const std::string t = base::to_lower(base::trim(text));
    Arrivals a;
    if (t == "poisson") return a;
    if (t == "constant") {
        a.kind = Arrivals::Kind::constant;
        a.cv = 0;
        return a;
    }
    if (t.rfind("gamma:", 0) == 0) {
        const auto cv = parse_number(std::string_view(t).substr(6));
        if (!cv || *cv <= 0) {
            return bad("--arrivals: '" + base::printable(text) + "': gamma needs a CV above 0");
        }
        a.kind = Arrivals::Kind::gamma;
        a.cv = *cv;
        return a;
    }
    return bad("--arrivals: '" + base::printable(text) +
               "': expected poisson, gamma:CV or constant");
}

base::Result<std::vector<double>> parse_load_list(std::string_view flag, std::string_view text,
                                                  bool integers) {
    std::vector<double> out;
    for (const std::string& part : base::split(text, ',')) {
        const auto v = parse_number(part);
        if (!v || *v <= 0 || (integers && std::floor(*v) != *v)) {
            return bad(std::string(flag) + ": '" + base::printable(part) + "' is not a positive " +
                       (integers ? "whole number" : "number"));
        }
        out.push_back(*v);
    }
    if (out.empty()) return bad(std::string(flag) + ": empty list");
    return out;
}

base::Result<std::vector<TraceRequest>> parse_trace(std::string_view text, std::string_view name) {
    std::vector<TraceRequest> out;
    std::size_t line_no = 0;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        const std::size_t nl = std::min(text.find('\n', pos), text.size());
        const std::string_view line = base::trim(text.substr(pos, nl - pos));
        pos = nl + 1;
        ++line_no;
        if (line.empty()) continue;
        const std::string where = std::string(name) + ":" + std::to_string(line_no) + ": ";
        const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object()) return bad(where + "not a JSON object");
        auto num = [&](const char* key, bool required) -> base::Result<std::optional<double>> {
            const auto it = j.find(key);
            if (it == j.end() || it->is_null()) {
                if (required) return bad(where + "missing '" + key + "'");
                return std::optional<double>{};
            }
            if (!it->is_number() || it->get<double>() < 0 || !std::isfinite(it->get<double>())) {
                return bad(where + "'" + key + "' must be a number >= 0");
            }
            return std::optional<double>{it->get<double>()};
        };
        TraceRequest r;
        auto arrival = num("arrival_s", true);
        if (!arrival) return arrival.error();
        auto prompt = num("prompt_tokens", true);
        if (!prompt) return prompt.error();
        auto output = num("output_tokens", true);
        if (!output) return output.error();
        auto prefix = num("prefix_tokens", false);
        if (!prefix) return prefix.error();
        r.arrival_s = **arrival;
        constexpr double kMaxTokens = 1e8;  // far beyond any context window
        if (**prompt < 1 || **output < 1 || **prompt > kMaxTokens || **output > kMaxTokens) {
            return bad(where + "prompt_tokens and output_tokens must be between 1 and 1e8");
        }
        r.prompt_tokens = static_cast<std::uint32_t>(**prompt);
        r.output_tokens = static_cast<std::uint32_t>(**output);
        if (*prefix) {
            if (**prefix > **prompt) return bad(where + "prefix_tokens exceeds prompt_tokens");
            r.prefix_tokens = static_cast<std::uint32_t>(**prefix);
        }
        if (const auto it = j.find("prefix_id"); it != j.end() && !it->is_null()) {
            if (it->is_string()) {
                r.prefix_id = it->get<std::string>();
            } else if (it->is_number_integer()) {
                r.prefix_id = it->dump();
            } else {
                return bad(where + "'prefix_id' must be a string or an integer");
            }
        }
        if (!r.prefix_id.empty() && r.prefix_tokens == 0) {
            return bad(where + "'prefix_id' without 'prefix_tokens'");
        }
        out.push_back(std::move(r));
    }
    if (out.empty()) return bad(std::string(name) + ": no requests");
    std::stable_sort(out.begin(), out.end(), [](const TraceRequest& x, const TraceRequest& y) {
        return x.arrival_s < y.arrival_s;
    });
    return out;
}

base::Result<std::vector<TraceRequest>> load_trace(const std::string& path) {
    auto text = base::read_file(path, kMaxTraceBytes);
    if (!text) return text.error();
    return parse_trace(*text, path);
}

std::uint32_t estimate_tokens(std::string_view text) {
    std::uint64_t code_points = 0;
    for (char c : text) {
        // UTF-8: count every byte that does not continue a sequence.
        if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++code_points;
    }
    return static_cast<std::uint32_t>(std::min<std::uint64_t>((code_points + 3) / 4, 1u << 30));
}

base::Result<std::vector<DatasetEntry>> parse_sharegpt(std::string_view text,
                                                       std::string_view name) {
    const nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded()) return bad(std::string(name) + ": not valid JSON");
    if (!doc.is_array()) {
        return bad(std::string(name) + ": expected a JSON list of conversations (ShareGPT)");
    }
    // V:vllm/benchmarks/datasets.py is_valid_sequence defaults: min_len 4, max_prompt_len 1024,
    // max_total_len 2048.
    constexpr std::uint32_t kMinLen = 4, kMaxPrompt = 1024, kMaxTotal = 2048;
    std::vector<DatasetEntry> out;
    for (std::size_t i = 0; i < doc.size(); ++i) {
        const std::string where = std::string(name) + ": entry " + std::to_string(i) + ": ";
        const nlohmann::json& e = doc[i];
        if (!e.is_object()) return bad(where + "not a JSON object");
        const auto conv = e.find("conversations");
        if (conv == e.end() || !conv->is_array()) {
            return bad(where + "'conversations' must be a list");
        }
        if (conv->size() < 2) continue;  // vLLM keeps entries with at least two turns
        std::uint32_t tokens[2] = {0, 0};
        for (std::size_t t = 0; t < 2; ++t) {
            const nlohmann::json& turn = (*conv)[t];
            const auto value = turn.is_object() ? turn.find("value") : turn.end();
            if (!turn.is_object() || value == turn.end() || !value->is_string()) {
                return bad(where + "turn " + std::to_string(t) +
                           " must be an object with a string 'value'");
            }
            tokens[t] = estimate_tokens(value->get_ref<const std::string&>());
        }
        if (tokens[0] < kMinLen || tokens[1] < kMinLen || tokens[0] > kMaxPrompt ||
            tokens[0] + tokens[1] > kMaxTotal) {
            continue;
        }
        out.push_back({tokens[0], tokens[1], (*conv)[0]["value"].get<std::string>()});
    }
    if (out.empty()) {
        return bad(std::string(name) +
                   ": no usable conversation (two turns of 4 to 1024 prompt tokens, 2048 in all)");
    }
    return out;
}

base::Result<std::vector<DatasetEntry>> load_sharegpt(const std::string& path) {
    auto text = base::read_file(path, kMaxDatasetBytes);
    if (!text) return text.error();
    return parse_sharegpt(*text, path);
}

base::Result<std::vector<SloTerm>> parse_slo(std::string_view text) {
    std::vector<SloTerm> out;
    for (const std::string& raw : base::split(text, ',')) {
        const std::string term(base::trim(raw));
        const std::string where = "--slo: '" + base::printable(term) + "': ";
        const std::size_t le = term.find("<=");
        const std::size_t us = term.rfind('_', le);
        if (le == std::string::npos || us == std::string::npos) {
            return bad(where + "expected METRIC_STAT<=LIMIT, e.g. ttft_p95<=2s");
        }
        SloTerm s;
        s.text = term;
        s.metric = base::to_lower(term.substr(0, us));
        s.stat = base::to_lower(term.substr(us + 1, le - us - 1));
        // "p99_9" splits at its own underscore: rejoin.
        if (s.metric.size() > 4 && s.metric.substr(s.metric.size() - 4) == "_p99" &&
            s.stat == "9") {
            s.metric.resize(s.metric.size() - 4);
            s.stat = "p99_9";
        }
        static const char* kMetrics[] = {"ttft", "tpot", "itl", "e2e", "queue"};
        static const char* kStats[] = {"mean", "p50", "p90", "p95", "p99", "p99_9"};
        if (std::find(std::begin(kMetrics), std::end(kMetrics), s.metric) == std::end(kMetrics)) {
            return bad(where + "unknown metric '" + s.metric + "' (ttft, tpot, itl, e2e, queue)");
        }
        if (std::find(std::begin(kStats), std::end(kStats), s.stat) == std::end(kStats)) {
            return bad(where + "unknown statistic '" + s.stat +
                       "' (mean, p50, p90, p95, p99, p99_9)");
        }
        std::string limit = base::to_lower(base::trim(term.substr(le + 2)));
        double scale = 0;
        if (limit.size() > 2 && limit.substr(limit.size() - 2) == "ms") {
            scale = 1;
            limit.resize(limit.size() - 2);
        } else if (limit.size() > 1 && limit.back() == 's') {
            scale = 1000;
            limit.pop_back();
        }
        const auto v = parse_number(limit);
        if (scale == 0 || !v || *v <= 0) {
            return bad(where + "the limit must be a positive time with unit s or ms");
        }
        s.limit_ms = *v * scale;
        out.push_back(std::move(s));
    }
    return out;
}

std::uint32_t Sampler::tokens(const Distribution& d) {
    double v = d.a;
    switch (d.kind) {
        case Distribution::Kind::fixed:
            break;
        case Distribution::Kind::uniform:
            v = std::uniform_real_distribution<double>(d.a, d.b + 1)(rng_);
            v = std::floor(v);
            break;
        case Distribution::Kind::normal:
            v = std::round(std::normal_distribution<double>(d.a, d.b)(rng_));
            break;
        case Distribution::Kind::lognormal:
            v = std::round(std::lognormal_distribution<double>(std::log(d.a), d.b)(rng_));
            break;
    }
    constexpr double kMaxTokens = 1e8;
    return static_cast<std::uint32_t>(std::clamp(v, 1.0, kMaxTokens));
}

void Sampler::shuffle(std::vector<DatasetEntry>& entries) {
    std::shuffle(entries.begin(), entries.end(), rng_);
}

double Sampler::gap_s(const Arrivals& a, double rate_per_s) {
    const double mean = 1.0 / rate_per_s;
    switch (a.kind) {
        case Arrivals::Kind::constant:
            return mean;
        case Arrivals::Kind::poisson:
            return std::exponential_distribution<double>(rate_per_s)(rng_);
        case Arrivals::Kind::gamma: {
            // Shape k = 1 / CV^2, scale = mean / k: the mean gap is 1 / rate.
            const double k = 1.0 / (a.cv * a.cv);
            return std::gamma_distribution<double>(k, mean / k)(rng_);
        }
    }
    return mean;
}

}  // namespace sparkctl::sim
