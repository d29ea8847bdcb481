// What the gateway shows people (issue 14, "Seeing it"): the ring of recent requests, the
// /status document (the daemon's `ps --json` plus the gateway's own numbers), the engine log tail
// at /status/logs/ID and the status page at / (HTML, JavaScript and CSS kept as files under
// src/serve/status_page/ and compiled into the binary by cmake/SparkctlEmbed.cmake). See
// docs/dev/gateway.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "net/http.h"
#include "serve/gateway.h"

namespace sparkctl::serve {

// One answered request, as /status lists it.
struct RequestRecord {
    std::int64_t time_ms = 0;  // Unix time the request reached the gateway, milliseconds
    std::string model;         // the deployment id it went to
    std::string path;          // without the query
    int status = 0;            // 499: the client went away
    bool stream = false;
    std::optional<double> ttft_ms;  // request to first output event; streams only
    double e2e_ms = 0;              // arrival (queue wait included) to the end
    std::uint64_t prompt_tokens = 0;
    std::uint64_t completion_tokens = 0;
};

// The last `capacity` records, thread-safe.
class RecentRequests {
  public:
    static constexpr std::size_t kDefaultCapacity = 100;
    explicit RecentRequests(std::size_t capacity = kDefaultCapacity) : capacity_(capacity) {}
    void add(RequestRecord record);
    // Newest first: [{"time_ms", "model", "path", "status", "stream", "ttft_ms" (null when not
    // streamed or no event came), "e2e_ms", "prompt_tokens", "completion_tokens"}].
    nlohmann::json to_json() const;

  private:
    const std::size_t capacity_;
    mutable std::mutex mu_;
    std::deque<RequestRecord> ring_;
};

// The gateway's own numbers for one deployment.
struct GatewayCounts {
    int in_flight = 0;
    std::size_t queued = 0;
};

// /status: the Registry's document, each deployment's "in_flight" and "queued" replaced by the
// gateway's counts where it has them, and "recent_requests" added. A registry document that is
// not an object (a daemon bug) is kept under "registry" so the page still shows the requests.
nlohmann::json status_document(nlohmann::json registry_status,
                               const std::map<std::string, GatewayCounts>& counts,
                               const RecentRequests& recent);

// GET /status/logs/ID?lines=N (N in 1..kMaxLogLines, default kDefaultLogLines):
// {"id", "lines": [...]}. Errors: bad_input (bad `lines`), not_found (no such deployment).
inline constexpr std::size_t kDefaultLogLines = 100;
inline constexpr std::size_t kMaxLogLines = 10'000;
base::Result<nlohmann::json> log_tail_document(Registry& registry, std::string_view target);

// The status page's files: "/" (index.html), "/page/app.js", "/page/style.css"; nullopt for any
// other path. Served with a Content-Security-Policy that allows only these files.
std::optional<net::Response> page_asset(std::string_view path);

}  // namespace sparkctl::serve
