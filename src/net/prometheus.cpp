#include "net/prometheus.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace sparkctl::net::prometheus {

namespace {

// Label values escape \, " and line feed; HELP text escapes \ and line feed (format spec).
void append_escaped(std::string& out, std::string_view text, bool quote) {
    for (char c : text) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '"' && quote) {
            out += "\\\"";
        } else {
            out.push_back(c);
        }
    }
}

void append_labels(std::string& out, const Labels& labels, const std::string* le) {
    if (labels.empty() && le == nullptr) return;
    out.push_back('{');
    bool first = true;
    for (const auto& [name, value] : labels) {
        if (!first) out.push_back(',');
        first = false;
        out.append(name).append("=\"");
        append_escaped(out, value, true);
        out.push_back('"');
    }
    if (le != nullptr) {
        if (!first) out.push_back(',');
        out.append("le=\"").append(*le).push_back('"');
    }
    out.push_back('}');
}

bool is_name_char(char c, bool first, bool colon_ok) {
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (alpha || (colon_ok && c == ':')) return true;
    return !first && c >= '0' && c <= '9';
}

std::size_t take_name(std::string_view s, bool colon_ok) {
    std::size_t i = 0;
    while (i < s.size() && is_name_char(s[i], i == 0, colon_ok)) ++i;
    return i;
}

void skip_blanks(std::string_view& s) {
    while (!s.empty() && (s[0] == ' ' || s[0] == '\t')) s.remove_prefix(1);
}

std::optional<double> parse_double(std::string_view s) {
    if (s == "+Inf" || s == "Inf") return HUGE_VAL;
    if (s == "-Inf") return -HUGE_VAL;
    if (s == "NaN") return std::nan("");
    if (!s.empty() && s[0] == '+') s.remove_prefix(1);
    double v = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

// Parses `name{labels} value [timestamp]`; returns the failure reason on error.
std::optional<std::string> parse_sample(std::string_view line, Sample& out) {
    const std::size_t n = take_name(line, true);
    if (n == 0) return "expected a metric name";
    out.name.assign(line.substr(0, n));
    line.remove_prefix(n);
    skip_blanks(line);
    if (!line.empty() && line[0] == '{') {
        line.remove_prefix(1);
        while (true) {
            skip_blanks(line);
            if (!line.empty() && line[0] == '}') break;
            const std::size_t ln = take_name(line, false);
            if (ln == 0) return "expected a label name";
            std::string label(line.substr(0, ln));
            line.remove_prefix(ln);
            skip_blanks(line);
            if (line.size() < 2 || line[0] != '=') return "expected '=' after label " + label;
            line.remove_prefix(1);
            skip_blanks(line);
            if (line.empty() || line[0] != '"') return "expected '\"' for label " + label;
            line.remove_prefix(1);
            std::string value;
            while (true) {
                if (line.empty()) return "unterminated value of label " + label;
                const char c = line[0];
                line.remove_prefix(1);
                if (c == '"') break;
                if (c == '\\') {
                    if (line.empty()) return "unterminated value of label " + label;
                    const char e = line[0];
                    line.remove_prefix(1);
                    if (e == 'n') {
                        value.push_back('\n');
                    } else if (e == '\\' || e == '"') {
                        value.push_back(e);
                    } else {
                        return "bad escape in label " + label;
                    }
                } else {
                    value.push_back(c);
                }
            }
            out.labels.emplace_back(std::move(label), std::move(value));
            skip_blanks(line);
            if (!line.empty() && line[0] == ',') {
                line.remove_prefix(1);
                continue;
            }
            if (line.empty() || line[0] != '}') return "expected ',' or '}' after a label";
            break;
        }
        line.remove_prefix(1);  // '}'
        skip_blanks(line);
    }
    const std::size_t value_end = line.find_first_of(" \t");
    const auto value = parse_double(line.substr(0, value_end));
    if (!value) return "bad sample value '" + std::string(line.substr(0, value_end)) + "'";
    out.value = *value;
    if (value_end == std::string_view::npos) return std::nullopt;
    line.remove_prefix(value_end);
    skip_blanks(line);
    if (line.empty()) return std::nullopt;
    std::int64_t ts = 0;
    const auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), ts);
    if (ec != std::errc()) return "bad timestamp";
    line.remove_prefix(static_cast<std::size_t>(ptr - line.data()));
    skip_blanks(line);
    if (!line.empty()) return "unexpected text after the timestamp";
    out.timestamp_ms = ts;
    return std::nullopt;
}

const char* type_name(MetricType type) {
    switch (type) {
        case MetricType::counter:
            return "counter";
        case MetricType::gauge:
            return "gauge";
        case MetricType::histogram:
            return "histogram";
    }
    return "untyped";
}

}  // namespace

void Histogram::observe(double value) {
    const auto it = std::lower_bound(upper_bounds.begin(), upper_bounds.end(), value);
    ++counts[static_cast<std::size_t>(it - upper_bounds.begin())];
    sum += value;
    ++count;
}

std::string format_value(double value) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
    char buf[32];
    const auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, value);
    SPARKCTL_ASSERT(ec == std::errc());
    return std::string(buf, ptr);
}

void TextWriter::family(std::string_view name, MetricType type, std::string_view help) {
    out_.append("# HELP ").append(name).push_back(' ');
    append_escaped(out_, help, false);
    out_.append("\n# TYPE ").append(name).push_back(' ');
    out_.append(type_name(type)).push_back('\n');
}

void TextWriter::sample(std::string_view name, const Labels& labels, double value) {
    out_.append(name);
    append_labels(out_, labels, nullptr);
    out_.append(" ").append(format_value(value)).push_back('\n');
}

void TextWriter::histogram(std::string_view name, const Labels& labels, const Histogram& h) {
    const std::string bucket = std::string(name) + "_bucket";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= h.upper_bounds.size(); ++i) {
        cumulative += h.counts[i];
        const std::string le =
            i < h.upper_bounds.size() ? format_value(h.upper_bounds[i]) : std::string("+Inf");
        out_.append(bucket);
        append_labels(out_, labels, &le);
        out_.append(" ").append(std::to_string(cumulative)).push_back('\n');
    }
    sample(std::string(name) + "_sum", labels, h.sum);
    sample(std::string(name) + "_count", labels, static_cast<double>(h.count));
}

base::Result<std::vector<Sample>> parse_text(std::string_view text, std::string_view source) {
    std::vector<Sample> samples;
    std::size_t line_no = 0;
    while (!text.empty()) {
        ++line_no;
        const std::size_t end = text.find('\n');
        std::string_view line = text.substr(0, end);
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        skip_blanks(line);
        if (line.empty() || line[0] == '#') continue;
        Sample s;
        if (auto why = parse_sample(line, s)) {
            return base::make_error(
                base::Errc::bad_input,
                std::string(source) + ": line " + std::to_string(line_no) + ": " + *why);
        }
        samples.push_back(std::move(s));
    }
    return samples;
}

std::optional<double> find_value(const std::vector<Sample>& samples, std::string_view name,
                                 const Labels& match) {
    for (const Sample& s : samples) {
        if (s.name != name) continue;
        const bool all = std::all_of(match.begin(), match.end(), [&](const auto& want) {
            return std::find(s.labels.begin(), s.labels.end(), want) != s.labels.end();
        });
        if (all) return s.value;
    }
    return std::nullopt;
}

}  // namespace sparkctl::net::prometheus
