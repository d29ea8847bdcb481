// libFuzzer target: what the gateway reads of a client's /v1/* request before relaying it
// (serve::parse_relay_request), then routing its model (serve::route); and the target read as a
// /status/logs/ID?lines=N request (serve::log_tail_document). Input: the first line is the
// request target, the rest the body. Checks besides "no crash": a parsed request has the body's
// model, routing an unknown name never picks a deployment, and a log tail is only ever asked of
// a configured deployment with 1..kMaxLogLines lines; the body's token usage read by
// serve::read_usage is what a parsed document holds (when the body is JSON), and so is
// serve::read_nested_usage's under "response" and "message"; the request read (its quick path
// included) is what the parsed document says.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/http.h"
#include "serve/gateway.h"
#include "serve/router.h"
#include "serve/status_page.h"

namespace {

// Deployments "a" and "b c"; log_tail checks what the gateway asks of it.
class FuzzRegistry : public sparkctl::serve::Registry {
  public:
    std::vector<sparkctl::serve::DeploymentView> deployments() override {
        sparkctl::serve::DeploymentView a, b;
        a.id = "a";
        b.id = "b c";
        return {a, b};
    }
    sparkctl::serve::MemoryView memory() override { return {}; }
    void ensure_ready(
        const std::string&,
        std::function<void(sparkctl::base::Result<sparkctl::serve::Upstream>)>) override {}
    bool request_started(const std::string&) override { return true; }
    void request_finished(const std::string&) override {}
    nlohmann::json status() override { return nlohmann::json::object(); }
    std::vector<std::string> log_tail(const std::string& id, std::size_t lines) override {
        if ((id != "a" && id != "b c") || lines < 1 || lines > sparkctl::serve::kMaxLogLines) {
            std::abort();
        }
        return {"line"};
    }
};

// What parse_relay_request read from the parsed document before its quick reading (the
// reference the fuzzer holds it to).
std::size_t reference_text_bytes(const nlohmann::json& v, int depth = 0) {
    if (depth > 8) return 0;
    if (v.is_string()) return v.get_ref<const std::string&>().size();
    std::size_t n = 0;
    if (v.is_array()) {
        for (const auto& e : v) n += reference_text_bytes(e, depth + 1);
    } else if (v.is_object()) {
        for (const char* key : {"content", "text", "input"}) {
            if (auto it = v.find(key); it != v.end()) n += reference_text_bytes(*it, depth + 1);
        }
    }
    return n;
}

std::optional<sparkctl::serve::RelayRequest> reference_relay_request(const nlohmann::json& body) {
    if (!body.is_object()) return std::nullopt;
    auto model = body.find("model");
    if (model == body.end() || !model->is_string()) return std::nullopt;
    sparkctl::serve::RelayRequest out;
    out.model = model->get<std::string>();
    if (auto s = body.find("stream"); s != body.end() && s->is_boolean()) {
        out.stream = s->get<bool>();
    }
    for (const char* key : {"messages", "prompt", "input", "system"}) {
        if (auto it = body.find(key); it != body.end())
            out.prompt_bytes += reference_text_bytes(*it);
    }
    return out;
}

// The counts of `holder`'s "usage" object as the document says: input_tokens (plus
// cache_read_input_tokens and cache_creation_input_tokens, saturating) or else prompt_tokens;
// output_tokens or else completion_tokens; unsigned integers only.
sparkctl::serve::UsageCounts reference_usage(const nlohmann::json& holder) {
    sparkctl::serve::UsageCounts out;
    if (!holder.is_object()) return out;
    auto u = holder.find("usage");
    if (u == holder.end() || !u->is_object()) return out;
    const auto get = [&](const char* key) -> std::optional<std::uint64_t> {
        auto v = u->find(key);
        if (v == u->end() || !v->is_number_unsigned()) return std::nullopt;
        return v->get<std::uint64_t>();
    };
    if (auto input = get("input_tokens")) {
        std::uint64_t sum = *input;
        for (const char* cached : {"cache_read_input_tokens", "cache_creation_input_tokens"}) {
            if (__builtin_add_overflow(sum, get(cached).value_or(0), &sum)) {
                sum = std::numeric_limits<std::uint64_t>::max();
            }
        }
        out.prompt_tokens = sum;
    } else {
        out.prompt_tokens = get("prompt_tokens");
    }
    out.completion_tokens = get("output_tokens");
    if (!out.completion_tokens) out.completion_tokens = get("completion_tokens");
    return out;
}

bool same(const sparkctl::serve::UsageCounts& a, const sparkctl::serve::UsageCounts& b) {
    return a.prompt_tokens == b.prompt_tokens && a.completion_tokens == b.completion_tokens;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const std::size_t nl = text.find('\n');
    sparkctl::net::Request request;
    request.method = "POST";
    request.target = std::string(text.substr(0, nl));
    request.body = nl == std::string_view::npos ? std::string() : std::string(text.substr(nl + 1));
    static FuzzRegistry registry;
    auto tail = sparkctl::serve::log_tail_document(registry, request.target);
    if (!tail.ok() && tail.error().message.empty()) std::abort();
    // read_usage (a scan, then a SAX reader) must agree with the document it replaced, on valid
    // JSON: parse, then look up.
    // read_nested_usage, the same under the top-level "response" or "message".
    const auto usage = sparkctl::serve::read_usage(request.body);
    const auto in_response = sparkctl::serve::read_nested_usage(request.body, "response");
    const auto in_message = sparkctl::serve::read_nested_usage(request.body, "message");
    const auto doc = nlohmann::json::parse(request.body, nullptr, false);
    if (!doc.is_discarded()) {
        const nlohmann::json none;
        const auto member = [&](const char* key) -> const nlohmann::json& {
            if (!doc.is_object()) return none;
            auto it = doc.find(key);
            return it == doc.end() ? none : *it;
        };
        if (!same(usage, reference_usage(doc)) ||
            !same(in_response, reference_usage(member("response"))) ||
            !same(in_message, reference_usage(member("message")))) {
            std::abort();
        }
    }
    auto parsed = sparkctl::serve::parse_relay_request(request);
    // The quick reading must agree with the document: ok exactly when the body is an object
    // with a string model, and then the same model, stream and prompt bytes.
    const auto reference = reference_relay_request(doc);
    if (parsed.ok() != reference.has_value()) std::abort();
    if (reference && (parsed->model != reference->model || parsed->stream != reference->stream ||
                      parsed->prompt_bytes != reference->prompt_bytes)) {
        std::abort();
    }
    if (!parsed.ok()) {
        if (parsed.error().message.empty()) std::abort();
        return 0;
    }
    if (request.body.find('{') == std::string::npos) std::abort();
    static const std::vector<sparkctl::serve::RouteCandidate> candidates{
        {"chat-gguf", {"qwen"}, "llama.cpp", true, 1},
        {"agents", {"qwen"}, "vllm", true, 0},
        {"lazy", {"l"}, "sglang", false, 0}};
    const auto d = sparkctl::serve::route(parsed->model, candidates);
    const bool known = parsed->model == "chat-gguf" || parsed->model == "agents" ||
                       parsed->model == "lazy" || parsed->model == "qwen" || parsed->model == "l";
    if (known != (d.kind != sparkctl::serve::RouteDecision::Kind::unknown)) std::abort();
    return 0;
}
