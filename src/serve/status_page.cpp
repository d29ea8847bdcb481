#include "serve/status_page.h"

#include <algorithm>
#include <charconv>

#include "base/strings.h"

// The page's files, compiled in by sparkctl_embed (src/serve/CMakeLists.txt).
extern const char sparkctl_status_page_index_html[];
extern const unsigned long sparkctl_status_page_index_html_size;
extern const char sparkctl_status_page_app_js[];
extern const unsigned long sparkctl_status_page_app_js_size;
extern const char sparkctl_status_page_style_css[];
extern const unsigned long sparkctl_status_page_style_css_size;

namespace sparkctl::serve {

using nlohmann::json;

void RecentRequests::add(RequestRecord record) {
    std::lock_guard lock(mu_);
    ring_.push_back(std::move(record));
    while (ring_.size() > capacity_) ring_.pop_front();
}

json RecentRequests::to_json() const {
    json out = json::array();
    std::lock_guard lock(mu_);
    for (auto it = ring_.rbegin(); it != ring_.rend(); ++it) {
        out.push_back({{"time_ms", it->time_ms},
                       {"model", it->model},
                       {"path", it->path},
                       {"status", it->status},
                       {"stream", it->stream},
                       {"ttft_ms", it->ttft_ms ? json(*it->ttft_ms) : json(nullptr)},
                       {"e2e_ms", it->e2e_ms},
                       {"prompt_tokens", it->prompt_tokens},
                       {"completion_tokens", it->completion_tokens}});
    }
    return out;
}

json status_document(json registry_status, const std::map<std::string, GatewayCounts>& counts,
                     const RecentRequests& recent) {
    json doc = registry_status.is_object() ? std::move(registry_status)
                                           : json{{"registry", std::move(registry_status)}};
    if (auto deps = doc.find("deployments"); deps != doc.end() && deps->is_array()) {
        for (json& d : *deps) {
            if (!d.is_object() || !d.contains("id") || !d["id"].is_string()) continue;
            auto c = counts.find(d["id"].get<std::string>());
            if (c == counts.end()) continue;
            d["in_flight"] = c->second.in_flight;
            d["queued"] = c->second.queued;
        }
    }
    doc["recent_requests"] = recent.to_json();
    return doc;
}

namespace {

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// RFC 3986 percent-decoding of one path segment or query value; nullopt on a bad escape.
std::optional<std::string> percent_decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out += s[i];
            continue;
        }
        if (i + 2 >= s.size()) return std::nullopt;
        const int hi = hex_digit(s[i + 1]), lo = hex_digit(s[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

// The value of `key` in the query string (the first one), undecoded.
std::optional<std::string_view> query_value(std::string_view query, std::string_view key) {
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        const std::size_t eq = pair.find('=');
        if (pair.substr(0, eq) == key) {
            return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
        }
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return std::nullopt;
}

net::Response asset(const char* data, unsigned long size, const char* content_type) {
    net::Response r;
    r.headers = {{"Content-Type", content_type},
                 {"Cache-Control", "no-cache"},
                 {"X-Content-Type-Options", "nosniff"},
                 // Only our own files; no inline script, no other origin (and so no CDN).
                 {"Content-Security-Policy",
                  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                  "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"}};
    r.body.assign(data, size);
    return r;
}

}  // namespace

base::Result<json> log_tail_document(Registry& registry, std::string_view target) {
    constexpr std::string_view kPrefix = "/status/logs/";
    const std::size_t q = target.find('?');
    const std::string_view path = target.substr(0, q);
    const std::string_view query =
        q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
    if (path.rfind(kPrefix, 0) != 0) {
        return base::make_error(base::Errc::bad_input, "log tail: the path is not /status/logs/ID");
    }
    auto id = percent_decode(path.substr(kPrefix.size()));
    if (!id || id->empty() || id->find('/') != std::string::npos) {
        return base::make_error(base::Errc::bad_input,
                                "log tail: '" + base::printable(path.substr(kPrefix.size())) +
                                    "' is not a deployment id");
    }
    std::size_t lines = kDefaultLogLines;
    if (auto v = query_value(query, "lines")) {
        std::size_t n = 0;
        auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
        if (ec != std::errc() || end != v->data() + v->size() || n < 1 || n > kMaxLogLines) {
            return base::make_error(base::Errc::bad_input,
                                    "log tail: lines='" + base::printable(*v) +
                                        "' is not a whole number from 1 to " +
                                        std::to_string(kMaxLogLines));
        }
        lines = n;
    }
    const std::vector<DeploymentView> views = registry.deployments();
    if (std::none_of(views.begin(), views.end(), [&](const auto& v) { return v.id == *id; })) {
        return base::make_error(base::Errc::not_found,
                                "log tail: no deployment '" + base::printable(*id) + "'");
    }
    return json{{"id", *id}, {"lines", registry.log_tail(*id, lines)}};
}

std::optional<net::Response> page_asset(std::string_view path) {
    if (path == "/") {
        return asset(sparkctl_status_page_index_html, sparkctl_status_page_index_html_size,
                     "text/html; charset=utf-8");
    }
    if (path == "/page/app.js") {
        return asset(sparkctl_status_page_app_js, sparkctl_status_page_app_js_size,
                     "text/javascript; charset=utf-8");
    }
    if (path == "/page/style.css") {
        return asset(sparkctl_status_page_style_css, sparkctl_status_page_style_css_size,
                     "text/css; charset=utf-8");
    }
    return std::nullopt;
}

}  // namespace sparkctl::serve
